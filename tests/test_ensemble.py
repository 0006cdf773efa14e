"""Tests of brainenc.ensemble: per-target weights and TargetwiseEnsemble."""

import re

import numpy as np
import pytest
from joblib import parallel_config
from scipy.special import softmax
from scipy.stats import pearsonr
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GroupKFold

from brainenc import DelayedRidge, make_encoding_data, pearson_r
from brainenc.datasets import make_multispace_data
from brainenc.ensemble import TargetwiseEnsemble, targetwise_weights

# Fits of _Recorder instances, in call order (clones write here too).
FIT_LOG = []


class _Recorder(RegressorMixin, BaseEstimator):
    """Least squares that records the ``groups`` of every fit and predict."""

    def __init__(self, shift=0.0):
        self.shift = shift

    def fit(self, X, y, groups=None):
        FIT_LOG.append(None if groups is None else np.asarray(groups).copy())
        self.fit_groups_ = None if groups is None else np.asarray(groups).copy()
        self.n_fits_ = getattr(self, "n_fits_", 0) + 1
        self.model_ = LinearRegression().fit(X, y)
        return self

    def predict(self, X, groups=None):
        self.predict_groups_ = None if groups is None else np.asarray(groups).copy()
        return self.model_.predict(X) + self.shift


class _Fixed(RegressorMixin, BaseEstimator):
    """A fitted member that predicts a given array, whatever ``X`` is."""

    def __init__(self, prediction=None):
        self.prediction = prediction

    def fit(self, X, y):
        self.fitted_ = True
        return self

    def predict(self, X):
        assert X.shape[0] == self.prediction.shape[0]
        return self.prediction


class _SpaceRidge(RegressorMixin, BaseEstimator):
    """DelayedRidge on the columns ``start:stop`` of X (one feature space)."""

    def __init__(self, start=0, stop=1):
        self.start = start
        self.stop = stop

    def fit(self, X, y, groups=None):
        self.ridge_ = DelayedRidge(delays=4, cv=2, backend="numpy")
        self.ridge_.fit(X[:, self.start : self.stop], y, groups=groups)
        return self

    def predict(self, X, groups=None):
        return self.ridge_.predict(X[:, self.start : self.stop], groups=groups)


def _fixed(prediction):
    return _Fixed(prediction).fit(None, None)


def _scipy_r(y, pred):
    """Per-column Pearson r from scipy, NaN samples of ``y`` left out."""
    y, pred = np.atleast_2d(y.T).T, np.atleast_2d(pred.T).T
    r = []
    for j in range(y.shape[1]):
        keep = ~np.isnan(y[:, j])
        r.append(pearsonr(y[keep, j], pred[keep, j]).statistic)
    return np.array(r)


def _data(n_runs=5, n_samples=300, n_targets=6, random_state=0):
    X, y, groups, _ = make_encoding_data(
        n_samples=n_samples,
        n_features=5,
        n_targets=n_targets,
        n_runs=n_runs,
        delays=2,
        random_state=random_state,
    )
    return X, y, groups


# --------------------------------------------------------------------------
# targetwise_weights


def test_softmax_is_over_members_not_targets():
    # Target 0: member 0 is 0.3 better, so softmax(1, 0) = (e, 1) / (e + 1).
    # Target 1: equal scores, so (1/2, 1/2). Normalising over targets would
    # give member 0 the weights (e, 1) / (e + 1) instead: columns not summing
    # to one.
    scores = np.array([[0.3, 0.0], [0.0, 0.0]])
    weights = targetwise_weights(scores, method="softmax", temperature=0.3)
    e = np.exp(1.0)
    expected = np.array([[e / (e + 1), 0.5], [1 / (e + 1), 0.5]])
    np.testing.assert_allclose(weights, expected, rtol=1e-12)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, rtol=1e-12)
    wrong_axis = softmax(scores / 0.3, axis=1)
    assert not np.allclose(weights, wrong_axis)
    assert not np.allclose(wrong_axis.sum(axis=0), 1.0)


