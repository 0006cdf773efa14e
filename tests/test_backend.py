import importlib.util
import threading

import numpy as np
import pytest
from himalaya.backend import get_backend

from brainenc import DelayedRidge, make_encoding_data
from brainenc._backend import get_backend_module, resolve_backend

HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_resolve_backend():
    assert resolve_backend("numpy") == "numpy"
    expected = "numpy"
    if HAS_TORCH:
        import torch

        expected = "torch_cuda" if torch.cuda.is_available() else "numpy"
    assert resolve_backend("auto") == expected
    with pytest.raises(ValueError, match="backend must be one of .* got 'cupy'"):
        resolve_backend("cupy")


def test_get_backend_module_leaves_the_global_alone():
    before = get_backend().name
    module = get_backend_module("numpy")
    assert module.name == "numpy"
    assert get_backend().name == before


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_threads_with_different_backends_get_their_own_answers():
    X, y, groups, _ = make_encoding_data(
        n_samples=600, n_features=8, n_targets=20, n_runs=4, random_state=0
    )
    serial = {
        b: DelayedRidge(backend=b, cv=2).fit(X, y, groups=groups).coef_
        for b in ("numpy", "torch")
    }
    before = get_backend().name
    results, errors = {}, []

    def fit(backend):
        try:
            for _ in range(3):
                model = DelayedRidge(backend=backend, cv=2).fit(X, y, groups=groups)
                results.setdefault(backend, []).append(model)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fit, args=(b,)) for b in ("numpy", "torch")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for backend, models in results.items():
        for model in models:
            assert model.backend_ == backend
            np.testing.assert_allclose(
                model.coef_, serial[backend], rtol=1e-5, atol=1e-7
            )
    assert get_backend().name == before


def test_auto_does_not_import_torch_without_a_gpu():
    import subprocess
    import sys

    code = (
        "import sys, brainenc._backend as b\n"
        "b._gpu_visible = lambda: False\n"
        "assert b.resolve_backend('auto') == 'numpy'\n"
        "assert 'torch' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


def _fake_gpus(monkeypatch, count):
    """Make torch see ``count`` CUDA devices."""
    import brainenc._backend

    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(brainenc._backend, "_cuda_available", lambda: count > 0)


def test_cuda_device_index_is_checked_against_the_devices_torch_sees(monkeypatch):
    _fake_gpus(monkeypatch, 2)
    assert resolve_backend("torch_cuda:1") == "torch_cuda:1"
    assert resolve_backend("torch_cuda:0") == "torch_cuda:0"
    with pytest.raises(
        ValueError,
        match=r"^backend='torch_cuda:2' asks for CUDA device 2, but torch sees 2 "
        r"CUDA devices \(devices 0-1\)\. Use an index below 2",
    ):
        resolve_backend("torch_cuda:2")
    _fake_gpus(monkeypatch, 1)
    with pytest.raises(ValueError, match=r"sees 1 CUDA device \(device 0\)"):
        resolve_backend("torch_cuda:1")
    _fake_gpus(monkeypatch, 0)
    with pytest.raises(
        ValueError,
        match=r"^backend='torch_cuda:0' asks for a CUDA GPU, but torch sees none",
    ):
        resolve_backend("torch_cuda:0")


def test_cuda_device_index_reaches_fit_and_bad_names_are_refused(monkeypatch):
    X, y, groups, _ = make_encoding_data(
        n_samples=200, n_features=3, n_targets=2, n_runs=2, random_state=0
    )
    _fake_gpus(monkeypatch, 1)
    with pytest.raises(ValueError, match="asks for CUDA device 3, but torch sees 1"):
        DelayedRidge(backend="torch_cuda:3").fit(X, y, groups=groups)
    for bad in ("torch_cuda:", "torch_cuda:x", "cuda:0", "torch_cuda:-1"):
        with pytest.raises(
            ValueError,
            match=r"'backend' parameter of DelayedRidge must be a str among .* or "
            r"'torch_cuda:N' \(N a CUDA device index\)",
        ):
            DelayedRidge(backend=bad).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="or 'torch_cuda:N' .* got 'cuda:0'"):
        resolve_backend("cuda:0")


def test_device_context_makes_the_device_current(monkeypatch):
    from brainenc._backend import device_context

    torch = pytest.importorskip("torch")
    entered = []

    class FakeDevice:
        def __init__(self, index):
            entered.append(index)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            entered.append("exit")

    monkeypatch.setattr(torch.cuda, "device", FakeDevice)
    with device_context("torch_cuda:1"):
        assert entered == [1]
    assert entered == [1, "exit"]
    with device_context("numpy"), device_context("torch_cuda"):
        pass
    assert entered == [1, "exit"]
