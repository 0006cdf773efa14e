"""The ridge solvers under DelayedRidge: banded ridge against himalaya's, the
hyper-parameter selection rules, the formulations and the parallel plans."""

import joblib
import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold

from brainenc import DelayedRidge, delay_features, make_encoding_data
from brainenc._solvers import (
    dirichlet_draws,
    parallel_plan,
    select_hyperparameters,
    solve_banded_ridge_cv,
    solve_ridge_cv,
)
from brainenc.datasets import make_multispace_data

ALPHAS = np.logspace(-1, 5, 7)
DELAYS = [1, 2, 3]


@pytest.fixture(scope="module")
def spaces_data():
    X, y, groups, truth = make_multispace_data(
        n_samples=1000,
        space_sizes=(6, 10, 4),
        n_targets=40,
        n_runs=5,
        snr=0.5,
        random_state=0,
    )
    folds = list(GroupKFold(5).split(X, y, groups))
    columns = [
        np.arange(s.start * len(DELAYS), s.stop * len(DELAYS))
        for s in truth.feature_spaces.values()
    ]
    return X, y, groups, truth, folds, columns


def _banded(data, **params):
    X, y, groups, truth, folds, _ = data
    kwargs = {
        "delays": DELAYS,
        "alphas": ALPHAS,
        "cv": folds,
        "feature_spaces": truth.feature_spaces,
        "banded": True,
        "n_iter": 15,
        "random_state": 3,
        "backend": "numpy",
        "dtype": "float64",
        # himalaya's defaults: each target's alpha, by held-out MSE
        "scoring": "neg_mean_squared_error",
        "alpha_per_target": True,
    }
    return DelayedRidge(**{**kwargs, **params}).fit(X, y, groups=groups)


@pytest.mark.parametrize("concentration", [(0.1, 1.0), 0.5, (0.3, np.inf, 2.0)])
def test_dirichlet_draws_are_himalayas_for_the_same_seed(concentration):
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import generate_dirichlet_samples

    previous = set_backend("numpy")
    try:
        ref = generate_dirichlet_samples(
            n_samples=11, n_kernels=3, concentration=concentration, random_state=5
        )
    finally:
        set_backend(previous)
    ref[0] = 1 / 3  # himalaya's random search makes the first draw uniform
    draws = dirichlet_draws(11, 3, concentration, random_state=5)
    np.testing.assert_array_equal(draws, ref)
    np.testing.assert_allclose(draws.sum(1), 1)


def _himalaya_random_search(spaces_data, **params):
    """himalaya's banded random search on the same delayed design and folds,
    15 draws from seed 3."""
    from himalaya.backend import set_backend
    from himalaya.ridge import solve_group_ridge_random_search

    X, y, groups, _, folds, columns = spaces_data
    Xd = delay_features(X, DELAYS, groups)
    previous = set_backend("numpy")
    try:
        return solve_group_ridge_random_search(
            [Xd[:, cols] for cols in columns],
            y,
            n_iter=15,
            alphas=ALPHAS,
            fit_intercept=True,
            cv=folds,
            random_state=3,
            progress_bar=False,
            warn=False,
            **params,
        )
    finally:
        set_backend(previous)


