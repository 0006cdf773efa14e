"""Backend and device resolution, and a per-call switch of himalaya's backend.

Our solvers receive the himalaya backend *module* explicitly and never read
himalaya's process-global backend, so two threads can fit with different
backends at once. :func:`use_backend` is for code that must call himalaya's own
functions (which read the global): it switches the global for the duration of
the call, under a lock, and restores it.
"""

import contextlib
import importlib
import importlib.util
import os
import shutil
import sys
import threading

BACKENDS = ("auto", "numpy", "torch", "torch_cuda")

_HIMALAYA_LOCK = threading.RLock()


def resolve_backend(backend):
    """Turn a ``backend`` parameter into a concrete himalaya backend name.

    Parameters
    ----------
    backend : {"auto", "numpy", "torch", "torch_cuda"}
        ``"auto"`` picks ``"torch_cuda"`` when torch is installed and sees a
        CUDA GPU, else ``"numpy"``; it never fails. It does not pick torch on
        the CPU: on these solvers torch's CPU kernels are no faster than
        NumPy's (slower with one BLAS thread, benchmarks/README.md), and
        importing torch costs seconds and ~180 MB. On a machine without an
        NVIDIA driver, ``"auto"`` does not even import torch.

    Returns
    -------
    name : str
        One of ``"numpy"``, ``"torch"``, ``"torch_cuda"``.

    Raises
    ------
    ValueError
        For an unknown name, or ``"torch_cuda"`` without a usable GPU.
    ImportError
        For ``"torch"``/``"torch_cuda"`` when torch is not installed.
    """
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}."
        )
    if backend == "numpy":
        return "numpy"
    if backend == "auto":
        return "torch_cuda" if _gpu_visible() and _cuda_available() else "numpy"
    if importlib.util.find_spec("torch") is None:
        raise ImportError(
            f"backend={backend!r} needs PyTorch, which is not installed: "
            "pip install brainenc[deep], or use backend='numpy'."
        )
    if backend == "torch_cuda" and not _cuda_available():
        raise ValueError(
            "backend='torch_cuda' asks for a CUDA GPU, but torch sees none "
            "(torch.cuda.is_available() is False). Use backend='auto' to fall "
            "back to the CPU."
        )
    return backend


def get_backend_module(backend):
    """Return himalaya's backend module for ``backend`` without making it global.

    Parameters
    ----------
    backend : {"auto", "numpy", "torch", "torch_cuda"}
        Resolved with :func:`resolve_backend`.

    Returns
    -------
    module : module
        ``himalaya.backend.<name>``: a flat set of array operations.
    """
    name = resolve_backend(backend)
    return importlib.import_module(f"himalaya.backend.{name}")


@contextlib.contextmanager
def use_backend(backend):
    """Switch himalaya's global backend for the duration of a ``with`` block.

    The switch and the block run under a process-wide lock, so a thread never
    sees another thread's backend, and the previous backend is restored even
    when the block raises.

    Parameters
    ----------
    backend : {"auto", "numpy", "torch", "torch_cuda"}
        The backend to use inside the block.

    Yields
    ------
    module : module
        The himalaya backend module in force inside the block.
    """
    from himalaya.backend import get_backend, set_backend

    name = resolve_backend(backend)
    with _HIMALAYA_LOCK:
        previous = get_backend().name
        module = set_backend(name)
        try:
            yield module
        finally:
            set_backend(previous)


def _gpu_visible():
    """Whether a CUDA GPU may be usable, without importing torch if possible."""
    if "torch" in sys.modules:
        return True  # already imported: asking torch costs nothing
    if importlib.util.find_spec("torch") is None:
        return False
    return os.path.exists("/proc/driver/nvidia/version") or bool(
        shutil.which("nvidia-smi")
    )


def _cuda_available():
    import torch

    return bool(torch.cuda.is_available())
