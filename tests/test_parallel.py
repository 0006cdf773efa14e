"""Folds of one DelayedRidge fit through joblib: threads, processes and dask."""

import joblib
import numpy as np
import pytest

from brainenc import DelayedRidge, make_encoding_data


@pytest.fixture(scope="module")
def data():
    return make_encoding_data(
        n_samples=800, n_features=10, n_targets=30, n_runs=5, random_state=0
    )


def _fit(data, **kwargs):
    X, y, groups, _ = data
    model = DelayedRidge(backend="numpy", dtype="float64", **kwargs)
    return model.fit(X, y, groups=groups)


@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_threads_and_processes_give_the_serial_answer(data, solver):
    serial = _fit(data, solver=solver)
    threads = _fit(data, solver=solver, n_jobs=2)
    np.testing.assert_allclose(threads.cv_scores_, serial.cv_scores_, rtol=1e-10)
    np.testing.assert_allclose(threads.coef_, serial.coef_, rtol=1e-10, atol=1e-12)
    with joblib.parallel_config(backend="loky", n_jobs=2):
        processes = _fit(data, solver=solver)
    np.testing.assert_allclose(processes.cv_scores_, serial.cv_scores_, rtol=1e-10)
    np.testing.assert_array_equal(processes.best_alphas_, serial.best_alphas_)


@pytest.mark.slow
def test_dask_cluster_gives_the_local_answer(data):
    distributed = pytest.importorskip("distributed")
    local = _fit(data)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
    ):
        addresses = set(client.scheduler_info()["workers"])
        with distributed.get_task_stream(client) as stream:
            remote = _fit(data, n_jobs=-1)
    # the work really ran on the cluster's worker processes: at this shape
    # (many targets, 40 delayed columns) two shares of the targets, each
    # scored on every fold in one task, then refitted in another
    from brainenc._solvers import parallel_plan
    from brainenc.model_selection import check_run_cv

    X, y, groups, _ = data
    folds = check_run_cv(5, groups=groups)
    mode, _, n_shares = parallel_plan(2, folds, "primal", 40, y.shape[1], 11)
    assert (mode, n_shares) == ("targets", 2)
    assert len(stream.data) >= 2 * n_shares
    assert {task["worker"] for task in stream.data} <= addresses
    assert len({task["worker"] for task in stream.data}) == 2
    np.testing.assert_allclose(remote.cv_scores_, local.cv_scores_, rtol=1e-10)
    np.testing.assert_allclose(remote.coef_, local.coef_, rtol=1e-10, atol=1e-12)


def _stacked(n_jobs):
    from brainenc import StackedRegressor

    base = DelayedRidge(delays=[1, 2], cv=2, backend="numpy", dtype="float64")
    return StackedRegressor(
        [("a", base, slice(0, 5)), ("b", base, slice(5, 10))], cv=3, n_jobs=n_jobs
    )


def _ensemble(n_jobs):
    from sklearn.linear_model import Ridge

    from brainenc import TargetwiseEnsemble

    return TargetwiseEnsemble(
        [
            ("ridge", DelayedRidge(cv=2, backend="numpy", dtype="float64")),
            ("plain", Ridge(alpha=10.0)),
        ],
        cv=3,
        k=1,
        n_jobs=n_jobs,
    )


def _partition(data, n_jobs):
    from brainenc import variance_partitioning

    X, y, groups, _ = data
    result = variance_partitioning(
        DelayedRidge(delays=[1, 2], cv=2, backend="numpy", dtype="float64"),
        X,
        y,
        {"a": 5, "b": 5},
        groups=groups,
        cv=3,
        n_jobs=n_jobs,
    )
    return np.stack([result.regions[key] for key in sorted(result.regions)])


@pytest.mark.parametrize("backend", ["threading", "loky"])
@pytest.mark.parametrize("what", ["stacked", "ensemble", "partitioning"])
def test_joblib_backends_give_the_serial_answer(data, what, backend):
    X, y, groups, _ = data

    def run(n_jobs):
        if what == "partitioning":
            return _partition(data, n_jobs)
        make = _stacked if what == "stacked" else _ensemble
        model = make(n_jobs).fit(X, y, groups=groups)
        return np.concatenate(
            [model.weights_.ravel(), model.predict(X, groups=groups).ravel()]
        )

    serial = run(None)
    with joblib.parallel_config(backend=backend):
        parallel = run(2)
    np.testing.assert_allclose(parallel, serial, rtol=1e-10, atol=1e-12)
