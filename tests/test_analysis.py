"""Tests of brainenc.analysis: identities, hand computations, ground truth."""

import re
from itertools import combinations

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from brainenc.analysis import (
    Residualizer,
    ablate_feature_spaces,
    variance_partitioning,
)
from brainenc.datasets import make_multispace_data
from brainenc.delays import delay_features
from brainenc.linear import DelayedRidge
from brainenc.metrics import pearson_r

ALPHAS = np.logspace(-3, 5, 9)


def _ridge(delays=(0, 1)):
    return DelayedRidge(delays=list(delays), alphas=ALPHAS, cv=2, backend="numpy")


# Noise targets choose the largest alpha of the grid, and a fit on two runs
# uses leave-one-run-out: those warnings of DelayedRidge are not under test.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*targets chose the:UserWarning"),
    pytest.mark.filterwarnings("ignore:cv=5 asks for more folds:UserWarning"),
]


@pytest.fixture(scope="module")
def two_spaces():
    return make_multispace_data(
        n_samples=1200, space_sizes=(6, 6), n_targets=20, n_runs=4, random_state=0
    )


# ------------------------------------------------------ variance_partitioning


def test_partitions_add_up_exactly_for_three_spaces():
    X, y, groups, truth = make_multispace_data(
        n_samples=480,
        space_sizes=(3, 4, 3),
        n_targets=6,
        n_runs=4,
        shares=np.tile([[0.6], [0.3], [0.1]], 6),
        random_state=1,
    )
    res = variance_partitioning(
        _ridge(), X, y, truth.feature_spaces, groups=groups, cv=2
    )
    names = ["space0", "space1", "space2"]
    assert res.space_names == names
    subsets = [s for k in (1, 2, 3) for s in combinations(names, k)]
    assert list(res.scores) == subsets
    assert list(res.regions) == subsets
    assert list(res.shared) == subsets[3:]
    for name in names:
        containing = sum(res.regions[key] for key in res.regions if name in key)
        assert_allclose(containing, res.scores[(name,)], atol=1e-12)
        assert_array_equal(res.unique[name], res.regions[(name,)])
    assert_allclose(sum(res.regions.values()), res.total, atol=1e-12)
    assert_array_equal(res.total, res.scores[tuple(names)])
    # Every pair: the regions inside the union add up to the pair's R^2.
    for pair in combinations(names, 2):
        inside = sum(v for k, v in res.regions.items() if set(k) & set(pair))
        assert_allclose(inside, res.scores[pair], atol=1e-12)
    # Closed forms of the three-space regions (de Heer et al., 2017).
    R = res.scores
    a, b, c = names
    assert_allclose(res.unique[a], R[(a, b, c)] - R[(b, c)], atol=1e-12)
    assert_allclose(
        res.shared[(a, b)], R[(a, c)] + R[(b, c)] - R[(c,)] - R[(a, b, c)], atol=1e-12
    )
    assert_allclose(
        res.shared[(a, b, c)],
        R[(a,)] + R[(b,)] + R[(c,)] - R[(a, b)] - R[(a, c)] - R[(b, c)] + R[(a, b, c)],
        atol=1e-12,
    )


def test_two_space_formulas_and_scores_match_cross_val_predict(two_spaces):
    X, y, groups, truth = two_spaces
    res = variance_partitioning(
        LinearRegression(), X, y, truth.feature_spaces, groups=groups, cv=4
    )
    cols = {"space0": slice(0, 6), "space1": slice(6, 12)}
    for subset in [("space0",), ("space1",), ("space0", "space1")]:
        X_sub = np.hstack([X[:, cols[name]] for name in subset])
        pred = cross_val_predict(
            LinearRegression(), X_sub, y, groups=groups, cv=GroupKFold(4)
        )
        expected = r2_score(y, pred, multioutput="raw_values")
        assert_allclose(res.scores[subset], expected, rtol=1e-10, atol=1e-12)
    R = res.scores
    full = R[("space0", "space1")]
    assert_allclose(res.unique["space0"], full - R[("space1",)], atol=1e-12)
    assert_allclose(res.unique["space1"], full - R[("space0",)], atol=1e-12)
    assert_allclose(
        res.shared[("space0", "space1")],
        R[("space0",)] + R[("space1",)] - full,
        atol=1e-12,
    )