def test_softmax_matches_scipy_on_members_axis():
    rng = np.random.default_rng(0)
    scores = rng.uniform(-0.2, 0.8, size=(4, 7))
    for temperature in (0.05, 0.3, 2.0):
        weights = targetwise_weights(scores, method="softmax", temperature=temperature)
        np.testing.assert_allclose(
            weights, softmax(scores / temperature, axis=0), rtol=1e-12
        )
        np.testing.assert_allclose(weights.sum(axis=0), 1.0, rtol=1e-12)


def test_topk_picks_the_k_best_members_per_target():
    rng = np.random.default_rng(1)
    scores = rng.uniform(-1, 1, size=(6, 40))
    weights = targetwise_weights(scores, method="topk", k=3)
    for t in range(scores.shape[1]):
        best = sorted(range(6), key=lambda m: scores[m, t], reverse=True)[:3]
        expected = np.zeros(6)
        expected[best] = 1 / 3
        np.testing.assert_array_equal(weights[:, t], expected)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0)


def test_topk_caps_k_and_breaks_ties_in_member_order():
    scores = np.array([[0.5, 0.2], [0.5, 0.1], [0.1, 0.2]])
    np.testing.assert_array_equal(
        targetwise_weights(scores, method="topk", k=1),
        [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]],
    )
    np.testing.assert_allclose(
        targetwise_weights(scores, method="topk", k=20), np.full((3, 2), 1 / 3)
    )


def test_mean_weights_are_uniform():
    weights = targetwise_weights(np.zeros((4, 3)), method="mean")
    np.testing.assert_array_equal(weights, np.full((4, 3), 0.25))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scores": np.zeros(3)}, "scores must be a 2-D array of shape"),
        ({"scores": np.zeros((0, 3))}, r"got shape \(0, 3\)"),
        ({"scores": [[np.nan]]}, "scores must be finite"),
        ({"scores": [[0.1]], "method": "max"}, "method must be one of"),
        ({"scores": [[0.1]], "k": 0}, "k must be an int >= 1, got 0"),
        (
            {"scores": [[0.1]], "method": "softmax", "temperature": 0},
            "temperature must be a float > 0, got 0",
        ),
    ],
)
def test_targetwise_weights_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        targetwise_weights(**kwargs)


# --------------------------------------------------------------------------
# TargetwiseEnsemble: weights from selection scores


def test_prefit_softmax_weights_scores_and_prediction_by_hand():
    rng = np.random.default_rng(2)
    n, n_out = 40, 5
    y = rng.standard_normal((n, n_out))
    preds = [y + s * rng.standard_normal((n, n_out)) for s in (0.5, 1.0, 3.0)]
    members = [(f"m{i}", _fixed(p)) for i, p in enumerate(preds)]
    X = np.zeros((n, 2))
    ens = TargetwiseEnsemble(members, method="softmax", prefit=True).fit(X, y)

    scores = np.array([_scipy_r(y, p) for p in preds])
    np.testing.assert_allclose(ens.selection_scores_, scores, rtol=1e-10)
    expected = softmax(scores / 0.3, axis=0)
    np.testing.assert_allclose(ens.weights_, expected, rtol=1e-10)
    np.testing.assert_allclose(ens.weights_.sum(axis=0), 1.0)
    by_hand = sum(expected[m] * preds[m] for m in range(3))
    np.testing.assert_allclose(ens.predict(X), by_hand, rtol=1e-10)


def test_topk_weights_select_the_k_best_members_by_selection_r():
    rng = np.random.default_rng(3)
    n, n_out = 50, 8
    y = rng.standard_normal((n, n_out))
    # Member noise differs per target, so the ranking changes across targets.
    noise = rng.uniform(0.2, 3.0, size=(4, n_out))
    preds = [y + noise[m] * rng.standard_normal((n, n_out)) for m in range(4)]
    members = [(f"m{m}", _fixed(p)) for m, p in enumerate(preds)]
    ens = TargetwiseEnsemble(members, k=2, prefit=True).fit(np.zeros((n, 1)), y)
    scores = np.array([_scipy_r(y, p) for p in preds])
    for t in range(n_out):
        best = np.argsort(scores[:, t])[::-1][:2]
        expected = np.zeros(4)
        expected[best] = 0.5
        np.testing.assert_array_equal(ens.weights_[:, t], expected)
    np.testing.assert_allclose(
        ens.predict(np.zeros((n, 1))),
        sum(ens.weights_[m] * preds[m] for m in range(4)),
    )


