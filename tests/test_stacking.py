"""Tests of brainenc.stacking: the simplex solver, StackedRegressor, and
structured variance partitioning."""

import re

import numpy as np
import pytest
from joblib import parallel_config
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

from brainenc import DelayedRidge
from brainenc.datasets import make_multispace_data
from brainenc.metrics import correlation_score, pearson_r, r2_per_target
from brainenc.model_selection import check_run_cv
from brainenc.stacking import (
    StackedRegressor,
    solve_simplex_qp,
    structured_variance_partitioning,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*alpha of the grid:UserWarning",
    "ignore:.*asks for more folds than:UserWarning",
)


def _base():
    return DelayedRidge(delays=4, cv=3, backend="numpy")


def _estimators(feature_spaces, base=None):
    base = _base() if base is None else base
    return [(name, base, cols) for name, cols in feature_spaces.items()]


@pytest.fixture(scope="module")
def multispace():
    X, y, groups, truth = make_multispace_data(
        n_samples=900, space_sizes=(8, 8, 8), n_targets=45, n_runs=6, random_state=0
    )
    return X, y, groups, truth


@pytest.fixture(scope="module")
def fitted(multispace):
    X, y, groups, truth = multispace
    train = groups < 4
    model = StackedRegressor(_estimators(truth.feature_spaces), cv=4)
    return model.fit(X[train], y[train], groups=groups[train])


# --------------------------------------------------------------------------
# The simplex solver against a generic QP solver
# --------------------------------------------------------------------------


