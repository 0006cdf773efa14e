import importlib.util
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brainenc import (
    BlockedKFold,
    DelayedRidge,
    delay_features,
    make_encoding_data,
    pearson_r,
)

HAS_TORCH = importlib.util.find_spec("torch") is not None
ALPHAS = np.logspace(-2, 6, 9)


@pytest.fixture(scope="module")
def data():
    return make_encoding_data(
        n_samples=900, n_features=12, n_targets=60, n_runs=6, snr=1.0, random_state=0
    )


def _closed_form(Xd, y, alpha, fit_intercept):
    if fit_intercept:
        x_mean, y_mean = Xd.mean(0), y.mean(0)
        Xd, y = Xd - x_mean, y - y_mean
    coef = np.linalg.solve(Xd.T @ Xd + alpha * np.eye(Xd.shape[1]), Xd.T @ y)
    intercept = y_mean - x_mean @ coef if fit_intercept else np.zeros(y.shape[1])
    return coef.T, intercept


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_himalaya_ridgecv_on_per_run_delays(data, fit_intercept, dtype):
    from himalaya.ridge import RidgeCV

    X, y, groups, _ = data
    folds = list(GroupKFold(n_splits=5).split(X, y, groups))
    Xd = delay_features(X, [1, 2, 3], groups)
    ref = RidgeCV(alphas=ALPHAS, cv=folds, fit_intercept=fit_intercept).fit(Xd, y)
    model = DelayedRidge(
        delays=[1, 2, 3],
        alphas=ALPHAS,
        cv=GroupKFold(n_splits=5),
        fit_intercept=fit_intercept,
        backend="numpy",
        dtype=dtype,
    ).fit(X, y, groups=groups)
    same = np.isclose(model.best_alphas_, ref.best_alphas_, rtol=1e-4)
    assert same.mean() >= 0.95
    r = np.corrcoef(model.predict(X, groups=groups).ravel(), ref.predict(Xd).ravel())
    assert r[0, 1] > 0.999
    if dtype == "float64":
        assert same.all()
        np.testing.assert_allclose(model.coef_, ref.coef_.T, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_single_alpha_equals_closed_form(data, fit_intercept, solver):
    X, y, groups, _ = data
    X, y, groups = X[:300], y[:, :5][:300], groups[:300]
    Xd = delay_features(X, 3, groups)
    coef, intercept = _closed_form(Xd, y, 10.0, fit_intercept)
    model = DelayedRidge(
        delays=3,
        alphas=[10.0],
        cv=2,
        fit_intercept=fit_intercept,
        solver=solver,
        backend="numpy",
        dtype="float64",
    ).fit(X, y, groups=groups)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-4)
    np.testing.assert_allclose(model.intercept_, intercept, rtol=1e-4, atol=1e-10)
    np.testing.assert_allclose(
        model.predict(X, groups=groups), Xd @ coef.T + intercept, rtol=1e-6, atol=1e-9
    )


