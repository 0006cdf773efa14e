"""Shared harness of the benchmarks: sizes, data, folds, child processes, table.

Every tool is fitted in a fresh Python process (``_child.py``) so that its peak
resident memory (``VmHWM``) is its own. The child gets one BLAS thread
(``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1``) and runs without
``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` (they slow a current NumPy); it
reports the BLAS that ran through threadpoolctl.

The data are generated once per (size, seed) with
:func:`brainenc.make_encoding_data` (deterministic from the seed), cast to
float32 and cached as ``.npy`` files, so that the generator's temporaries do
not count in any tool's peak memory; every child loads the same arrays.
There are 10 equal training runs (5 folds of whole runs: ``GroupKFold(5)``)
and 2 more runs held out for the agreement check.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "src"

N_RUNS = 10  # training runs
N_TEST_RUNS = 2  # extra runs for the agreement check (never seen by the fits)
N_FOLDS = 5
#: 9 alphas; the chosen ones fall inside the grid for most targets on every size
#: (the reference reports the fraction on the edges).
ALPHAS = tuple(float(a) for a in np.logspace(-1, 7, 9))

SIZES = {
    # name: n_samples (training), n_features, n_targets, delays, tr (generator)
    "tiny": {
        "n_samples": 1000,
        "n_features": 20,
        "n_targets": 50,
        "delays": (1, 2, 3, 4),
        "tr": 2.0,
    },
    "fmri_small": {
        "n_samples": 3000,
        "n_features": 300,
        "n_targets": 1000,
        "delays": (1, 2, 3, 4),
        "tr": 2.0,
    },
    "parcels": {
        "n_samples": 8000,
        "n_features": 1000,
        "n_targets": 1000,
        "delays": (1, 2, 3, 4),
        "tr": 2.0,
    },
    "voxels": {
        "n_samples": 3000,
        "n_features": 300,
        "n_targets": 50000,
        "delays": (1, 2, 3, 4),
        "tr": 2.0,
    },
    "eeg": {
        "n_samples": 15000,
        "n_features": 16,
        "n_targets": 128,
        "delays": tuple(range(50)),
        "tr": 0.2,  # stretches the generator's HRF-shaped kernel over the 50 lags
    },
    # banded ridge (issue 15): three feature spaces, each target a random mix
    # of them (make_multispace_data, Dirichlet(1, 1, 1) shares per target)
    "banded": {
        "n_samples": 2400,
        "n_features": 300,
        "spaces": (100, 100, 100),
        "n_targets": 300,
        "delays": (1, 2, 3, 4),
        "tr": 2.0,
    },
    # wide design and many targets (issue 15): two 2048-wide spaces x 4 delays
    # = 16 384 delayed columns > 8000 samples, so the dual is used
    "llm_voxels": {
        "n_samples": 8000,
        "n_features": 4096,
        "n_targets": 20000,
        "delays": (1, 2, 3, 4),
        "tr": 2.0,
    },
}
#: Draws of space weights of the banded tools (the issue's setting).
N_ITER = 20
SNR = 0.5

#: Tools, in table order: name -> (what it does, how its alpha is selected).
TOOLS = {
    "reference": "tight BLAS reference (benchmarks/_reference.py)",
    "brainenc": 'brainenc DelayedRidge, backend="auto"',
    "brainenc_numpy": 'brainenc DelayedRidge, backend="numpy"',
    "brainenc_cuda": 'brainenc DelayedRidge, backend="torch_cuda" (needs a GPU)',
    "sklearn_loo": "sklearn RidgeCV(alpha_per_target=True), GCV/LOO",
    "sklearn_cv5": "sklearn Ridge, 5 folds x 9 alphas loop",
    "himalaya_numpy": "himalaya RidgeCV, numpy backend",
    "himalaya_torch": "himalaya RidgeCV, torch backend (CPU)",
    "mtrf": "mTRFpy TRF.train, k=5 over the same runs",
    "mne_tdr": "MNE ReceptiveField + TimeDelayingRidge, ONE alpha",
    "mne_tdr_cv": "MNE ReceptiveField + TimeDelayingRidge, 5 folds x 9 alphas",
    "brainenc_banded": "brainenc DelayedRidge(banded=True), N_ITER draws",
    "himalaya_banded": "himalaya BandedRidgeCV (random search), N_ITER draws",
}

#: Sizes without a reference row: size -> the reason.
NO_REFERENCE = {
    "llm_voxels": "the primal reference would decompose a 16384 x 16384 Gram "
    "per fold (hours, and 1 GiB per copy)",
}

#: Tools compared with another tool than the reference: name -> that tool.
COMPARE_WITH = {"brainenc_banded": "himalaya_banded"}

#: (tool, size) pairs skipped by default, with the reason (``--force`` runs them).
SKIP = {
    ("mne_tdr", "parcels"): "one alpha takes > 2 min (see README)",
    ("mne_tdr", "voxels"): "one alpha takes > 2 min (90 s at t=2500 in the issue)",
    ("mne_tdr_cv", "fmri_small"): "46 fits at ~35 s each; timed per alpha instead",
    ("mne_tdr_cv", "parcels"): "one alpha takes > 2 min",
    ("mne_tdr_cv", "voxels"): "one alpha takes > 2 min",
}


def cache_dir():
    """Folder of the cached data (``BRAINENC_BENCH_CACHE`` or a temp folder)."""
    path = os.environ.get("BRAINENC_BENCH_CACHE") or os.path.join(
        tempfile.gettempdir(), "brainenc_bench_cache"
    )
    return Path(path)


def data_path(size, seed):
    return cache_dir() / f"{size}_seed{seed}"


def generate_data(size, seed):
    """Generate (deterministically from ``seed``) and cache one size's data."""
    sys.path.insert(0, str(SRC))
    from brainenc import make_encoding_data

    spec = SIZES[size]
    n_runs = N_RUNS + N_TEST_RUNS
    n_total = spec["n_samples"] * n_runs // N_RUNS
    if "spaces" in spec:
        from brainenc.datasets import make_multispace_data

        shares = np.random.default_rng(seed).dirichlet(
            np.ones(len(spec["spaces"])), spec["n_targets"]
        )
        X, y, groups, _ = make_multispace_data(
            n_samples=n_total,
            space_sizes=spec["spaces"],
            n_targets=spec["n_targets"],
            shares=shares.T,
            n_runs=n_runs,
            delays=np.asarray(spec["delays"]),
            tr=spec["tr"],
            snr=SNR,
            random_state=seed,
        )
    elif size == "llm_voxels":
        X, y, groups = _llm_voxels_data(spec, n_total, n_runs, seed)
    else:
        X, y, groups, _ = make_encoding_data(
            n_samples=n_total,
            n_features=spec["n_features"],
            n_targets=spec["n_targets"],
            n_runs=n_runs,
            delays=np.asarray(spec["delays"]),
            tr=spec["tr"],
            snr=SNR,
            random_state=seed,
        )
    train = groups < N_RUNS
    out = data_path(size, seed)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {
        "X": X[train],
        "Y": y[train],
        "groups": groups[train],
        "X_test": X[~train],
        "Y_test": y[~train],
        "groups_test": groups[~train] - N_RUNS,
    }
    for name, arr in arrays.items():
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        np.save(out / f"{name}.npy", np.ascontiguousarray(arr))
    (out / "done").write_text("ok")


