"""The shared skorch wrapper of the neural encoders (brainenc.neural._base).

The base class is abstract; it is exercised through PCAMLPEncoder with tiny,
fast settings.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

import brainenc  # noqa: E402
from brainenc import delay_features, pearson_r  # noqa: E402
from brainenc.neural import PCAMLPEncoder  # noqa: E402

FAST = {
    "delays": [1, 2],
    "n_components": 8,
    "hidden_units": 16,
    "lr": 1e-2,
    "batch_size": 32,
    "max_epochs": 4,
}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # Tiny networks: one thread is faster and immune to a loaded machine.
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def _data(n_runs=5, n_per_run=60, n_features=6, n_targets=10, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_runs * n_per_run, n_features))
    groups = np.repeat(np.arange(n_runs), n_per_run)
    W = rng.standard_normal((2 * n_features, n_targets)) / np.sqrt(n_features)
    y = np.tanh(delay_features(X, [1, 2], groups) @ W)
    y += noise * rng.standard_normal(y.shape)
    return X, y, groups


# ----------------------------------------------------- validation by runs
def test_validation_holds_out_last_runs_and_never_trains_on_them():
    X, y, groups = _data()
    params = {**FAST, "validation_runs": 2, "patience": None, "random_state": 0}
    model = PCAMLPEncoder(**params).fit(X, y, groups)
    np.testing.assert_array_equal(model.validation_mask_, groups >= 3)
    np.testing.assert_array_equal(model.validation_groups_, [3, 4])

    # Corrupting the responses (and features) of the held-out runs changes
    # the validation loss, but not a single training loss: those rows never
    # reach a gradient step nor the standardisation or the PCA.
    y_bad, X_bad = y.copy(), X.copy()
    y_bad[groups >= 3] = 100.0 * y[groups >= 3][::-1] + 5.0
    X_bad[groups >= 3] = X[groups >= 3][::-1]
    bad = PCAMLPEncoder(**params).fit(X_bad, y_bad, groups)
    train_loss = [h["train_loss"] for h in model.history_]
    assert [h["train_loss"] for h in bad.history_] == train_loss
    assert [h["valid_loss"] for h in bad.history_] != [
        h["valid_loss"] for h in model.history_
    ]
    np.testing.assert_array_equal(bad.x_mean_, model.x_mean_)
    np.testing.assert_array_equal(bad.components_, model.components_)


@pytest.mark.parametrize(
    ("n_runs", "validation_runs", "held_out"),
    [(5, 0.2, [4]), (10, 0.2, [8, 9]), (4, 0.9, [1, 2, 3]), (3, 1, [2])],
)
def test_validation_runs_fraction_and_count(n_runs, validation_runs, held_out):
    X, y, groups = _data(n_runs=n_runs, n_per_run=20)
    model = PCAMLPEncoder(
        **{**FAST, "max_epochs": 1}, validation_runs=validation_runs
    ).fit(X, y, groups)
    np.testing.assert_array_equal(model.validation_groups_, held_out)
    np.testing.assert_array_equal(model.validation_mask_, np.isin(groups, held_out))


def test_validation_without_groups_is_the_last_block():
    X, y, _ = _data(n_runs=1, n_per_run=100)
    model = PCAMLPEncoder(**FAST, validation_runs=0.25).fit(X, y)
    expected = np.arange(100) >= 75
    np.testing.assert_array_equal(model.validation_mask_, expected)


def test_validation_runs_errors():
    X, y, groups = _data(n_runs=3, n_per_run=20)
    with pytest.raises(ValueError, match="validation_runs=3 must leave at least one"):
        PCAMLPEncoder(**FAST, validation_runs=3).fit(X, y, groups)
    with pytest.raises(ValueError, match=r"validation_runs=1 \(a number of runs\)"):
        PCAMLPEncoder(**FAST, validation_runs=1).fit(X, y)
    with pytest.raises(ValueError, match="got 3 samples"):
        PCAMLPEncoder(**{**FAST, "delays": [0]}).fit(X[:3], y[:3])


def test_no_validation_trains_max_epochs_and_keeps_last_weights():
    X, y, groups = _data()
    model = PCAMLPEncoder(**FAST, validation_runs=0, random_state=0).fit(X, y, groups)
    assert model.n_epochs_ == model.best_epoch_ == FAST["max_epochs"]
    assert not model.validation_mask_.any()
    assert all(set(h) == {"epoch", "train_loss", "dur"} for h in model.history_)


# --------------------------------------------------------- early stopping
def test_early_stopping_restores_a_copy_of_the_best_weights():
    # A small, noisy training set overfits: validation r peaks, then falls.
    rng = np.random.default_rng(0)
    n_runs, n_per_run, n_features = 4, 50, 30
    X = rng.standard_normal((n_runs * n_per_run, n_features))
    groups = np.repeat(np.arange(n_runs), n_per_run)
    W = rng.standard_normal((2 * n_features, 10))
    y = np.tanh(delay_features(X, [1, 2], groups) @ W / 4)
    y += rng.standard_normal(y.shape)
    model = PCAMLPEncoder(
        delays=[1, 2],
        n_components=10,
        hidden_units=64,
        dropout=0.0,
        lr=1e-2,
        weight_decay=0.0,
        batch_size=16,
        max_epochs=100,
        patience=3,
        validation_runs=1,
        random_state=0,
    ).fit(X, y, groups)
    valid_r = np.array([h["valid_r"] for h in model.history_])
    best = model.best_epoch_
    # It stopped `patience` epochs after the best one, which was the maximum.
    assert model.n_epochs_ == best + 3 < 100
    assert valid_r[best - 1] == valid_r.max() > valid_r[-1] + 1e-3

    # The kept module predicts the held-out run as well as the best epoch
    # did, not as the last one did: the best weights were restored, and were
    # a copy (a reference to the live tensors would hold the last epoch's).
    held_out = groups == 3
    r = pearson_r(y[held_out], model.predict(X[held_out], groups[held_out]))
    assert r.mean() == pytest.approx(valid_r[best - 1], abs=1e-5)
    assert abs(r.mean() - valid_r[-1]) > 1e-3


# ------------------------------------------------------------- randomness
def test_global_rng_states_are_untouched():
    X, y, groups = _data()
    torch.manual_seed(1234)
    np.random.seed(4321)  # noqa: NPY002
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()  # noqa: NPY002
    for random_state in (0, None, np.random.RandomState(3)):
        PCAMLPEncoder(**FAST, random_state=random_state).fit(X, y, groups)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0]
    np.testing.assert_array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]


def test_same_random_state_same_predictions():
    X, y, groups = _data()
    fit = lambda seed: PCAMLPEncoder(**FAST, random_state=seed).fit(X, y, groups)  # noqa: E731
    pred_a = fit(0).predict(X, groups)
    np.testing.assert_array_equal(fit(0).predict(X, groups), pred_a)
    assert not np.allclose(fit(1).predict(X, groups), pred_a)


# ------------------------------------------------ pickling, device, dtype
def test_pickle_round_trip_predicts_identically():
    X, y, groups = _data()
    model = PCAMLPEncoder(**FAST, random_state=0).fit(X, y, groups)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(X, groups), model.predict(X, groups))
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    assert not loaded.module_.training


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_an_error():
    X, y, groups = _data()
    with pytest.raises(ValueError, match="device='cuda' asks for a CUDA GPU, but"):
        PCAMLPEncoder(**FAST, device="cuda").fit(X, y, groups)
    # "auto" never fails for lack of a GPU.
    model = PCAMLPEncoder(**FAST, device="auto").fit(X, y, groups)
    assert model.device_ == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("mixed_precision", [False, True])
def test_cuda_trained_model_predicts_on_cpu(mixed_precision):
    X, y, groups = _data()
    model = PCAMLPEncoder(
        **FAST, device="cuda", mixed_precision=mixed_precision, random_state=0
    ).fit(X, y, groups)
    assert model.device_ == "cuda"
    on_gpu = model.predict(X, groups)
    loaded = pickle.loads(pickle.dumps(model))
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    on_cpu = loaded.set_params(device="cpu").predict(X, groups)
    tol = 5e-2 if mixed_precision else 1e-4
    np.testing.assert_allclose(on_cpu, on_gpu, atol=tol * np.abs(on_gpu).max())
    assert pearson_r(y, on_gpu).mean() > 0.3


def test_predictions_are_numpy_in_the_precision_of_x():
    X, y, groups = _data()
    model = PCAMLPEncoder(**FAST, random_state=0).fit(X, y[:, 0], groups)
    pred64 = model.predict(X, groups)
    pred32 = model.predict(X.astype(np.float32), groups)
    assert isinstance(pred64, np.ndarray)
    assert pred64.shape == (X.shape[0],)
    assert (pred64.dtype, pred32.dtype) == (np.float64, np.float32)
    np.testing.assert_array_equal(pred64, pred32)


def test_nan_in_x_or_y_is_rejected():
    X, y, groups = _data()
    X_nan, y_nan = X.copy(), y.copy()
    X_nan[5, 2] = np.nan
    y_nan[7, 1] = np.nan
    with pytest.raises(
        ValueError,
        match=r"X contains NaN \(1 value\), the first at sample 5, feature 2",
    ):
        PCAMLPEncoder(**FAST).fit(X_nan, y, groups)
    with pytest.raises(
        ValueError, match=r"y contains NaN \(1 value\), the first at sample 7, target 1"
    ):
        PCAMLPEncoder(**FAST).fit(X, y_nan, groups)
    model = PCAMLPEncoder(**FAST).fit(X, y, groups)
    with pytest.raises(
        ValueError,
        match=r"X contains NaN \(1 value\), the first at sample 5, feature 2",
    ):
        model.predict(X_nan, groups)


def test_bad_device_names_the_parameter():
    X, y, groups = _data()
    with pytest.raises(ValueError, match="'device' parameter of PCAMLPEncoder"):
        PCAMLPEncoder(**FAST, device="gpu").fit(X, y, groups)


# ------------------------------------------------------------- verbosity
def test_verbose_prints_the_epoch_table(capsys):
    X, y, groups = _data()
    PCAMLPEncoder(**FAST, random_state=0).fit(X, y, groups)
    assert capsys.readouterr().out == ""
    PCAMLPEncoder(**FAST, random_state=0, verbose=1).fit(X, y, groups)
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "epoch" in line)
    assert header.split() == ["epoch", "train_loss", "valid_loss", "valid_r", "dur"]
    assert len([line for line in out.splitlines() if line.strip()]) >= 2 + 4


# --------------------------------------------------------- lazy imports
def _run_python(code):
    src = os.path.dirname(os.path.dirname(brainenc.__file__))
    path = os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_import_brainenc_does_not_import_torch():
    proc = _run_python(
        """
        import sys
        import brainenc
        print("torch" in sys.modules, "skorch" in sys.modules)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


def test_missing_torch_says_how_to_install():
    proc = _run_python(
        """
        import sys

        class _Block:  # torch and skorch are "not installed"
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "skorch"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, _Block())
        import brainenc
        try:
            from brainenc.neural import PCAMLPEncoder
        except ImportError as exc:
            print(exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "pip install brainenc[deep]" in proc.stdout
