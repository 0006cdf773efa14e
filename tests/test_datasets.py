import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from brainenc.datasets import make_encoding_data, make_layered_data, spm_hrf
from brainenc.delays import delay_features


def _design(X, truth, groups):
    return delay_features(X, truth.delays, groups)


def test_shapes_and_dtypes():
    X, y, groups, truth = make_encoding_data(
        n_samples=301,
        n_features=7,
        n_targets=11,
        n_runs=3,
        delays=5,
        random_state=0,
    )
    assert X.shape == (301, 7)
    assert y.shape == (301, 11)
    assert groups.shape == (301,)
    assert X.dtype == np.float64
    assert y.dtype == np.float64
    assert groups.dtype.kind == "i"
    assert truth.coef.shape == (11, 7, 5)
    assert truth.amplitude.shape == (11, 7)
    assert truth.hrf.shape == (11, 5)
    assert truth.hrf_peak_time.shape == (11,)
    assert_array_equal(truth.delays, [1, 2, 3, 4, 5])
    assert truth.y_clean.shape == (301, 11)
    assert truth.noise.shape == (301, 11)
    assert truth.noise_ceiling.shape == (11,)
    assert isinstance(truth.expected_noise_ceiling, float)
    assert_allclose(truth.coef, truth.amplitude[:, :, None] * truth.hrf[:, None, :])
    assert_allclose(y, truth.y_clean + truth.noise)


def test_features_standardised_and_autocorrelated():
    X, _, groups, _ = make_encoding_data(
        n_samples=4000,
        n_features=10,
        n_targets=2,
        n_runs=2,
        feature_autocorrelation=0.8,
        random_state=1,
    )
    assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    assert_allclose(X.std(axis=0), 1.0, rtol=1e-12)
    lag1 = [
        np.corrcoef(X[groups == g][1:, j], X[groups == g][:-1, j])[0, 1]
        for g in (0, 1)
        for j in range(10)
    ]
    assert np.mean(lag1) == pytest.approx(0.8, abs=0.03)
    X0, *_ = make_encoding_data(
        n_samples=4000,
        n_features=10,
        n_targets=2,
        feature_autocorrelation=0.0,
        random_state=1,
    )
    assert abs(np.corrcoef(X0[1:, 0], X0[:-1, 0])[0, 1]) < 0.05


@pytest.mark.parametrize(("n_samples", "n_runs"), [(1200, 4), (1003, 4), (50, 7)])
def test_groups_contiguous_near_equal(n_samples, n_runs):
    _, _, groups, _ = make_encoding_data(
        n_samples=n_samples,
        n_features=2,
        n_targets=2,
        n_runs=n_runs,
        delays=3,
        random_state=0,
    )
    # Labels 0..n_runs-1 in order, each a single contiguous block.
    assert_array_equal(np.unique(groups), np.arange(n_runs))
    assert np.all(np.diff(groups) >= 0)
    lengths = np.bincount(groups)
    assert lengths.sum() == n_samples
    assert lengths.max() - lengths.min() <= (0 if n_samples % n_runs == 0 else 1)


def test_reproducible_and_global_rng_untouched():
    state = np.random.get_state()  # noqa: NPY002
    a = make_encoding_data(n_samples=200, n_targets=5, random_state=42)
    b = make_encoding_data(
        n_samples=200, n_targets=5, random_state=np.random.RandomState(42)
    )
    after = np.random.get_state()  # noqa: NPY002
    assert_array_equal(state[1], after[1])
    assert state[2] == after[2]
    for u, v in zip(a[:3], b[:3], strict=True):
        assert_array_equal(u, v)
    assert_array_equal(a[3].coef, b[3].coef)
    c = make_encoding_data(n_samples=200, n_targets=5, random_state=43)
    assert not np.allclose(a[0], c[0])
    assert not np.allclose(a[1], c[1])


@pytest.mark.parametrize("snr", [0.1, 1.0, 4.0])
def test_in_sample_snr_exact(snr):
    _, y, _, truth = make_encoding_data(
        n_samples=500, n_targets=30, snr=snr, random_state=3
    )
    ratio = truth.y_clean.var(axis=0) / truth.noise.var(axis=0)
    assert_allclose(ratio, snr, rtol=1e-10)
    assert_allclose(y - truth.y_clean, truth.noise)