def _llm_voxels_data(spec, n_total, n_runs, seed):
    """float32 data of the llm_voxels size, generated in blocks of targets.

    ``make_encoding_data`` at this size would hold several float64 copies of
    a 9600 x 20000 response matrix; here the responses are a low-rank
    signal (64 latent HRF-delayed components of AR(1) features) plus noise
    at ``SNR``, built block by block in float32.
    """
    rng = np.random.default_rng(seed)
    n_features, n_targets = spec["n_features"], spec["n_targets"]
    delays = np.asarray(spec["delays"])
    groups = np.repeat(np.arange(n_runs), n_total // n_runs)
    X = np.empty((n_total, n_features), dtype=np.float32)
    noise = rng.standard_normal((n_total, n_features), dtype=np.float32)
    X[0] = noise[0]
    for t in range(1, n_total):  # AR(1) features, restarting in every run
        restart = groups[t] != groups[t - 1]
        X[t] = noise[t] if restart else 0.5 * X[t - 1] + 0.866 * noise[t]
    del noise
    n_latent = 64
    mixing = rng.standard_normal((n_features, n_latent)).astype(np.float32)
    latent = np.zeros((n_total, n_latent), dtype=np.float32)
    hrf = np.array([0.2, 0.5, 0.25, 0.05], dtype=np.float32)[: delays.size]
    for k, lag in enumerate(delays):
        shifted = np.zeros_like(X)
        for run in np.unique(groups):
            rows = np.flatnonzero(groups == run)
            shifted[rows[lag:]] = X[rows[: rows.size - lag]]
        latent += hrf[k] * (shifted @ mixing)
        del shifted
    latent /= latent.std(axis=0)
    y = np.empty((n_total, n_targets), dtype=np.float32)
    for start in range(0, n_targets, 2000):
        stop = min(start + 2000, n_targets)
        weights = rng.standard_normal((n_latent, stop - start)).astype(np.float32)
        block = latent @ weights
        block /= block.std(axis=0)
        block += rng.standard_normal(block.shape, dtype=np.float32) / np.sqrt(SNR)
        y[:, start:stop] = block
    return X, y, groups


def ensure_data(size, seed):
    """Generate the cached data in a subprocess unless it is there."""
    if not (data_path(size, seed) / "done").exists():
        print(f"[data] generating {size} (seed {seed}) in {data_path(size, seed)}")
        subprocess.run(
            [sys.executable, str(HERE / "_common.py"), "generate", size, str(seed)],
            check=True,
        )


def load_data(size, seed):
    """The cached arrays, float32, plus the folds, delays and alphas."""
    path = data_path(size, seed)
    d = {
        name: np.load(path / f"{name}.npy")
        for name in ("X", "Y", "groups", "X_test", "Y_test", "groups_test")
    }
    d["delays"] = np.asarray(SIZES[size]["delays"])
    d["alphas"] = np.asarray(ALPHAS)
    d["folds"] = make_folds(d["groups"])
    d["spaces"] = SIZES[size].get("spaces", (SIZES[size]["n_features"],))
    d["seed"] = seed
    return d


def make_folds(groups):
    """5 folds of whole runs (sklearn ``GroupKFold``)."""
    from sklearn.model_selection import GroupKFold

    return list(GroupKFold(N_FOLDS).split(np.zeros(len(groups)), groups=groups))


def delay(X, delays, groups):
    """Hand-rolled run-aware delays: column ``f * n_delays + k`` = X[t - delays[k], f].

    Zero-padded at the start (positive delays) or end (negative) of each run,
    independently of brainenc's own ``delay_features``.
    """
    n, p = X.shape
    out = np.zeros((n, p, len(delays)), dtype=X.dtype)
    bounds = np.flatnonzero(np.diff(groups)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, n], strict=False):
        for k, lag in enumerate(delays):
            if lag >= 0:
                out[start + lag : stop, :, k] = X[start : stop - lag]
            else:
                out[start : stop + lag, :, k] = X[start - lag : stop]
    return out.reshape(n, p * len(delays))