def _slsqp(Q, b):
    """Reference: scipy's SLSQP on one problem, scaled, with tight tolerances."""
    K = b.size
    s = np.max(np.diag(Q))
    Qs, bs = Q / s, b / s
    res = minimize(
        lambda w: w @ Qs @ w - 2 * bs @ w,
        np.full(K, 1.0 / K),
        jac=lambda w: 2 * (Qs @ w - bs),
        bounds=[(0.0, None)] * K,
        constraints=[
            {"type": "eq", "fun": lambda w: w.sum() - 1, "jac": lambda w: np.ones(K)}
        ],
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    # Status 8 ("positive directional derivative in linesearch"): no further
    # progress at this precision, i.e. converged.
    assert res.status in (0, 8), res.message
    return res.x


def _objective(Q, b, w):
    return w @ Q @ w - 2 * b @ w


def _random_problems(rng, n_problems, K, n_samples=40, collinear=False):
    Q, b = [], []
    for _ in range(n_problems):
        P = rng.standard_normal((n_samples, K)) * rng.uniform(0.2, 3.0, K)
        if collinear:
            P[:, -1] = P[:, 0]  # a duplicated space: ties
            P[:, -2] = 0.5 * P[:, 1] + 0.5 * P[:, 0]  # on the segment: degenerate
        # Targets near a random point of the simplex (interior or boundary).
        w = rng.dirichlet(np.full(K, 0.5))
        y = P @ w + rng.standard_normal(n_samples) * rng.uniform(0.01, 2.0)
        if rng.uniform() < 0.3:
            y = P[:, rng.integers(K)] * 2.0 + rng.standard_normal(n_samples)
        Q.append(P.T @ P)
        b.append(P.T @ y)
    return np.array(Q), np.array(b)


@pytest.mark.parametrize("K", [2, 3, 4, 6])
def test_simplex_weights_equal_generic_qp_solver(K):
    rng = np.random.default_rng(K)
    Q, b = _random_problems(rng, 25, K)
    w = solve_simplex_qp(Q, b)
    ref = np.array([_slsqp(Q[t], b[t]) for t in range(len(Q))])
    np.testing.assert_allclose(w, ref, atol=1e-6)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("K", [2, 3, 5])
def test_simplex_weights_satisfy_kkt(K):
    # Optimality certificate, independent of any solver: the gradient is
    # equal (mu) on the support and >= mu off it.
    rng = np.random.default_rng(10 + K)
    Q, b = _random_problems(rng, 200, K)
    w = solve_simplex_qp(Q, b)
    grad = 2 * (np.einsum("tkl,tl->tk", Q, w) - b)
    scale = (
        np.abs(grad).max(axis=1, keepdims=True)
        + np.diagonal(Q, 0, 1, 2).max(1)[:, None]
    )
    on = w > 1e-9
    mu = np.array([grad[t, on[t]].mean() for t in range(len(w))])[:, None]
    assert np.all(np.abs(np.where(on, grad - mu, 0)) <= 1e-8 * scale)
    assert np.all(grad - mu >= -1e-8 * scale)


@pytest.mark.parametrize("K", [4, 5])
def test_simplex_degenerate_problems_reach_the_optimal_objective(K):
    # Collinear predictions: the minimiser need not be unique, so compare
    # objective values with the generic solver's.
    rng = np.random.default_rng(20 + K)
    Q, b = _random_problems(rng, 30, K, collinear=True)
    w = solve_simplex_qp(Q, b)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    for t in range(len(Q)):
        ref = _slsqp(Q[t], b[t])
        scale = np.max(np.diag(Q[t]))
        assert _objective(Q[t], b[t], w[t]) <= _objective(Q[t], b[t], ref) + (
            1e-10 * scale
        )


def test_simplex_ill_conditioned_problems():
    rng = np.random.default_rng(3)
    Q, b = [], []
    for _ in range(30):
        base = rng.standard_normal((60, 1))
        P = base + 1e-4 * rng.standard_normal((60, 4))  # condition ~1e8 in Q
        y = base[:, 0] + 0.1 * rng.standard_normal(60)
        Q.append(P.T @ P)
        b.append(P.T @ y)
    Q, b = np.array(Q), np.array(b)
    w = solve_simplex_qp(Q, b)
    for t in range(len(Q)):
        ref = _slsqp(Q[t], b[t])
        assert _objective(Q[t], b[t], w[t]) <= _objective(Q[t], b[t], ref) + 1e-10 * (
            np.max(np.diag(Q[t]))
        )


def test_simplex_fista_matches_enumeration_and_qp_solver():
    rng = np.random.default_rng(5)
    Q, b = _random_problems(rng, 15, 5)
    w_fista = solve_simplex_qp(Q, b, method="fista")
    w_enum = solve_simplex_qp(Q, b, method="enumerate")
    np.testing.assert_allclose(w_fista, w_enum, atol=1e-8)
    # Beyond the enumeration limit, "auto" runs FISTA: compare with SLSQP.
    Q, b = _random_problems(rng, 8, 12, n_samples=60)
    w = solve_simplex_qp(Q, b)
    ref = np.array([_slsqp(Q[t], b[t]) for t in range(len(Q))])
    np.testing.assert_allclose(w, ref, atol=1e-6)


def test_simplex_closed_form_and_trivial_cases():
    # Two uncorrelated predictions of unit and half variance, target zero:
    # w minimises 2 w0^2 + w1^2 on the simplex, so w = (1/3, 2/3).
    w = solve_simplex_qp([[[2.0, 0.0], [0.0, 1.0]]], [[0.0, 0.0]])
    np.testing.assert_allclose(w, [[1 / 3, 2 / 3]], atol=1e-12)
    np.testing.assert_array_equal(
        solve_simplex_qp(np.ones((3, 1, 1)), np.ones((3, 1))), 1
    )
    assert solve_simplex_qp(np.zeros((0, 2, 2)), np.zeros((0, 2))).shape == (0, 2)
    # All-zero predictions: every point of the simplex is optimal.
    w = solve_simplex_qp(np.zeros((1, 3, 3)), np.zeros((1, 3)))
    assert np.all(w >= 0)
    assert np.isclose(w.sum(), 1.0)


def test_simplex_errors():
    with pytest.raises(ValueError, match=r"Q must have shape .* got Q \(2, 3\)"):
        solve_simplex_qp(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Q and b must be finite"):
        solve_simplex_qp(np.full((1, 2, 2), np.nan), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="method must be 'auto', 'enumerate' or"):
        solve_simplex_qp(np.eye(2)[None], np.zeros((1, 2)), method="qp")


# --------------------------------------------------------------------------
# StackedRegressor: ground truth and held-out performance
# --------------------------------------------------------------------------


def test_weights_recover_the_driving_space(multispace, fitted):
    _, _, _, truth = multispace
    w = fitted.weights_
    assert w.shape == (3, 45)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=1e-12)
    w_driving = w[truth.driving_space, np.arange(45)]
    assert np.mean(w_driving > 0.8) >= 0.9
    # The driving space also has the best held-out r per target.
    assert np.mean(fitted.cv_scores_.argmax(0) == truth.driving_space) >= 0.9


def test_stacked_held_out_r_at_least_best_single_space(multispace, fitted):
    X, y, groups, truth = multispace
    train, test = groups < 4, groups >= 4
    r_stacked = pearson_r(y[test], fitted.predict(X[test], groups=groups[test]))
    r_single = []
    for cols in truth.feature_spaces.values():
        model = _base().fit(X[train][:, cols], y[train], groups=groups[train])
        r_single.append(
            pearson_r(y[test], model.predict(X[test][:, cols], groups=groups[test]))
        )
    r_single = np.array(r_single)
    for s in range(3):
        group = truth.driving_space == s
        best_single = r_single[:, group].mean(axis=1).max()
        # Each target here is driven by one space only: the best stacked
        # model IS that space's model, so stacking can only tie it. The
        # noise spaces keep small out-of-fold weights (< 5%, uncorrelated
        # with the target), which costs r a second-order amount (~w^2/2):
        # 1e-3 allows for it and nothing more.
        assert r_stacked[group].mean() >= best_single - 1e-3


def test_stacking_beats_single_spaces_on_mixed_targets():
    # Targets driven half by space 0 and half by space 1: the combination
    # predicts better than either space on held-out runs.
    n_targets = 20
    shares = np.zeros((3, n_targets))
    shares[0], shares[1] = 0.5, 0.5
    X, y, groups, truth = make_multispace_data(
        n_samples=900,
        space_sizes=(8, 8, 8),
        n_targets=n_targets,
        shares=shares,
        n_runs=6,
        snr=2.0,
        random_state=1,
    )
    train, test = groups < 4, groups >= 4
    model = StackedRegressor(_estimators(truth.feature_spaces), cv=4)
    model.fit(X[train], y[train], groups=groups[train])
    r_stacked = pearson_r(y[test], model.predict(X[test], groups=groups[test]))
    for k, cols in enumerate(truth.feature_spaces.values()):
        single = _base().fit(X[train][:, cols], y[train], groups=groups[train])
        r = pearson_r(y[test], single.predict(X[test][:, cols], groups=groups[test]))
        assert r_stacked.mean() > r.mean() + 0.1, k
    np.testing.assert_allclose(model.weights_[:2].mean(axis=1), 0.5, atol=0.1)


# --------------------------------------------------------------------------
# StackedRegressor: what it computes, checked by hand
# --------------------------------------------------------------------------


def test_convex_weights_equal_qp_on_stored_oof_predictions(multispace, fitted):
    _, y, groups, _ = multispace
    Y = y[groups < 4]
    P = fitted.oof_predictions_.astype(np.float64)
    for t in range(0, 45, 9):
        Pt = P[:, :, t].T
        ref = _slsqp(Pt.T @ Pt, Pt.T @ Y[:, t])
        np.testing.assert_allclose(fitted.weights_[:, t], ref, atol=1e-6)


def test_oof_predictions_and_refit_equal_bases_fitted_by_hand(multispace, fitted):
    X, y, groups, truth = multispace
    train = groups < 4
    Xt, yt, gt = X[train], y[train], groups[train]
    folds = check_run_cv(4, gt)
    for k, cols in enumerate(truth.feature_spaces.values()):
        for fit_idx, test_idx in folds:
            model = _base().fit(Xt[fit_idx][:, cols], yt[fit_idx], groups=gt[fit_idx])
            pred = model.predict(Xt[test_idx][:, cols], groups=gt[test_idx])
            np.testing.assert_allclose(
                fitted.oof_predictions_[k, test_idx], pred, rtol=1e-5, atol=1e-5
            )
        full = _base().fit(Xt[:, cols], yt, groups=gt)
        np.testing.assert_allclose(fitted.estimators_[k].coef_, full.coef_)
    assert fitted.oof_predictions_.dtype == np.float32
    assert fitted.oof_predictions_.shape == (3, train.sum(), 45)
    np.testing.assert_allclose(
        fitted.cv_scores_[1], pearson_r(yt, fitted.oof_predictions_[1])
    )
    stacked = np.einsum("knt,kt->nt", fitted.oof_predictions_, fitted.weights_)
    np.testing.assert_allclose(
        fitted.stacked_cv_score_, pearson_r(yt, stacked), atol=1e-6
    )


def test_predict_is_weighted_sum_of_refitted_bases(multispace, fitted):
    X, _, groups, truth = multispace
    test = groups >= 4
    expected = sum(
        fitted.weights_[k]
        * est.predict(X[test][:, cols], groups=groups[test]).astype(np.float64)
        for k, (est, cols) in enumerate(
            zip(fitted.estimators_, truth.feature_spaces.values(), strict=True)
        )
    )
    np.testing.assert_allclose(
        fitted.predict(X[test], groups=groups[test]), expected, rtol=1e-5, atol=1e-6
    )
    assert fitted.space_names_ == ["space0", "space1", "space2"]
    assert fitted.named_estimators_.space1 is fitted.estimators_[1]
    assert fitted.n_features_in_ == 24


def test_ridge_final_equals_sklearn_ridge_on_oof_predictions(multispace):
    X, y, groups, truth = multispace
    train = groups < 4
    Xt, yt, gt = X[train], y[train][:, :12], groups[train]
    alphas = [1e-2, 1e1, 1e3, 1e5]
    model = StackedRegressor(
        _estimators(truth.feature_spaces), cv=4, final="ridge", final_alphas=alphas
    ).fit(Xt, yt, groups=gt)
    P = model.oof_predictions_.astype(np.float64)
    folds = check_run_cv(4, gt)
    for t in range(12):
        Pt = P[:, :, t].T
        # Alpha chosen by CV over the same folds, by hand with sklearn's Ridge.
        sse = [
            sum(
                np.sum(
                    (Ridge(alpha=a).fit(Pt[tr], yt[tr, t]).predict(Pt[te]) - yt[te, t])
                    ** 2
                )
                for tr, te in folds
            )
            for a in alphas
        ]
        assert model.final_alpha_[t] == alphas[int(np.argmin(sse))]
        ref = Ridge(alpha=model.final_alpha_[t]).fit(Pt, yt[:, t])
        np.testing.assert_allclose(
            model.weights_[:, t], ref.coef_, rtol=1e-7, atol=1e-9
        )
        np.testing.assert_allclose(model.intercept_[t], ref.intercept_, atol=1e-9)
    expected = (
        np.einsum(
            "knt,kt->nt",
            np.stack(
                [
                    e.predict(Xt[:, c], groups=gt)
                    for e, c in zip(
                        model.estimators_, truth.feature_spaces.values(), strict=True
                    )
                ]
            ).astype(np.float64),
            model.weights_,
        )
        + model.intercept_
    )
    np.testing.assert_allclose(
        model.predict(Xt, groups=gt), expected, rtol=1e-5, atol=1e-5
    )


def test_fixed_final_alpha(multispace):
    X, y, groups, truth = multispace
    model = StackedRegressor(
        _estimators(truth.feature_spaces), cv=3, final="ridge", final_alphas=10.0
    ).fit(X[:, :], y[:, :3], groups=groups)
    np.testing.assert_array_equal(model.final_alpha_, 10.0)
    Pt = model.oof_predictions_[:, :, 0].astype(np.float64).T
    ref = Ridge(alpha=10.0).fit(Pt, y[:, 0])
    np.testing.assert_allclose(model.weights_[:, 0], ref.coef_, rtol=1e-7, atol=1e-9)


def test_one_dimensional_y(multispace):
    X, y, groups, truth = multispace
    model = StackedRegressor(_estimators(truth.feature_spaces), cv=3)
    model.fit(X, y[:, 1], groups=groups)
    assert model.weights_.shape == (3, 1)
    pred = model.predict(X, groups=groups)
    assert pred.shape == (900,)
    assert model.weights_[1, 0] > 0.8  # target 1 is driven by space 1
    assert isinstance(model.score(X, y[:, 1], groups=groups), float)


class _RunMean(RegressorMixin, BaseEstimator):
    """Predicts each target's mean over the training runs plus the run index.

    Run-dependent on purpose: records the groups it was given.
    """

    def __init__(self, shift=1.0):
        self.shift = shift

    def fit(self, X, y, groups=None):
        self.groups_seen_ = None if groups is None else np.asarray(groups).copy()
        self.mean_ = np.mean(y, axis=0) + self.shift * np.unique(groups).size
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X, groups=None):
        return np.tile(self.mean_ + np.mean(X, axis=1, keepdims=True), 1)