def test_dual_solver_used_when_delayed_design_is_wide():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((60, 30)), rng.standard_normal((60, 4))
    groups = np.repeat([0, 1, 2], 20)
    coef, intercept = _closed_form(delay_features(X, 4, groups), y, 3.0, True)
    model = DelayedRidge(alphas=[3.0], cv=3, backend="numpy", dtype="float64")
    model.fit(X, y, groups=groups)
    assert model.solver_ == "dual"  # 120 delayed columns > 60 samples
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, intercept, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("solver", ["primal", "dual"])
@pytest.mark.parametrize("scoring", ["neg_mean_squared_error", "r2", "pearson_r"])
def test_cv_scores_equal_sklearn_fitted_on_training_runs_only(
    data, standardize, solver, scoring
):
    # Centering/scaling estimated on the training runs of each fold only:
    # scikit-learn's Ridge (after a StandardScaler fitted on the training
    # runs) gives the same held-out score for every alpha and target.
    X, y, groups, _ = data
    X, y, groups = X[:450], y[:450, :6], groups[:450]
    X = X * np.arange(1, 13) + 3.0  # features of different scales and offsets
    alphas = [0.1, 10.0, 1000.0, 1e5]
    folds = list(GroupKFold(n_splits=3).split(X, y, groups))
    Xd = delay_features(X, 2, groups)
    expected = np.zeros((len(alphas), y.shape[1]))
    for train, test in folds:
        for i, alpha in enumerate(alphas):
            steps = [StandardScaler()] if standardize else []
            ref = make_pipeline(*steps, Ridge(alpha=alpha)).fit(Xd[train], y[train])
            pred = ref.predict(Xd[test])
            if scoring == "neg_mean_squared_error":
                score = -((y[test] - pred) ** 2).mean(0)
            elif scoring == "r2":
                score = r2_score(y[test], pred, multioutput="raw_values")
            else:
                score = pearson_r(y[test], pred)
            expected[i] += score / len(folds)
    model = DelayedRidge(
        delays=2,
        alphas=alphas,
        cv=folds,
        standardize=standardize,
        scoring=scoring,
        alpha_per_target=True,
        solver=solver,
        backend="numpy",
        dtype="float64",
    ).fit(X, y, groups=groups)
    np.testing.assert_allclose(model.cv_scores_, expected, rtol=1e-6, atol=1e-10)
    np.testing.assert_array_equal(
        model.best_alphas_, np.asarray(alphas)[expected.argmax(0)]
    )


def test_standardized_refit_equals_scaler_then_ridge(data):
    X, y, groups, _ = data
    X = X * np.arange(1, 13) - 2.0
    Xd = delay_features(X, 2, groups)
    ref = make_pipeline(StandardScaler(), Ridge(alpha=50.0)).fit(Xd, y)
    model = DelayedRidge(
        delays=2, alphas=[50.0], standardize=True, backend="numpy", dtype="float64"
    ).fit(X, y, groups=groups)
    np.testing.assert_allclose(
        model.predict(X, groups=groups), ref.predict(Xd), rtol=1e-7, atol=1e-9
    )


def test_changing_one_run_changes_no_prediction_in_another(data):
    X, y, groups, _ = data
    model = DelayedRidge(backend="numpy").fit(X, y, groups=groups)
    before = model.predict(X, groups=groups)
    X_changed = X.copy()
    X_changed[groups == 2] = np.random.default_rng(5).standard_normal(
        ((groups == 2).sum(), X.shape[1])
    )
    after = model.predict(X_changed, groups=groups)
    np.testing.assert_array_equal(after[groups != 2], before[groups != 2])
    assert not np.allclose(after[groups == 2], before[groups == 2])


def test_recovers_ground_truth_at_snr_one():
    X, y, groups, truth = make_encoding_data(
        n_samples=2400, n_features=20, n_targets=100, n_runs=8, snr=1.0, random_state=1
    )
    train, test = groups < 6, groups >= 6
    model = DelayedRidge(delays=truth.delays, backend="numpy")
    model.fit(X[train], y[train], groups=groups[train])
    r = pearson_r(y[test], model.predict(X[test], groups=groups[test]))
    ceiling = pearson_r(y[test], truth.y_clean[test])
    assert r.mean() >= 0.9 * ceiling.mean()
    # the delay profile (TRF) of each target is recovered
    shape = [
        np.corrcoef(a.ravel(), b.ravel())[0, 1]
        for a, b in zip(model.coef_delays_, truth.coef, strict=True)
    ]
    assert np.median(shape) > 0.9


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_torch_backend_equals_numpy(data, solver):
    from himalaya.backend import get_backend

    X, y, groups, _ = data
    before = get_backend().name
    kwargs = {"alphas": ALPHAS, "solver": solver}
    ref = DelayedRidge(backend="numpy", **kwargs).fit(X, y, groups=groups)
    model = DelayedRidge(backend="torch", **kwargs).fit(X, y, groups=groups)
    assert get_backend().name == before  # nothing process-global changed
    assert model.backend_ == "torch"
    for name in ("coef_", "intercept_", "best_alphas_", "cv_scores_"):
        assert type(getattr(model, name)) is np.ndarray, name
    pred = model.predict(X, groups=groups)
    assert type(pred) is np.ndarray
    r = np.corrcoef(pred.ravel(), ref.predict(X, groups=groups).ravel())[0, 1]
    assert r > 0.9999
    assert np.isclose(model.best_alphas_, ref.best_alphas_).mean() >= 0.95