def child_env():
    """Environment of a child: 1 BLAS thread, no OpenBLAS core overrides."""
    env = dict(os.environ)
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        env[var] = "1"
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.setdefault("MNE_LOGGING_LEVEL", "WARNING")
    return env


def run_tool(tool, size, seed, workdir, *, timeout, fixed_alpha=None):
    """Fit one tool in a fresh process; return its JSON report (or an error)."""
    out = Path(workdir) / f"{tool}.json"
    cmd = [sys.executable, str(HERE / "_child.py"), tool, size, str(seed), str(workdir)]
    if fixed_alpha is not None:
        cmd += ["--fixed-alpha", repr(float(fixed_alpha))]
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=child_env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {
            "tool": tool,
            "error": f"timed out after {timeout} s",
            "load_before": load_before,
            "load_after": os.getloadavg(),
        }
    report = {"tool": tool, "returncode": proc.returncode}
    if proc.returncode == 0 and out.exists():
        report.update(json.loads(out.read_text()))
    else:
        tail = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
        report["error"] = tail[-1]  # the exception's own message
    report["process_s"] = time.perf_counter() - started
    report["load_before"] = load_before
    report["load_after"] = os.getloadavg()
    return report


def per_target_corr(a, b):
    """Pearson r between the columns of a and b (float64)."""
    a = a.astype(np.float64) - a.mean(axis=0)
    b = b.astype(np.float64) - b.mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=0) / den
    return np.where(den > 0, r, np.nan)