@pytest.mark.parametrize("snr", [0.25, 1.0, 4.0])
def test_noise_ceiling_close_to_expected(snr):
    _, y, _, truth = make_encoding_data(
        n_samples=2000, n_targets=200, snr=snr, random_state=4
    )
    assert truth.expected_noise_ceiling == pytest.approx(np.sqrt(snr / (1 + snr)))
    # noise_ceiling is the Pearson r between y and y_clean, per target.
    r0 = np.corrcoef(y[:, 0], truth.y_clean[:, 0])[0, 1]
    assert truth.noise_ceiling[0] == pytest.approx(r0, rel=1e-12)
    assert np.mean(truth.noise_ceiling) == pytest.approx(
        truth.expected_noise_ceiling, abs=0.005
    )
    assert np.all(np.abs(truth.noise_ceiling - truth.expected_noise_ceiling) < 0.05)


def test_infinite_snr_is_noise_free():
    _, y, _, truth = make_encoding_data(n_samples=200, snr=np.inf, random_state=0)
    assert_array_equal(y, truth.y_clean)
    assert_allclose(truth.noise_ceiling, 1.0)
    assert truth.expected_noise_ceiling == 1.0


def test_spm_hrf_shape():
    t = np.linspace(0, 32, 32001)
    h = spm_hrf(t, normalize=True)
    assert h.max() == pytest.approx(1.0, abs=1e-6)
    assert t[np.argmax(h)] == pytest.approx(5.0, abs=0.05)
    assert t[np.argmin(h)] == pytest.approx(15.75, abs=0.1)
    assert h.min() == pytest.approx(-0.0889, abs=1e-3)
    assert_array_equal(spm_hrf([-3.0, 0.0]), [0.0, 0.0])


def test_delay_profile_peaks_at_hrf_peak():
    # tr=1 s, delays 0..20 s, canonical HRF: the profile peaks at 5 s.
    _, _, _, truth = make_encoding_data(
        n_samples=400,
        n_features=3,
        n_targets=4,
        delays=np.arange(21),
        tr=1.0,
        hrf_jitter=0.0,
        random_state=0,
    )
    assert_allclose(truth.hrf_peak_time, 5.0, atol=0.01)
    assert_array_equal(np.argmax(truth.hrf, axis=1), [5, 5, 5, 5])
    # The undershoot is the most negative weight, near 16 s.
    assert_array_equal(np.argmin(truth.hrf, axis=1), [16, 16, 16, 16])
    # The coefficients of every feature share the profile, up to the amplitude.
    energy = np.abs(truth.coef).sum(axis=(0, 1))
    assert np.argmax(energy) == 5

    # With jitter, every target peaks within one sample of its own HRF peak.
    _, _, _, truth = make_encoding_data(
        n_samples=400,
        n_features=3,
        n_targets=50,
        delays=np.arange(21),
        tr=1.0,
        hrf_jitter=1.0,
        random_state=0,
    )
    closest = np.argmin(
        np.abs(truth.delays[None, :] * 1.0 - truth.hrf_peak_time[:, None]), axis=1
    )
    assert np.all(np.abs(np.argmax(truth.hrf, axis=1) - closest) <= 1)
    assert np.mean(np.argmax(truth.hrf, axis=1) == closest) > 0.8
    assert np.std(truth.hrf_peak_time) == pytest.approx(1.0, abs=0.3)


def test_negative_delays_get_zero_weight():
    _, _, _, truth = make_encoding_data(
        n_samples=300, delays=[-2, -1, 0, 1, 2, 3], random_state=0
    )
    assert_array_equal(truth.hrf[:, :3], 0.0)
    assert np.all(truth.hrf[:, 3:].max(axis=1) > 0.1)


def test_y_clean_is_delayed_linear_model():
    X, _, groups, truth = make_encoding_data(
        n_samples=300, n_features=4, n_targets=6, n_runs=3, random_state=0
    )
    W = truth.coef.reshape(truth.coef.shape[0], -1).T
    assert_allclose(truth.y_clean, _design(X, truth, groups) @ W, rtol=1e-12)