def test_groups_reach_the_bases(multispace):
    X, y, groups, _ = multispace
    bases = [("run", _RunMean(), [0, 1]), ("ridge", Ridge(alpha=1.0), slice(2, 5))]
    model = StackedRegressor(bases, cv=3).fit(X, y[:, :2], groups=groups)
    np.testing.assert_array_equal(model.estimators_[0].groups_seen_, groups)
    folds = check_run_cv(3, groups)
    for train, test in folds:
        by_hand = _RunMean().fit(
            X[train][:, [0, 1]], y[train, :2], groups=groups[train]
        )
        np.testing.assert_allclose(
            model.oof_predictions_[0, test],
            by_hand.predict(X[test][:, [0, 1]]),
            rtol=1e-6,
        )
        # A base whose fit takes no groups (sklearn's Ridge) still works.
        ridge = Ridge(alpha=1.0).fit(X[train][:, 2:5], y[train, :2])
        np.testing.assert_allclose(
            model.oof_predictions_[1, test], ridge.predict(X[test][:, 2:5]), rtol=1e-5
        )


def test_estimators_are_cloned_not_modified(multispace):
    X, y, groups, truth = multispace
    base = _base()
    params = base.get_params()
    model = StackedRegressor(_estimators(truth.feature_spaces, base), cv=3)
    model.fit(X, y[:, :3], groups=groups)
    assert not hasattr(base, "coef_")
    assert base.get_params() == params
    assert all(est is not base for est in model.estimators_)