def test_torch_cuda_without_gpu_is_a_clear_error(data):
    if HAS_TORCH:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
    X, y, groups, _ = data
    model = DelayedRidge(backend="torch_cuda")
    error = ValueError if HAS_TORCH else ImportError
    with pytest.raises(error, match="backend='torch_cuda'"):
        model.fit(X, y, groups=groups)


def test_target_batches_give_the_same_answer(data):
    X, y, groups, _ = data
    kwargs = {"alphas": ALPHAS, "backend": "numpy", "dtype": "float64"}
    ref = DelayedRidge(**kwargs).fit(X, y, groups=groups)
    for solver in ("primal", "dual"):
        model = DelayedRidge(n_targets_batch=7, solver=solver, **kwargs)
        model.fit(X, y, groups=groups)
        np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(model.cv_scores_, ref.cv_scores_, rtol=1e-6)


def test_fitted_attributes_shapes_and_one_dimensional_y(data):
    X, y, groups, _ = data
    model = DelayedRidge(delays=[-1, 0, 2], backend="numpy").fit(X, y, groups=groups)
    assert model.coef_.shape == (60, 12 * 3)
    assert model.coef_delays_.shape == (60, 12, 3)
    np.testing.assert_array_equal(model.coef_delays_[4, 2], model.coef_[4, 6:9])
    assert model.cv_scores_.shape == (len(model.alphas_), 60)
    assert model.intercept_.shape == model.best_alphas_.shape == (60,)
    np.testing.assert_array_equal(model.delays_, [-1, 0, 2])
    assert model.n_features_in_ == 12
    assert model.n_splits_ == 5

    single = DelayedRidge(delays=[-1, 0, 2], backend="numpy").fit(
        X, y[:, 4], groups=groups
    )
    assert single.coef_.shape == (36,)
    assert isinstance(single.intercept_, float)
    assert single.predict(X, groups=groups).shape == (900,)
    # float32 solver: agreement to float32 round-off of the largest weight
    # (the last digits depend on the shapes and thread count of the BLAS calls)
    scale = np.abs(model.coef_[4]).max()
    np.testing.assert_allclose(
        single.coef_, model.coef_[4], rtol=1e-5, atol=1e-5 * scale
    )


def test_inputs_are_not_modified(data):
    X, y, groups, _ = data
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    copies = [a.copy() for a in (X, y, groups, X32, y32)]
    DelayedRidge(backend="numpy", standardize=True).fit(X, y, groups=groups)
    DelayedRidge(backend="numpy", solver="dual").fit(X32, y32, groups=groups)
    for before, after in zip(copies, (X, y, groups, X32, y32), strict=True):
        np.testing.assert_array_equal(before, after)


def test_int_cv_without_groups_uses_contiguous_blocks(data):
    X, y, _, _ = data
    a = DelayedRidge(cv=4, backend="numpy").fit(X, y)
    b = DelayedRidge(cv=BlockedKFold(4), backend="numpy").fit(X, y)
    np.testing.assert_array_equal(a.cv_scores_, b.cv_scores_)
    assert a.n_splits_ == 4