def test_no_information_crosses_runs():
    X, _, groups, truth = make_encoding_data(
        n_samples=400,
        n_features=4,
        n_targets=6,
        n_runs=2,
        delays=[-1, 1, 2, 3],
        random_state=0,
    )
    W = truth.coef.reshape(truth.coef.shape[0], -1).T
    X2 = X.copy()
    X2[groups == 0] = np.random.RandomState(1).standard_normal(((groups == 0).sum(), 4))
    y2 = _design(X2, truth, groups) @ W
    run1 = groups == 1
    assert_array_equal(y2[run1], truth.y_clean[run1])
    assert not np.allclose(y2[~run1], truth.y_clean[~run1])
    # The first samples of run 1 see only zeros before the run starts.
    first = np.flatnonzero(run1)[0]
    assert_array_equal(truth.y_clean[first], X[first] @ truth.coef[:, :, 0].T)


def test_ground_truth_recoverable():
    X, _, groups, truth = make_encoding_data(
        n_samples=600,
        n_features=8,
        n_targets=10,
        n_runs=3,
        delays=4,
        random_state=0,
    )
    D = _design(X, truth, groups)
    W, *_ = np.linalg.lstsq(D, truth.y_clean, rcond=None)
    coef = W.T.reshape(truth.coef.shape)
    assert_allclose(coef, truth.coef, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_features": 0}, "n_features"),
        ({"n_targets": -1}, "n_targets"),
        ({"n_runs": 0}, "n_runs"),
        ({"n_samples": 10, "n_runs": 11}, "n_runs must not exceed n_samples"),
        ({"n_samples": 20, "n_runs": 5, "delays": 4}, "longer than the largest delay"),
        ({"snr": 0.0}, "snr"),
        ({"snr": -1.0}, "snr"),
        ({"snr": float("nan")}, "snr"),
        ({"tr": 0.0}, "tr"),
        ({"feature_autocorrelation": 1.0}, "feature_autocorrelation"),
        ({"feature_autocorrelation": -0.1}, "feature_autocorrelation"),
        ({"hrf_jitter": -1.0}, "hrf_jitter"),
        ({"delays": 0}, "delays"),
        ({"delays": [0]}, "miss the HRF"),
        ({"delays": [-3, -2]}, "miss the HRF"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_encoding_data(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 10.5}, "n_samples"),
        ({"n_runs": "4"}, "n_runs"),
        ({"snr": "high"}, "snr"),
        ({"delays": "4"}, "delays"),
    ],
)
def test_invalid_types(kwargs, match):
    with pytest.raises(TypeError, match=match):
        make_encoding_data(**kwargs)


def test_make_multispace_data_ground_truth():
    from brainenc.datasets import make_multispace_data

    X, y, groups, truth = make_multispace_data(
        n_samples=600, space_sizes=(4, 6, 2), n_targets=7, n_runs=3, random_state=2
    )
    assert X.shape == (600, 12)
    assert list(truth.feature_spaces) == ["space0", "space1", "space2"]
    for t in range(7):
        # a single driving space: the clean response is that space's response
        np.testing.assert_allclose(
            truth.y_clean[:, t], truth.y_clean_spaces[t % 3, :, t]
        )
    np.testing.assert_allclose(truth.y_clean.var(0) / truth.noise.var(0), 1.0)
    # each space's response depends only on that space's columns
    X2, _, _, truth2 = make_multispace_data(
        n_samples=600, space_sizes=(4, 6, 2), n_targets=7, n_runs=3, random_state=2
    )
    np.testing.assert_array_equal(X, X2)
    shares = np.array([[0.5] * 7, [0.5] * 7, [0.0] * 7])
    _, _, _, mixed = make_multispace_data(
        n_samples=600,
        space_sizes=(4, 6, 2),
        n_targets=7,
        n_runs=3,
        shares=shares,
        snr=np.inf,
        random_state=2,
    )
    expected = np.sqrt(0.5) * (mixed.y_clean_spaces[0] + mixed.y_clean_spaces[1])
    np.testing.assert_allclose(mixed.y_clean, expected)
    with pytest.raises(
        ValueError, match=r"shares must have shape \(n_spaces, n_targets\)"
    ):
        make_multispace_data(space_sizes=(2, 2), n_targets=3, shares=np.ones((3, 3)))
    with pytest.raises(ValueError, match="each column must sum to 1"):
        make_multispace_data(space_sizes=(2, 2), n_targets=3, shares=np.ones((2, 3)))


