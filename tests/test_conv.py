"""Tests of ConvTemporalEncoder, its torch module, windows and masked loss."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from scipy.signal import lfilter
from scipy.stats import pearsonr
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, GroupKFold

from brainenc import DelayedRidge, pearson_r

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from torch.nn import functional as F  # noqa: E402

from brainenc.neural.conv import (  # noqa: E402
    ConvTemporalEncoder,
    ConvTemporalModule,
    MaskedMSELoss,
    _RandomWindows,
    _TiledWindows,
    conv_context,
    gather_windows,
    sample_windows,
)
from brainenc.neural.modules import depthwise_conv1d  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # Tiny models: one thread is fastest, and far faster on a loaded machine.
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def slow_response_data(
    n_runs=6,
    run_len=200,
    n_features=10,
    n_targets=8,
    *,
    length=40,
    snr=1.0,
    n_subjects=1,
    seed=0,
):
    """Responses that average the features over the past ``length`` samples.

    ``y_clean[t] = mean(X[t - length + 1 : t + 1]) @ W`` inside each run
    (a causal boxcar, zero before the run starts), the same for every subject;
    independent Gaussian noise per subject at the given SNR (variance ratio).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_runs * run_len, n_features))
    groups = np.repeat(np.arange(n_runs), run_len)
    boxcar = np.ones(length) / length
    drive = np.concatenate(
        [lfilter(boxcar, 1.0, X[groups == g], axis=0) for g in range(n_runs)]
    )
    clean = np.tile(drive @ rng.standard_normal((n_features, n_targets)), n_subjects)
    noise = rng.standard_normal(clean.shape) * clean.std(axis=0) / np.sqrt(snr)
    return X, clean + noise, groups, clean


def fast_encoder(**params):
    defaults = {
        "embed_dim": 4,
        "kernel_size": 41,
        "causal": True,
        "window_len": 64,
        "windows_per_epoch": 320,
        "lr": 1e-2,
        "max_epochs": 6,
        "device": "cpu",
        "random_state": 0,
    }
    return ConvTemporalEncoder(**{**defaults, **params})


# ----------------------------------------------------------------- module
def _module_by_hand(module, X):
    """The module's forward pass in NumPy, with explicit loops over time."""
    past, future = module.context
    n_batch, n_time, _ = X.shape
    embedding = 0.0
    for i, (proj, conv) in enumerate(
        zip(module.projections, module.convs, strict=True)
    ):
        columns = getattr(module, f"columns_{i}").numpy()
        h = X[:, :, columns] @ proj.weight.detach().numpy().T.astype(np.float64)
        padded = np.concatenate(
            [
                np.zeros((n_batch, past, h.shape[2])),
                h,
                np.zeros((n_batch, future, h.shape[2])),
            ],
            axis=1,
        )
        kernel = conv.weight.detach().numpy()[:, 0, :]  # (channels, taps)
        out = np.zeros_like(h)
        for t in range(n_time):
            # Cross-correlation: tap j reads the input at t - past + j.
            out[:, t] = np.einsum(
                "bjc,cj->bc", padded[:, t : t + kernel.shape[1]], kernel
            )
        embedding = embedding + out
    shared = embedding @ module.shared_head.weight.detach().numpy().T
    shared = shared + module.shared_head.bias.detach().numpy()
    weight = module.subject_weight.detach().numpy()
    bias = module.subject_bias.detach().numpy()
    subjects = [shared + embedding @ weight[s] + bias[s] for s in range(len(weight))]
    return np.concatenate(subjects, axis=2)


@pytest.mark.parametrize(("kernel_size", "causal"), [(5, False), (4, False), (5, True)])
def test_module_matches_numpy_forward_pass(kernel_size, causal):
    torch.manual_seed(0)
    module = ConvTemporalModule(
        [[0, 2, 4], [1, 3]],
        embed_dim=3,
        kernel_size=kernel_size,
        n_targets=2,
        n_subjects=3,
        causal=causal,
    ).double()
    with torch.no_grad():  # non-zero residual heads, so that they are tested
        module.subject_weight.normal_()
        module.subject_bias.normal_()
    X = np.random.default_rng(1).standard_normal((2, 11, 5))
    expected = _module_by_hand(module, X)
    out = module(torch.from_numpy(X)).detach().numpy()
    assert out.shape == (2, 11, 6)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("channels", "kernel_size"), [(3, 5), (4, 1), (2, 9)])