def test_fewer_runs_than_folds_falls_back_to_leave_one_run_out(data):
    X, y, groups, _ = data
    keep = groups < 3
    with pytest.warns(UserWarning, match="using leave-one-run-out \\(3 folds\\)"):
        model = DelayedRidge(cv=5, backend="numpy").fit(
            X[keep], y[keep], groups=groups[keep]
        )
    assert model.n_splits_ == 3


def test_warns_when_alphas_sit_on_the_grid_edge(data):
    X, y, groups, _ = data
    with pytest.warns(UserWarning, match="targets chose the smallest alpha"):
        DelayedRidge(alphas=[1e6, 1e7, 1e8], backend="numpy").fit(X, y, groups=groups)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DelayedRidge(alphas=ALPHAS, backend="numpy").fit(X, y, groups=groups)
        # constant targets have no best alpha and do not count
        y_const = np.column_stack([y, np.ones((y.shape[0], y.shape[1]))])
        DelayedRidge(alphas=ALPHAS, backend="numpy").fit(X, y_const, groups=groups)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"alphas": [1.0, -1.0]}, ValueError, "alphas must be positive"),
        ({"backend": "jax"}, ValueError, "'backend' parameter"),
        ({"solver": "svd"}, ValueError, "'solver' parameter"),
        ({"delays": 0}, ValueError, "'delays' parameter"),
        ({"cv": 1}, ValueError, r"^cv must be an int >= 2, got 1\.$"),
    ],
)
def test_bad_parameters(data, params, error, match):
    X, y, groups, _ = data
    with pytest.raises(error, match=match):
        DelayedRidge(**params).fit(X, y, groups=groups)


def test_bad_data(data):
    X, y, groups, _ = data
    y_nan = y.copy()
    y_nan[3, 2] = np.nan
    with pytest.raises(
        ValueError,
        match=r"y contains NaN \(1 value\), the first at sample 3, target 2: it must",
    ):
        DelayedRidge().fit(X, y_nan, groups=groups)
    with pytest.raises(
        ValueError,
        match=r"y must have at least 1 target, got 0 target\(s\) \(shape=\(900, 0\)\)",
    ):
        DelayedRidge().fit(X, y[:, :0], groups=groups)
    with pytest.raises(ValueError, match="X has 900 samples but groups has 899"):
        DelayedRidge().fit(X, y, groups=groups[1:])
    model = DelayedRidge(backend="numpy").fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="X has 5 features, but DelayedRidge is"):
        model.predict(X[:, :5])
    with pytest.raises(ValueError, match="run 1 has 3 samples but delays reach 4"):
        model.predict(X[:7], groups=[0, 0, 0, 0, 1, 1, 1])


def test_groups_reach_fit_through_pipeline_routing(data):
    X, y, groups, _ = data
    expected = DelayedRidge(backend="numpy").fit(
        StandardScaler().fit_transform(X), y, groups=groups
    )
    without_groups = DelayedRidge(backend="numpy").fit(
        StandardScaler().fit_transform(X), y
    )
    with sklearn.config_context(enable_metadata_routing=True):
        ridge = DelayedRidge(backend="numpy")
        ridge.set_fit_request(groups=True).set_predict_request(groups=True)
        pipe = make_pipeline(StandardScaler(), ridge).fit(X, y, groups=groups)
        pred = pipe.predict(X, groups=groups)
    np.testing.assert_allclose(pipe[-1].coef_, expected.coef_, rtol=1e-5, atol=1e-7)
    assert not np.allclose(without_groups.coef_, expected.coef_)
    np.testing.assert_allclose(
        pred,
        expected.predict(StandardScaler().fit_transform(X), groups=groups),
        rtol=1e-5,
        atol=1e-6,
    )


