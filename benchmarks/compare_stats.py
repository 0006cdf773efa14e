"""Circular-shift permutation tests: brainenc.stats against a naive loop and mTRFpy.

``python benchmarks/compare_stats.py`` (default: 50 000 targets, 4 runs of 300
samples, 1000 permutations)

Every tool runs in a fresh process with 1 BLAS thread; the time of the test
alone is measured (data loaded and modules imported first), with the peak
resident memory of the process (``VmHWM``):

- ``brainenc`` / ``brainenc_2jobs``: :func:`brainenc.stats.permutation_test`
  with its default circular shifts within runs, ``n_jobs=1`` and ``2``: each
  run's circular cross-correlation by FFT, then one lookup per run, target and
  permutation.
- ``naive``: the loop a lab writes: for every permutation, roll each run of
  the prediction by a random lag and compute every target's Pearson r
  (:func:`brainenc.pearson_r`). It uses brainenc's own lags, so its null must
  equal brainenc's (``max |diff|``). Run for ``--naive-permutations`` and
  extrapolated linearly to ``--permutations`` (its cost per permutation is
  constant).
- ``mtrf``: mTRFpy's ``permutation_distribution`` (``mtrf.stats``), the only
  peer that ships a permutation null: it fits a TRF for every (stimulus,
  response) pair of trials (the runs), then per permutation averages
  mismatched models and predicts the held-out trials; its null is of the
  **mean** r over channels (no per-target p-values). Run with two numbers of
  permutations to separate its fixed cost (the 16 fits) from the cost per
  permutation, and extrapolated linearly.

The data: 16 stimulus features (AR(1), 0.8) per run, responses = delayed
features times random weights (delays 0-3) plus AR(1) noise, float32; the
held-out "prediction" given to brainenc and the naive loop is the noise-free
response (any model's output would do).
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
from _common import child_env, machine_info

HERE = Path(__file__).resolve().parent


def make_data(n_targets, n_runs, run_length, seed, folder):
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n_features, n_lags = 16, 4

    def ar1(shape):
        noise = rng.standard_normal(shape)
        return lfilter([np.sqrt(1 - 0.64)], [1, -0.8], noise, axis=1)

    X = ar1((n_runs, run_length, n_features))
    W = rng.standard_normal((n_lags * n_features, n_targets)) / np.sqrt(64)
    lagged = np.concatenate(
        [np.pad(X, ((0, 0), (d, 0), (0, 0)))[:, :run_length] for d in range(n_lags)],
        axis=2,
    )
    clean = lagged @ W
    Y = clean + ar1((n_runs, run_length, n_targets))
    # half of the targets get a prediction unrelated to them (as smooth)
    half = n_targets // 2
    clean[..., half:] = np.roll(clean[..., half:], run_length // 2, axis=1)[::-1]
    np.save(folder / "X.npy", X.astype(np.float32))
    np.save(folder / "Y.npy", Y.astype(np.float32))
    np.save(folder / "pred.npy", clean.astype(np.float32))


def child(tool, folder, n_permutations, n_run, seed):
    """Run one tool and print its report as JSON."""
    import threadpoolctl

    X = np.load(folder / "X.npy")
    Y = np.load(folder / "Y.npy")
    pred = np.load(folder / "pred.npy")
    n_runs, run_length, n_targets = Y.shape
    y_true = Y.reshape(-1, n_targets)
    y_pred = pred.reshape(-1, n_targets)
    groups = np.repeat(np.arange(n_runs), run_length)
    report = {"tool": tool, "n_targets": n_targets, "n_samples": y_true.shape[0]}
    load = [os.getloadavg()[0]]
    if tool.startswith("brainenc"):
        from brainenc.stats import permutation_test

        n_jobs = 2 if tool == "brainenc_2jobs" else 1
        permutation_test(
            y_true[:, :10], y_pred[:, :10], groups=groups, n_permutations=10
        )  # first-call costs out of the timing
        rss = _vm("VmRSS")
        start, cpu = time.perf_counter(), time.process_time()
        result = permutation_test(
            y_true,
            y_pred,
            groups=groups,
            n_permutations=n_permutations,
            random_state=seed,
            n_jobs=n_jobs,
        )
        report["wall_s"] = time.perf_counter() - start
        report["cpu_s"] = time.process_time() - cpu
        report["permutations_run"] = n_permutations
        report["fraction_p_le_0.05"] = float(np.mean(result.p_values <= 0.05))
    elif tool == "naive":
        import brainenc.stats as bstats
        from brainenc import pearson_r
        from brainenc._validation import run_slices
        from brainenc.stats import permutation_test

        runs = run_slices(groups)
        null = bstats._CircularNull(runs)
        seeds = bstats._chunk_seeds(seed, n_permutations)
        lags = np.vstack([null.draw(np.random.default_rng(s), n) for s, n in seeds])
        rss = _vm("VmRSS")
        start, cpu = time.perf_counter(), time.process_time()
        values = []
        for p in range(n_run):
            moved = np.empty_like(y_pred)
            for k, run in enumerate(runs):
                moved[run] = np.roll(y_pred[run], lags[p, k], axis=0)
            values.append(pearson_r(y_true, moved))
        report["wall_s"] = time.perf_counter() - start
        report["cpu_s"] = time.process_time() - cpu
        report["permutations_run"] = n_run
        # after the timer: brainenc's null of the same lags, on 2000 targets
        check = slice(0, min(2000, n_targets))
        same = permutation_test(
            y_true[:, check],
            y_pred[:, check],
            groups=groups,
            n_permutations=n_permutations,
            random_state=seed,
            return_null=True,
        )
        report["max_abs_diff_to_brainenc"] = float(
            np.max(np.abs(np.array(values)[:, check] - same.null[:n_run]))
        )
    elif tool == "mtrf":
        import random

        from mtrf.model import TRF
        from mtrf.stats import pearsonr, permutation_distribution

        stimulus = [x.astype(np.float64) for x in X]
        response = [y.astype(np.float64) for y in Y]
        rss = _vm("VmRSS")
        times = {}
        cpu = time.process_time()
        for n in (2, n_run):
            random.seed(seed)  # mTRFpy draws with Python's random
            start = time.perf_counter()
            null = permutation_distribution(
                TRF(direction=1, metric=pearsonr),
                stimulus,
                response,
                fs=1,
                tmin=0,
                tmax=3,
                regularization=1000.0,
                n_permute=n,
                k=-1,
                seed=seed,
                verbose=False,
            )
            times[n] = time.perf_counter() - start
        per_permutation = (times[n_run] - times[2]) / (n_run - 2)
        report["fixed_s"] = times[2] - 2 * per_permutation
        report["per_permutation_s"] = per_permutation
        report["wall_s"] = times[n_run]
        report["cpu_s"] = time.process_time() - cpu
        report["permutations_run"] = n_run
        report["null_shape"] = list(np.shape(null))
    report["peak_rss_mb"] = _vm("VmHWM")
    report["test_plus_mb"] = report["peak_rss_mb"] - rss
    load.append(os.getloadavg()[0])
    report["load_1min"] = load
    report["blas"] = [
        (info["internal_api"], info["num_threads"])
        for info in threadpoolctl.threadpool_info()
    ]
    print(json.dumps(report))


def _vm(field):
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--run-length", type=int, default=300)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--naive-permutations", type=int, default=50)
    parser.add_argument("--mtrf-permutations", type=int, default=12)
    parser.add_argument(
        "--tools", nargs="+", default=["brainenc", "brainenc_2jobs", "naive", "mtrf"]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="write the reports to this JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n-run", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder, args.permutations, args.n_run, args.seed)
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_data(args.targets, args.runs, args.run_length, args.seed, folder)
        reports = []
        tools = ["brainenc"] + [t for t in args.tools if t != "brainenc"]
        for tool in tools:
            n_run = {
                "naive": args.naive_permutations,
                "mtrf": args.mtrf_permutations,
            }.get(tool, 0)
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                tool,
                "--folder",
                str(folder),
                "--permutations",
                str(args.permutations),
                "--n-run",
                str(n_run),
                "--seed",
                str(args.seed),
            ]
            proc = subprocess.run(
                command, env=child_env(), capture_output=True, text=True, check=False
            )
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                raise SystemExit(f"{tool} failed")
            report = json.loads(proc.stdout.strip().splitlines()[-1])
            reports.append(report)
            print(f"{tool}: {report['wall_s']:.1f} s", file=sys.stderr, flush=True)
    table(reports, args)
    if args.save:
        args.save.write_text(
            json.dumps(
                {
                    "machine": machine_info(),
                    "args": vars(args) | {"save": str(args.save)},
                    "reports": reports,
                },
                indent=2,
                default=str,
            )
        )


def table(reports, args):
    n = args.permutations
    reference = next(r for r in reports if r["tool"] == "brainenc")
    print(
        f"{reference['n_targets']} targets x {reference['n_samples']} samples "
        f"({args.runs} runs of {args.run_length}), {n} circular-shift "
        "permutations, float32 input, 1 BLAS thread per process"
    )
    print()
    print(
        "| tool | null | permutations run | wall s (run) | wall s for "
        f"{n} | time / brainenc | peak RSS MB | test +MB | load 1-min |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in reports:
        if r["tool"].startswith("brainenc"):
            total, what = r["wall_s"], "per target"
        elif r["tool"] == "naive":
            total = r["wall_s"] / r["permutations_run"] * n
            what = "per target"
        else:
            total = r["fixed_s"] + r["per_permutation_s"] * n
            what = "mean r over targets"
        projected = "" if r["tool"].startswith("brainenc") else " (extrapolated)"
        print(
            f"| {r['tool']} | {what} | {r['permutations_run']} | {r['wall_s']:.2f} | "
            f"{total:.1f}{projected} | {total / reference['wall_s']:.1f}x | "
            f"{r['peak_rss_mb']:.0f} | {r['test_plus_mb']:.0f} | "
            f"{r['load_1min'][0]:.2f}-{r['load_1min'][1]:.2f} |"
        )
    print()
    for r in reports:
        if r["tool"] == "naive":
            print(
                f"- naive: same lags as brainenc, max |null difference| "
                f"{r['max_abs_diff_to_brainenc']:.1e}"
            )
        if r["tool"] == "mtrf":
            print(
                f"- mtrf: {r['fixed_s']:.1f} s fixed (16 TRF fits) + "
                f"{r['per_permutation_s']:.2f} s per permutation; null of shape "
                f"{tuple(r['null_shape'])}"
            )
        if r["tool"].startswith("brainenc"):
            print(
                f"- {r['tool']}: cpu {r['cpu_s']:.1f} s, fraction of targets at "
                f"p <= 0.05: {r['fraction_p_le_0.05']:.3f}"
            )


if __name__ == "__main__":
    main()