def test_feature_spaces_shortcut_uses_default_delayed_ridge(multispace):
    X, y, groups, truth = multispace
    # The default DelayedRidge (backend="auto", 5 inner folds): small data.
    first = groups < 3
    model = StackedRegressor(feature_spaces={"a": 8, "b": 8, "c": 8}, cv=3)
    model.fit(X[first], y[first, :3], groups=groups[first])
    assert all(type(e) is DelayedRidge for e in model.estimators_)
    assert model.estimators_[0].get_params() == DelayedRidge().get_params()
    np.testing.assert_array_equal(model.feature_spaces_["b"], np.arange(8, 16))
    assert model.weights_.argmax(0).tolist() == [0, 1, 2]


def test_columns_outside_every_space_are_ignored(multispace):
    X, y, groups, truth = multispace
    model = StackedRegressor(
        [("a", _base(), slice(0, 8)), ("c", _base(), np.arange(16, 24))], cv=3
    ).fit(X, y[:, :3], groups=groups)
    X_changed = X.copy()
    X_changed[:, 8:16] = 123.0
    np.testing.assert_array_equal(
        model.predict(X, groups=groups), model.predict(X_changed, groups=groups)
    )


def test_n_jobs_gives_the_same_fit(multispace):
    X, y, groups, truth = multispace
    est = _estimators(truth.feature_spaces)
    one = StackedRegressor(est, cv=3).fit(X, y[:, :6], groups=groups)
    with parallel_config(backend="threading"):
        two = StackedRegressor(est, cv=3, n_jobs=2).fit(X, y[:, :6], groups=groups)
    np.testing.assert_array_equal(one.weights_, two.weights_)
    np.testing.assert_array_equal(one.oof_predictions_, two.oof_predictions_)