# ------------------------------------------------------- make_layered_data
def test_make_layered_data_layout_and_truth():
    X, y, groups, truth = make_layered_data(
        n_samples=4000,
        n_spaces=3,
        n_layers=5,
        layer_dim=4,
        n_targets=6,
        n_runs=4,
        snr=0.5,
        layer_correlation=0.6,
        random_state=0,
    )
    assert X.shape == (4000, 60)
    assert y.shape == (4000, 6)
    assert_array_equal(np.unique(groups), [0, 1, 2, 3])
    assert truth.n_layers == {"space0": 5, "space1": 5, "space2": 5}
    assert_array_equal(truth.driving_layers, [0, 2, 4])  # floor((s + .5) / 3 * 5)
    for s, (name, cols) in enumerate(truth.feature_spaces.items()):
        assert cols == slice(20 * s, 20 * (s + 1))
        layers = X[:, cols].reshape(4000, 5, 4)
        assert_allclose(
            truth.layer_means[:, truth.layer_mean_spaces[name]], layers.mean(axis=1)
        )
        assert_allclose(layers.std(axis=0), 1.0, atol=0.1)
        # Each layer is correlated 0.6 with the same column one layer below.
        for layer in range(1, 5):
            r = [
                np.corrcoef(layers[:, layer, j], layers[:, layer - 1, j])[0, 1]
                for j in range(4)
            ]
            assert_allclose(r, 0.6, atol=0.05)
    assert_allclose(truth.shares.sum(axis=0), 1.0)
    assert np.all(truth.shares > 0)
    assert_allclose(truth.y_clean.var(axis=0) / truth.noise.var(axis=0), 0.5)
    assert_allclose(y, truth.y_clean + truth.noise)


def test_make_layered_data_signal_comes_from_the_driving_layers():
    # A linear truth is exactly linear in the driving layers over the
    # context's delays, and in no other layer.
    X, y, groups, truth = make_layered_data(
        n_samples=1200,
        n_spaces=2,
        n_layers=4,
        layer_dim=3,
        n_targets=5,
        context=3,
        nonlinearity="linear",
        snr=np.inf,
        random_state=1,
    )

    def r2(layers):
        blocks = [
            X[:, truth.feature_spaces[f"space{s}"]].reshape(1200, 4, 3)[:, layer]
            for s, layer in enumerate(layers)
        ]
        D = np.hstack(
            [delay_features(np.hstack(blocks), [0, 1, 2], groups), np.ones((1200, 1))]
        )
        fit = D @ np.linalg.lstsq(D, truth.y_clean, rcond=None)[0]
        return 1 - ((truth.y_clean - fit) ** 2).sum(0) / (truth.y_clean**2).sum(0)

    assert_array_equal(truth.driving_layers, [1, 3])
    assert_allclose(r2([1, 3]), 1.0, atol=1e-10)
    # ... and it is the mean over the context of each unit: linear in the
    # running mean of each driving-layer column (3 per space, not 9).
    means = []
    for s, layer in enumerate([1, 3]):
        block = X[:, truth.feature_spaces[f"space{s}"]].reshape(1200, 4, 3)[:, layer]
        delayed = delay_features(block, [0, 1, 2], groups).reshape(1200, 3, 3)
        means.append(delayed.mean(axis=2))  # feature-major: unit, then delay
    D = np.hstack(means + [np.ones((1200, 1))])
    fit = D @ np.linalg.lstsq(D, truth.y_clean, rcond=None)[0]
    assert_allclose(fit, truth.y_clean, atol=1e-8)
    assert np.all(r2([0, 3]) < 0.95)
    assert np.all(r2([1, 2]) < 0.95)
    # Without noise, y is y_clean; the context never crosses a run.
    assert_array_equal(y, truth.y_clean)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nonlinearity": "sigmoid"}, r"nonlinearity must be one of \['abs', 'linear'"),
        ({"driving_layers": [0, 6]}, r"driving_layers must hold one layer index in"),
        ({"driving_layers": [0]}, r"in \[0, 5\] per space \(2 ints\), got \[0\]"),
        ({"layer_correlation": 1.0}, r"layer_correlation must be in \[0, 1\)"),
        ({"n_runs": 500}, r"every run must hold at least context=3 samples"),
        ({"n_layers": 0}, r"n_layers"),
    ],
)
def test_make_layered_data_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_layered_data(n_samples=1200, **kwargs)