def test_multi_subject_nan_masked_selection_scores():
    rng = np.random.default_rng(4)
    n, n_subjects, n_targets = 60, 3, 4
    y = rng.standard_normal((n, n_subjects * n_targets))
    preds = [y + s * rng.standard_normal(y.shape) for s in (0.7, 1.5)]
    # Subject 1 misses samples 10..29, subject 2 misses every third sample.
    y_missing = y.copy()
    y_missing[10:30, 4:8] = np.nan
    y_missing[::3, 8:12] = np.nan
    members = [("a", _fixed(preds[0])), ("b", _fixed(preds[1]))]
    X = np.zeros((n, 1))
    ens = TargetwiseEnsemble(
        members, method="softmax", n_subjects=n_subjects, prefit=True
    ).fit(X, y_missing)

    for m in range(2):
        for j in range(12):
            keep = ~np.isnan(y_missing[:, j])
            assert keep.sum() < n or j < 4
            expected = pearsonr(y[keep, j], preds[m][keep, j]).statistic
            np.testing.assert_allclose(
                ens.selection_scores_[m, j], expected, rtol=1e-10
            )
    assert ens.weights_.shape == (2, n_subjects * n_targets)
    np.testing.assert_allclose(ens.weights_.sum(axis=0), 1.0)
    np.testing.assert_allclose(
        ens.weights_, softmax(ens.selection_scores_ / 0.3, axis=0)
    )
    expected_score = np.mean(_scipy_r(y_missing, ens.predict(X)))
    np.testing.assert_allclose(ens.score(X, y_missing), expected_score)


def test_multi_subject_weights_sum_to_one_per_subject_and_target():
    X, y, groups = _data(n_targets=6)
    y2 = np.hstack([y, y[:, ::-1]])  # two subjects, 6 targets each
    ens = TargetwiseEnsemble(
        [("a", _Recorder()), ("b", DummyRegressor()), ("c", Ridge(alpha=1e3))],
        method="topk",
        k=2,
        n_subjects=2,
        selection_runs=2,
    )
    with pytest.warns(UserWarning, match="member 'b'"):
        ens.fit(X, y2, groups=groups)
    assert ens.weights_.shape == (3, 12)
    per_subject = ens.weights_.reshape(3, 2, 6)
    np.testing.assert_allclose(per_subject.sum(axis=0), np.ones((2, 6)))


# --------------------------------------------------------------------------
# TargetwiseEnsemble: members and selection data


def test_one_member_ensemble_equals_the_member():
    X, y, groups = _data()
    member = DelayedRidge(delays=[0, 1], cv=2, backend="numpy")
    ens = TargetwiseEnsemble([("ridge", member)], selection_runs=1)
    ens.fit(X, y, groups=groups)
    np.testing.assert_array_equal(ens.weights_, np.ones((1, y.shape[1])))
    train = groups < 4
    alone = clone(member).fit(X[train], y[train], groups=groups[train])
    np.testing.assert_allclose(
        ens.predict(X, groups=groups), alone.predict(X, groups=groups), rtol=1e-10
    )


def test_mean_equals_average_of_member_predictions():
    X, y, groups = _data()
    members = [
        ("a", DelayedRidge(delays=[0, 1], cv=2, backend="numpy")),
        ("b", Ridge(alpha=10.0)),
        ("c", _Recorder(shift=0.5)),
    ]
    ens = TargetwiseEnsemble(members, method="mean").fit(X, y, groups=groups)
    average = np.mean(
        [
            ens.estimators_[0].predict(X, groups=groups),
            ens.estimators_[1].predict(X),
            ens.estimators_[2].predict(X),
        ],
        axis=0,
    )
    np.testing.assert_allclose(ens.predict(X, groups=groups), average, rtol=1e-10)


