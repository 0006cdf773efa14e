"""The shared skorch wrapper of the neural encoders (brainenc.neural._base).

The base class is abstract; it is exercised through PCAMLPEncoder with tiny,
fast settings.
"""

import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from torch import nn  # noqa: E402

import brainenc  # noqa: E402
from brainenc import delay_features, pearson_r  # noqa: E402
from brainenc.neural import (  # noqa: E402
    ConvTemporalEncoder,
    PCAMLPEncoder,
    _base,
)
from brainenc.neural._base import LRSchedule, column_mean_scale  # noqa: E402

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
    assert all(
        set(h) == {"epoch", "n_steps", "lr", "train_loss", "dur"}
        for h in model.history_
    )


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
        min_steps=0,
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


# ------------------------------------------------ schedule and optimizer
@pytest.fixture
def optimizer_steps(monkeypatch):
    """Record, at every AdamW step, the learning rates and the gradient norm.

    skorch passes the step a closure that computes the gradients (and clips
    them, in ``on_grad_computed``); it is run first, so the norm recorded is
    the one the update uses.
    """
    steps = []
    original = torch.optim.AdamW.step

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        grads = [p.grad for g in self.param_groups for p in g["params"]]
        norm = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g) for g in grads if g is not None])
        )
        steps.append(
            {"lr": [g["lr"] for g in self.param_groups], "grad_norm": float(norm)}
        )
        original(self)
        return loss

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    return steps


def test_lr_schedule_is_linear_warmup_then_half_cosine():
    steps = np.arange(100)
    onecycle = LRSchedule("onecycle", total_steps=100, warmup=0.1)
    expected = np.where(
        steps < 10, (steps + 1) / 10, 0.5 * (1 + np.cos(np.pi * (steps - 10) / 90))
    )
    np.testing.assert_allclose([onecycle(s) for s in steps], expected, rtol=1e-12)
    constant = LRSchedule("constant", total_steps=100, warmup=0.1)
    assert [constant(s) for s in (0, 4, 9, 10, 99, 500)] == [0.1, 0.5, 1, 1, 1, 1]
    assert LRSchedule("onecycle", total_steps=100, warmup=0.0)(0) == 1.0


@pytest.mark.parametrize("lr_schedule", ["onecycle", "constant"])
def test_every_step_follows_the_schedule(optimizer_steps, lr_schedule):
    X, y, groups = _data()  # 4 training runs: 240 rows, 8 batches of 32
    model = PCAMLPEncoder(
        **{**FAST, "max_epochs": 6},
        lr_schedule=lr_schedule,
        warmup=0.25,
        patience=None,
        random_state=0,
    ).fit(X, y, groups)
    schedule = LRSchedule(lr_schedule, total_steps=48, warmup=0.25)
    expected = [FAST["lr"] * schedule(k) for k in range(48)]
    # Every parameter group (with and without weight decay) gets the same rate.
    for group in range(2):
        np.testing.assert_allclose([s["lr"][group] for s in optimizer_steps], expected)
    assert [h["n_steps"] for h in model.history_] == [8, 16, 24, 32, 40, 48]
    assert model.n_steps_ == 48
    np.testing.assert_allclose(
        [h["lr"] for h in model.history_], expected[7::8], rtol=1e-12
    )


def test_max_grad_norm_clips_every_step(optimizer_steps):
    X, y, groups = _data()
    PCAMLPEncoder(**FAST, random_state=0).fit(X, y, groups)
    free = [s["grad_norm"] for s in optimizer_steps]
    optimizer_steps.clear()
    PCAMLPEncoder(**FAST, max_grad_norm=0.05, random_state=0).fit(X, y, groups)
    clipped = [s["grad_norm"] for s in optimizer_steps]
    assert min(free) > 0.05  # so clipping had something to do at every step
    np.testing.assert_allclose(clipped, 0.05, rtol=1e-4)


def test_no_weight_decay_on_biases_norms_and_listed_parameters(monkeypatch):
    optimizers = []
    original = _base._adamw

    def capture(*args, **kwargs):
        optimizers.append(original(*args, **kwargs))
        return optimizers[-1]

    monkeypatch.setattr(_base, "_adamw", capture)
    X, y, groups = _data()
    model = PCAMLPEncoder(
        **{**FAST, "hidden_units": (16, 8)}, batch_norm=True, weight_decay=0.3
    ).fit(X, y, groups)
    names = {id(p): n for n, p in model.module_.named_parameters()}
    decay = {
        group["weight_decay"]: sorted(names[id(p)] for p in group["params"])
        for group in optimizers[0].param_groups
    }
    linear = ["layers.0", "layers.4", "layers.8"]  # Linear layers; BN at 1, 5
    assert decay == {
        0.3: [f"{layer}.weight" for layer in linear],
        0.0: sorted(
            [f"{layer}.bias" for layer in linear]
            + ["layers.1.bias", "layers.1.weight", "layers.5.bias", "layers.5.weight"]
        ),
    }