class _Noisy(RegressorMixin, BaseEstimator):
    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        rng = np.random.default_rng(self.random_state)
        self.offset_ = rng.standard_normal()
        return self

    def predict(self, X):
        return X[:, 0] + self.offset_


def test_random_state_seeds_unseeded_bases():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    y = X[:, 0] + X[:, 1]
    bases = [("a", _Noisy(), [0]), ("b", _Noisy(), [1])]
    fits = [StackedRegressor(bases, cv=3, random_state=0).fit(X, y) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].predict(X), fits[1].predict(X))
    assert fits[0].estimators_[0].random_state is not None
    assert bases[0][1].random_state is None
    other = StackedRegressor(bases, cv=3, random_state=1).fit(X, y)
    assert other.estimators_[0].offset_ != fits[0].estimators_[0].offset_


def test_test_sets_not_covering_all_samples(multispace):
    # TimeSeriesSplit-like folds: the first runs are never held out.
    X, y, groups, truth = multispace
    cv = [
        (np.flatnonzero(groups < 3), np.flatnonzero(groups == 3)),
        (np.flatnonzero(groups < 4), np.flatnonzero(groups == 4)),
    ]
    model = StackedRegressor(_estimators(truth.feature_spaces), cv=cv)
    model.fit(X, y[:, :3], groups=groups)
    assert np.all(np.isnan(model.oof_predictions_[:, groups < 3]))
    assert np.all(np.isnan(model.oof_predictions_[:, groups == 5]))
    held = (groups == 3) | (groups == 4)
    P = model.oof_predictions_[:, held, 0].astype(np.float64).T
    ref = _slsqp(P.T @ P, P.T @ y[held, 0])
    np.testing.assert_allclose(model.weights_[:, 0], ref, atol=1e-6)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def _xy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 4)), rng.standard_normal((40, 2))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"estimators": [("a", Ridge(), [0])], "feature_spaces": {"a": [0]}},
            ValueError,
            "Pass either estimators or feature_spaces to StackedRegressor, not both.",
        ),
        ({}, ValueError, "StackedRegressor needs feature spaces: pass estimators="),
        (
            {"estimators": [("a", Ridge())]},
            ValueError,
            "estimators must be a list of (name, estimator, columns) tuples, but "
            "entry 0 is ('a', Ridge()).",
        ),
        (
            {"estimators": [("a", Ridge(), [0]), ("a", Ridge(), [1])]},
            ValueError,
            "estimators names must be unique, got 'a' more than once.",
        ),
        (
            {"estimators": [(3, Ridge(), [0])]},
            TypeError,
            "estimators names must be non-empty strings, got 3 for item 0.",
        ),
        (
            {"estimators": [("a", "ridge", [0])]},
            TypeError,
            "StackedRegressor member 'a' must be an estimator with fit and predict "
            "methods, got str without fit, predict.",
        ),
        (
            {"estimators": [("a", Ridge(), [0, 1]), ("b", Ridge(), [1, 2])]},
            ValueError,
            "estimators must not overlap: spaces 'a' and 'b' share column 1.",
        ),
        (
            {"estimators": [("a", Ridge(), [0, 7])]},
            ValueError,
            "estimators['a'] selects columns 0..7, but X has 4 features.",
        ),
        (
            {"feature_spaces": {"a": slice(4, 8)}},
            ValueError,
            "feature_spaces['a'] selects no column of X (X has 4 feature(s)).",
        ),
        (
            {"feature_spaces": {"a": "x"}},
            TypeError,
            "feature_spaces['a'] must be a slice, a sequence of column indices or "
            "an int, got 'x'.",
        ),
        (
            {
                "estimators": [("a", Ridge(), [0])],
                "final": "ridge",
                "final_alphas": -1.0,
            },
            ValueError,
            "final_alphas must be non-negative and finite, got -1.0.",
        ),
        (
            {
                "estimators": [("a", Ridge(), [0])],
                "cv": [
                    (np.arange(20, 40), np.arange(20)),
                    (np.arange(30, 40), np.arange(10, 30)),
                ],
            },
            ValueError,
            "cv of StackedRegressor must hold out every sample at most once (each "
            "sample is predicted out of fold once), but fold 1 holds out sample "
            "10, already held out by fold 0.",
        ),
        (
            {"estimators": [("a", Ridge(), [0])], "final": "lasso"},
            ValueError,
            "The 'final' parameter of StackedRegressor must be a str among",
        ),
    ],
)
def test_errors(kwargs, error, message):
    X, y = _xy()
    with pytest.raises(error, match=re.escape(message)):
        StackedRegressor(**kwargs).fit(X, y)