def add_agreement(reports, workdir, size, seed):
    """Agreement of held-out predictions with the reference (in place)."""
    d = load_data(size, seed)
    workdir = Path(workdir)
    ref_file = workdir / "reference_pred.npy"
    ref_pred = np.load(ref_file) if ref_file.exists() else None
    ref_alphas = (
        np.load(workdir / "reference_alphas.npy") if ref_pred is not None else None
    )
    for rep in reports:
        pred_file = workdir / f"{rep['tool']}_pred.npy"
        if "error" in rep or not pred_file.exists():
            continue
        pred = np.load(pred_file)
        rep["test_r"] = float(np.nanmean(per_target_corr(pred, d["Y_test"])))
        target = ref_pred
        if rep.get("fixed_alpha") is not None:  # compare with ridge at that alpha
            from _reference import ridge_fixed_alpha

            Xd = delay(d["X"], d["delays"], d["groups"])
            coef, b = ridge_fixed_alpha(Xd, d["Y"], rep["fixed_alpha"])
            target = delay(d["X_test"], d["delays"], d["groups_test"]) @ coef + b
            rep["agree_with"] = f"ridge at alpha={rep['fixed_alpha']:g}"
        if target is None:
            continue
        other = COMPARE_WITH.get(rep["tool"])
        if other is not None and (workdir / f"{other}_pred.npy").exists():
            target = np.load(workdir / f"{other}_pred.npy")
            rep["agree_with"] = other
        r = per_target_corr(pred, target)
        rep["agree_median"] = float(np.nanmedian(r))
        rep["agree_min"] = float(np.nanmin(r))
        rep["agree_frac_099"] = float(np.mean(r > 0.99))
        alpha_file = workdir / f"{rep['tool']}_alphas.npy"
        compare_alphas = ref_alphas
        if other is not None and (workdir / f"{other}_alphas.npy").exists():
            compare_alphas = np.load(workdir / f"{other}_alphas.npy")
        if (
            compare_alphas is not None
            and alpha_file.exists()
            and rep.get("fixed_alpha") is None
        ):
            alphas = np.load(alpha_file)
            if alphas.shape == compare_alphas.shape:
                rep["same_alpha"] = float(
                    np.mean(np.isclose(alphas, compare_alphas, rtol=1e-3))
                )


def machine_info():
    """CPU, cores, memory, date and package versions."""
    cpu = _proc_field("/proc/cpuinfo", "model name") or "unknown"
    mem_kb = _proc_field("/proc/meminfo", "MemTotal")
    mem_gb = round(int(mem_kb.split()[0]) / 1024**2, 1) if mem_kb else None
    versions = {}
    for pkg in (
        "numpy",
        "scipy",
        "scikit-learn",
        "himalaya",
        "torch",
        "mne",
        "mtrf",
        "threadpoolctl",
        "brainenc",
    ):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    try:  # the working tree's brainenc (benchmarked through PYTHONPATH=src)
        sys.path.insert(0, str(SRC))
        import brainenc

        versions["brainenc"] = f"{brainenc.__version__} (working tree)"
    except Exception:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "versions": versions,
    }


