"""The one core under the models that combine models (brainenc._meta).

Every model over models (StackedRegressor, TargetwiseEnsemble) and every
function that fits or predicts members (variance_partitioning,
structured_variance_partitioning, ablate_feature_spaces, Residualizer) hands
the run labels to its members, whatever they are: a Pipeline of a Delayer and
a scikit-learn regressor, a DelayedRidge, or an estimator whose fit/predict
take ``**params``; with scikit-learn's metadata routing off and on. A member
that would silently lose them is refused. All of them build their folds by
the one rule, with the same folds, warnings and errors.
"""

import re
import warnings

import numpy as np
import pytest
import sklearn
from joblib import parallel_config
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    LeaveOneGroupOut,
)
from sklearn.pipeline import make_pipeline

from brainenc import (
    DelayedRidge,
    Delayer,
    Residualizer,
    StackedRegressor,
    TargetwiseEnsemble,
    ablate_feature_spaces,
    delay_features,
    pearson_r,
    r2_per_target,
    structured_variance_partitioning,
    variance_partitioning,
)
from brainenc._meta import fold_groups

RUN = 60
LABELS = (10, 20, 30, 40)
SPACES = {"a": 2, "b": 2}

#: Every call a recording member receives: (member, method, n_rows, groups).
LOG = []


def _data(n_runs=4):
    rng = np.random.default_rng(0)
    groups = np.repeat(LABELS[:n_runs], RUN)
    X = rng.standard_normal((groups.size, 4))
    lagged = delay_features(X, [1, 2], groups)
    Y = lagged @ rng.standard_normal((lagged.shape[1], 3))
    Y += 0.5 * rng.standard_normal(Y.shape)
    return X, Y, groups


class _RunsRecorder(TransformerMixin, BaseEstimator):
    """Passes X through; records the groups its fit and transform get."""

    def fit(self, X, y=None, groups=None):
        LOG.append(("recorder", "fit", len(X), _copy(groups)))
        return self

    def transform(self, X, groups=None):
        LOG.append(("recorder", "transform", len(X), _copy(groups)))
        return np.asarray(X)

    def fit_transform(self, X, y=None, groups=None):
        # as Delayer does: the runs reach the transform too (scikit-learn's
        # default fit_transform would give them to fit only)
        return self.fit(X, y, groups=groups).transform(X, groups=groups)


class _ParamsProbe(RegressorMixin, BaseEstimator):
    """Least squares on X; fit and predict take ``**params`` and record them."""

    def fit(self, X, y, **params):
        X = np.asarray(X)
        y = np.asarray(y)
        LOG.append(("probe", "fit", len(X), _copy(params.get("groups"))))
        # the training samples, for the cv table: column 0 of y is the sample
        LOG.append(("probe rows", "fit", len(X), np.asarray(y).reshape(len(X), -1)))
        design = np.column_stack([X, np.ones(len(X))])
        self.coef_ = np.linalg.lstsq(design, y, rcond=None)[0]
        return self

    def predict(self, X, **params):
        X = np.asarray(X)
        LOG.append(("probe", "predict", len(X), _copy(params.get("groups"))))
        return np.column_stack([X, np.ones(len(X))]) @ self.coef_


class _RecordingRidge(DelayedRidge):
    """DelayedRidge that records the groups of its fit and predict."""

    def fit(self, X, y, groups=None):
        LOG.append(("delayed_ridge", "fit", len(X), _copy(groups)))
        return super().fit(X, y, groups=groups)

    def predict(self, X, groups=None):
        LOG.append(("delayed_ridge", "predict", len(X), _copy(groups)))
        return super().predict(X, groups=groups)


def _copy(groups):
    return None if groups is None else np.array(groups, copy=True)


def _members(routing):
    recorder, delayer = _RunsRecorder(), Delayer(delays=[1, 2, 3])
    if routing:
        recorder.set_fit_request(groups=True).set_transform_request(groups=True)
        delayer.set_fit_request(groups=True).set_transform_request(groups=True)
    return {
        "pipeline": make_pipeline(recorder, delayer, Ridge(alpha=1.0)),
        "delayed_ridge": _RecordingRidge(
            delays=[1, 2, 3], alphas=[0.1, 10.0], cv=2, backend="numpy"
        ),
        "probe": _ParamsProbe(),
    }