class _WrongShape(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.zeros((X.shape[0], 5))


def test_error_on_base_prediction_shape():
    X, y = _xy()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "StackedRegressor member 'a' predicted an array of shape (14, 5), "
            "expected (14, 2) like y."
        ),
    ):
        StackedRegressor([("a", _WrongShape(), [0])], cv=3).fit(X, y)


# --------------------------------------------------------------------------
# Structured variance partitioning
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ordered_data():
    # Targets 0-9 driven by the first space only, 10-19 by the last only.
    shares = np.zeros((3, 20))
    shares[0, :10] = 1.0
    shares[2, 10:] = 1.0
    return make_multispace_data(
        n_samples=720,
        space_sizes=(6, 6, 6),
        n_targets=20,
        shares=shares,
        n_runs=4,
        snr=2.0,
        random_state=2,
    )


def test_structured_vp_equals_nested_models_fitted_by_hand(ordered_data):
    X, y, groups, truth = ordered_data
    model = StackedRegressor(_estimators(truth.feature_spaces), cv=3)
    train, test = np.flatnonzero(groups < 3), np.flatnonzero(groups == 3)
    res = structured_variance_partitioning(model, X, y, groups, cv=[(train, test)])
    spaces = list(truth.feature_spaces.items())
    nested = {("forward", k): spaces[k:] for k in range(3)} | {
        ("backward", k): spaces[: k + 1] for k in range(3)
    }
    for (direction, k), subset in nested.items():
        sub = StackedRegressor(_estimators(dict(subset)), cv=3)
        sub.fit(X[train], y[train], groups=groups[train])
        pred = sub.predict(X[test], groups=groups[test])
        np.testing.assert_allclose(
            res[f"{direction}_r2"][k], r2_per_target(y[test], pred), atol=1e-5
        )
        np.testing.assert_allclose(
            res[f"{direction}_r"][k], pearson_r(y[test], pred), atol=1e-5
        )


