"""Noise ceilings of brainenc.metrics against closed forms and ground truth."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from brainenc.metrics import (
    noise_ceiling_cross_subject,
    noise_ceiling_repeats,
    normalized_correlation,
    pearson_r,
)

# ------------------------------------------------------ noise_ceiling_repeats


def _repeats(n_repeats, n_samples, signal_sd, noise_sd=1.0, seed=0):
    """Signal s_t (fixed over repeats) plus independent Gaussian noise."""
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((n_samples, signal_sd.size)) * signal_sd
    noise = rng.standard_normal((n_repeats, n_samples, signal_sd.size)) * noise_sd
    return signal, signal + noise


def test_repeats_hand_computation():
    rng = np.random.default_rng(1)
    responses = rng.standard_normal((3, 6, 2)) + np.arange(6)[:, None] * [1.0, 0.2]
    nc = noise_ceiling_repeats(responses)
    n_rep, n_samples, n_targets = responses.shape
    for j in range(n_targets):
        # Across-repeat variance of every sample (ddof=1), then its mean.
        noise = 0.0
        for t in range(n_samples):
            values = responses[:, t, j]
            noise += sum((v - values.mean()) ** 2 for v in values) / (n_rep - 1)
        noise /= n_samples
        mean = responses[:, :, j].mean(axis=0)
        var_mean = sum((m - mean.mean()) ** 2 for m in mean) / (n_samples - 1)
        signal = var_mean - noise / n_rep
        assert nc.noise_variance[j] == pytest.approx(noise, rel=1e-12)
        assert nc.signal_variance[j] == pytest.approx(signal, rel=1e-12)
        assert nc.ncsnr[j] == pytest.approx(np.sqrt(signal / noise), rel=1e-12)
        ev_mean = signal / (signal + noise / n_rep)
        ev_single = signal / (signal + noise)
        assert nc.explainable_variance_mean[j] == pytest.approx(ev_mean, rel=1e-12)
        assert nc.explainable_variance_single[j] == pytest.approx(ev_single)
        assert nc.correlation_ceiling_mean[j] == pytest.approx(np.sqrt(ev_mean))
        assert nc.correlation_ceiling_single[j] == pytest.approx(np.sqrt(ev_single))
    assert nc.n_repeats == 3
    assert nc.n_average == 3


def test_repeats_n_average_and_2d_input():
    rng = np.random.default_rng(2)
    responses = rng.standard_normal((4, 50)) + rng.standard_normal(50)
    nc = noise_ceiling_repeats(responses, n_average=10)
    assert type(nc.signal_variance) is float
    signal, noise = nc.signal_variance, nc.noise_variance
    assert nc.explainable_variance_mean == pytest.approx(signal / (signal + noise / 10))
    assert nc.explainable_variance_single == pytest.approx(signal / (signal + noise))
    # NSD's noise ceiling: 100 * ncsnr^2 / (ncsnr^2 + 1 / n).
    nsd = nc.ncsnr**2 / (nc.ncsnr**2 + 1 / 10)
    assert nc.explainable_variance_mean == pytest.approx(nsd, rel=1e-12)
    assert nc.n_average == 10


def test_repeats_match_ground_truth_within_sampling_error():
    n_repeats, n_samples = 3, 20000
    signal_sd = np.linspace(0.3, 2.0, 40)
    signal, responses = _repeats(n_repeats, n_samples, signal_sd)
    nc = noise_ceiling_repeats(responses)

    # Exact population values, noise variance 1.
    v_signal = signal_sd**2
    v_mean = v_signal + 1.0 / n_repeats
    ev_mean = v_signal / v_mean
    ev_single = v_signal / (v_signal + 1.0)
    # Standard errors (delta method; for Gaussian data the across-repeat
    # variance is independent of the repeat mean): the noise variance has a
    # relative variance of 2 / (T (N - 1)), the variance of the mean response
    # one of 2 / (T - 1).
    rel_noise = 2.0 / (n_samples * (n_repeats - 1))
    rel_mean = 2.0 / (n_samples - 1)
    se_signal = np.sqrt(rel_mean * v_mean**2 + rel_noise / n_repeats**2)
    se_ev_mean = (1 - ev_mean) * np.sqrt(rel_noise + rel_mean)
    assert np.all(np.abs(nc.signal_variance - v_signal) < 4 * se_signal)
    assert np.all(np.abs(nc.noise_variance - 1.0) < 4 * np.sqrt(rel_noise))
    assert np.all(np.abs(nc.explainable_variance_mean - ev_mean) < 4 * se_ev_mean)
    assert_allclose(nc.explainable_variance_single, ev_single, atol=0.02)
    assert_allclose(nc.correlation_ceiling_single, np.sqrt(ev_single), atol=0.02)
    # No bias: the standardised errors average to about 0 over 40 targets.
    z = (nc.signal_variance - v_signal) / se_signal
    assert abs(z.mean()) < 4 / np.sqrt(z.size)

    # The ceilings are what a perfect model (the signal itself) reaches.
    r_mean = pearson_r(responses.mean(axis=0), signal)
    r_single = pearson_r(responses[0], signal)
    assert_allclose(nc.correlation_ceiling_mean, r_mean, atol=0.02)
    assert_allclose(nc.correlation_ceiling_single, r_single, atol=0.02)


def test_repeats_agree_with_schoppe_cc_max():
    # Schoppe et al. (2016), eq. 8, from signal power (Sahani & Linden 2003):
    # CC_max = sqrt((N Var(mean) - mean_n Var(y_n)) / ((N - 1) Var(mean))).
    n_repeats = 5
    signal_sd = np.array([0.4, 1.0, 2.5])
    _, responses = _repeats(n_repeats, 20000, signal_sd, seed=3)
    var_mean = responses.mean(axis=0).var(axis=0, ddof=1)
    mean_var = responses.var(axis=1, ddof=1).mean(axis=0)
    cc_max = np.sqrt((n_repeats * var_mean - mean_var) / ((n_repeats - 1) * var_mean))
    nc = noise_ceiling_repeats(responses)
    assert_allclose(nc.correlation_ceiling_mean, cc_max, atol=2e-3)


def test_repeats_bias_correction_matters():
    # Two repeats, weak signal: the variance of the mean response holds half
    # of the noise variance, which the correction removes.
    n_repeats, n_samples = 2, 20000
    signal_sd = np.full(30, 0.5)
    _, responses = _repeats(n_repeats, n_samples, signal_sd, seed=4)
    nc = noise_ceiling_repeats(responses)
    v_signal = 0.25
    v_mean = v_signal + 0.5
    se = np.sqrt(2 * v_mean**2 / (n_samples - 1) + 2 / (4 * n_samples))
    uncorrected = responses.mean(axis=0).var(axis=0, ddof=1)
    assert np.all(np.abs(nc.signal_variance - v_signal) < 4 * se)
    assert np.all(uncorrected - v_signal > 20 * se)  # biased by noise / 2
    ev_true = v_signal / (v_signal + 1.0)
    ev_uncorrected = uncorrected / (uncorrected + nc.noise_variance)
    assert_allclose(nc.explainable_variance_single, ev_true, atol=0.02)
    assert np.all(ev_uncorrected - ev_true > 0.15)


def test_repeats_edge_cases():
    rng = np.random.default_rng(5)
    pure_noise = rng.standard_normal((3, 400, 1))
    # Integers: the mean over repeats is exact, so the noise variance is 0.
    identical = np.repeat(rng.integers(-5, 5, (1, 400, 1)), 3, axis=0)
    constant = np.ones((3, 400, 1))
    responses = np.concatenate([pure_noise, identical, constant], axis=2)
    with pytest.warns(UserWarning, match="1 of 3 targets have constant responses"):
        nc = noise_ceiling_repeats(responses)
    assert abs(nc.signal_variance[0]) < 0.1  # pure noise
    assert nc.ncsnr[1] == np.inf
    assert nc.explainable_variance_mean[1] == 1.0
    assert nc.correlation_ceiling_single[1] == 1.0
    assert nc.explainable_variance_mean[2] == 0.0
    assert nc.ncsnr[2] == 0.0


def test_repeats_negative_signal_gives_zero_ceiling():
    # Repeats anti-correlated around a flat mean: no signal at all.
    base = np.array([1.0, -1.0, 2.0, -2.0])
    responses = np.stack([base, -base])[:, :, None]
    nc = noise_ceiling_repeats(responses)
    assert nc.signal_variance[0] == pytest.approx(-np.mean(2 * base**2) / 2)
    assert nc.explainable_variance_mean[0] == 0.0
    assert nc.correlation_ceiling_single[0] == 0.0


@pytest.mark.parametrize(
    ("responses", "kwargs", "message"),
    [
        (np.zeros((2, 3, 4, 5)), {}, "responses must be a 2-D or 3-D array (n_repeats"),
        (np.zeros((1, 5, 2)), {}, "at least 2 repeats (axis 0) and 2 samples"),
        (np.zeros((3, 1, 2)), {}, "at least 2 repeats (axis 0) and 2 samples"),
        (np.zeros((3, 5, 2)), {"n_average": 0}, "n_average must be a positive int"),
        (np.zeros((3, 5, 2)), {"n_average": 2.5}, "got 2.5"),
    ],
)
def test_repeats_errors(responses, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        noise_ceiling_repeats(responses, **kwargs)


def test_repeats_reject_nan():
    responses = np.zeros((3, 5, 2))
    responses[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="responses"):
        noise_ceiling_repeats(responses)


# ------------------------------------------------ noise_ceiling_cross_subject


def test_cross_subject_matches_analytic_expectation():
    n_samples, n_targets = 20000, 6
    noise_sd = np.array([0.5, 1.0, 1.5, 2.0])  # per subject
    signal_sd = np.linspace(0.5, 2.0, n_targets)  # per target
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((n_samples, n_targets)) * signal_sd
    y = np.hstack(
        [signal + sd * rng.standard_normal((n_samples, n_targets)) for sd in noise_sd]
    )
    ceiling = noise_ceiling_cross_subject(y, 4)
    assert ceiling.shape == (4, n_targets)

    v = signal_sd**2
    n_var = noise_sd**2
    others = (n_var.sum() - n_var) / 3**2  # noise variance of the others' mean
    expected = v / np.sqrt((v + n_var[:, None]) * (v + others[:, None]))
    se = (1 - expected**2) / np.sqrt(n_samples)
    assert np.all(np.abs(ceiling - expected) < 4 * se)
    # A noisier subject has a lower ceiling, for every target.
    assert np.all(np.diff(ceiling, axis=0) < 0)


def test_cross_subject_hand_computation_with_missing_samples():
    rng = np.random.default_rng(1)
    n_samples, n_subjects, n_targets = 40, 3, 2
    y = rng.standard_normal((n_samples, n_subjects * n_targets))
    y += np.tile(rng.standard_normal((n_samples, n_targets)), n_subjects)
    y[:5, 0:2] = np.nan  # subject 0 misses samples 0-4
    y[3:9, 2:4] = np.nan  # subject 1 misses samples 3-8 (overlap 3-4)
    y[30:, 5] = np.nan  # subject 2, target 1 misses samples 30-39
    y_in = y.copy()
    ceiling = noise_ceiling_cross_subject(y, n_subjects)
    assert_allclose(y, y_in)
    for s in range(n_subjects):
        for j in range(n_targets):
            own = y[:, s * n_targets + j]
            others = [y[:, o * n_targets + j] for o in range(n_subjects) if o != s]
            keep, xs, ms = [], [], []
            for t in range(n_samples):
                vals = [o[t] for o in others if not np.isnan(o[t])]
                if not np.isnan(own[t]) and vals:
                    keep.append(t)
                    xs.append(own[t])
                    ms.append(np.mean(vals))
            expected = stats.pearsonr(xs, ms)[0]
            assert ceiling[s, j] == pytest.approx(expected, abs=1e-12)


def test_cross_subject_two_subjects_is_their_correlation():
    rng = np.random.default_rng(2)
    y = rng.standard_normal((30, 4))
    ceiling = noise_ceiling_cross_subject(y, 2)
    expected = [stats.pearsonr(y[:, j], y[:, 2 + j])[0] for j in range(2)]
    assert_allclose(ceiling, [expected, expected], rtol=1e-12)


@pytest.mark.parametrize(
    ("y", "n_subjects", "message"),
    [
        (np.zeros((10, 6)), 1, "n_subjects must be an int >= 2"),
        (np.zeros((10, 6)), 2.0, "n_subjects must be an int >= 2"),
        (np.zeros((10, 7)), 2, "columns are not a multiple of n_subjects=2"),
    ],
)
def test_cross_subject_errors(y, n_subjects, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        noise_ceiling_cross_subject(y, n_subjects)


def test_cross_subject_rejects_inf():
    y = np.zeros((10, 4))
    y[0, 0] = np.inf
    with pytest.raises(ValueError, match="y"):
        noise_ceiling_cross_subject(y, 2)


# ------------------------------------------------------ normalized_correlation


def test_normalized_correlation_values():
    assert_allclose(
        normalized_correlation([0.3, -0.1, 0.9], [0.6, 0.5, 0.6]), [0.5, -0.2, 1.5]
    )
    assert normalized_correlation(0.2, 0.5) == pytest.approx(0.4)
    assert type(normalized_correlation(0.2, 0.5)) is float
    # Broadcasting: one ceiling per target, r per subject and target.
    r = np.array([[0.1, 0.2], [0.3, 0.4]])
    assert_allclose(normalized_correlation(r, [0.5, 0.8]), [[0.2, 0.25], [0.6, 0.5]])


def test_normalized_correlation_undefined_ceilings_are_nan():
    with pytest.warns(UserWarning, match="3 of 5 noise ceilings are 0, negative"):
        out = normalized_correlation(
            [0.1, 0.2, 0.3, 0.4, 0.5], [0.5, 0, -0.2, np.nan, 1]
        )
    assert_allclose(out, [0.2, np.nan, np.nan, np.nan, 0.5])


def test_normalized_correlation_shape_mismatch():
    with pytest.raises(ValueError, match=re.escape("shapes (3,) and (2,)")):
        normalized_correlation([0.1, 0.2, 0.3], [0.5, 0.5])