def test_prefit_members_are_neither_cloned_nor_refitted():
    X, y, groups = _data()
    ridge = DelayedRidge(delays=[0, 1], cv=2, backend="numpy")
    ridge.fit(X[groups < 2], y[groups < 2], groups=groups[groups < 2])
    coef = ridge.coef_.copy()
    recorder = _Recorder().fit(X[groups < 2], y[groups < 2])
    ens = TargetwiseEnsemble(
        [("ridge", ridge), ("rec", recorder)], k=1, prefit=True
    ).fit(X[groups >= 2], y[groups >= 2], groups=groups[groups >= 2])
    assert ens.estimators_[0] is ridge
    assert ens.named_estimators_["rec"] is recorder
    assert recorder.n_fits_ == 1
    np.testing.assert_array_equal(ridge.coef_, coef)
    # All the given data is selection data.
    sel = groups >= 2
    np.testing.assert_allclose(
        ens.selection_scores_[0],
        _scipy_r(y[sel], ridge.predict(X[sel], groups=groups[sel])),
        rtol=1e-6,
    )
    assert ens.n_splits_ == 0
    assert ens.selection_runs_ is None


def test_frozen_prefit_members_survive_cloning_the_ensemble():
    X, y, groups = _data()
    ridge = DelayedRidge(delays=[0, 1], cv=2, backend="numpy")
    ridge.fit(X[groups < 2], y[groups < 2], groups=groups[groups < 2])
    ens = TargetwiseEnsemble([("ridge", FrozenEstimator(ridge))], prefit=True)
    sel = groups >= 2
    fitted = clone(ens).fit(X[sel], y[sel], groups=groups[sel])
    assert fitted.estimators_[0].estimator is ridge
    np.testing.assert_allclose(
        fitted.predict(X[sel], groups=groups[sel]),
        ridge.predict(X[sel], groups=groups[sel]),
        rtol=1e-12,
    )


def test_members_fitted_inside_see_only_member_training_runs():
    X, y, groups = _data(n_runs=5)
    FIT_LOG.clear()
    ens = TargetwiseEnsemble([("rec", _Recorder())], selection_runs=2)
    ens.fit(X, y, groups=groups)
    fitted = ens.estimators_[0]
    np.testing.assert_array_equal(np.unique(fitted.fit_groups_), [0, 1, 2])
    np.testing.assert_array_equal(ens.selection_runs_, [3, 4])
    assert np.intersect1d(fitted.fit_groups_, ens.selection_runs_).size == 0
    assert len(FIT_LOG) == 1
    # The member predicted the selection runs with their own labels.
    sel = np.isin(groups, [3, 4])
    np.testing.assert_array_equal(fitted.predict_groups_, groups[sel])
    # Selection scores are the fitted member's r on the selection runs.
    np.testing.assert_allclose(
        ens.selection_scores_[0], _scipy_r(y[sel], fitted.predict(X[sel])), rtol=1e-8
    )


def test_selection_runs_as_labels_and_as_fraction():
    X, y, groups = _data(n_runs=5)
    ens = TargetwiseEnsemble([("rec", _Recorder())], selection_runs=[1, 3])
    ens.fit(X, y, groups=groups)
    np.testing.assert_array_equal(np.unique(ens.estimators_[0].fit_groups_), [0, 2, 4])
    np.testing.assert_array_equal(ens.selection_runs_, [1, 3])
    # 0.3 of 5 runs, rounded up: the last 2 runs.
    ens.set_params(selection_runs=0.3).fit(X, y, groups=groups)
    np.testing.assert_array_equal(ens.selection_runs_, [3, 4])