def test_banded_ridge_equals_himalayas_random_search(spaces_data):
    # The same draws from the same seed: the same penalty of every space for
    # every target, the same cross-validated scores and the same weights.
    from himalaya.scoring import l2_neg_loss

    model = _banded(spaces_data)
    deltas, coef, cv_scores, intercept = _himalaya_random_search(
        spaces_data, score_func=l2_neg_loss, return_weights=True
    )
    np.testing.assert_array_equal(model.space_alphas_ > 0, True)
    np.testing.assert_allclose(model.space_alphas_, np.exp(-deltas), rtol=1e-8)
    # himalaya adds 1e-10 * log(alpha) to its scores to break ties
    np.testing.assert_allclose(model.cv_scores_, cv_scores, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(model.coef_, coef.T, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(model.intercept_, intercept, atol=1e-12)
    # the draws did matter: several targets chose unequal space weights
    assert np.mean(np.ptp(np.log(model.space_alphas_), axis=0) > 1) > 0.5


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "dual"},
        {"backend": "torch"},
        {"n_jobs": 2},
        {"n_targets_batch": 7},
        {"n_targets_batch": 7, "solver": "dual", "n_jobs": 2},
    ],
)
def test_banded_formulations_and_parallel_jobs_give_the_same_answer(
    spaces_data, params
):
    if params.get("backend") == "torch":
        pytest.importorskip("torch")
    X, _, groups, *_ = spaces_data
    ref = _banded(spaces_data)
    model = _banded(spaces_data, **params)
    np.testing.assert_allclose(model.cv_scores_, ref.cv_scores_, rtol=1e-8)
    np.testing.assert_array_equal(model.space_alphas_, ref.space_alphas_)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-7, atol=1e-11)
    np.testing.assert_allclose(
        model.predict(X, groups=groups), ref.predict(X, groups=groups), atol=1e-9
    )


def test_select_hyperparameters_by_hand():
    # scores (draws, alphas, targets)
    scores = np.array(
        [
            [[1.0, 5.0, 0.0], [2.0, 1.0, 0.0]],
            [[3.0, 5.0, 0.0], [1.0, 5.0 + 1e-12, 0.0]],
            [[0.0, 0.0, 0.0], [0.0, 6.0, 9.0]],
        ]
    )
    draws, alphas, draw_alphas = select_hyperparameters(scores, eps=1e-9)
    # target 0: best 3.0 at draw 1 alpha 0; target 1: 6.0 at draw 2 alpha 1;
    # target 2: 9.0 at draw 2 alpha 1
    np.testing.assert_array_equal(draws, [1, 2, 2])
    np.testing.assert_array_equal(alphas, [0, 1, 1])
    # ties within a draw go to the largest alpha (draw 0, target 2)
    np.testing.assert_array_equal(draw_alphas[0], [1, 0, 1])
    # a later draw must win by more than eps: draw 1 of target 1 (5 + 1e-12)
    # does not replace draw 0 (5.0)
    draws, _, _ = select_hyperparameters(scores[:2], eps=1e-9)
    np.testing.assert_array_equal(draws, [1, 0, 0])
    # shared: per draw, the alpha of the best mean over targets: draw 0 ->
    # means (2, 1) -> alpha 0, draw 1 -> (8/3, 2) -> alpha 0, draw 2 ->
    # (0, 5) -> alpha 1; then each target its best draw at those alphas:
    # target 0: (1, 3, 0) -> draw 1; target 1: (5, 5, 6) -> draw 2;
    # target 2: (0, 0, 9) -> draw 2
    draws, alphas, draw_alphas = select_hyperparameters(scores, alpha_per_target=False)
    np.testing.assert_array_equal(draw_alphas[:, 0], [0, 0, 1])
    np.testing.assert_array_equal(draws, [1, 2, 2])
    np.testing.assert_array_equal(alphas, [0, 1, 1])
    # one draw: one alpha for all targets
    _, alphas, _ = select_hyperparameters(scores[:1], alpha_per_target=False)
    np.testing.assert_array_equal(alphas, [0, 0, 0])


@pytest.fixture(scope="module")
def data():
    X, y, groups, truth = make_encoding_data(
        n_samples=900, n_features=12, n_targets=60, n_runs=6, snr=1.0, random_state=1
    )
    # targets of unequal noise, so that they prefer unequal alphas
    noise = np.random.default_rng(1).standard_normal(y.shape)
    y = y + noise * np.linspace(0, 4, y.shape[1]) * y.std(0)
    return X, y, groups, truth