def test_partitioning_recovers_driving_space(two_spaces):
    X, y, groups, truth = two_spaces
    res = variance_partitioning(
        _ridge(range(1, 5)), X, y, truth.feature_spaces, groups=groups, cv=4
    )
    # snr=1: a target's signal is half of its variance, R^2 at most 0.5.
    for driver in (0, 1):
        targets = truth.driving_space == driver
        own = res.unique[f"space{driver}"][targets]
        other = res.unique[f"space{1 - driver}"][targets]
        assert np.all(np.abs(own - 0.5) < 0.05)
        assert np.all(np.abs(own - res.total[targets]) < 0.03)
        assert np.all(np.abs(other) < 0.03)
    assert np.all(np.abs(res.shared[("space0", "space1")]) < 0.03)


def test_partitioning_of_duplicated_space_is_all_shared(two_spaces):
    X, y, groups, truth = two_spaces
    A = X[:, :6]
    X_dup = np.hstack([A, A])  # two copies of the driving space of even targets
    res = variance_partitioning(
        _ridge(range(1, 5)),
        X_dup,
        y[:, ::2],
        {"copy1": 6, "copy2": 6},
        groups=groups,
        cv=4,
    )
    shared = res.shared[("copy1", "copy2")]
    assert np.all(shared > 0.4)
    assert_allclose(shared, res.total, atol=0.02)
    assert np.all(np.abs(res.unique["copy1"]) < 0.02)


def test_partitioning_defaults_single_split_clip_and_1d(two_spaces):
    X, y, groups, truth = two_spaces
    X, y, groups = X[:600], y[:600, :4], groups[:600]  # runs 0 and 1
    lr = LinearRegression()
    # cv=None with 2 runs: leave-one-run-out.
    default = variance_partitioning(lr, X, y, truth.feature_spaces, groups=groups)
    explicit = variance_partitioning(
        lr, X, y, truth.feature_spaces, groups=groups, cv=2
    )
    for key in default.scores:
        assert_array_equal(default.scores[key], explicit.scores[key])
    # A single train/test split scores the test samples only.
    train, test = np.arange(300), np.arange(300, 600)
    split = variance_partitioning(lr, X, y, truth.feature_spaces, cv=[(train, test)])
    pred = LinearRegression().fit(X[train, :6], y[train]).predict(X[test, :6])
    assert_allclose(
        split.scores[("space0",)], r2_score(y[test], pred, multioutput="raw_values")
    )
    clipped = variance_partitioning(
        lr, X, y, truth.feature_spaces, cv=[(train, test)], clip=True
    )
    for key, value in split.regions.items():
        assert_array_equal(clipped.regions[key], np.maximum(value, 0))
    assert np.any(np.concatenate(list(split.regions.values())) < 0)
    one = variance_partitioning(lr, X, y[:, 0], truth.feature_spaces, cv=2)
    assert type(one.total) is float
    assert type(one.unique["space0"]) is float


def test_partitioning_default_estimator_is_delayed_ridge(two_spaces):
    X, y, groups, truth = two_spaces
    X, y, groups = X[:600], y[:600, :2], groups[:600]
    res = variance_partitioning(None, X, y, truth.feature_spaces, groups=groups)
    ridge = DelayedRidge()
    oof = np.zeros_like(y)
    for run in (0, 1):
        tr, te = groups != run, groups == run
        ridge.fit(X[tr, :6], y[tr], groups=groups[tr])
        oof[te] = ridge.predict(X[te, :6], groups=groups[te])
    assert_allclose(
        res.scores[("space0",)], r2_score(y, oof, multioutput="raw_values"), atol=1e-6
    )