def test_without_groups_selection_is_the_last_block_of_samples():
    X, y, _ = _data(n_samples=100)
    ens = TargetwiseEnsemble([("a", Ridge()), ("b", Ridge(alpha=1e4))], k=1)
    ens.fit(X, y)
    assert ens.selection_runs_ is None
    a = Ridge().fit(X[:80], y[:80])
    np.testing.assert_allclose(
        ens.selection_scores_[0], _scipy_r(y[80:], a.predict(X[80:])), rtol=1e-8
    )
    np.testing.assert_allclose(ens.estimators_[0].coef_, a.coef_)


def test_out_of_fold_selection_and_refit_on_all_runs():
    X, y, groups = _data(n_runs=4)
    FIT_LOG.clear()
    ens = TargetwiseEnsemble([("rec", _Recorder()), ("ridge", Ridge(alpha=30.0))], cv=2)
    ens.fit(X, y, groups=groups)
    assert ens.n_splits_ == 2
    # Out-of-fold predictions by hand, with the same GroupKFold.
    oof = [np.empty_like(y), np.empty_like(y)]
    for train, test in GroupKFold(n_splits=2).split(X, y, groups):
        oof[0][test] = LinearRegression().fit(X[train], y[train]).predict(X[test])
        oof[1][test] = Ridge(alpha=30.0).fit(X[train], y[train]).predict(X[test])
    for m in range(2):
        np.testing.assert_allclose(
            ens.selection_scores_[m], _scipy_r(y, oof[m]), rtol=1e-8
        )
    # Fold fits saw disjoint run sets; the final member saw all runs.
    fold_runs = [set(np.unique(g)) for g in FIT_LOG[:2]]
    assert fold_runs[0].isdisjoint(fold_runs[1])
    assert all(len(r) == 2 for r in fold_runs)
    assert fold_runs[0] | fold_runs[1] == {0, 1, 2, 3}
    np.testing.assert_array_equal(ens.estimators_[0].fit_groups_, groups)
    np.testing.assert_allclose(
        ens.estimators_[1].coef_, Ridge(alpha=30.0).fit(X, y).coef_, rtol=1e-8
    )


def test_ensemble_beats_or_matches_best_member_and_drops_a_bad_member():
    X, y, groups, _ = make_encoding_data(
        n_samples=720,
        n_features=8,
        n_targets=20,
        n_runs=6,
        delays=4,
        snr=0.5,
        random_state=0,
    )
    train, test = groups < 5, groups == 5
    members = [
        ("full", DelayedRidge(delays=4, cv=2, backend="numpy")),
        ("short", DelayedRidge(delays=[1, 2], cv=2, backend="numpy")),
        ("late", DelayedRidge(delays=[3, 4], alphas=[1e3, 1e4], cv=2, backend="numpy")),
        ("dummy", DummyRegressor()),
    ]
    for method, kwargs in (("topk", {"k": 2}), ("softmax", {})):
        ens = TargetwiseEnsemble(members, method=method, selection_runs=1, **kwargs)
        with pytest.warns(UserWarning, match="member 'dummy'"):
            ens.fit(X[train], y[train], groups=groups[train])
        np.testing.assert_allclose(ens.weights_.sum(axis=0), 1.0)
        held_out = ens.score(X[test], y[test], groups=groups[test])
        singles = [
            est.score(X[test], y[test], groups=groups[test])
            for est in ens.estimators_[:3]
        ]
        assert held_out >= max(singles) - 0.02, (method, held_out, singles)
        if method == "topk":
            np.testing.assert_array_equal(ens.weights_[3], 0.0)
        else:
            assert np.all(ens.weights_[3] < ens.weights_[0])