@pytest.mark.parametrize("scoring", ["neg_mean_squared_error", "pearson_r"])
def test_shared_alpha_maximises_the_mean_cv_score_computed_by_hand(data, scoring):
    # The held-out score of every alpha, fold and target from scikit-learn's
    # Ridge fitted on each fold's training runs; the per-fold scores averaged
    # over folds, then over targets: the shared alpha is their argmax.
    X, y, groups, _ = data
    folds = list(GroupKFold(3).split(X, y, groups))
    Xd = delay_features(X, DELAYS, groups)
    by_hand = np.zeros((ALPHAS.size, y.shape[1]))
    for train, test in folds:
        for k, alpha in enumerate(ALPHAS):
            pred = Ridge(alpha=alpha).fit(Xd[train], y[train]).predict(Xd[test])
            if scoring == "pearson_r":
                a = pred - pred.mean(0)
                b = y[test] - y[test].mean(0)
                by_hand[k] += (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))
            else:
                by_hand[k] -= ((y[test] - pred) ** 2).mean(0)
    by_hand /= len(folds)
    kwargs = {
        "delays": DELAYS,
        "alphas": ALPHAS,
        "cv": folds,
        "scoring": scoring,
        "backend": "numpy",
        "dtype": "float64",
    }
    shared = DelayedRidge(alpha_per_target=False, **kwargs).fit(X, y, groups=groups)
    per_target = DelayedRidge(alpha_per_target=True, **kwargs)
    per_target.fit(X, y, groups=groups)
    np.testing.assert_allclose(shared.cv_scores_, by_hand, rtol=1e-7, atol=1e-10)
    expected = ALPHAS[np.argmax(by_hand.mean(axis=1))]
    np.testing.assert_array_equal(shared.best_alphas_, expected)
    np.testing.assert_array_equal(
        per_target.best_alphas_, ALPHAS[np.argmax(by_hand, axis=0)]
    )
    # the two rules differ on these data (so the test tells them apart)
    assert np.unique(per_target.best_alphas_).size > 1
    # the shared model is the per-target one refitted at that alpha
    fixed = DelayedRidge(**{**kwargs, "alphas": [expected]})
    fixed.fit(X, y, groups=groups)
    np.testing.assert_allclose(shared.coef_, fixed.coef_, rtol=1e-9, atol=1e-12)


def test_shared_alpha_of_banded_ridge_equals_himalayas_local_alpha_false(
    spaces_data,
):
    from himalaya.scoring import correlation_score

    model = _banded(spaces_data, alpha_per_target=False, scoring="pearson_r")
    deltas, *_ = _himalaya_random_search(
        spaces_data, score_func=correlation_score, local_alpha=False
    )
    np.testing.assert_allclose(model.space_alphas_, np.exp(-deltas), rtol=1e-8)
    # the targets kept different draws
    assert np.unique(model.space_alphas_[0]).size > 1