def test_depthwise_conv1d_equals_torch_with_its_gradients(channels, kernel_size):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, channels, 20, generator=gen, dtype=torch.float64)
    w = torch.randn(channels, 1, kernel_size, generator=gen, dtype=torch.float64)
    grad = torch.randn(
        3, channels, 21 - kernel_size, generator=gen, dtype=torch.float64
    )
    results = []
    for conv in (depthwise_conv1d, lambda a, b: F.conv1d(a, b, groups=channels)):
        a, b = x.clone().requires_grad_(), w.clone().requires_grad_()
        out = conv(a, b)
        out.backward(grad)
        results.append((out.detach(), a.grad, b.grad))
    for ours, torchs in zip(*results, strict=True):
        torch.testing.assert_close(ours, torchs, rtol=1e-12, atol=1e-12)


def test_depthwise_conv1d_backward_under_mixed_precision():
    # Mixed precision: the forward runs under bfloat16 autocast, the backward
    # outside it, with a bfloat16 gradient and the float32 saved tensors.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 20, generator=gen, requires_grad=True)
    w = torch.randn(3, 1, 5, generator=gen, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = depthwise_conv1d(x, w)
    assert out.dtype == torch.bfloat16
    out.float().square().sum().backward()
    assert x.grad.dtype == w.grad.dtype == torch.float32
    a, b = x.detach().requires_grad_(), w.detach().requires_grad_()
    F.conv1d(a, b, groups=3).square().sum().backward()
    # bfloat16 keeps ~3 significant digits: within 2 % of the largest gradient
    for ours, exact in ((w.grad, b.grad), (x.grad, a.grad)):
        assert (ours - exact).abs().max() < 0.02 * exact.abs().max()


def test_conv_context():
    assert conv_context(45, False) == (22, 22)
    assert conv_context(4, False) == (1, 2)
    assert conv_context(45, True) == (44, 0)
    assert conv_context(1, True) == (0, 0)


@pytest.mark.parametrize("causal", [True, False])
def test_causal_output_ignores_future_inputs(causal):
    torch.manual_seed(0)
    module = ConvTemporalModule([[0, 1, 2]], 4, 7, 3, n_subjects=2, causal=causal)
    X = torch.randn(1, 30, 3)
    changed = X.clone()
    changed[:, 20:] += 5.0 * torch.randn(1, 10, 3)
    with torch.no_grad():
        before, after = module(X), module(changed)
    same = torch.isclose(before, after, rtol=0, atol=0).all(dim=2)[0]
    if causal:
        assert same[:20].all()
        assert not same[20:].any()
    else:
        # Non-causal: the 3 samples before 20 see the change (future = 3).
        assert same[:17].all()
        assert not same[17:].any()


def test_trained_causal_encoder_ignores_future_inputs():
    X, y, groups, _ = slow_response_data(n_runs=4, run_len=100, length=10, seed=3)
    model = fast_encoder(kernel_size=11, max_epochs=2, windows_per_epoch=64)
    model.fit(X, y, groups=groups)
    changed = X.copy()
    changed[150:200] = np.random.default_rng(0).standard_normal((50, X.shape[1]))
    before = model.predict(X, groups=groups)
    after = model.predict(changed, groups=groups)
    np.testing.assert_array_equal(after[:150], before[:150])
    assert np.all(np.abs(after[150:200] - before[150:200]).max(axis=1) > 0)
    # Run 2 starts at 200: no leakage across the run boundary.
    np.testing.assert_array_equal(after[200:], before[200:])


# ---------------------------------------------------------------- windows
def test_sample_windows_uniform_inside_runs():
    lengths = np.array([10, 3, 7])
    generator = torch.Generator().manual_seed(0)
    runs, starts = sample_windows(lengths, 5, 24_000, generator)
    # Windows inside runs: run 0 has 6 starts (0..5), run 1 (shorter than the
    # window) one start (0), run 2 has 3 starts (0..2): 10 windows in all.
    assert np.all(starts >= 0)
    assert np.all(starts + np.minimum(5, lengths[runs]) <= lengths[runs])
    pairs, counts = np.unique(np.stack([runs, starts]), axis=1, return_counts=True)
    expected = [(0, s) for s in range(6)] + [(1, 0)] + [(2, s) for s in range(3)]
    assert [tuple(p) for p in pairs.T] == expected
    # 2400 expected per window; 5 binomial standard deviations is about 230.
    assert np.all(np.abs(counts - 2400) < 230)
    again = sample_windows(lengths, 5, 24_000, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(again[0], runs)
    np.testing.assert_array_equal(again[1], starts)


def test_gather_windows_matches_explicit_padding():
    rng = np.random.default_rng(0)
    lengths = np.array([9, 4, 6])
    starts0 = np.array([0, 9, 13])
    X = rng.standard_normal((19, 2))
    Y = rng.standard_normal((19, 3))
    runs, starts = np.array([0, 0, 1, 2]), np.array([0, 4, 0, 1])
    window_len, past, future = 5, 2, 1
    X_win, Y_win = gather_windows(
        X, Y, starts0, lengths, runs, starts, window_len, (past, future)
    )
    assert X_win.shape == (4, 8, 2)
    assert Y_win.shape == (4, 8, 3)
    for w, (r, s) in enumerate(zip(runs, starts, strict=True)):
        run_x = X[starts0[r] : starts0[r] + lengths[r]]
        run_y = Y[starts0[r] : starts0[r] + lengths[r]]
        for j, t in enumerate(range(s - past, s + window_len + future)):
            inside = 0 <= t < lengths[r]
            np.testing.assert_allclose(
                X_win[w, j], run_x[t] if inside else 0, rtol=1e-6
            )
            if inside and s <= t < s + window_len:
                np.testing.assert_allclose(Y_win[w, j], run_y[t], rtol=1e-6)
            else:
                assert np.all(np.isnan(Y_win[w, j]))


@pytest.mark.parametrize("causal", [True, False])
def test_windows_see_what_whole_run_prediction_sees(causal):
    # The loss of a training window compares exactly the outputs that
    # whole-run prediction gives at the same samples.
    torch.manual_seed(0)
    module = ConvTemporalModule([[0, 1], [2]], 3, 6, 2, causal=causal).double()
    rng = np.random.default_rng(0)
    lengths, starts0 = np.array([30, 12]), np.array([0, 30])
    X, Y = rng.standard_normal((42, 3)), rng.standard_normal((42, 2))
    runs, starts = np.array([0, 0, 0, 1]), np.array([0, 13, 25, 0])
    X_win, Y_win = gather_windows(
        X, Y, starts0, lengths, runs, starts, 16, module.context
    )
    with torch.no_grad():
        windows = module(torch.from_numpy(X_win.astype(np.float64))).numpy()
        whole = [
            module(torch.from_numpy(X[None, :30]))[0].numpy(),
            module(torch.from_numpy(X[None, 30:]))[0].numpy(),
        ]
    past = module.context[0]
    for w, (r, s) in enumerate(zip(runs, starts, strict=True)):
        stop = min(s + 16, lengths[r])
        np.testing.assert_allclose(
            windows[w, past : past + stop - s], whole[r][s:stop], rtol=1e-5, atol=1e-6
        )
        observed = ~np.isnan(Y_win[w, :, 0])
        assert observed.sum() == stop - s


def test_tiled_windows_cover_each_sample_once():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((50, 2)), rng.standard_normal((50, 1))
    groups = np.repeat([0, 1, 2], [20, 25, 5])
    tiles = _TiledWindows(X, Y, groups, 8, (2, 2))
    assert len(tiles) == 3 + 4 + 1
    targets = np.concatenate([tiles[i][1].numpy()[:, 0] for i in range(len(tiles))])
    np.testing.assert_allclose(
        np.sort(targets[~np.isnan(targets)]), np.sort(Y[:, 0]), rtol=1e-6
    )


def test_modality_dropout_zeroes_whole_spaces_and_keeps_one():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 6)) + 10.0  # no zero feature by chance
    Y = rng.standard_normal((100, 1))
    spaces = [np.array([0, 1]), np.array([2, 3, 4]), np.array([5])]
    kept = []
    for p in (0.5, 0.99):
        data = _RandomWindows(
            X,
            Y,
            np.zeros(100),
            10,
            400,
            (0, 0),
            torch.Generator().manual_seed(0),
            spaces=spaces,
            modality_dropout=p,
        )
        windows = [data[i][0].numpy() for i in range(len(data))]
        zeroed = np.array([[np.all(x[:, c] == 0) for c in spaces] for x in windows])
        # A space is zeroed on all its columns or on none.
        assert all(
            np.all(x[:, c] == 0) or np.all(x[:, c] != 0)
            for x in windows
            for c in spaces
        )
        assert np.all(zeroed.sum(axis=1) < 3)
        kept.append(zeroed.mean())
    # p=0.5: a space is dropped when drawn and not rescued (1/8 of the time
    # all three are drawn, then one of the three is kept): 0.5 - 1/24.
    assert abs(kept[0] - (0.5 - 1 / 24)) < 0.05
    # p=0.99: nearly always exactly one space kept.
    assert abs(kept[1] - 2 / 3) < 0.02