class _RecordingRegressor(RegressorMixin, BaseEstimator):
    """Linear regression that records the feature spaces it was given."""

    seen = []

    def __init__(self, feature_spaces=None):
        self.feature_spaces = feature_spaces

    def fit(self, X, y):
        _RecordingRegressor.seen.append((X.shape[1], self.feature_spaces))
        self.model_ = LinearRegression().fit(X, y)
        return self

    def predict(self, X):
        return self.model_.predict(X)


def test_partitioning_gives_banded_estimators_the_subset_spaces():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((40, 6)), rng.standard_normal((40, 2))
    spaces = {"a": [4, 5], "b": slice(0, 1), "c": [1, 2, 3]}
    _RecordingRegressor.seen.clear()
    variance_partitioning(_RecordingRegressor({"x": 6}), X, y, spaces, cv=2)
    seen = {(n, tuple(fs.items())) for n, fs in _RecordingRegressor.seen}
    assert seen == {
        (2, (("a", 2),)),
        (1, (("b", 1),)),
        (3, (("c", 3),)),
        (3, (("a", 2), ("b", 1))),
        (5, (("a", 2), ("c", 3))),
        (4, (("b", 1), ("c", 3))),
        (6, (("a", 2), ("b", 1), ("c", 3))),
    }
    # Without feature_spaces, the estimator is left as it is.
    _RecordingRegressor.seen.clear()
    variance_partitioning(_RecordingRegressor(), X, y, spaces, cv=2)
    assert {fs for _, fs in _RecordingRegressor.seen} == {None}


def test_partitioning_in_parallel_gives_the_same_result(two_spaces):
    X, y, groups, truth = two_spaces
    kw = {"groups": groups, "cv": 2}
    serial = variance_partitioning(LinearRegression(), X, y, truth.feature_spaces, **kw)
    parallel = variance_partitioning(
        LinearRegression(), X, y, truth.feature_spaces, n_jobs=2, **kw
    )
    for key in serial.regions:
        assert_allclose(parallel.regions[key], serial.regions[key], rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"feature_spaces": {"a": 12}}, ValueError, "at least 2 spaces"),
        ({"scoring": "pearson_r"}, ValueError, "scoring must be one of ('r2',)"),
        ({"estimator": "ridge"}, TypeError, "estimator must be an estimator with"),
        (
            {
                "cv": [
                    (np.arange(6), np.arange(6, 12)),
                    (np.arange(8, 12), np.arange(8)),
                ]
            },
            ValueError,
            "cv of variance_partitioning must hold out every sample at most once",
        ),
        ({"feature_spaces": {"a": 6, "b": 5}}, ValueError, "must cover every column"),
    ],
)
def test_partitioning_errors(kwargs, error, message):
    rng = np.random.default_rng(0)
    args = {
        "estimator": LinearRegression(),
        "X": rng.standard_normal((12, 12)),
        "y": rng.standard_normal((12, 2)),
        "feature_spaces": {"a": 6, "b": 6},
    }
    args.update(kwargs)
    with pytest.raises(error, match=re.escape(message)):
        variance_partitioning(**args)


def test_partitioning_y_length_mismatch():
    with pytest.raises(
        ValueError,
        match="X and y must have the same number of samples .* X with 10 and y with 9",
    ):
        variance_partitioning(
            None, np.zeros((10, 2)), np.zeros(9), {"a": 1, "b": 1}, cv=2
        )


# ------------------------------------------------------------- Residualizer


def _mixed_spaces(n_runs=4, run_length=500, seed=0):
    """Space B = A @ M + an independent part; A smooth in time."""
    rng = np.random.default_rng(seed)
    n = n_runs * run_length
    A = rng.standard_normal((n, 8))
    A = (A + np.roll(A, 1, axis=0)) / np.sqrt(2)
    M = rng.standard_normal((8, 5))
    independent = rng.standard_normal((n, 5))
    B = A @ M + independent
    groups = np.repeat(np.arange(n_runs), run_length)
    return np.hstack([A, B]), groups, independent