def test_structured_vp_recovers_the_driving_space(ordered_data):
    X, y, groups, truth = ordered_data
    model = StackedRegressor(_estimators(truth.feature_spaces), cv=3)
    res = structured_variance_partitioning(model, X, y, groups, cv=4)
    first, last = slice(0, 10), slice(10, 20)
    full = res.full_r2
    assert np.all(full > 0.4)
    # Forward: the first space explains what the later ones cannot.
    np.testing.assert_allclose(res.forward_unique[0, first], full[first], atol=0.05)
    np.testing.assert_allclose(res.forward_unique[2, last], full[last], atol=0.05)
    # Backward: the last space explains what the earlier ones cannot.
    np.testing.assert_allclose(res.backward_unique[2, last], full[last], atol=0.05)
    np.testing.assert_allclose(res.backward_unique[0, first], full[first], atol=0.05)
    # Independent spaces share (almost) nothing.
    assert np.all(np.abs(res.shared) < 0.05)
    assert np.mean(res.forward_assignment[first] == 0) >= 0.9
    assert np.mean(res.forward_assignment[last] == 2) >= 0.9
    assert np.mean(res.backward_assignment[first] == 0) >= 0.9
    assert np.mean(res.backward_assignment[last] == 2) >= 0.9
    # The partitions add up to the full model's R^2.
    np.testing.assert_allclose(res.forward_unique.sum(0), full, atol=1e-12)
    np.testing.assert_allclose(res.backward_unique.sum(0), full, atol=1e-12)
    np.testing.assert_array_equal(res.forward_r2[0], res.backward_r2[-1])