# ------------------------------------------------------------ masked loss
def test_masked_mse_equals_mean_over_observed_entries():
    rng = np.random.default_rng(0)
    y_true = rng.standard_normal((4, 7, 3))
    missing = rng.random(y_true.shape) < 0.3
    y_true[missing] = np.nan
    y_pred = torch.tensor(rng.standard_normal((4, 7, 3)), requires_grad=True)
    loss = MaskedMSELoss()(y_pred, torch.from_numpy(y_true))
    diff = y_pred.detach().numpy()[~missing] - y_true[~missing]
    np.testing.assert_allclose(loss.item(), np.mean(diff**2), rtol=1e-12)
    loss.backward()
    grad = y_pred.grad.numpy()
    assert np.all(grad[missing] == 0)
    expected = 2 * (y_pred.detach().numpy() - y_true) / (~missing).sum()
    np.testing.assert_allclose(grad[~missing], expected[~missing], rtol=1e-12)


def test_masked_mse_all_missing_is_zero_with_zero_gradient():
    y_pred = torch.randn(2, 3, requires_grad=True)
    loss = MaskedMSELoss()(y_pred, torch.full((2, 3), float("nan")))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(y_pred.grad, torch.zeros(2, 3))


def test_masked_entries_have_no_influence_on_gradients():
    # The gradient of the masked loss (targets NaN at the mask) equals that of
    # an explicit loss over the observed entries only, whatever finite values
    # the masked entries would have held.
    torch.manual_seed(0)
    module = ConvTemporalModule([[0, 1, 2], [3]], 3, 5, 2, n_subjects=3).double()
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.standard_normal((2, 20, 4)))
    y = rng.standard_normal((2, 20, 6))
    mask = np.zeros(y.shape, dtype=bool)
    mask[:, 5:15, 4:6] = True  # subject 2 missing for a stretch of time
    mask[1, :, 0] = True
    y_nan = np.where(mask, np.nan, y)

    def grads(loss_fn):
        module.zero_grad()
        loss_fn(module(X)).backward()
        return [p.grad.clone() for p in module.parameters()]

    masked = grads(lambda out: MaskedMSELoss()(out, torch.from_numpy(y_nan)))
    keep = torch.from_numpy(~mask)
    for fill in (0.0, 1e3):
        y_fill = torch.from_numpy(np.where(mask, fill, y))
        explicit = grads(lambda out, y_fill=y_fill: ((out - y_fill)[keep] ** 2).mean())
        for a, b in zip(masked, explicit, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_missing_subject_changes_nothing_for_the_others():
    # A second subject with no observed sample leaves the training of the
    # first exactly as in a single-subject model: same windows, same shared
    # weights, same gradients (its masked entries contribute nothing).
    X, y, groups, _ = slow_response_data(n_runs=4, run_len=100, n_targets=3, seed=1)
    alone = fast_encoder(max_epochs=3, windows_per_epoch=96).fit(X, y, groups=groups)
    y2 = np.hstack([y, np.full_like(y, np.nan)])
    message = "3 of 6 targets of y have no observed .*are the shared head.s alone"
    with pytest.warns(UserWarning, match=message):
        joint = fast_encoder(max_epochs=3, windows_per_epoch=96, n_subjects=2).fit(
            X, y2, groups=groups
        )
    pred_alone = alone.predict(X, groups=groups)
    pred_joint = joint.predict(X, groups=groups)
    np.testing.assert_allclose(pred_joint[:, :3], pred_alone, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        [h["valid_loss"] for h in joint.history_],
        [h["valid_loss"] for h in alone.history_],
        rtol=1e-4,
    )
    assert joint.best_epoch_ == alone.best_epoch_


# -------------------------------------------------------------- estimator
def test_score_is_mean_pearson_over_observed_samples():
    X, y, groups, _ = slow_response_data(
        n_runs=4, run_len=100, n_targets=3, n_subjects=2, seed=2
    )
    y[:100, 0] = np.nan
    y[250:300, 4] = np.nan
    model = fast_encoder(max_epochs=2, windows_per_epoch=64, n_subjects=2)
    model.fit(X, y, groups=groups)
    pred = model.predict(X, groups=groups)
    assert pred.shape == (400, 6)
    assert np.all(np.isfinite(pred))
    expected = []
    for j in range(6):
        observed = ~np.isnan(y[:, j])
        expected.append(pearsonr(y[observed, j], pred[observed, j])[0])
    assert model.score(X, y, groups=groups) == pytest.approx(
        np.mean(expected), rel=1e-6
    )
    assert model.n_subjects_ == 2
    assert model.n_targets_per_subject_ == 3


def test_prediction_of_a_run_depends_on_that_run_only():
    X, y, groups, _ = slow_response_data(n_runs=4, run_len=60, n_targets=2, seed=4)
    model = fast_encoder(
        causal=False, kernel_size=9, max_epochs=1, windows_per_epoch=32, window_len=16
    ).fit(X, y, groups=groups)
    full = model.predict(X, groups=groups)
    np.testing.assert_allclose(
        model.predict(X[60:120], groups=groups[60:120]),
        full[60:120],
        rtol=1e-5,
        atol=1e-6,
    )
    # Without groups, the runs are one sequence: the edges differ.
    assert not np.allclose(model.predict(X)[55:65], full[55:65])


def test_one_dimensional_y_and_reproducibility():
    X, y, groups, _ = slow_response_data(n_runs=3, run_len=80, n_targets=1, seed=5)
    state = torch.random.get_rng_state()
    a = fast_encoder(max_epochs=2, windows_per_epoch=64).fit(X, y[:, 0], groups=groups)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = fast_encoder(max_epochs=2, windows_per_epoch=64).fit(X, y[:, 0], groups=groups)
    pa = a.predict(X, groups=groups)
    assert pa.shape == (240,)
    np.testing.assert_array_equal(pa, b.predict(X, groups=groups))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.predict(X, groups=groups), pa)
    other = fast_encoder(max_epochs=2, windows_per_epoch=64, random_state=1)
    assert not np.allclose(other.fit(X, y[:, 0], groups=groups).predict(X), pa)