def test_residualized_space_has_no_predictable_part_on_held_out_runs():
    X, groups, independent = _mixed_spaces(run_length=1000)
    train, test = groups < 3, groups == 3
    spaces = {"A": 8, "B": 5}
    res = Residualizer(spaces, "B", estimator=_ridge([0])).fit(
        X[train], groups=groups[train]
    )
    X_train, X_test = res.transform(X[train]), res.transform(X[test])
    probe = _ridge([0])
    # Before: A predicts B almost perfectly on the held-out run.
    before = probe.fit(X[train, :8], X[train, 8:]).predict(X[test, :8])
    assert np.all(pearson_r(X[test, 8:], before) > 0.8)
    # After: a fresh ridge from A, fitted on the training residuals, predicts
    # nothing of the held-out residuals.
    after = probe.fit(X_train[:, :8], X_train[:, 8:]).predict(X_test[:, :8])
    r = pearson_r(X_test[:, 8:], after)
    assert r.mean() < 0.05
    assert np.all(np.abs(r) < 4 / np.sqrt(X_test.shape[0]))  # 4 SE of r = 0
    # The independent part is what is left.
    assert np.all(pearson_r(X_test[:, 8:], independent[test]) > 0.98)
    assert_array_equal(X_test[:, :8], X[test, :8])


def test_residualizer_transform_uses_the_training_fit_only():
    X, groups, _ = _mixed_spaces(n_runs=3, run_length=200, seed=1)
    train, test = groups < 2, groups == 2
    X_in = X.copy()
    res = Residualizer({"A": 8, "B": 5}, "B", estimator=_ridge([0]))
    res.fit(X[train], groups=groups[train])
    assert_array_equal(X, X_in)
    # The regression is the one a DelayedRidge fits by hand on training data.
    hand = _ridge([0]).fit(X[train, :8], X[train, 8:], groups=groups[train])
    assert_allclose(res.estimator_.coef_, hand.coef_, rtol=1e-6)
    coef = res.estimator_.coef_.copy()
    out = res.transform(X[test])
    expected = X[test, 8:] - (X[test, :8] @ hand.coef_.T + hand.intercept_)
    assert_allclose(out[:, 8:], expected, rtol=1e-5, atol=1e-5)
    # New test data does not change the fitted regression, and rows are
    # transformed independently of the other rows.
    other = res.transform(X[test] * 3.0 + 1.0)
    assert_array_equal(res.estimator_.coef_, coef)
    assert_allclose(res.transform(X[test][:50]), out[:50])
    assert not np.allclose(other, out)
    assert_array_equal(res.target_columns_, np.arange(8, 13))
    assert_array_equal(res.source_columns_, np.arange(8))