def _assert_every_call_got_whole_runs(kind, *, fitted=True):
    """Every recorded call got run labels of whole runs, one per row."""
    who = {"pipeline": "recorder", "delayed_ridge": "delayed_ridge"}.get(kind, kind)
    calls = [entry for entry in LOG if entry[0] == who]
    if fitted:
        assert {method for _, method, _, _ in calls} >= {"fit"}
    assert any(method in ("predict", "transform") for _, method, _, _ in calls)
    for _, method, n_rows, groups in calls:
        assert groups is not None, f"{who}.{method} got no groups"
        assert groups.shape == (n_rows,)
        labels, counts = np.unique(groups, return_counts=True)
        assert set(labels) <= set(LABELS), (method, labels)
        assert np.all(counts == RUN), (method, counts)


@pytest.fixture(params=[False, True], ids=["routing off", "routing on"])
def routing(request):
    with sklearn.config_context(enable_metadata_routing=request.param):
        yield request.param


def _stacked(member):
    return StackedRegressor(
        [("a", member, slice(0, 2)), ("b", clone(member), slice(2, 4))], cv=2
    )


def _ensemble_holdout(member):
    return TargetwiseEnsemble([("m", member), ("r", Ridge())], selection_runs=1)


def _ensemble_oof(member):
    return TargetwiseEnsemble([("m", member), ("r", Ridge())], cv=2)


@pytest.mark.parametrize("kind", ["pipeline", "delayed_ridge", "probe"])
@pytest.mark.parametrize(
    "make", [_stacked, _ensemble_holdout, _ensemble_oof], ids=lambda f: f.__name__
)
def test_models_over_models_never_mix_runs(make, kind, routing):
    X, Y, groups = _data()
    model = make(_members(routing)[kind]).fit(X, Y, groups=groups)
    before = model.predict(X, groups=groups)
    X_changed = X.copy()
    X_changed[groups == LABELS[0]] += 5.0
    LOG.clear()
    after = model.predict(X_changed, groups=groups)
    other = groups != LABELS[0]
    np.testing.assert_allclose(after[other], before[other], rtol=0, atol=1e-9)
    assert not np.allclose(after[~other], before[~other])
    LOG.clear()
    make(_members(routing)[kind]).fit(X, Y, groups=groups).predict(X, groups=groups)
    _assert_every_call_got_whole_runs(kind)


@pytest.mark.parametrize("kind", ["pipeline", "delayed_ridge", "probe"])
def test_functions_hand_groups_to_members(kind, routing):
    X, Y, groups = _data()
    member = _members(routing)[kind]
    LOG.clear()
    variance_partitioning(member, X, Y, SPACES, groups=groups, cv=2)
    _assert_every_call_got_whole_runs(kind)
    LOG.clear()
    structured_variance_partitioning(_stacked(member), X, Y, groups, cv=2)
    _assert_every_call_got_whole_runs(kind)
    LOG.clear()
    fitted = _stacked(member).fit(X, Y, groups=groups)
    result = ablate_feature_spaces(fitted, X, Y, SPACES, groups=groups)
    _assert_every_call_got_whole_runs(kind)
    np.testing.assert_allclose(result.full, pearson_r(Y, fitted.predict(X, groups)))


def test_ablation_and_residualizer_hand_groups_to_a_pipeline(routing):
    X, Y, groups = _data()
    pipe = _members(routing)["pipeline"]
    if routing:
        pipe.fit(X, Y, groups=groups)
    else:
        pipe.fit(X, Y, _runsrecorder__groups=groups, delayer__groups=groups)
    LOG.clear()
    result = ablate_feature_spaces(pipe, X, Y, SPACES, groups=groups)
    _assert_every_call_got_whole_runs("pipeline", fitted=False)
    # by hand: delays inside every run, then the fitted ridge
    ridge = pipe[-1]
    by_hand = ridge.predict(delay_features(X, [1, 2, 3], groups))
    np.testing.assert_allclose(result.full, pearson_r(Y, by_hand), rtol=1e-12)

    LOG.clear()
    res = Residualizer(SPACES, "b", estimator=_members(routing)["pipeline"])
    X_res = res.fit(X, groups=groups).transform(X, groups=groups)
    _assert_every_call_got_whole_runs("pipeline")
    lagged_a = delay_features(X[:, :2], [1, 2, 3], groups)
    by_hand = Ridge(alpha=1.0).fit(lagged_a, X[:, 2:]).predict(lagged_a)
    np.testing.assert_allclose(X_res[:, 2:], X[:, 2:] - by_hand, atol=1e-10)