def test_groups_reach_fit_and_score_through_gridsearchcv(data):
    X, y, groups, _ = data
    y = y[:, :10]
    outer = GroupKFold(n_splits=3)
    with sklearn.config_context(enable_metadata_routing=True):
        ridge = DelayedRidge(alphas=ALPHAS, cv=2, backend="numpy")
        ridge.set_fit_request(groups=True).set_score_request(groups=True)
        search = GridSearchCV(ridge, {"delays": [1, 4]}, cv=outer)
        search.fit(X, y, groups=groups)
    for i, delays in enumerate(search.cv_results_["param_delays"]):
        manual = []
        for train, test in outer.split(X, y, groups):
            model = DelayedRidge(delays=delays, alphas=ALPHAS, cv=2, backend="numpy")
            model.fit(X[train], y[train], groups=groups[train])
            manual.append(model.score(X[test], y[test], groups=groups[test]))
        np.testing.assert_allclose(
            search.cv_results_["mean_test_score"][i], np.mean(manual), rtol=1e-6
        )
    assert search.best_params_ == {"delays": 4}


@pytest.mark.parametrize("backend", ["numpy", "torch"] if HAS_TORCH else ["numpy"])
@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_feature_constant_on_training_runs_is_not_blown_up(backend, solver):
    # An event type present only in the held-out run: constant (zero) on the
    # training runs. Standardising must leave it unscaled on that fold, as
    # scikit-learn's StandardScaler does.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(4), 100)
    X = rng.standard_normal((400, 3))
    X[:, 0] = 0.0
    X[300:, 0] = rng.random(100) < 0.1
    y = X[:, 1:] @ rng.standard_normal((2, 5)) + rng.standard_normal((400, 5))
    folds = list(GroupKFold(n_splits=4).split(X, y, groups))
    Xd = delay_features(X, [0, 1, 2], groups)
    alphas = [0.01, 1.0, 100.0]
    expected = np.zeros((3, 5))
    for train, test in folds:
        for i, alpha in enumerate(alphas):
            ref = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
            pred = ref.fit(Xd[train], y[train]).predict(Xd[test])
            expected[i] -= ((y[test] - pred) ** 2).mean(0) / len(folds)
    model = DelayedRidge(
        delays=[0, 1, 2],
        alphas=alphas,
        cv=folds,
        standardize=True,
        scoring="neg_mean_squared_error",
        solver=solver,
        backend=backend,
        dtype="float64",
    ).fit(X, y, groups=groups)
    np.testing.assert_allclose(model.cv_scores_, expected, rtol=1e-6)


def test_pipeline_scored_under_routing_in_gridsearchcv(data):
    X, y, groups, _ = data
    y = y[:, :8]
    outer = GroupKFold(n_splits=3)
    with sklearn.config_context(enable_metadata_routing=True):
        ridge = DelayedRidge(alphas=ALPHAS, cv=2, backend="numpy")
        ridge.set_fit_request(groups=True).set_score_request(groups=True)
        ridge.set_predict_request(groups=True)
        pipe = make_pipeline(StandardScaler(), ridge)
        search = GridSearchCV(pipe, {"delayedridge__delays": [1, 3]}, cv=outer)
        search.fit(X, y, groups=groups)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    manual = []
    for train, test in outer.split(X, y, groups):
        scaler = StandardScaler().fit(X[train])
        model = DelayedRidge(delays=3, alphas=ALPHAS, cv=2, backend="numpy")
        model.fit(scaler.transform(X[train]), y[train], groups=groups[train])
        manual.append(
            model.score(scaler.transform(X[test]), y[test], groups=groups[test])
        )
    np.testing.assert_allclose(scores[1], np.mean(manual), rtol=1e-6)
    with pytest.raises(ValueError, match="sample_weight is not supported"):
        search.best_estimator_[-1].score(X, y, sample_weight=np.ones(len(y)))


def test_default_cv_uses_leave_one_run_out_silently_with_few_runs(data):
    X, y, groups, _ = data
    keep = groups < 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = DelayedRidge(backend="numpy").fit(X[keep], y[keep], groups=groups[keep])
    assert model.n_splits_ == 3
    assert DelayedRidge(backend="numpy").fit(X, y, groups=groups).n_splits_ == 5


