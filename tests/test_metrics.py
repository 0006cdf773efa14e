"""Tests of brainenc.metrics against scipy, numpy and scikit-learn."""

import re
import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from brainenc.metrics import (
    correlation_score,
    correlation_scorer,
    pearson_r,
    r2_per_target,
)


def _data(n_samples=60, n_targets=7, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    y_true = rng.standard_normal((n_samples, n_targets))
    y_pred = y_true * rng.uniform(-1, 1, n_targets) + noise * rng.standard_normal(
        (n_samples, n_targets)
    )
    return y_true, y_pred


def _scipy_r(y_true, y_pred):
    return np.array(
        [stats.pearsonr(y_true[:, j], y_pred[:, j])[0] for j in range(y_true.shape[1])]
    )


# ---------------------------------------------------------------- pearson_r


def test_pearson_r_matches_scipy_and_corrcoef():
    y_true, y_pred = _data()
    r = pearson_r(y_true, y_pred)
    assert r.shape == (7,)
    assert r.dtype == np.float64
    assert_allclose(r, _scipy_r(y_true, y_pred), rtol=1e-12, atol=1e-14)
    n = y_true.shape[1]
    corr = np.corrcoef(y_true.T, y_pred.T)
    assert_allclose(r, np.diag(corr[:n, n:]), rtol=1e-12, atol=1e-14)


def test_pearson_r_1d_returns_python_float():
    y_true, y_pred = _data(n_targets=1)
    r = pearson_r(y_true[:, 0], y_pred[:, 0])
    assert type(r) is float
    assert r == pytest.approx(stats.pearsonr(y_true[:, 0], y_pred[:, 0])[0], abs=1e-14)


def test_pearson_r_accepts_lists_and_ints():
    assert pearson_r([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(
        np.corrcoef([1, 2, 3, 4], [2, 4, 5, 9])[0, 1], abs=1e-14
    )


def test_pearson_r_perfect_and_anti_correlation_are_exact_bounds():
    y_true, _ = _data(n_targets=50)
    r = pearson_r(y_true, 3.0 * y_true + 0.1)
    assert np.all(r <= 1.0)
    assert_allclose(r, 1.0, atol=1e-14)
    r_neg = pearson_r(y_true, -2.0 * y_true)
    assert np.all(r_neg >= -1.0)
    assert_allclose(r_neg, -1.0, atol=1e-14)


@pytest.mark.parametrize(
    ("scale_t", "shift_t", "scale_p", "shift_p", "sign"),
    [
        (2.0, 5.0, 0.5, -3.0, 1),
        (1e-3, 1e3, 1e6, 0.0, 1),  # inputs keep ~1e-10 relative resolution
        (-3.0, 1.0, 2.0, 7.0, -1),
    ],
)
def test_pearson_r_invariant_to_affine_rescaling(
    scale_t, shift_t, scale_p, shift_p, sign
):
    y_true, y_pred = _data()
    r = pearson_r(y_true, y_pred)
    r_affine = pearson_r(scale_t * y_true + shift_t, scale_p * y_pred + shift_p)
    assert_allclose(r_affine, sign * r, rtol=1e-9, atol=1e-12)


def test_pearson_r_float32_with_large_offset_is_accurate():
    y_true, y_pred = _data(n_samples=500, n_targets=20, seed=1)
    y_true32 = (y_true + 1e4).astype(np.float32)
    y_pred32 = (y_pred + 1e4).astype(np.float32)
    r = pearson_r(y_true32, y_pred32)
    assert r.dtype == np.float64
    # Reference: the same float32 values, in float64, with the offset removed.
    expected = _scipy_r(
        y_true32.astype(np.float64) - 1e4, y_pred32.astype(np.float64) - 1e4
    )
    assert_allclose(r, expected, rtol=1e-10, atol=1e-12)
    # The float32 rounding of the offset data changes r only slightly (~1e-3
    # absolute quantisation of values of unit variance).
    assert_allclose(r, _scipy_r(y_true, y_pred), atol=2e-3)


def test_pearson_r_large_offset_float64():
    y_true, y_pred = _data(seed=2)
    r = pearson_r(y_true + 1e8, y_pred - 1e8)
    # Values near 1e8 keep ~1e-8 absolute precision, so r moves by ~1e-8 at most.
    assert_allclose(r, _scipy_r(y_true, y_pred), atol=1e-6)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_pearson_r_huge_and_tiny_values_do_not_overflow(scale):
    # Squares of 1e200 overflow and squares of 1e-200 underflow in float64.
    y_true, y_pred = _data(seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = pearson_r(y_true * scale, y_pred * scale)
    assert_allclose(r, _scipy_r(y_true, y_pred), rtol=1e-10)


def test_pearson_r_zero_variance_scores_zero_with_one_warning():
    y_true, y_pred = _data(n_targets=100, seed=4)
    y_true[:, 3] = 5.0  # constant truth
    y_pred[:, 10] = -2.5  # constant prediction
    y_true[:, 42] = 0.0
    y_pred[:, 42] = 0.0  # both constant: counted once
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        r = pearson_r(y_true, y_pred)
    user = [w for w in record if issubclass(w.category, UserWarning)]
    assert len(user) == 1
    assert str(user[0].message) == (
        "3 of 100 targets have zero variance in y_true or y_pred; their "
        "correlation is set to 0."
    )
    assert not np.any(np.isnan(r))
    assert_allclose(r[[3, 10, 42]], 0.0)
    others = np.setdiff1d(np.arange(100), [3, 10, 42])
    assert_allclose(
        r[others], _scipy_r(y_true[:, others], y_pred[:, others]), rtol=1e-12
    )


def test_pearson_r_constant_column_with_inexact_mean_is_zero():
    # 0.1 * n is not exactly representable: a naive centring leaves tiny
    # residuals and a meaningless r instead of 0.
    y_true = np.full((37, 1), 0.1)
    y_pred = np.random.default_rng(5).standard_normal((37, 1))
    with pytest.warns(UserWarning, match="1 of 1 targets have zero variance"):
        assert pearson_r(y_true, y_pred)[0] == 0.0


def test_pearson_r_no_warning_without_zero_variance():
    y_true, y_pred = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pearson_r(y_true, y_pred)


def test_pearson_r_does_not_modify_inputs():
    y_true, y_pred = _data()
    y_true[0, 0] = np.nan
    t_copy, p_copy = y_true.copy(), y_pred.copy()
    pearson_r(y_true, y_pred, nan_policy="omit")
    r2_per_target(y_true, y_pred, nan_policy="omit")
    np.testing.assert_array_equal(y_true, t_copy)
    np.testing.assert_array_equal(y_pred, p_copy)


def test_pearson_r_many_targets_in_batches(monkeypatch):
    # Force several batches of columns and check they are stitched correctly.
    import brainenc.metrics as metrics

    monkeypatch.setattr(metrics, "_BATCH_ELEMENTS", 3 * 60)
    y_true, y_pred = _data(n_targets=10, seed=6)
    y_true[:, 8] = 1.0
    with pytest.warns(UserWarning, match="1 of 10 targets"):
        r = pearson_r(y_true, y_pred)
    others = np.delete(np.arange(10), 8)
    expected = np.zeros(10)
    expected[others] = _scipy_r(y_true[:, others], y_pred[:, others])
    assert_allclose(r, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", ["y_true", "y_pred"])
def test_pearson_r_raise_on_non_finite_names_argument(bad, name):
    y_true, y_pred = _data()
    arrays = {"y_true": y_true, "y_pred": y_pred}
    arrays[name][4, 2] = bad
    kind = "NaN" if np.isnan(bad) else "inf"
    message = f"^{name} contains {kind} \\(1 value\\), the first at sample 4, target 2"
    with pytest.raises(ValueError, match=message):
        pearson_r(**arrays)


def test_pearson_r_shape_mismatch_names_both_shapes():
    with pytest.raises(
        ValueError,
        match=re.escape("y_true of shape (10, 3) and y_pred of shape (10, 2)"),
    ):
        pearson_r(np.zeros((10, 3)), np.zeros((10, 2)))
    with pytest.raises(
        ValueError, match=re.escape("(10,) and y_pred of shape (10, 1)")
    ):
        pearson_r(np.zeros(10), np.zeros((10, 1)))


def test_pearson_r_rejects_3d_and_too_few_samples():
    with pytest.raises(
        ValueError, match=r"y_true must be a 1-D or 2-D array .* shape \(4, 2, 2\)"
    ):
        pearson_r(np.zeros((4, 2, 2)), np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        pearson_r([1.0], [2.0])


def test_pearson_r_invalid_nan_policy():
    with pytest.raises(ValueError, match="nan_policy must be one of.*'propagate'"):
        pearson_r([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], nan_policy="propagate")


def test_pearson_r_nan_policy_omit_equals_manual_masking():
    y_true, y_pred = _data(n_samples=80, n_targets=5, seed=7)
    rng = np.random.default_rng(8)
    missing = rng.random(y_true.shape) < 0.2
    missing[:30, 1] = True  # one subject missing a whole stretch
    y_true[missing] = np.nan
    y_pred[missing[:, 0], 0] = np.nan  # y_pred may be NaN where y_true is NaN
    r = pearson_r(y_true, y_pred, nan_policy="omit")
    expected = [
        stats.pearsonr(y_true[~missing[:, j], j], y_pred[~missing[:, j], j])[0]
        for j in range(5)
    ]
    assert_allclose(r, expected, rtol=1e-12)


def test_pearson_r_omit_without_nan_equals_raise():
    y_true, y_pred = _data()
    assert_allclose(
        pearson_r(y_true, y_pred, nan_policy="omit"), pearson_r(y_true, y_pred)
    )


def test_pearson_r_omit_too_few_samples_scores_zero():
    y_true, y_pred = _data(n_samples=10, n_targets=4, seed=9)
    y_true[:, 0] = np.nan  # no sample at all
    y_true[1:, 1] = np.nan  # a single sample
    y_true[2:, 2] = [7.0] * 8  # constant over its valid samples
    y_true[:2, 2] = np.nan
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        r = pearson_r(y_true, y_pred, nan_policy="omit")
    messages = sorted(str(w.message) for w in record)
    assert messages == [
        "1 of 4 targets have zero variance in y_true or y_pred; their correlation "
        "is set to 0.",
        "2 of 4 targets have fewer than 2 samples where y_true is not NaN; their "
        "correlation is set to 0.",
    ]
    assert_allclose(r[:3], 0.0)
    assert r[3] == pytest.approx(stats.pearsonr(y_true[:, 3], y_pred[:, 3])[0])


def test_pearson_r_omit_rejects_nan_in_y_pred_where_y_true_is_valid():
    y_true, y_pred = _data()
    y_true[0, 0] = np.nan
    y_pred[1, 0] = np.nan
    with pytest.raises(
        ValueError, match="y_pred contains NaN .*wherever y_true is not NaN"
    ):
        pearson_r(y_true, y_pred, nan_policy="omit")


def test_pearson_r_omit_rejects_inf_in_y_true():
    y_true, y_pred = _data()
    y_true[0, 0] = np.nan
    y_true[1, 0] = np.inf
    with pytest.raises(
        ValueError, match="y_true contains inf .*Only NaN marks a missing sample"
    ):
        pearson_r(y_true, y_pred, nan_policy="omit")


# ------------------------------------------------------- correlation_score


def test_correlation_score_multioutput_options():
    y_true, y_pred = _data()
    expected = _scipy_r(y_true, y_pred)
    assert_allclose(
        correlation_score(y_true, y_pred, multioutput="raw_values"), expected
    )
    score = correlation_score(y_true, y_pred)
    assert type(score) is float
    assert score == pytest.approx(expected.mean(), rel=1e-12)
    weights = np.arange(1.0, 8.0)
    assert correlation_score(y_true, y_pred, multioutput=weights) == pytest.approx(
        np.sum(weights * expected) / np.sum(weights), rel=1e-12
    )
    # A zero weight removes a target from the average.
    one_hot = np.zeros(7)
    one_hot[4] = 2.0
    assert correlation_score(y_true, y_pred, multioutput=one_hot) == pytest.approx(
        expected[4], rel=1e-12
    )


def test_correlation_score_1d_raw_values_like_sklearn():
    y_true, y_pred = _data(n_targets=1)
    raw = correlation_score(y_true[:, 0], y_pred[:, 0], multioutput="raw_values")
    assert (
        raw.shape
        == r2_score(y_true[:, 0], y_pred[:, 0], multioutput="raw_values").shape
    )


def test_correlation_score_nan_policy_is_passed_on():
    y_true, y_pred = _data()
    y_true[3, 1] = np.nan
    with pytest.raises(ValueError, match="y_true contains NaN"):
        correlation_score(y_true, y_pred)
    expected = pearson_r(y_true, y_pred, nan_policy="omit").mean()
    assert correlation_score(y_true, y_pred, nan_policy="omit") == pytest.approx(
        expected
    )


@pytest.mark.parametrize(
    ("multioutput", "match"),
    [
        ("variance_weighted", "multioutput must be one of.*'variance_weighted'"),
        ("mean", "multioutput must be one of"),
        (np.ones(3), r"multioutput weights must have shape \(n_targets,\) = \(7,\)"),
        (np.ones((7, 1)), r"got shape \(7, 1\)"),
        (-np.ones(7), "finite and non-negative"),
        (np.zeros(7), "must not all be zero"),
    ],
)
def test_correlation_score_invalid_multioutput(multioutput, match):
    y_true, y_pred = _data()
    with pytest.raises(ValueError, match=match):
        correlation_score(y_true, y_pred, multioutput=multioutput)


# ------------------------------------------------------- correlation_scorer


def _manual_fold_scores(X, y, cv, alpha=1.0):
    scores = []
    for train, test in cv.split(X, y):
        model = Ridge(alpha=alpha).fit(X[train], y[train])
        scores.append(correlation_score(y[test], model.predict(X[test])))
    return np.array(scores)


def _regression(seed=10):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((90, 6))
    y = X @ rng.standard_normal((6, 4)) + 2.0 * rng.standard_normal((90, 4))
    return X, y


def test_scorer_in_cross_val_score_equals_manual_folds():
    X, y = _regression()
    cv = KFold(3)
    scores = cross_val_score(Ridge(), X, y, cv=cv, scoring=correlation_scorer)
    assert_allclose(scores, _manual_fold_scores(X, y, cv), rtol=1e-12)
    # Greater is better: the sign is not flipped.
    assert np.all(scores > 0)


def test_scorer_in_grid_search_equals_manual_folds():
    X, y = _regression(11)
    cv = KFold(4)
    alphas = [0.1, 1000.0]
    search = GridSearchCV(
        Ridge(), {"alpha": alphas}, scoring=correlation_scorer, cv=cv
    ).fit(X, y)
    for k, alpha in enumerate(alphas):
        manual = _manual_fold_scores(X, y, cv, alpha=alpha)
        for fold in range(4):
            assert search.cv_results_[f"split{fold}_test_score"][k] == pytest.approx(
                manual[fold], rel=1e-12
            )
    assert search.best_score_ == pytest.approx(
        max(_manual_fold_scores(X, y, cv, alpha=a).mean() for a in alphas), rel=1e-12
    )


def test_scorer_with_metadata_routing_enabled():
    X, y = _regression(12)
    cv = KFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            Ridge(), {"alpha": [0.5, 50.0]}, scoring=correlation_scorer, cv=cv
        ).fit(X, y)
        scores = cross_val_score(Ridge(), X, y, cv=cv, scoring=correlation_scorer)
    expected = _manual_fold_scores(X, y, cv, alpha=search.best_params_["alpha"])
    assert search.best_score_ == pytest.approx(expected.mean(), rel=1e-12)
    assert_allclose(scores, _manual_fold_scores(X, y, cv), rtol=1e-12)


def test_scorer_calls_predict_and_scores_like_correlation_score():
    X, y = _regression(13)
    model = Ridge().fit(X, y)
    assert correlation_scorer(model, X, y) == pytest.approx(
        correlation_score(y, model.predict(X)), rel=1e-14
    )


# ------------------------------------------------------------ r2_per_target


def test_r2_per_target_matches_sklearn():
    y_true, y_pred = _data(seed=14)
    r2 = r2_per_target(y_true, y_pred)
    assert r2.shape == (7,)
    assert_allclose(r2, r2_score(y_true, y_pred, multioutput="raw_values"), rtol=1e-12)
    r2_1d = r2_per_target(y_true[:, 0], y_pred[:, 0])
    assert type(r2_1d) is float
    assert r2_1d == pytest.approx(r2_score(y_true[:, 0], y_pred[:, 0]), rel=1e-12)


def test_r2_per_target_is_not_affine_invariant_and_perfect_is_one():
    y_true, _ = _data(seed=15)
    assert_allclose(r2_per_target(y_true, y_true), 1.0)
    # Predicting the mean of each target gives exactly 0.
    assert_allclose(
        r2_per_target(y_true, np.broadcast_to(y_true.mean(0), y_true.shape)),
        0.0,
        atol=1e-14,
    )


def test_r2_per_target_constant_target_scores_zero_with_warning():
    y_true, y_pred = _data(n_targets=5, seed=16)
    y_true[:, 1] = 3.0
    y_true[:, 4] = 3.0
    y_pred[:, 4] = 3.0  # sklearn gives 1.0 here, we give 0.0
    y_pred[:, 2] = 1.0  # a constant prediction is fine for R^2
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        r2 = r2_per_target(y_true, y_pred)
    assert [str(w.message) for w in record] == [
        "2 of 5 targets have zero variance in y_true; their R^2 is set to 0."
    ]
    assert_allclose(r2[[1, 4]], 0.0)
    keep = [0, 2, 3]
    assert_allclose(
        r2[keep], r2_score(y_true[:, keep], y_pred[:, keep], multioutput="raw_values")
    )


def test_r2_per_target_nan_policy():
    y_true, y_pred = _data(n_samples=50, n_targets=3, seed=17)
    missing = np.random.default_rng(18).random(y_true.shape) < 0.25
    y_true[missing] = np.nan
    with pytest.raises(ValueError, match="y_true contains NaN"):
        r2_per_target(y_true, y_pred)
    r2 = r2_per_target(y_true, y_pred, nan_policy="omit")
    expected = [
        r2_score(y_true[~missing[:, j], j], y_pred[~missing[:, j], j]) for j in range(3)
    ]
    assert_allclose(r2, expected, rtol=1e-12)