def test_pipeline_members_equal_the_computation_by_hand():
    """Out-of-fold predictions and variance partitioning of a Pipeline of a
    Delayer and a Ridge, against the same fits done by hand per fold."""
    X, Y, groups = _data()
    pipe = make_pipeline(Delayer(delays=[1, 2, 3]), Ridge(alpha=1.0))
    folds = list(GroupKFold(2).split(X, Y, groups))

    def by_hand(columns, train, test):
        lagged = delay_features(X[:, columns], [1, 2, 3], groups)
        return Ridge(alpha=1.0).fit(lagged[train], Y[train]).predict(lagged[test])

    model = StackedRegressor(
        [("a", pipe, slice(0, 2)), ("b", pipe, slice(2, 4))], cv=folds
    ).fit(X, Y, groups=groups)
    for train, test in folds:
        np.testing.assert_allclose(
            model.oof_predictions_[0, test], by_hand([0, 1], train, test), rtol=1e-5
        )
        np.testing.assert_allclose(
            model.oof_predictions_[1, test], by_hand([2, 3], train, test), rtol=1e-5
        )
    result = variance_partitioning(pipe, X, Y, SPACES, groups=groups, cv=folds)
    for subset, columns in [(("a",), [0, 1]), (("a", "b"), [0, 1, 2, 3])]:
        oof = np.empty_like(Y)
        for train, test in folds:
            oof[test] = by_hand(columns, train, test)
        np.testing.assert_allclose(
            result.scores[subset], r2_per_target(Y, oof), rtol=1e-10
        )