def test_bad_input_messages():
    X, y, groups, _ = slow_response_data(n_runs=3, run_len=40, n_targets=5, seed=6)
    with pytest.raises(
        ValueError,
        match=r"y must have n_subjects \* n_targets columns.*"
        r"y has 5 columns, not a multiple of n_subjects=2",
    ):
        fast_encoder(n_subjects=2).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="all 400 training values of y are NaN"):
        fast_encoder().fit(X, np.full((120, 5), np.nan), groups=groups)
    with pytest.raises(ValueError, match="kernel_size"):
        fast_encoder(kernel_size=0).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="modality_dropout"):
        fast_encoder(modality_dropout=1.0).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="n_subjects"):
        fast_encoder(n_subjects=0).fit(X, y, groups=groups)
    y_inf = y.copy()
    y_inf[3, 1] = np.inf
    with pytest.raises(
        ValueError,
        match=r"y contains inf \(1 value\), the first at sample 3, target 1: only NaN",
    ):
        fast_encoder().fit(X, y_inf, groups=groups)


def test_feature_spaces_get_their_own_projection():
    X, y, groups, _ = slow_response_data(n_runs=3, run_len=60, n_features=5, seed=7)
    model = fast_encoder(
        feature_spaces={"a": 2, "b": 3}, max_epochs=1, windows_per_epoch=32
    )
    model.fit(X, y, groups=groups)
    assert [p.in_features for p in model.module_.projections] == [2, 3]
    with pytest.raises(ValueError, match="belong to no feature space"):
        fast_encoder(feature_spaces={"a": 2}).fit(X, y, groups=groups)