def test_residualizer_source_spaces_and_delays():
    rng = np.random.default_rng(2)
    n = 400
    A, C = rng.standard_normal((n, 3)), rng.standard_normal((n, 2))
    groups = np.repeat([0, 1], n // 2)
    lagged = delay_features(A, [1], groups)  # A one sample earlier
    B = lagged @ rng.standard_normal((3, 2)) + 0.1 * rng.standard_normal((n, 2))
    X = np.hstack([A, B, C])
    spaces = {"A": 3, "B": 2, "C": 2}
    contemporaneous = Residualizer(
        spaces, "B", source_spaces=["A"], estimator=_ridge([0])
    )
    lag = Residualizer(spaces, "B", source_spaces=["A"], estimator=_ridge([0, 1]))
    out0 = contemporaneous.fit_transform(X, groups=groups)
    out1 = lag.fit_transform(X, groups=groups)
    assert_array_equal(out1[:, [0, 1, 2, 5, 6]], X[:, [0, 1, 2, 5, 6]])
    assert_array_equal(lag.source_columns_, [0, 1, 2])
    # Only the delayed regression removes what the past of A predicts.
    assert out0[:, 3:5].std() > 0.8
    assert out1[:, 3:5].std() < 0.15


def test_residualizer_in_pipeline_before_delayed_ridge():
    X, y, groups, truth = make_multispace_data(
        n_samples=600, space_sizes=(4, 4), n_targets=4, n_runs=3, random_state=3
    )
    train, test = groups < 2, groups == 2
    pipe = Pipeline(
        [("res", Residualizer({"A": 4, "B": 4}, "B", estimator=_ridge([0]))),
         ("ridge", _ridge(range(1, 5)))]
    )  # fmt: skip
    pipe.fit(X[train], y[train])
    res = pipe.named_steps["res"]
    hand = _ridge(range(1, 5)).fit(res.transform(X[train]), y[train])
    assert_allclose(pipe.predict(X[test]), hand.predict(res.transform(X[test])))
    # With metadata routing, groups reach both steps.
    with sklearn.config_context(enable_metadata_routing=True):
        res_step = Residualizer({"A": 4, "B": 4}, "B", estimator=_ridge([0]))
        res_step.set_fit_request(groups=True).set_transform_request(groups=True)
        ridge = _ridge(range(1, 5))
        ridge.set_fit_request(groups=True).set_predict_request(groups=True)
        routed = Pipeline([("res", res_step), ("ridge", ridge)])
        routed.fit(X[train], y[train], groups=groups[train])
        pred = routed.predict(X[test], groups=groups[test])
    step = routed.named_steps["res"]
    hand_res = Residualizer({"A": 4, "B": 4}, "B", estimator=_ridge([0]))
    hand_res.fit(X[train], groups=groups[train])
    assert_allclose(step.estimator_.coef_, hand_res.estimator_.coef_)
    hand = _ridge(range(1, 5)).fit(
        hand_res.transform(X[train]), y[train], groups=groups[train]
    )
    expected = hand.predict(hand_res.transform(X[test]), groups=groups[test])
    assert_allclose(pred, expected, rtol=1e-6)


def test_residualizer_default_estimator():
    X, groups, _ = _mixed_spaces(n_runs=2, run_length=200, seed=4)
    res = Residualizer({"A": 8, "B": 5}, "B").fit(X, groups=groups)
    assert isinstance(res.estimator_, DelayedRidge)
    assert_array_equal(res.estimator_.delays_, [0])
    assert res.estimator is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_space": "C"}, "target_space must be one of the feature spaces"),
        ({"source_spaces": ["C"]}, "source_spaces must be a non-empty list"),
        ({"source_spaces": ["B"]}, "other than target_space 'B'"),
        ({"source_spaces": []}, "source_spaces must be a non-empty list"),
        ({"feature_spaces": {"A": 2, "B": 2}}, "(X has 5 feature(s).)"),
    ],
)
def test_residualizer_errors(kwargs, message):
    params = {"feature_spaces": {"A": 3, "B": 2}, "target_space": "B"}
    params.update(kwargs)
    res = Residualizer(**params, estimator=LinearRegression())
    with pytest.raises(ValueError, match=re.escape(message)):
        res.fit(np.random.default_rng(0).standard_normal((20, 5)))


def test_residualizer_feature_names_out():
    res = Residualizer({"A": 1, "B": 1}, "B", estimator=LinearRegression())
    res.fit(np.random.default_rng(0).standard_normal((20, 2)))
    assert list(res.get_feature_names_out()) == ["x0", "x1"]


# ----------------------------------------------------- ablate_feature_spaces