def test_structured_vp_order_reverses_directions(ordered_data):
    X, y, groups, truth = ordered_data
    model = StackedRegressor(_estimators(truth.feature_spaces), cv=3)
    cv = [(np.flatnonzero(groups < 3), np.flatnonzero(groups == 3))]
    res = structured_variance_partitioning(model, X, y, groups, cv=cv)
    rev = structured_variance_partitioning(
        model, X, y, groups, cv=cv, order=["space2", "space1", "space0"]
    )
    assert rev.space_names == ["space2", "space1", "space0"]
    np.testing.assert_allclose(rev.forward_r2, res.backward_r2[::-1], atol=1e-10)
    np.testing.assert_allclose(
        rev.backward_unique, res.forward_unique[::-1], atol=1e-10
    )


def test_structured_vp_errors(ordered_data):
    X, y, groups, truth = ordered_data
    model = StackedRegressor(_estimators(truth.feature_spaces), cv=3)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "order must be a permutation of the space names ['space0', 'space1', "
            "'space2'], got ['space0', 'space1']."
        ),
    ):
        structured_variance_partitioning(
            model, X, y, groups, order=["space0", "space1"]
        )
    with pytest.raises(TypeError, match="estimator must be a StackedRegressor, got"):
        structured_variance_partitioning(_base(), X, y, groups)


def test_assignment_rule_on_hand_made_scores():
    from brainenc.analysis import _assign_backward, _assign_forward

    # forward_r2 rows: spaces[0:], spaces[1:], spaces[2:].
    forward = np.array(
        [[1.0, 1.0, 1.0, -0.1], [0.97, 0.5, 0.99, 0.0], [0.2, 0.4, 0.98, 0]]
    )
    np.testing.assert_array_equal(_assign_forward(forward, 0.95), [1, 0, 2, -1])
    # backward_r2 rows: spaces[:1], spaces[:2], spaces[:3].
    backward = np.array([[0.2, 0.99, 0.1], [0.99, 0.99, 0.5], [1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(_assign_backward(backward, 0.95), [1, 0, 2])


def test_structured_partitioning_order_with_int_blocks_equals_slices():
    from brainenc.datasets import make_multispace_data

    X, y, groups, _ = make_multispace_data(
        n_samples=600, space_sizes=(4, 6), n_targets=4, n_runs=4, random_state=0
    )
    base = DelayedRidge(cv=3, backend="numpy")
    blocks = StackedRegressor(estimators=[("a", base, 4), ("b", base, 6)], cv=4)
    slices = StackedRegressor(
        estimators=[("a", base, slice(0, 4)), ("b", base, slice(4, 10))], cv=4
    )
    kwargs = {"groups": groups, "order": ["b", "a"], "cv": 4}
    from_blocks = structured_variance_partitioning(blocks, X, y, **kwargs)
    from_slices = structured_variance_partitioning(slices, X, y, **kwargs)
    np.testing.assert_allclose(from_blocks.forward_r2, from_slices.forward_r2)
    np.testing.assert_allclose(from_blocks.backward_r2, from_slices.backward_r2)


def test_pipeline_ending_in_stacking_is_scored_under_routing():
    # Pipeline.score passes sample_weight=None to the last step under
    # metadata routing: every brainenc regressor's score must accept it.
    import sklearn
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from brainenc.datasets import make_multispace_data

    X, y, groups, truth = make_multispace_data(
        n_samples=400, space_sizes=(3, 3), n_targets=4, n_runs=4, random_state=0
    )
    with sklearn.config_context(enable_metadata_routing=True):
        stacked = StackedRegressor(feature_spaces=truth.feature_spaces, cv=2)
        stacked.set_fit_request(groups=True).set_score_request(groups=True)
        pipe = make_pipeline(StandardScaler(), stacked).fit(X, y, groups=groups)
        score = pipe.score(X, y, groups=groups)
    scaled = StandardScaler().fit_transform(X)
    expected = correlation_score(y, pipe[-1].predict(scaled, groups=groups))
    assert score == pytest.approx(expected)
    with pytest.raises(ValueError, match="sample_weight is not supported by Stacked"):
        pipe[-1].score(scaled, y, sample_weight=np.ones(len(y)))