def _proc_field(path, name):
    """Value of the first ``name: value`` line of a /proc file, or None."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _fmt(value, fmt):
    return "—" if value is None else format(value, fmt)


def format_table(reports, size):
    """Markdown table: tool, time, memory, ratios to the reference, agreement."""
    ref = next(
        (r for r in reports if r["tool"] == "reference" and "error" not in r), None
    )
    lines = [
        f"size={size}  " + _size_line(size),
        "",
        "| tool | CV | wall s | cpu s | peak RSS MB | fit +MB | time / ref | "
        "peak / ref | agree r median (min) | r>0.99 | same alpha | test r "
        "| load 1-min |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rep in reports:
        if "error" in rep:
            lines.append(
                f"| {rep['tool']} | — | failed: {rep['error'][:120]} |  |  |  |  |  |  "
                "|  |  |  |  |"
            )
            continue
        t_ratio = m_ratio = None
        if ref is not None:
            t_ratio = rep["wall_s"] / ref["wall_s"]
            m_ratio = rep["peak_rss_mb"] / ref["peak_rss_mb"]
        agree = "—"
        if rep.get("agree_median") is not None:
            agree = f"{rep['agree_median']:.4f} ({rep['agree_min']:.3f})"
        wall = f"{rep['wall_s']:.2f}"
        if rep.get("fixed_alpha") is not None:
            wall += " per alpha"
        lines.append(
            "| {tool} | {cv} | {wall} | {cpu} | {peak} | {delta} | {tr} | {mr} | "
            "{agree} | {f99} | {same} | {test} | {load} |".format(
                tool=rep["tool"],
                cv=rep.get("cv", ""),
                wall=wall,
                cpu=_fmt(rep.get("cpu_s"), ".2f"),
                peak=_fmt(rep.get("peak_rss_mb"), ".0f"),
                delta=_fmt(
                    rep.get("peak_rss_mb", 0) - rep.get("rss_before_mb", 0), ".0f"
                ),
                tr=_fmt(t_ratio, ".2f"),
                mr=_fmt(m_ratio, ".2f"),
                agree=agree,
                f99=_fmt(rep.get("agree_frac_099"), ".1%"),
                same=_fmt(rep.get("same_alpha"), ".1%"),
                test=_fmt(rep.get("test_r"), ".4f"),
                load="{:.2f}-{:.2f}".format(
                    rep["load_before"][0], rep["load_after"][0]
                ),
            )
        )
    notes = [f"- {r['tool']}: {r['note']}" for r in reports if r.get("note")]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def _size_line(size):
    s = SIZES[size]
    spaces = ""
    if "spaces" in s:
        spaces = f" ({len(s['spaces'])} spaces, banded tools {N_ITER} draws)"
    return (
        f"n={s['n_samples']} p={s['n_features']}x{len(s['delays'])}{spaces} "
        f"t={s['n_targets']} ({N_RUNS} runs, {N_FOLDS} folds of whole runs, "
        f"{len(ALPHAS)} alphas {ALPHAS[0]:g}..{ALPHAS[-1]:g}, float32, 1 BLAS thread)"
    )


def main(default_tools, description):
    """Command line of every comparison script."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--size", nargs="+", default=["fmri_small"], choices=list(SIZES)
    )
    parser.add_argument(
        "--tools", nargs="+", default=list(default_tools), choices=list(TOOLS)
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds per tool (default 3600)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run the (tool, size) pairs skipped by default",
    )
    parser.add_argument(
        "--save",
        type=Path,
        default=None,
        help="write the reports and machine info to this JSON file",
    )
    args = parser.parse_args()

    info = machine_info()
    print(f"# {description}")
    print(
        f"# {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB, "
        f"{info['date']}"
    )
    print("# " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    all_reports = {}
    for size in args.size:
        ensure_data(size, args.seed)
        tools = list(args.tools)
        if size in NO_REFERENCE:
            print(f"[{size}] reference: skipped ({NO_REFERENCE[size]})")
            tools = [tool for tool in tools if tool != "reference"]
        elif "reference" not in tools:
            tools.insert(0, "reference")  # ratios and agreement need it
        reports = []
        with tempfile.TemporaryDirectory(prefix=f"bench_{size}_") as workdir:
            fixed_alpha = None
            for tool in tools:
                if (tool, size) in SKIP and not args.force:
                    print(f"[{size}] {tool}: skipped ({SKIP[tool, size]})")
                    continue
                print(
                    f"[{size}] {tool} ... (load {os.getloadavg()[0]:.2f})", flush=True
                )
                rep = run_tool(
                    tool,
                    size,
                    args.seed,
                    workdir,
                    timeout=args.timeout,
                    fixed_alpha=fixed_alpha,
                )
                if "error" in rep:
                    print(f"    failed: {rep['error']}")
                else:
                    print(f"    {rep['wall_s']:.2f} s, {rep['peak_rss_mb']:.0f} MB")
                if tool == "reference" and "error" not in rep:
                    fixed_alpha = rep["modal_alpha"]
                reports.append(rep)
            add_agreement(reports, workdir, size, args.seed)
        print()
        print(format_table(reports, size))
        spec = SIZES[size]
        design_mb = spec["n_samples"] * spec["n_features"] * len(spec["delays"]) * 4
        targets_mb = spec["n_samples"] * spec["n_targets"] * 4
        data_mb = (design_mb + targets_mb) / 2**20
        ratios = [
            f"{r['tool']} {(r['peak_rss_mb'] - r['rss_before_mb']) / data_mb:.2f}x"
            for r in reports
            if "error" not in r
        ]
        print(
            f"\ndelayed design + targets (float32): {design_mb / 2**20:.0f} + "
            f"{targets_mb / 2**20:.0f} MB; fit +MB / that: " + ", ".join(ratios)
        )
        ref = next((r for r in reports if r["tool"] == "reference"), {})
        if ref.get("blas"):
            print("\nBLAS: " + "; ".join(ref["blas"]))
        print()
        all_reports[size] = reports
    if args.save:
        args.save.write_text(
            json.dumps({"machine": info, "results": all_reports}, indent=1, default=str)
        )
        print(f"saved {args.save}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "generate":
        generate_data(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: python benchmarks/_common.py generate SIZE SEED")