def test_dual_coefficients_kept_for_a_wide_design_with_many_targets():
    # 100 features x 4 delays = 400 columns > 240 training samples, and 500
    # targets: the dual coefficients (300 x 500) and the training features
    # (300 x 100) take less memory than coef_ (500 x 400).
    X, y, groups, _ = make_encoding_data(
        n_samples=300, n_features=100, n_targets=500, n_runs=5, random_state=0
    )
    X_new, _, groups_new, _ = make_encoding_data(
        n_samples=120, n_features=100, n_targets=2, n_runs=2, random_state=1
    )
    for standardize in (False, True):
        kwargs = {"backend": "numpy", "dtype": "float64", "standardize": standardize}
        model = DelayedRidge(**kwargs).fit(X, y, groups=groups)
        assert model.solver_ == "dual"
        assert model.dual_coef_.shape == (300, 500)
        assert "coef_" not in vars(model)
        np.testing.assert_array_equal(model.X_fit_, X)
        # the same fit solved for the coefficients (the primal weights of
        # the same dual solution)
        primal = DelayedRidge(**kwargs)
        primal._keep_dual = lambda *args: False
        primal.fit(X, y, groups=groups)
        assert "dual_coef_" not in vars(primal)
        np.testing.assert_allclose(model.coef_, primal.coef_, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(model.intercept_, primal.intercept_, atol=1e-10)
        for Xp, gp in ((X, groups), (X_new, groups_new)):
            np.testing.assert_allclose(
                model.predict(Xp, groups=gp), primal.predict(Xp, groups=gp), atol=1e-9
            )
        np.testing.assert_allclose(
            model.predict_split(X_new, groups=groups_new)
            if model.feature_spaces
            else model.predict(X_new, groups=groups_new),
            primal.predict(X_new, groups=groups_new),
            atol=1e-9,
        )


def test_dual_coefficients_of_banded_ridge_predict_each_space():
    X, y, groups, truth = make_multispace_data(
        n_samples=300, space_sizes=(40, 60), n_targets=400, n_runs=5, random_state=0
    )
    kwargs = {
        "feature_spaces": truth.feature_spaces,
        "banded": True,
        "n_iter": 4,
        "random_state": 0,
        "backend": "numpy",
        "dtype": "float64",
    }
    model = DelayedRidge(**kwargs).fit(X, y, groups=groups)
    assert "dual_coef_" in vars(model)
    primal = DelayedRidge(**kwargs)
    primal._keep_dual = lambda *args: False
    primal.fit(X, y, groups=groups)
    np.testing.assert_array_equal(model.space_alphas_, primal.space_alphas_)
    np.testing.assert_allclose(model.coef_, primal.coef_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(
        model.predict_split(X, groups=groups),
        primal.predict_split(X, groups=groups),
        atol=1e-9,
    )


def test_target_shares_of_each_fold_give_the_serial_answer(data):
    X, y, groups, _ = data
    kwargs = {"backend": "numpy", "dtype": "float64", "delays": DELAYS}
    serial = DelayedRidge(**kwargs).fit(X, y, groups=groups)
    folds = list(GroupKFold(5).split(X, y, groups))
    # 36 columns, 60 targets: the targets dominate, so 2 jobs share them
    assert parallel_plan(2, folds, "primal", 36, 60, 11)[0] == "targets"
    for backend in ("threading", "loky"):
        with joblib.parallel_config(backend=backend, n_jobs=2):
            model = DelayedRidge(**kwargs).fit(X, y, groups=groups)
        np.testing.assert_allclose(model.cv_scores_, serial.cv_scores_, rtol=1e-10)
        np.testing.assert_allclose(model.coef_, serial.coef_, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "dual"},
        {"solver": "dual", "standardize": True, "scoring": "pearson_r"},
        {"standardize": True, "n_targets_batch": 7},
    ],
)
def test_target_shares_of_every_formulation_give_the_serial_answer(
    data, params, monkeypatch
):
    # The shares of the targets, forced for the dual and standardised paths
    # (which the cost model gives to the folds at this size), scored on every
    # fold's decomposition made once, give the serial fit.
    from brainenc import _solvers

    X, y, groups, _ = data
    kwargs = {"backend": "numpy", "dtype": "float64", "delays": DELAYS, **params}
    serial = DelayedRidge(**kwargs).fit(X, y, groups=groups)
    plan = _solvers.parallel_plan
    modes = []

    def shares(n_jobs, *args, **kwargs):
        mode, k, chunks = plan(n_jobs, *args, **kwargs)
        if k > 1:
            mode, chunks = "targets", k
        modes.append(mode)
        return mode, k, chunks

    monkeypatch.setattr(_solvers, "parallel_plan", shares)
    model = DelayedRidge(n_jobs=2, **kwargs).fit(X, y, groups=groups)
    assert "targets" in modes
    np.testing.assert_allclose(model.cv_scores_, serial.cv_scores_, rtol=1e-9)
    np.testing.assert_array_equal(model.best_alphas_, serial.best_alphas_)
    np.testing.assert_allclose(model.coef_, serial.coef_, rtol=1e-8, atol=1e-12)