class _QueryModule(nn.Module):
    def __init__(self, listed=("query",)):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(4, 8))
        self.table = nn.Embedding(5, 8)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 2)
        self.mix = nn.Parameter(torch.zeros(2, 3, 3))
        self.listed = listed

    def no_weight_decay(self):
        return self.listed


def test_no_weight_decay_hook_of_a_module():
    names = PCAMLPEncoder()._no_weight_decay(_QueryModule())
    assert names == {
        "query",
        "table.weight",
        "norm.weight",
        "norm.bias",
        "head.bias",
    }
    with pytest.raises(ValueError, match=r"names parameters the module does not"):
        PCAMLPEncoder()._no_weight_decay(_QueryModule(listed=("queries",)))


# --------------------------------------------------------- early stopping
def _stopping_epoch(history, *, patience, min_steps, max_epochs):
    """When training should have stopped, re-derived from the history."""
    best_r, best_epoch, best_step = -np.inf, None, 0
    for row in history:
        if row["valid_r"] > best_r:
            best_r, best_epoch, best_step = row["valid_r"], row["epoch"], row["n_steps"]
        steps = row["n_steps"]
        if steps < min_steps:
            continue
        if isinstance(patience, int):
            exhausted = row["epoch"] - best_epoch >= patience
        else:
            exhausted = steps - best_step >= patience * steps
        if exhausted:
            return row["epoch"], best_epoch
    return max_epochs, best_epoch


@pytest.mark.parametrize(
    ("patience", "min_steps"), [(2, 0), (2, 120), (0.5, 0), (0.5, 120)]
)
def test_patience_and_min_steps(patience, min_steps):
    # Noisy targets and a large network: validation r peaks early.
    X, y, groups = _data(noise=1.5)
    params = {**FAST, "hidden_units": 64, "dropout": 0.0, "max_epochs": 60}
    model = PCAMLPEncoder(
        **params, patience=patience, min_steps=min_steps, random_state=0
    ).fit(X, y, groups)
    stop, best = _stopping_epoch(
        model.history_, patience=patience, min_steps=min_steps, max_epochs=60
    )
    assert (model.n_epochs_, model.best_epoch_) == (stop, best)
    assert model.n_epochs_ < 60
    assert model.n_steps_ >= min_steps


def test_min_steps_keeps_training_past_patience():
    X, y, groups = _data(noise=1.5)
    params = {**FAST, "hidden_units": 64, "dropout": 0.0, "max_epochs": 60}
    early = PCAMLPEncoder(**params, patience=1, min_steps=0, random_state=0)
    late = PCAMLPEncoder(**params, patience=1, min_steps=200, random_state=0)
    early.fit(X, y, groups)
    late.fit(X, y, groups)
    assert early.n_steps_ < 200 <= late.n_steps_
    # Same seed, same steps: the histories agree until the early one stops.
    n = early.n_epochs_
    assert [h["train_loss"] for h in late.history_[:n]] == [
        h["train_loss"] for h in early.history_
    ]


# ------------------------------------------------------ validation score
def test_validation_score_is_per_subject_then_averaged():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((50, 6))
    pred = Y + rng.standard_normal((50, 6)) * np.array([0.5, 1, 2, 0.5, 1, 3])
    Y[:20, 1] = np.nan  # subject 0, target 1: 30 observed samples
    Y[:, 5] = np.nan  # subject 1, target 2: never observed, left out
    model = ConvTemporalEncoder()
    model.n_subjects_ = 2

    def r(t):
        ok = ~np.isnan(Y[:, t])
        return np.corrcoef(Y[ok, t], pred[ok, t])[0, 1]

    expected = (np.mean([r(0), r(1), r(2)]) + np.mean([r(3), r(4)])) / 2
    assert model._validation_score(Y, pred) == pytest.approx(expected, rel=1e-12)
    model.n_subjects_ = 1
    single = np.mean([r(t) for t in range(5)])
    assert model._validation_score(Y, pred) == pytest.approx(single, rel=1e-12)