def test_ablation_matches_hand_computation():
    X, y, groups, truth = make_multispace_data(
        n_samples=600, space_sizes=(3, 4), n_targets=5, n_runs=3, random_state=5
    )
    train, test = groups < 2, groups == 2
    model = _ridge((0, 1, 2)).fit(X[train], y[train], groups=groups[train])
    X_in = X[test].copy()
    mean = X[train].mean(axis=0)
    for replace, fill in (("zeros", np.zeros(7)), ("mean", mean)):
        res = ablate_feature_spaces(
            model,
            X[test],
            y[test],
            {"a": 3, "b": 4},
            groups=groups[test],
            replace=replace,
            X_train=X[train] if replace == "mean" else None,
        )
        assert res.space_names == ["a", "b"]

        def r_of(X_eval):
            D = delay_features(X_eval, [0, 1, 2], groups[test])
            pred = D @ model.coef_.astype(np.float64).T + model.intercept_
            return np.array(
                [stats.pearsonr(y[test][:, j], pred[:, j])[0] for j in range(5)]
            )

        full = r_of(X[test])
        assert_allclose(res.full, full, atol=1e-6)
        for name, cols in (("a", slice(0, 3)), ("b", slice(3, 7))):
            X_abl = X[test].copy()
            X_abl[:, cols] = fill[cols]
            assert_allclose(res.ablated[name], r_of(X_abl), atol=1e-6)
            assert_allclose(res.drop[name], full - r_of(X_abl), atol=1e-6)
    assert_array_equal(X[test], X_in)
    by_mean = ablate_feature_spaces(
        model, X[test], y[test], {"a": 3, "b": 4}, replace="mean", train_mean=mean
    )
    with_x_train = ablate_feature_spaces(
        model, X[test], y[test], {"a": 3, "b": 4}, replace="mean", X_train=X[train]
    )
    assert_allclose(by_mean.drop["a"], with_x_train.drop["a"])


def test_ablation_zeros_and_mean_agree_for_contemporaneous_linear_model():
    # Replacing a space moves a linear prediction by a constant: same r.
    X, y, groups, truth = make_multispace_data(
        n_samples=400, space_sizes=(3, 3), n_targets=3, n_runs=2, random_state=6
    )
    model = LinearRegression().fit(X[:200], y[:200])
    kw = {"feature_spaces": truth.feature_spaces}
    zeros = ablate_feature_spaces(model, X[200:], y[200:], **kw)
    mean = ablate_feature_spaces(
        model, X[200:], y[200:], **kw, replace="mean", X_train=X[:200]
    )
    for name in zeros.drop:
        assert_allclose(zeros.drop[name], mean.drop[name], atol=1e-12)


def test_ablation_ground_truth_driving_and_noise_spaces():
    shares = np.zeros((3, 12))
    shares[0, ::2] = 1.0  # space0 drives even targets
    shares[1, 1::2] = 1.0  # space1 drives odd targets; space2 is pure noise
    X, y, groups, truth = make_multispace_data(
        n_samples=900,
        space_sizes=(5, 5, 5),
        n_targets=12,
        n_runs=3,
        shares=shares,
        random_state=7,
    )
    train, test = groups < 2, groups == 2
    model = _ridge(range(1, 5)).fit(X[train], y[train], groups=groups[train])
    res = ablate_feature_spaces(
        model,
        X[test],
        y[test],
        truth.feature_spaces,
        groups=groups[test],
        replace="mean",
        X_train=X[train],
    )
    assert np.all(res.full > 0.5)
    for driver in (0, 1):
        targets = truth.driving_space == driver
        assert np.all(res.drop[f"space{driver}"][targets] > 0.4)
        assert np.all(np.abs(res.drop[f"space{1 - driver}"][targets]) < 0.05)
    assert np.all(np.abs(res.drop["space2"]) < 0.05)
    # The dominant modality of every target is the space that drives it.
    assert res.dominant_space.tolist() == [f"space{d}" for d in truth.driving_space]
    single = _ridge(range(1, 5)).fit(X[train], y[train, 1], groups=groups[train])
    one = ablate_feature_spaces(
        single, X[test], y[test, 1], truth.feature_spaces, groups=groups[test]
    )
    assert one.dominant_space == "space1"