def test_targets_without_signal_do_not_trigger_the_edge_warning(data):
    X, y, groups, _ = data
    noise = np.random.default_rng(0).standard_normal(y.shape)
    model = DelayedRidge(
        alphas=ALPHAS,
        scoring="neg_mean_squared_error",
        alpha_per_target=True,
        backend="numpy",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, noise, groups=groups)
    # the noise targets did choose the largest alpha: the warning was right to
    # stay silent, not blind
    assert np.mean(model.best_alphas_ == ALPHAS[-1]) > 0.5
    # by Pearson r, shared or per target, noise has no best alpha either: the
    # curves are flat where chance puts their maximum
    for seed in range(4):
        noise = np.random.default_rng(seed).standard_normal(y.shape)
        for per_target in (False, True):
            model = DelayedRidge(
                alphas=ALPHAS, alpha_per_target=per_target, backend="numpy"
            )
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                model.fit(X, noise, groups=groups)


def test_shared_alpha_on_the_edge_warns_once_for_all_targets(data):
    X, y, groups, _ = data
    with pytest.warns(
        UserWarning,
        match=r"^60 of 60 targets chose the smallest alpha of the grid \(1e\+06\), "
        r"shared by all targets \(alpha_per_target=False\); the best alpha may lie "
        r"outside it\. Extend alphas to smaller values\.$",
    ) as record:
        DelayedRidge(
            alphas=[1e6, 1e7, 1e8], alpha_per_target=False, backend="numpy"
        ).fit(X, y, groups=groups)
    assert record[0].filename == __file__  # the user's line, not brainenc's


def test_fit_refused_up_front_when_memory_would_not_suffice(data, monkeypatch):
    import brainenc.linear

    X, y, groups, _ = data
    monkeypatch.setattr(brainenc.linear, "_available_memory", lambda: 2**16)
    with pytest.raises(MemoryError, match=r"would need about .* GiB of memory but"):
        DelayedRidge(backend="numpy").fit(X, y, groups=groups)
    with pytest.raises(MemoryError, match="Lower n_targets_batch"):
        DelayedRidge(backend="numpy", banded=True, feature_spaces={"a": 12}).fit(
            X, y, groups=groups
        )
    monkeypatch.setattr(brainenc.linear, "_available_memory", lambda: 2**33)
    DelayedRidge(backend="numpy").fit(X, y, groups=groups)  # 8 GiB is plenty


@pytest.mark.parametrize(
    ("shape", "params"),
    [
        ((2000, 100, 3000), {}),  # primal, one batch of targets
        ((1000, 50, 5000), {"n_targets_batch": 200}),  # primal, many batches
        ((600, 200, 2000), {}),  # dual (800 delayed columns > 480 samples)
        ((1500, 50, 1000), {"n_jobs": 2}),  # folds in parallel threads
        ((2000, 100, 1000), {"dtype": "float64"}),
        (
            (2000, 60, 500),
            {"banded": True, "feature_spaces": {"a": 30, "b": 30}, "n_iter": 3},
        ),
        # dual coefficients kept: 800 columns > 480 samples, many targets
        ((600, 200, 4000), {}),
        ((600, 200, 4000), {"standardize": True}),
        (
            (600, 200, 2000),
            {"banded": True, "feature_spaces": {"a": 80, "b": 120}, "n_iter": 3},
        ),
        ((1500, 30, 6000), {"n_jobs": 2}),  # shares of the targets per fold
        ((1500, 40, 3), {"patterns": True}),
    ],
)
def test_memory_estimate_bounds_the_measured_peak(shape, params, monkeypatch):
    # The guard is only as good as its estimate: it must not be below what the
    # fit really allocates (or the OS kills what the guard let through), nor
    # so far above it that fits that would run are refused.
    import tracemalloc

    import brainenc.linear

    n_samples, n_features, n_targets = shape
    X, y, groups, _ = make_encoding_data(
        n_samples=n_samples,
        n_features=n_features,
        n_targets=n_targets,
        n_runs=5,
        random_state=0,
    )
    X, y = X.astype(np.float32), y.astype(np.float32)
    estimates = []
    estimate = brainenc.linear.DelayedRidge._memory_need
    monkeypatch.setattr(
        brainenc.linear.DelayedRidge,
        "_memory_need",
        lambda self, *args: estimates.append(estimate(self, *args)) or estimates[-1],
    )
    model = DelayedRidge(backend="numpy", random_state=0, **params)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        model.fit(X, y, groups=groups)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    ratio = estimates[0] / peak
    assert 1 <= ratio <= 3, f"estimate {ratio:.2f} x the peak of {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("n_targets", [1, 3])