def test_routing_off_meta_estimator_that_would_lose_groups_is_refused():
    X, Y, groups = _data()
    member = TransformedTargetRegressor(regressor=DelayedRidge(backend="numpy"))
    message = (
        "StackedRegressor cannot hand groups (the run labels) to member 'a': "
        "TransformedTargetRegressor holds DelayedRidge, which take groups, but "
        "TransformedTargetRegressor.fit does not pass them on without "
        "scikit-learn's metadata routing, so delays or folds inside it would "
        "cross run boundaries. Enable routing with "
        "sklearn.set_config(enable_metadata_routing=True) and request groups "
        "with DelayedRidge().set_fit_request(groups=True)"
        ".set_predict_request(groups=True)."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        StackedRegressor([("a", member, slice(0, 4))], cv=2).fit(X, Y, groups)
    with pytest.raises(ValueError, match="TargetwiseEnsemble cannot hand groups"):
        TargetwiseEnsemble([("a", member)], cv=2).fit(X, Y, groups)
    with pytest.raises(ValueError, match="variance_partitioning cannot hand groups"):
        variance_partitioning(member, X, Y, SPACES, groups=groups, cv=2)
    # without groups too: the folds' training blocks are cut by held-out ones
    with pytest.raises(ValueError, match="StackedRegressor cannot hand groups"):
        StackedRegressor([("a", member, slice(0, 4))], cv=2).fit(X, Y)


def test_a_splitter_by_groups_inside_a_member_is_refused_without_routing():
    # A search over runs inside a member: without routing, GridSearchCV.fit
    # would split without groups (blocks across runs, or GroupKFold's error).
    X, Y, groups = _data()
    member = GridSearchCV(Ridge(), {"alpha": [1.0, 10.0]}, cv=GroupKFold(2))
    message = (
        "StackedRegressor cannot hand groups (the run labels) to member 'a': "
        "GridSearchCV holds GroupKFold, which take groups, but GridSearchCV.fit "
        "does not pass them on without scikit-learn's metadata routing, so delays "
        "or folds inside it would cross run boundaries. Enable routing with "
        "sklearn.set_config(enable_metadata_routing=True)."
    )
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        StackedRegressor([("a", member, slice(0, 4))], cv=2).fit(X, Y, groups)
    # a splitter that ignores groups changes nothing
    plain = GridSearchCV(Ridge(), {"alpha": [1.0, 10.0]}, cv=KFold(2))
    StackedRegressor([("a", plain, slice(0, 4))], cv=2).fit(X, Y, groups)
    # with routing on, the search gets the runs (GroupKFold raises without
    # them), and the refitted member is the search fitted by hand on them
    with sklearn.config_context(enable_metadata_routing=True):
        stacked = StackedRegressor([("a", member, slice(0, 4))], cv=2)
        stacked.fit(X, Y, groups)
        expected = clone(member).fit(X[:, :4], Y, groups=groups)
    refitted = stacked.estimators_[0]
    np.testing.assert_allclose(
        refitted.cv_results_["mean_test_score"],
        expected.cv_results_["mean_test_score"],
    )


def test_routing_on_unset_request_is_refused_and_set_request_works():
    X, Y, groups = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        unset = make_pipeline(Delayer(delays=[1, 2]), Ridge())
        message = (
            "StackedRegressor cannot hand groups (the run labels) to member 'a': "
            "metadata routing is enabled, but Delayer inside Pipeline does not "
            "request them, so delays or folds there would cross run boundaries. "
            "Request them with Delayer().set_fit_request(groups=True)"
            ".set_transform_request(groups=True) (or set the requests to False "
            "to leave the runs out on purpose)."
        )
        with pytest.raises(ValueError, match=re.escape(message)):
            StackedRegressor([("a", unset, slice(0, 4))], cv=2).fit(X, Y, groups)
        # refusing on purpose is respected
        refused = make_pipeline(
            Delayer(delays=[1, 2])
            .set_fit_request(groups=False)
            .set_transform_request(groups=False),
            Ridge(),
        )
        StackedRegressor([("a", refused, slice(0, 4))], cv=2).fit(X, Y, groups)
        # a meta-estimator is reached through routing once requested
        regressor = _RecordingRidge(backend="numpy", delays=[1, 2], cv=2)
        regressor.set_fit_request(groups=True).set_predict_request(groups=True)
        member = TransformedTargetRegressor(regressor=regressor)
        LOG.clear()
        model = StackedRegressor([("a", member, slice(0, 4))], cv=2)
        model.fit(X, Y, groups).predict(X, groups=groups)
    _assert_every_call_got_whole_runs("delayed_ridge")


def test_parallel_member_fits_see_the_callers_routing_configuration():
    # joblib workers (threads here) get the caller's scikit-learn config: an
    # unset request under routing is refused in parallel as in serial.
    X, Y, groups = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        unset = make_pipeline(Delayer(delays=[1, 2]), Ridge())
        model = StackedRegressor([("a", unset, slice(0, 4))], cv=2, n_jobs=2)
        with (
            parallel_config(backend="threading"),
            pytest.raises(ValueError, match="does not request them"),
        ):
            model.fit(X, Y, groups)


def _time_blind_members():
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import VotingRegressor
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return {
        "scaler+ridge": make_pipeline(StandardScaler(), Ridge()),
        "function+ridge": make_pipeline(FunctionTransformer(), Ridge()),
        "union+ridge": make_pipeline(
            FeatureUnion([("s", StandardScaler()), ("p", PCA(2))]), Ridge()
        ),
        "column transformer": make_pipeline(
            ColumnTransformer([("s", StandardScaler(), [0, 1])]), Ridge()
        ),
        "ttr(ridge)": TransformedTargetRegressor(regressor=Ridge()),
        "multioutput(ridge)": MultiOutputRegressor(Ridge()),
        "voting": VotingRegressor([("a", Ridge()), ("b", Ridge(alpha=9.0))]),
        "search(scaler+ridge)": GridSearchCV(
            make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": [1, 10]}, cv=2
        ),
    }


@pytest.mark.parametrize("kind", list(_time_blind_members()))
def test_members_that_ignore_time_work_without_and_with_runs(kind, routing):
    # Nothing in them takes groups: no error, and the same fit with or
    # without run labels (there is nothing to hand on).
    X, Y, groups = _data()
    if kind == "voting":
        Y = Y[:, 0]
    member = _time_blind_members()[kind]
    cv = GroupKFold(2).split(X, Y, groups)
    folds = list(cv)
    with_runs = StackedRegressor([("a", member, slice(0, 4))], cv=folds)
    without = StackedRegressor([("a", clone(member), slice(0, 4))], cv=folds)
    np.testing.assert_allclose(
        with_runs.fit(X, Y, groups).predict(X, groups=groups),
        without.fit(X, Y).predict(X),
    )
    TargetwiseEnsemble([("a", member), ("b", Ridge())], cv=folds).fit(X, Y, groups)


def _changed_run(model, X, groups):
    X_changed = X.copy()
    X_changed[groups == LABELS[0]] += 5.0
    other = groups != LABELS[0]
    before = model.predict(X, groups=groups)
    return np.abs(model.predict(X_changed, groups=groups) - before)[other].max()


def test_a_fitted_search_predicts_through_its_best_estimator():
    X, Y, groups = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        delayer = (
            Delayer(delays=[1, 2, 3])
            .set_fit_request(groups=True)
            .set_transform_request(groups=True)
        )
        search = GridSearchCV(
            make_pipeline(delayer, Ridge()), {"ridge__alpha": [1, 10]}, cv=2
        )
        model = StackedRegressor([("a", search, slice(0, 4))], cv=2).fit(X, Y, groups)
        assert _changed_run(model, X, groups) == 0.0
        ens = TargetwiseEnsemble([("a", search), ("b", Ridge())], cv=2)
        assert _changed_run(ens.fit(X, Y, groups), X, groups) == 0.0


def test_routing_on_meta_estimator_that_does_not_route_predict_is_refused():
    from sklearn.multioutput import MultiOutputRegressor

    X, Y, groups = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        ridge = DelayedRidge(delays=[1, 2], backend="numpy", cv=2)
        ridge.set_fit_request(groups=True).set_predict_request(groups=True)
        member = MultiOutputRegressor(ridge)
        message = (
            "StackedRegressor cannot hand groups (the run labels) to member 'a': "
            "MultiOutputRegressor.predict does not route them to DelayedRidge "
            "inside it, even under metadata routing, so delays or folds there "
            "would cross run boundaries."
        )
        with pytest.raises(ValueError, match=re.escape(message)):
            StackedRegressor([("a", member, slice(0, 4))], cv=2).fit(X, Y, groups)


def test_frozen_prefit_members_get_groups():
    from sklearn.frozen import FrozenEstimator

    X, Y, groups = _data()
    pipe = make_pipeline(Delayer(delays=[1, 2, 3]), Ridge())
    pipe.fit(X, Y, delayer__groups=groups)
    ens = TargetwiseEnsemble([("p", FrozenEstimator(pipe))], prefit=True)
    assert _changed_run(ens.fit(X, Y, groups=groups), X, groups) == 0.0
    by_hand = pipe[-1].predict(delay_features(X, [1, 2, 3], groups))
    np.testing.assert_allclose(ens.predict(X, groups=groups), by_hand)


def test_structured_partitioning_of_malformed_stacking_says_what_is_wrong():
    X, Y, groups = _data()
    with pytest.raises(ValueError, match="StackedRegressor needs feature spaces"):
        structured_variance_partitioning(StackedRegressor(), X, Y, groups)
    with pytest.raises(ValueError, match="but entry 0 is Ridge()"):
        structured_variance_partitioning(
            StackedRegressor([Ridge(), Ridge()]), X, Y, groups
        )


def test_fold_groups_split_runs_cut_by_held_out_samples():
    groups = np.repeat([5, 7], 4)
    # whole runs: the user's labels
    np.testing.assert_array_equal(fold_groups(groups, np.arange(4, 8)), [7] * 4)
    # run 5 cut in two by held-out samples 1-2: its pieces become runs
    np.testing.assert_array_equal(
        fold_groups(groups, np.array([0, 3, 4, 5])), [0, 1, 2, 2]
    )
    # no groups (one run) and a held-out middle block
    np.testing.assert_array_equal(
        fold_groups(np.zeros(6, int), np.array([0, 1, 4, 5])), [0, 0, 1, 1]
    )


def test_blocked_folds_without_groups_never_delay_across_the_held_out_block():
    X, Y, _ = _data()
    LOG.clear()
    StackedRegressor([("a", _ParamsProbe(), slice(0, 4))], cv=3).fit(X, Y)
    fits = [g for who, m, _, g in LOG if who == "probe" and m == "fit"]
    # the middle fold trains on two contiguous pieces: two runs
    assert [np.unique(g).size for g in fits] == [1, 2, 1, 1]


# ------------------------------------------------------------------ cv table
def _train_sets():
    """Training sets of the probe's fits (column 0 of y is the sample index)."""
    sets = []
    for who, method, _, rows in LOG:
        if who == "probe rows" and method == "fit":
            sets.append(frozenset(rows[:, 0].astype(int).tolist()))
    return sets


def _observe(owner, cv, groups):
    X, Y, _ = _data(n_runs=3)
    Y[:, 0] = np.arange(len(Y))
    LOG.clear()
    probe = _ParamsProbe()
    n_all = len(Y)
    if owner == "DelayedRidge":
        return DelayedRidge(cv=cv, backend="numpy").fit(X, Y, groups).n_splits_, None
    if owner == "StackedRegressor":
        model = StackedRegressor([("a", probe, slice(0, 4))], cv=cv)
        model.fit(X, Y, groups)
    elif owner == "TargetwiseEnsemble":
        model = TargetwiseEnsemble([("a", probe)], cv=cv).fit(X, Y, groups)
    elif owner == "variance_partitioning":
        variance_partitioning(probe, X, Y, SPACES, groups=groups, cv=cv)
    else:
        inner = StackedRegressor([("a", probe, slice(0, 2)), ("b", probe, 2)])
        structured_variance_partitioning(inner, X, Y, groups, cv=cv)
    sets = set(_train_sets()) - {frozenset(range(n_all))}  # not the refits
    if owner == "structured_variance_partitioning":
        # the outer training sets: the largest (inner fits train on subsets)
        sets = {s for s in sets if not any(s < other for other in sets)}
    return len(sets), sorted(sorted(s) for s in sets)


_OWNERS = [
    "DelayedRidge",
    "StackedRegressor",
    "TargetwiseEnsemble",
    "variance_partitioning",
    "structured_variance_partitioning",
]
_GROUPS = np.repeat([10, 20, 30], RUN)
_IDX = np.arange(_GROUPS.size)


def _expected(splitter, groups=_GROUPS):
    folds = list(splitter.split(_IDX[:, None], None, groups))
    return len(folds), sorted(sorted(train.tolist()) for train, _ in folds)


_LEAVE_ONE_RUN_OUT = _expected(LeaveOneGroupOut())
_CV_CASES = [
    # (id, cv, groups, expected folds, warning, error)
    ("None: leave-one-run-out", None, _GROUPS, _LEAVE_ONE_RUN_OUT, None, None),
    ("3 folds", 3, _GROUPS, _LEAVE_ONE_RUN_OUT, None, None),
    ("2 folds", 2, _GROUPS, _expected(GroupKFold(2)), None, None),
    (
        "5 folds on 3 runs",
        5,
        _GROUPS,
        _LEAVE_ONE_RUN_OUT,
        "cv=5 asks for more folds than the 3 runs in groups; using "
        "leave-one-run-out (3 folds).",
        None,
    ),
    ("splitter", LeaveOneGroupOut(), _GROUPS, _LEAVE_ONE_RUN_OUT, None, None),
    (
        "one explicit split",
        [(_IDX[:120], _IDX[120:])],
        _GROUPS,
        (1, [list(range(120))]),
        None,
        None,
    ),
    ("no groups: blocks", 3, None, _expected(KFold(3), None), None, None),
    ("cv=1", 1, _GROUPS, None, None, "cv must be an int >= 2, got 1."),
    (
        "a string",
        "five",
        _GROUPS,
        None,
        None,
        "cv must be an int, a cross-validation splitter (with a split method), "
        "an iterable of (train, test) index arrays or None, got the string "
        "'five'.",
    ),
]


@pytest.mark.parametrize("owner", _OWNERS)
@pytest.mark.parametrize(
    ("cv", "groups", "expected", "warning", "error"),
    [pytest.param(*case[1:], id=case[0]) for case in _CV_CASES],
)
def test_cv_behaves_the_same_everywhere(owner, cv, groups, expected, warning, error):
    if owner == "TargetwiseEnsemble" and cv is None:
        pytest.skip("TargetwiseEnsemble(cv=None) is its hold-out scheme, by design")
    if error is not None:
        exception = TypeError if isinstance(cv, str) else ValueError
        with pytest.raises(exception, match="^" + re.escape(error) + "$"):
            _observe(owner, cv, groups)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n_folds, train_sets = _observe(owner, cv, groups)
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    fold_warnings = [m for m in messages if "asks for more folds" in m]
    if warning is None:
        assert fold_warnings == []
    else:
        assert set(fold_warnings) == {warning}
    assert n_folds == expected[0]
    if train_sets is not None:
        assert train_sets == expected[1]


@pytest.mark.parametrize("owner", _OWNERS[1:])
def test_overlapping_test_sets_are_refused_with_one_message(owner):
    cv = [(_IDX[60:], _IDX[:60]), (_IDX[:30], _IDX[30:])]
    message = (
        f"cv of {owner} must hold out every sample at most once (each sample is "
        "predicted out of fold once), but fold 1 holds out sample 30, already "
        "held out by fold 0."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _observe(owner, cv, _GROUPS)


# -------------------------------------------------------- nested parameters
def test_nested_parameters_of_stacked_regressor():
    base = DelayedRidge(delays=2, backend="numpy")
    model = StackedRegressor([("a", base, slice(0, 2)), ("b", Ridge(), slice(2, 4))])
    params = model.get_params(deep=True)
    assert params["a"] is base
    assert params["a__delays"] == 2
    assert params["b__alpha"] == 1.0
    model.set_params(a__delays=[1, 2, 3], b__alpha=5.0)
    assert model.estimators[0][1].delays == [1, 2, 3]
    assert model.estimators[1][1].alpha == 5.0
    assert model.estimators[0][2] == slice(0, 2)  # the columns are kept
    # replacing a member by name keeps its columns
    model.set_params(b=Ridge(alpha=2.0))
    assert model.estimators[1][1].alpha == 2.0
    assert model.estimators[1][2] == slice(2, 4)
    twin = clone(model)
    assert twin.get_params()["a__delays"] == [1, 2, 3]
    assert twin.estimators[0][1] is not model.estimators[0][1]
    # the feature_spaces shortcut: one base model for every space
    short = StackedRegressor(feature_spaces=SPACES, estimator=base)
    assert short.get_params()["estimator__delays"] == [1, 2, 3]
    X, Y, groups = _data()
    fitted = short.set_params(estimator__delays=[0, 1], cv=2).fit(X, Y, groups)
    assert [est.delays for est in fitted.estimators_] == [[0, 1], [0, 1]]


def test_nested_parameters_of_targetwise_ensemble():
    ens = TargetwiseEnsemble([("a", DelayedRidge(delays=2)), ("b", Ridge())])
    assert ens.get_params()["a__delays"] == 2
    ens.set_params(a__delays=3, b__alpha=4.0, k=1)
    assert ens.estimators[0][1].delays == 3
    assert ens.estimators[1][1].alpha == 4.0
    assert clone(ens).get_params()["a__delays"] == 3


def test_grid_search_over_member_alphas():
    X, Y, groups = _data()
    model = StackedRegressor(
        [
            ("a", DelayedRidge(delays=2, backend="numpy", cv=2), slice(0, 2)),
            ("b", DelayedRidge(delays=2, backend="numpy", cv=2), slice(2, 4)),
        ],
        cv=2,
    )
    search = GridSearchCV(
        model, {"a__alphas": [[1e-2], [1e6]]}, cv=GroupKFold(2), refit=True
    )
    with sklearn.config_context(enable_metadata_routing=True):
        search.estimator.set_fit_request(groups=True).set_score_request(groups=True)
        search.fit(X, Y, groups=groups)
    # heavy shrinkage of the driving space loses
    assert search.best_params_ == {"a__alphas": [1e-2]}
    assert search.best_estimator_.estimators_[0].best_alphas_[0] == 1e-2
    ens = TargetwiseEnsemble([("a", Ridge()), ("b", Ridge())], k=1)
    GridSearchCV(ens, {"a__alpha": [0.1, 10.0]}, cv=2).fit(X, Y)


def test_stacked_predict_split_adds_up_to_predict():
    X, Y, groups = _data()
    model = _stacked(DelayedRidge(delays=2, backend="numpy", cv=2)).fit(X, Y, groups)
    split = model.predict_split(X, groups=groups)
    assert split.shape == (2,) + Y.shape
    combined = np.einsum("knt,kt->nt", split, model.weights_) + model.intercept_
    np.testing.assert_allclose(combined, model.predict(X, groups=groups))
    assert model.oof_folds_.shape == (len(Y),)
    np.testing.assert_array_equal(np.unique(model.oof_folds_), [0, 1])