def test_parallel_plan():
    folds = list(GroupKFold(5).split(np.zeros((100, 1)), groups=np.arange(100) // 10))
    assert parallel_plan(None, folds, "primal", 10, 10, 9) == ("folds", 1, 1)
    # a large design and few targets: the decompositions dominate
    assert parallel_plan(2, folds, "primal", 4000, 100, 9) == ("folds", 2, 1)
    # a small design and many targets: shares of the targets
    assert parallel_plan(2, folds, "primal", 100, 50000, 9) == ("targets", 2, 2)
    # draws of space weights: folds x shares of the draws
    assert parallel_plan(2, folds, "primal", 100, 10, 9, n_draws=20) == (
        "folds",
        2,
        2,
    )
    assert parallel_plan(5, folds, "primal", 100, 10, 9, n_draws=20)[2] == 1


def test_solvers_report_progress_and_share_one_layout(spaces_data):
    X, y, groups, _, folds, columns = spaces_data
    Xd = delay_features(X, DELAYS, groups)
    calls = []
    backend = pytest.importorskip("himalaya.backend.numpy")
    plain = solve_ridge_cv(
        Xd.copy(),
        y,
        ALPHAS,
        folds,
        backend=backend,
        dtype="float64",
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(1, 6), (2, 6), (3, 6), (4, 6), (5, 6), (6, 6)]
    calls.clear()
    banded = solve_banded_ridge_cv(
        Xd.copy(),
        y,
        ALPHAS,
        folds,
        spaces=columns,
        n_iter=1,
        backend=backend,
        dtype="float64",
        n_jobs=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    # the 40 targets dominate the cost: 2 shares of them (each on the 5
    # folds), and the refit
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert plain["coef"].shape == banded["coef"].shape == (40, Xd.shape[1])
    # one draw (uniform weights 1/3) is plain ridge with 3 times the alphas
    thrice = solve_ridge_cv(
        Xd.copy(), y, 3 * ALPHAS, folds, backend=backend, dtype="float64"
    )
    np.testing.assert_allclose(banded["coef"], thrice["coef"], rtol=1e-8, atol=1e-12)
    # ... also on the folds, whichever way the work is split
    np.testing.assert_allclose(
        banded["cv_scores"][0], thrice["cv_scores"].max(axis=0), rtol=1e-10
    )


@pytest.mark.parametrize("method", ["primal", "dual"])
def test_one_draw_of_banded_ridge_scores_the_same_in_target_shares(spaces_data, method):
    # n_iter=1 sends banded ridge to the target shares when n_jobs > 1: each
    # fold must be decomposed with the draw's weights there too.
    X, y, groups, _, folds, columns = spaces_data
    Xd = delay_features(X, DELAYS, groups)
    backend = pytest.importorskip("himalaya.backend.numpy")
    fits = [
        solve_banded_ridge_cv(
            Xd.copy(),
            y,
            ALPHAS,
            folds,
            spaces=columns,
            n_iter=1,
            method=method,
            backend=backend,
            dtype="float64",
            n_jobs=n_jobs,
        )
        for n_jobs in (1, 2)
    ]
    np.testing.assert_allclose(fits[1]["cv_scores"], fits[0]["cv_scores"], rtol=1e-10)
    np.testing.assert_array_equal(fits[1]["best_alphas"], fits[0]["best_alphas"])
    np.testing.assert_allclose(fits[1]["coef"], fits[0]["coef"], rtol=1e-8, atol=1e-12)


@pytest.mark.slow
def test_target_shares_run_on_a_dask_cluster(data):
    # Under joblib's dask backend each fold is decomposed once and the
    # workers score shares of its targets: the tasks ran on the cluster's
    # worker processes, and the answer is the local one.
    distributed = pytest.importorskip("distributed")
    X, y, groups, _ = data
    kwargs = {"backend": "numpy", "dtype": "float64", "delays": DELAYS}
    local = DelayedRidge(**kwargs).fit(X, y, groups=groups)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
    ):
        addresses = set(client.scheduler_info()["workers"])
        with distributed.get_task_stream(client) as stream:
            remote = DelayedRidge(n_jobs=-1, **kwargs).fit(X, y, groups=groups)
    names = [task["key"] for task in stream.data]
    workers = {task["worker"] for task in stream.data}
    # the cross-validation and the refit, each in 2 shares of the targets
    assert len(names) >= 2 * 2
    assert workers <= addresses
    assert len(workers) == 2
    np.testing.assert_allclose(remote.cv_scores_, local.cv_scores_, rtol=1e-10)
    np.testing.assert_allclose(remote.coef_, local.coef_, rtol=1e-10, atol=1e-13)