def test_column_mean_scale_guards_constant_columns_and_skips_nan():
    A = np.array([[1.0, 5.0, 1e9, np.nan], [3.0, 5.0, 1e9, np.nan], [5.0, 5.0, 1e9, 2]])
    mean, scale = column_mean_scale(A[:, :3])
    np.testing.assert_allclose(mean, [3.0, 5.0, 1e9])
    np.testing.assert_allclose(scale, [np.std([1.0, 3.0, 5.0]), 1.0, 1.0])
    assert mean.dtype == scale.dtype == np.float32
    A[0, 0] = np.nan
    mean, scale = column_mean_scale(A, allow_nan=True)
    np.testing.assert_allclose(mean, [4.0, 5.0, 1e9, 2.0])
    np.testing.assert_allclose(scale, [1.0, 1.0, 1.0, 1.0])
    mean, scale = column_mean_scale(np.full((3, 1), np.nan), allow_nan=True)
    assert (mean[0], scale[0]) == (0.0, 1.0)


# ------------------------------------------- a model that learned nothing
def test_learned_nothing_warns_on_pure_noise_and_names_the_knobs():
    X, _, groups = _data(n_runs=6, n_per_run=100)
    noise = np.random.default_rng(1).standard_normal((X.shape[0], 10))
    params = {**FAST, "max_epochs": 40, "min_steps": 200, "random_state": 0}
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        PCAMLPEncoder(**params).fit(X, noise, groups)
    message = str(record[0].message)
    for knob in ("lr (now 0.01", "min_steps (now 200)", "max_epochs (now 40)"):
        assert knob in message
    assert "within chance of" in message
    X, y, groups = _data(n_runs=6, n_per_run=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = PCAMLPEncoder(**params).fit(X, y, groups)
    assert model.history_[model.best_epoch_ - 1]["valid_r"] > 0.5


def test_diverged_training_stops_and_says_so():
    X, y, groups = _data()
    params = {**FAST, "lr": 1e30, "max_epochs": 10, "random_state": 0}
    with pytest.warns(ConvergenceWarning, match="never finite: the training diverged"):
        model = PCAMLPEncoder(**params).fit(X, y, groups)
    # The first non-finite training loss ends training; no best epoch was
    # ever finite, so the last weights are the ones kept.
    assert model.n_epochs_ == 1
    assert model.best_epoch_ == model.n_epochs_
    assert not np.isfinite(model.history_[-1]["train_loss"])


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
        **FAST,
        device="cuda",
        mixed_precision=mixed_precision,
        max_grad_norm=1.0,
        random_state=0,
    ).fit(X, y, groups)
    assert model.n_steps_ == model.history_[-1]["n_steps"] > 0
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


class _ScaledPredictions(PCAMLPEncoder):
    """A subclass whose prediction hook takes an option (``factor``)."""

    def _predict_standardized(self, module, X, groups, device, factor=1.0):
        return factor * super()._predict_standardized(module, X, groups, device)


def test_prediction_options_reach_the_hook_through_predict_path():
    # _predict(X, groups, **options): predict's validation, casting and 1-D
    # output, with the options handed to the subclass's hook.
    X, y, groups = _data()
    model = _ScaledPredictions(**FAST, random_state=0).fit(X, y[:, 0], groups)
    plain = model.predict(X, groups)
    scaled = model._predict(X.astype(np.float32), groups, factor=-2.0)
    assert scaled.shape == plain.shape == (X.shape[0],)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, -2.0 * plain, rtol=1e-6)
    np.testing.assert_array_equal(model._predict(X, groups), plain)


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
def test_verbose_one_shows_a_bar_over_epochs_two_the_epoch_table(capsys):
    X, y, groups = _data()
    PCAMLPEncoder(**FAST, random_state=0).fit(X, y, groups)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")
    PCAMLPEncoder(**FAST, random_state=0, verbose=1).fit(X, y, groups)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "PCAMLPEncoder epochs" in captured.err
    assert f"{FAST['max_epochs']}/{FAST['max_epochs']}" in captured.err
    assert "valid_r=" in captured.err
    PCAMLPEncoder(**FAST, random_state=0, verbose=2).fit(X, y, groups)
    captured = capsys.readouterr()
    header = next(line for line in captured.out.splitlines() if "epoch" in line)
    assert header.split() == [
        "epoch",
        "lr",
        "n_steps",
        "train_loss",
        "valid_loss",
        "valid_r",
        "dur",
    ]
    assert len([line for line in captured.out.splitlines() if line.strip()]) >= 6


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