@pytest.mark.filterwarnings("ignore:.*chose the largest alpha:UserWarning")
def test_topk_picks_each_targets_driving_space():
    # Each target is driven by one of three feature spaces; each member sees
    # one space. Per-target selection must find the driving space, and the
    # ensemble must beat every member by far on held-out runs.
    X, y, groups, truth = make_multispace_data(
        n_samples=720,
        space_sizes=(6, 6, 6),
        n_targets=30,
        n_runs=6,
        snr=0.5,
        random_state=0,
    )
    train, test = groups < 5, groups == 5
    members = [(f"space{i}", _SpaceRidge(6 * i, 6 * i + 6)) for i in range(3)]
    members.append(("dummy", DummyRegressor()))
    ens = TargetwiseEnsemble(members, k=1, selection_runs=1)
    with pytest.warns(UserWarning, match="member 'dummy'"):
        ens.fit(X[train], y[train], groups=groups[train])
    picked = np.argmax(ens.weights_, axis=0)
    assert np.mean(picked == truth.driving_space) >= 0.9
    np.testing.assert_array_equal(ens.weights_[3], 0.0)
    r = pearson_r(y[test], ens.predict(X[test], groups=groups[test]))
    singles = [
        pearson_r(y[test], est.predict(X[test], groups=groups[test]))
        for est in ens.estimators_[:3]
    ]
    assert r.mean() > max(s.mean() for s in singles) + 0.2
    # With k=1, each target's prediction is its chosen member's.
    np.testing.assert_allclose(r, np.choose(picked, singles), rtol=1e-6)


def test_predict_one_d_y_and_groups_passed_to_members():
    X, y, groups = _data()
    ens = TargetwiseEnsemble(
        [
            ("ridge", DelayedRidge(delays=[0, 1], cv=2, backend="numpy")),
            ("rec", _Recorder()),
        ],
        k=1,
    ).fit(X, y[:, 0], groups=groups)
    pred = ens.predict(X, groups=groups)
    assert pred.shape == (X.shape[0],)
    best = int(np.argmax(ens.selection_scores_[:, 0]))
    expected = ens.estimators_[best].predict(X, groups=groups)
    np.testing.assert_allclose(pred, expected, rtol=1e-10)
    ens.set_params(method="mean").fit(X, y[:, 0], groups=groups)
    ens.predict(X, groups=groups)
    np.testing.assert_array_equal(ens.estimators_[1].predict_groups_, groups)


def test_parallel_fits_give_the_same_ensemble(capsys):
    X, y, groups = _data()
    members = [("a", Ridge(alpha=1.0)), ("b", Ridge(alpha=100.0)), ("c", _Recorder())]
    one = TargetwiseEnsemble(members, cv=2, method="softmax").fit(X, y, groups)
    with parallel_config(backend="threading"):
        two = TargetwiseEnsemble(
            members, cv=2, method="softmax", n_jobs=2, verbose=1
        ).fit(X, y, groups)
    np.testing.assert_allclose(two.weights_, one.weights_, rtol=1e-12)
    np.testing.assert_allclose(two.predict(X), one.predict(X), rtol=1e-12)
    err = capsys.readouterr().err
    # one bar over the 3 members x (2 folds + refit) fits
    assert "TargetwiseEnsemble fits (3 members x 2 folds + refit)" in err
    assert "9/9" in err


def test_member_parameters_are_grid_searchable():
    ens = TargetwiseEnsemble([("a", Ridge()), ("b", DummyRegressor())])
    params = ens.get_params()
    assert params["a__alpha"] == 1.0
    assert params["b"] is ens.estimators[1][1]
    ens.set_params(a__alpha=5.0, b=Ridge(alpha=2.0), k=1)
    assert ens.estimators[0][1].alpha == 5.0
    assert ens.estimators[1][1].alpha == 2.0
    assert ens.k == 1
    cloned = clone(ens)
    assert cloned.get_params()["b__alpha"] == 2.0


# --------------------------------------------------------------------------
# Errors


def _ens(**kwargs):
    return TargetwiseEnsemble([("a", Ridge()), ("b", Ridge(alpha=10.0))], **kwargs)