def test_ablation_1d_y_gives_floats():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((50, 4))
    y = X @ [1.0, 0.5, 0.0, 0.0] + 0.1 * rng.standard_normal(50)
    model = LinearRegression().fit(X, y)
    res = ablate_feature_spaces(model, X, y, {"a": 2, "b": 2})
    assert type(res.full) is float
    assert res.drop["b"] == pytest.approx(0.0, abs=1e-3)
    expected = stats.pearsonr(y, X[:, 2:] @ model.coef_[2:] + model.intercept_)[0]
    assert res.ablated["a"] == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replace": "mean"}, "replace='mean' needs the training mean"),
        (
            {"replace": "mean", "X_train": np.zeros((5, 4)), "train_mean": np.zeros(4)},
            "not both",
        ),
        ({"replace": "mean", "train_mean": np.zeros(3)}, "train_mean must have the 4"),
        ({"replace": "mean", "X_train": np.zeros((5, 2))}, "X_train must have the 4"),
        ({"replace": "noise"}, "replace must be one of ('zeros', 'mean', 'null')"),
    ],
)
def test_ablation_errors(kwargs, message):
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((20, 4)), rng.standard_normal(20)
    model = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match=re.escape(message)):
        ablate_feature_spaces(model, X, y, {"a": 2, "b": 2}, **kwargs)


def test_ablation_needs_predict():
    with pytest.raises(TypeError, match="model must be a fitted estimator"):
        ablate_feature_spaces(object(), np.zeros((5, 2)), np.zeros(5), {"a": 1, "b": 1})


def test_ablation_with_the_trained_null_needs_a_model_that_has_one():
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((20, 4)), rng.standard_normal(20)
    model = LinearRegression().fit(X, y)
    with pytest.raises(
        TypeError,
        match=r"^replace='null' needs a model that replaces a feature space by its "
        r"trained null \(a predict_ablated\(X, spaces, groups=...\) method, as "
        r"brainenc.neural.MultimodalTransformerEncoder has\); LinearRegression has "
        r"none. Use replace='zeros' or 'mean'.$",
    ):
        ablate_feature_spaces(model, X, y, {"a": 2, "b": 2}, replace="null")


def test_partitioning_single_run_groups_and_stacked_estimators():
    from brainenc import StackedRegressor
    from brainenc.datasets import make_multispace_data

    X, y, groups, truth = make_multispace_data(
        n_samples=400, space_sizes=(3, 3), n_targets=4, n_runs=2, random_state=0
    )
    est = DelayedRidge(cv=2, backend="numpy")
    one_run = variance_partitioning(
        est, X, y, truth.feature_spaces, groups=np.zeros(400), cv=2
    )
    no_groups = variance_partitioning(est, X, y, truth.feature_spaces, cv=2)
    np.testing.assert_allclose(one_run.total, no_groups.total)
    stacked = StackedRegressor(
        estimators=[("a", est, slice(0, 3)), ("b", est, slice(3, 6))], cv=2
    )
    with pytest.raises(ValueError, match=r"Pass StackedRegressor\(feature_spaces"):
        variance_partitioning(stacked, X, y, truth.feature_spaces, cv=2)


class _FirstColumnOnly(RegressorMixin, BaseEstimator):
    """Predicts one column whatever the number of targets (a broken member)."""

    def fit(self, X, y):
        self.model_ = LinearRegression().fit(X, np.asarray(y).reshape(len(X), -1))
        return self

    def predict(self, X):
        return self.model_.predict(X)[:, 0]


def test_predictions_of_the_wrong_shape_are_refused_not_broadcast():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 4)), rng.standard_normal((60, 3))
    groups = np.repeat(np.arange(3), 20)
    with pytest.raises(
        ValueError,
        match=r"^variance_partitioning member 'estimator' predicted an array of "
        r"shape \(20, 1\), expected \(20, 3\) like y\.",
    ):
        variance_partitioning(
            _FirstColumnOnly(), X, y, {"a": 2, "b": 2}, groups=groups, cv=3
        )
    residualizer = Residualizer(
        {"a": 2, "b": 2}, target_space="b", estimator=_FirstColumnOnly()
    ).fit(X, groups=groups)
    with pytest.raises(
        ValueError,
        match=r"^Residualizer member 'estimator' predicted an array of shape "
        r"\(60, 1\), expected \(60, 2\) like y\.",
    ):
        residualizer.transform(X, groups=groups)