def test_patterns_equal_haufe_formula_computed_by_hand(n_targets):
    # A backward model (decoder): channels -> stimulus features. The patterns
    # are cov(X_delayed) W inv(cov(y_pred)) on the training data (Haufe et
    # al., 2014), from numpy's covariance of the delayed channels and of the
    # model's own training predictions.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(4), 150)
    stimulus = rng.standard_normal((600, n_targets))
    mixing = rng.standard_normal((n_targets, 8))
    channels = stimulus @ mixing + rng.standard_normal((600, 8))
    y = stimulus[:, 0] if n_targets == 1 else stimulus
    model = DelayedRidge(
        delays=[-2, -1, 0], patterns=True, backend="numpy", dtype="float64"
    ).fit(channels, y, groups=groups)
    Xd = delay_features(channels, [-2, -1, 0], groups)
    W = np.atleast_2d(model.coef_).T
    pred = np.atleast_2d(model.predict(channels, groups=groups).T).T
    cov_y = np.atleast_2d(np.cov(pred, rowvar=False))
    expected = (np.cov(Xd, rowvar=False) @ W @ np.linalg.inv(cov_y)).T
    assert model.patterns_.shape == model.coef_.shape
    np.testing.assert_allclose(
        np.atleast_2d(model.patterns_), expected, rtol=1e-8, atol=1e-12
    )
    # patterns, unlike the weights, are the forward mixing of the sources:
    # at delay 0 they recover each stimulus' channel topography
    at_zero = np.atleast_2d(model.patterns_).reshape(n_targets, 8, 3)[:, :, 2]
    for k in range(n_targets):
        assert abs(np.corrcoef(at_zero[k], mixing[k])[0, 1]) > 0.95
    assert not hasattr(DelayedRidge(backend="numpy").fit(Xd, y), "patterns_")


def test_feature_spaces_attribute_lists_each_space_columns(data):
    X, y, groups, _ = data
    spaces = {"b": [5, 1, 3], "a": slice(6, 12), "c": [0, 2, 4]}
    model = DelayedRidge(feature_spaces=spaces, backend="numpy", cv=3)
    model.fit(X, y, groups=groups)
    assert model.space_names_ == ["b", "a", "c"]
    assert list(model.feature_spaces_) == ["b", "a", "c"]
    np.testing.assert_array_equal(model.feature_spaces_["b"], [1, 3, 5])
    np.testing.assert_array_equal(model.feature_spaces_["a"], np.arange(6, 12))
    # a refit without spaces drops them
    model.set_params(feature_spaces=None).fit(X, y, groups=groups)
    assert not hasattr(model, "feature_spaces_")


def test_dual_model_pickles_and_predicts(tmp_path):
    import pickle

    X, y, groups, _ = make_encoding_data(
        n_samples=300, n_features=100, n_targets=500, n_runs=5, random_state=0
    )
    model = DelayedRidge(backend="numpy").fit(X, y, groups=groups)
    assert hasattr(model, "dual_coef_")
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(
        loaded.predict(X, groups=groups), model.predict(X, groups=groups)
    )
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert loaded.coef_delays_.shape == (500, 100, 4)