def test_errors_on_y():
    X, y, groups = _data()
    y_nan = y.copy()
    y_nan[3, 1] = np.nan
    with pytest.raises(
        ValueError,
        match=re.escape(
            "y contains NaN (1 value), the first at sample 3, target 1: it must be "
            "finite. Responses must be complete: drop or impute the missing samples "
            "(NaN marks a subject's missing samples only for estimators that take "
            "n_subjects > 1)."
        ),
    ):
        _ens().fit(X, y_nan, groups)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "y must hold n_subjects=4 blocks of targets side by side (n_samples, "
            "n_subjects * n_targets), but it has 6 column(s), not a multiple of 4."
        ),
    ):
        _ens(n_subjects=4).fit(X, y, groups)
    with pytest.raises(
        ValueError,
        match=r"same number of samples \(rows\), got X with 300 and y with 299",
    ):
        _ens().fit(X, y[:-1], groups)


def test_errors_on_selection_runs():
    X, y, groups = _data(n_runs=5)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "selection_runs=5 must leave at least one run to fit the members, "
            "but groups holds 5 runs."
        ),
    ):
        _ens(selection_runs=5).fit(X, y, groups)
    with pytest.raises(ValueError, match=r"unknown: \[7\]"):
        _ens(selection_runs=[1, 7]).fit(X, y, groups)
    with pytest.raises(ValueError, match="it holds all 5 runs of groups"):
        _ens(selection_runs=[0, 1, 2, 3, 4]).fit(X, y, groups)
    with pytest.raises(
        ValueError,
        match=re.escape("selection_runs=2 counts runs, but there is a single run"),
    ):
        _ens(selection_runs=2).fit(X, y)
    with pytest.raises(ValueError, match="selection_runs as run labels needs groups"):
        _ens(selection_runs=[0]).fit(X, y)
    with pytest.raises(
        ValueError, match="needs at least 2 selection samples to score its members"
    ):
        _ens(selection_runs=0.01).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="The 'selection_runs' parameter"):
        _ens(selection_runs=1.5).fit(X, y, groups)


def test_errors_on_estimators():
    X, y, groups = _data()
    with pytest.raises(ValueError, match="estimators must be a non-empty list"):
        TargetwiseEnsemble([]).fit(X, y)
    with pytest.raises(TypeError, match="but item 0 is"):
        TargetwiseEnsemble([Ridge()]).fit(X, y)
    with pytest.raises(ValueError, match="names must be unique, got 'a' more"):
        TargetwiseEnsemble([("a", Ridge()), ("a", Ridge())]).fit(X, y)
    with pytest.raises(ValueError, match="without '__', got 'a__b'"):
        TargetwiseEnsemble([("a__b", Ridge())]).fit(X, y)
    with pytest.raises(ValueError, match="name 'k' conflicts with the parameter"):
        TargetwiseEnsemble([("k", Ridge())]).fit(X, y)
    with pytest.raises(
        TypeError, match="member 'x' must be an estimator with fit and predict"
    ):
        TargetwiseEnsemble([("x", object())]).fit(X, y)
    with pytest.raises(NotFittedError, match="member 'a' \\(Ridge\\) is not fitted"):
        TargetwiseEnsemble([("a", Ridge())], prefit=True).fit(X, y)
    bad = _fixed(np.zeros((X.shape[0], 2)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"member 'bad' predicted an array of shape ({X.shape[0]}, 2), "
            f"expected ({X.shape[0]}, 6) like y."
        ),
    ):
        TargetwiseEnsemble([("bad", bad)], prefit=True).fit(X, y)
    nan_pred = _fixed(np.full(y.shape, np.nan))
    with pytest.raises(ValueError, match="member 'nan' predicted NaN or inf"):
        TargetwiseEnsemble([("nan", nan_pred)], prefit=True).fit(X, y)


def test_error_on_overlapping_cv_test_sets():
    X, y, _ = _data(n_samples=60)
    idx = np.arange(60)
    folds = [(idx[35:], idx[:35]), (idx[:30], idx[30:])]
    with pytest.raises(
        ValueError,
        match="cv of TargetwiseEnsemble must hold out every sample at most once "
        r"\(each sample is predicted out of fold once\), but fold 1 holds out "
        "sample 30",
    ):
        _ens(cv=folds).fit(X, y)