# ------------------------------------------------------ what it is for
def test_beats_delayed_ridge_on_slow_responses():
    # The responses average the past 40 samples: a causal kernel of 41 taps
    # spans them (fast_encoder), where DelayedRidge sees delays 1-4 only.
    X, y, groups, clean = slow_response_data(n_runs=6, run_len=200, seed=0)
    train, test = groups < 4, groups >= 4
    ridge = DelayedRidge(delays=4, cv=4, backend="numpy").fit(
        X[train], y[train], groups=groups[train]
    )
    r_ridge = ridge.score(X[test], y[test], groups=groups[test])
    model = fast_encoder().fit(X[train], y[train], groups=groups[train])
    r_conv = model.score(X[test], y[test], groups=groups[test])
    ceiling = pearson_r(y[test], clean[test]).mean()
    assert r_conv > r_ridge + 0.2
    assert r_conv > 0.75 * ceiling


@pytest.mark.slow
def test_defaults_beat_a_four_delay_ridge_on_40_sample_integration():
    # 1 500 training samples in 6 runs of 250, noise SD half the signal's
    # (snr=4), 2 test runs; ridge on delays 1-4, the encoder's defaults.
    X, y, groups, clean = slow_response_data(
        n_runs=8, run_len=250, n_features=16, n_targets=40, snr=4.0, seed=2
    )
    train, test = groups < 6, groups >= 6
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it learned
        model = ConvTemporalEncoder(random_state=0)
        model.fit(X[train], y[train], groups=groups[train])
    ridge = DelayedRidge(delays=4).fit(X[train], y[train], groups=groups[train])
    r_conv = model.score(X[test], y[test], groups=groups[test])
    r_ridge = ridge.score(X[test], y[test], groups=groups[test])
    ceiling = pearson_r(y[test], clean[test]).mean()
    assert r_ridge < 0.4
    assert r_conv > r_ridge + 0.3
    assert r_conv > 0.9 * ceiling


