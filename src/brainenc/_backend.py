"""Backend and device resolution.

Our solvers receive the himalaya backend *module* explicitly and never read
himalaya's process-global backend, so two threads can fit with different
backends at once.
"""

import contextlib
import importlib
import importlib.util
import os
import re
import shutil
import sys

from ._compat import StrOptions

BACKENDS = ("auto", "numpy", "torch", "torch_cuda")

_CUDA_DEVICE = re.compile(r"torch_cuda:(\d+)")


class BackendOptions(StrOptions):
    """Parameter constraint of ``backend``: one of :data:`BACKENDS`, or
    ``"torch_cuda:N"`` for CUDA device ``N``."""

    def __init__(self):
        super().__init__(set(BACKENDS))

    def is_satisfied_by(self, val):
        return super().is_satisfied_by(val) or (
            isinstance(val, str) and _CUDA_DEVICE.fullmatch(val) is not None
        )

    def __str__(self):
        return f"{super().__str__()} or 'torch_cuda:N' (N a CUDA device index)"


def resolve_backend(backend):
    """Turn a ``backend`` parameter into a concrete himalaya backend name.

    Parameters
    ----------
    backend : {"auto", "numpy", "torch", "torch_cuda"} or "torch_cuda:N"
        ``"torch_cuda:N"`` is torch on CUDA device ``N`` (an index as in
        ``torch.device("cuda:N")``). ``"auto"`` picks ``"torch_cuda"`` when
        torch is installed and sees a
        CUDA GPU, else ``"numpy"``; it never fails. It does not pick torch on
        the CPU: on these solvers torch's CPU kernels are no faster than
        NumPy's (slower with one BLAS thread, benchmarks/README.md), and
        importing torch costs seconds and ~180 MB. On a machine without an
        NVIDIA driver, ``"auto"`` does not even import torch.

    Returns
    -------
    name : str
        One of ``"numpy"``, ``"torch"``, ``"torch_cuda"``, ``"torch_cuda:N"``.

    Raises
    ------
    ValueError
        For an unknown name, ``"torch_cuda"`` without a usable GPU, or
        ``"torch_cuda:N"`` when torch sees no device ``N``.
    ImportError
        For ``"torch"``/``"torch_cuda"`` when torch is not installed.

    Examples
    --------
    >>> from brainenc._backend import resolve_backend
    >>> resolve_backend("numpy")
    'numpy'
    """
    device = _cuda_device_index(backend)
    if backend not in BACKENDS and device is None:
        raise ValueError(
            f"backend must be one of {', '.join(map(repr, BACKENDS))} or "
            f"'torch_cuda:N' (N a CUDA device index), got {backend!r}."
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
    if backend.startswith("torch_cuda") and not _cuda_available():
        raise ValueError(
            f"backend={backend!r} asks for a CUDA GPU, but torch sees none "
            "(torch.cuda.is_available() is False). Use backend='auto' to fall "
            "back to the CPU."
        )
    if device is not None:
        count = _cuda_device_count()
        if device >= count:
            seen = "device 0" if count == 1 else f"devices 0-{count - 1}"
            raise ValueError(
                f"backend={backend!r} asks for CUDA device {device}, but torch "
                f"sees {count} CUDA device{'s' if count != 1 else ''} ({seen}). "
                f"Use an index below {count}, or backend='torch_cuda' for the "
                "current device."
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
    name = resolve_backend(backend).split(":")[0]
    return importlib.import_module(f"himalaya.backend.{name}")


@contextlib.contextmanager
def device_context(backend):
    """Make CUDA device ``N`` current for a ``with`` block when ``backend`` is
    ``"torch_cuda:N"`` (himalaya's CUDA backend puts arrays on the current
    device); a no-op otherwise.

    Parameters
    ----------
    backend : str
        A resolved backend name (:func:`resolve_backend`).

    Yields
    ------
    None
    """
    device = _cuda_device_index(backend)
    if device is None:
        yield
        return
    import torch

    with torch.cuda.device(device):
        yield


def _gpu_visible():
    """Whether a CUDA GPU may be usable, without importing torch if possible."""
    if "torch" in sys.modules:
        return True  # already imported: asking torch costs nothing
    if importlib.util.find_spec("torch") is None:
        return False
    return os.path.exists("/proc/driver/nvidia/version") or bool(
        shutil.which("nvidia-smi")
    )


def _cuda_device_index(backend):
    """``N`` of ``"torch_cuda:N"``, else None."""
    match = _CUDA_DEVICE.fullmatch(backend) if isinstance(backend, str) else None
    return None if match is None else int(match.group(1))


def _cuda_available():
    import torch

    return bool(torch.cuda.is_available())


def _cuda_device_count():
    import torch

    return int(torch.cuda.device_count())
