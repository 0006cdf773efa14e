"""How one DelayedRidge fit scales over joblib workers: threads and a dask cluster.

``python benchmarks/scale_dask.py --size fmri_small --workers 1 2``

One fit of ``DelayedRidge(delays, alphas=grid, cv=5, n_jobs=...)`` on the
benchmark data (``_common.py``: 10 runs, 5 folds of whole runs, 9 alphas), in
a fresh process per configuration, every worker with 1 BLAS thread:

- ``serial``: ``n_jobs=None``, the default;
- ``threads`` with k workers: ``n_jobs=k`` (joblib threads; BLAS releases the
  GIL, so the folds overlap in one process);
- ``dask`` with k workers: a ``distributed.LocalCluster(n_workers=k,
  threads_per_worker=1, processes=True)`` and ``joblib.parallel_config(
  backend="dask")`` with ``n_jobs=-1``: the folds are tasks on the worker
  processes, their arguments (delayed design, targets, Gram, X^T Y) shipped
  to them. The cluster's start-up is not timed.

Every configuration first fits a tiny problem (first-call costs out of the
timing), then times one fit.

The time of one fit is printed with its speed-up over ``serial``, against
the ideal (k workers: k times faster) and against Amdahl's bound, and every
configuration's coefficients are checked equal to the serial ones. What runs
in parallel depends on the shape (``brainenc._solvers.parallel_plan``): the
folds when their decompositions dominate (``parcels``), shares of the targets
of each fold when the targets do (``voxels``). The serial part is, in the
first case, the Gram matrix, X^T Y and the refit on all samples; in the
second, the Gram matrix and the decomposition of each fold and of the refit.
Its share of the fit is measured from a profile of the serial fit (``serial
share``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import (
    HERE,
    N_FOLDS,
    SIZES,
    child_env,
    ensure_data,
    load_data,
    machine_info,
)


def _child(mode, workers, size, seed, out):
    """Run one configuration (in a fresh process) and write its report."""
    import joblib

    from brainenc import DelayedRidge

    d = load_data(size, seed)
    X, Y, groups = d["X"], d["Y"], d["groups"]

    def model(n_jobs):
        return DelayedRidge(
            delays=d["delays"], alphas=d["alphas"], cv=N_FOLDS, n_jobs=n_jobs
        )

    def timed(n_jobs):
        start = time.perf_counter()
        fitted = model(n_jobs).fit(X, Y, groups=groups)
        return time.perf_counter() - start, fitted

    def warm_up():
        # first-call costs (lazy imports, BLAS buffers) out of the timing
        tiny = slice(0, 400)
        model(-1 if mode == "dask" else None).fit(
            X[tiny, :10], Y[tiny, :5], groups=groups[tiny]
        )

    report = {"mode": mode, "workers": workers}
    if mode == "serial":
        import cProfile
        import pstats

        warm_up()
        wall, fitted = timed(None)
        # the folds' share of the fit, from a second (profiled) fit
        profiler = cProfile.Profile()
        profiler.enable()
        start = time.perf_counter()
        model(None).fit(X, Y, groups=groups)
        total = time.perf_counter() - start
        profiler.disable()
        stats = pstats.Stats(profiler).stats

        def seconds(name, column=3):  # cumulative (3) or own (2) time
            return sum(v[column] for k, v in stats.items() if k[2] == name)

        from brainenc._solvers import parallel_plan

        n_columns = X.shape[1] * len(d["delays"])
        mode = parallel_plan(
            2, d["folds"], "primal", n_columns, Y.shape[1], len(d["alphas"])
        )[0]
        if mode == "targets":
            serial = (
                seconds("_solve", 2)
                + seconds("_fold_parts")
                + seconds("_draw_decomposition")
                + seconds("_refit_decomposition")
            )
        else:
            serial = total - seconds("_fold_job")
        report["serial_share"] = serial / total
        report["plan"] = mode
    elif mode == "threads":
        warm_up()
        wall, fitted = timed(workers)
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
            joblib.parallel_config(backend="dask"),
        ):
            warm_up()  # the workers import brainenc and himalaya
            report["n_workers_seen"] = len(client.scheduler_info()["workers"])
            wall, fitted = timed(-1)
    report["wall_s"] = wall
    np.save(Path(out).with_suffix(".coef.npy"), fitted.coef_)
    Path(out).write_text(json.dumps(report))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="fmri_small", choices=list(SIZES))
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    info = machine_info()
    print(
        f"# {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB, "
        f"{info['date']}"
    )
    ensure_data(args.size, args.seed)
    configs = [("serial", 1)] + [
        (mode, k) for mode in ("threads", "dask") for k in args.workers
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale_dask_") as workdir:
        for mode, workers in configs:
            out = Path(workdir) / f"{mode}_{workers}.json"
            load = os.getloadavg()[0]
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                mode,
                str(workers),
                args.size,
                str(args.seed),
                str(out),
            ]
            proc = subprocess.run(cmd, env=child_env(), capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{mode} x{workers} failed:\n{proc.stderr[-2000:]}")
                continue
            report = json.loads(out.read_text())
            report["load"] = load
            report["coef"] = np.load(out.with_suffix(".coef.npy"))
            rows.append(report)
            print(
                f"{mode} x{workers}: {report['wall_s']:.2f} s (load {load:.2f})",
                flush=True,
            )
    serial = rows[0]
    s = SIZES[args.size]
    plan = serial["plan"]
    print(
        f"\nsize={args.size} n={s['n_samples']} p={s['n_features']}x"
        f"{len(s['delays'])} t={s['n_targets']}, {N_FOLDS} folds, 1 BLAS thread "
        f"per worker; parallel over {plan}; serial share of the fit "
        f"{serial['serial_share']:.0%} (Amdahl bound with k workers: "
        + (
            "1 / (s + (1 - s) / k))\n"
            if plan == "targets"
            else "1 / (s + (1 - s) * ceil(5 / k) / 5))\n"
        )
    )
    print(
        "| configuration | workers | wall s | speed-up | ideal | Amdahl bound | "
        "same coef | load 1-min |"
    )
    print("|---|---|---|---|---|---|---|---|")
    f = 1 - serial["serial_share"]
    for row in rows:
        k = row["workers"]
        if plan == "targets":
            bound = 1 / (1 - f + f / k)
        else:
            bound = 1 / (1 - f + f * np.ceil(N_FOLDS / k) / N_FOLDS)
        same = np.allclose(row["coef"], serial["coef"], rtol=1e-4, atol=1e-6)
        print(
            f"| {row['mode']} | {k} | {row['wall_s']:.2f} | "
            f"{serial['wall_s'] / row['wall_s']:.2f}x | {k}x | {bound:.2f}x | "
            f"{'yes' if same else 'NO'} | {row['load']:.2f} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, str(HERE))
        _child(
            sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6]
        )
    else:
        main()