@pytest.mark.slow
def test_joint_training_beats_subjects_alone_with_scarce_data():
    n_subjects, n_targets = 4, 8
    X, y_full, groups, _ = slow_response_data(
        n_runs=8,
        run_len=100,
        n_targets=n_targets,
        snr=0.5,
        n_subjects=n_subjects,
        seed=1,
    )
    # 6 training runs, of which each subject has 2; runs 6-7 are held out.
    y = y_full.copy()
    for s in range(n_subjects):
        missing = ~np.isin(groups, [s, (s + 3) % 6, 6, 7])
        y[missing, s * n_targets : (s + 1) * n_targets] = np.nan
    train, test = groups < 6, groups >= 6
    # No early stopping: every model takes the same number of steps.
    params = {"validation_runs": 0, "max_epochs": 10, "lr": 3e-2}
    joint = fast_encoder(n_subjects=n_subjects, **params)
    joint.fit(X[train], y[train], groups=groups[train])
    r_joint = pearson_r(y_full[test], joint.predict(X[test], groups=groups[test]))
    r_alone = []
    for s in range(n_subjects):
        cols = slice(s * n_targets, (s + 1) * n_targets)
        observed = train & ~np.isnan(y[:, cols.start])
        alone = fast_encoder(**params).fit(
            X[observed], y[observed, cols], groups=groups[observed]
        )
        r_alone.append(
            pearson_r(y_full[test, cols], alone.predict(X[test], groups=groups[test]))
        )
    r_alone = np.concatenate(r_alone)
    # Seeds 0-3 of data and weights: margins 0.12-0.15, 78-91% of targets.
    assert r_joint.mean() > r_alone.mean() + 0.07
    assert np.mean(r_joint > r_alone) >= 0.7


def test_grid_search_over_embed_dim_with_groups():
    X, y, groups, _ = slow_response_data(n_runs=6, run_len=80, n_targets=3, seed=8)
    outer = GroupKFold(n_splits=3)
    params = {"max_epochs": 2, "windows_per_epoch": 64, "kernel_size": 21}
    with sklearn.config_context(enable_metadata_routing=True):
        model = fast_encoder(**params)
        model.set_fit_request(groups=True).set_score_request(groups=True)
        search = GridSearchCV(model, {"embed_dim": [1, 4]}, cv=outer)
        search.fit(X, y, groups=groups)
    for i, embed_dim in enumerate(search.cv_results_["param_embed_dim"]):
        manual = []
        for tr, te in outer.split(X, y, groups):
            est = fast_encoder(embed_dim=embed_dim, **params)
            est.fit(X[tr], y[tr], groups=groups[tr])
            manual.append(est.score(X[te], y[te], groups=groups[te]))
        np.testing.assert_allclose(
            search.cv_results_["mean_test_score"][i], np.mean(manual), rtol=1e-6
        )
    assert search.best_estimator_.module_.shared_head.in_features in (1, 4)
