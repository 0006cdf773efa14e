"""The neural encoders' defaults against DelayedRidge's, over a grid of problems.

``python benchmarks/neural_defaults.py --out results/DATE_neural_defaults.jsonl``
runs the grid (one JSON line per model and cell, written as it goes);
``python benchmarks/neural_defaults.py --report FILE`` prints its tables.

Every cell is a synthetic problem with a known truth: 16 i.i.d. Gaussian
features in runs of 250 samples, ``n_train`` training samples and 1 000 more
(4 runs) never seen by any fit, and targets standardised then given Gaussian
noise at a signal-to-noise variance ratio ``snr`` (4: noise SD half the
signal's; 0.25: twice). The truths:

- ``linear``: the delayed features (delays 1, 2, 3) times Gaussian weights;
- ``nonlinear``: even functions and interactions of 8 projections ``z`` of
  the delayed features, ``|z_1|, ..., |z_4|, z_5 z_6, z_7 z_8``, mixed into
  the targets by Gaussian weights: no linear model can predict them;
- ``long``: a causal 40-sample moving average of the features (inside each
  run) times Gaussian weights: far beyond 4 delays.

Each model is fitted with its defaults (``random_state=0``) on the training
runs, with ``groups``; ``test r`` is the mean Pearson r over targets on the
held-out runs, ``ceiling`` that of the noise-free signal. ``mlp_paper`` is
PCAMLPEncoder with the Mind the Gap settings (the defaults before this
benchmark), run on the two smallest sizes only. One BLAS thread and one torch
thread; the 1-minute load average is recorded at the start and end of every
fit.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np
from scipy.signal import lfilter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from brainenc import DelayedRidge, delay_features, pearson_r

N_FEATURES = 16
RUN_LENGTH = 250
N_TEST = 1000
SIZES = (1000, 3000, 10000, 30000)
TARGETS = (50, 1000)
TRUTHS = ("linear", "nonlinear", "long")
SNRS = (4.0, 0.25)
#: Mind the Gap's settings of PCAMLPEncoder (its defaults before this grid).
PAPER_MLP = {
    "activation": "tanh",
    "batch_norm": True,
    "dropout": 0.2,
    "loss": "l1",
    "lr": 1e-3,
    "lr_schedule": "constant",
    "warmup": 0.0,
    "min_steps": 0,
    "patience": 10,
}


#: One change from the defaults each (``--models mlp:tanh ...``): how the
#: defaults were chosen.
VARIANTS = {
    "mlp:tanh": {"activation": "tanh"},
    "mlp:relu": {"activation": "relu"},
    "mlp:batch_norm": {"batch_norm": True},
    "mlp:dropout0.2": {"dropout": 0.2},
    "mlp:l1": {"loss": "l1"},
    "mlp:lr1e-3": {"lr": 1e-3},
    "mlp:constant": {"lr_schedule": "constant"},
    "mlp:patience10": {"patience": 10},
    "mlp:min_steps0": {"min_steps": 0},
    "conv:acausal": {"causal": False},
    "conv:embed192": {"embed_dim": 192},
    "conv:lr3e-4": {"lr": 3e-4},
    "conv:medarc": {
        "embed_dim": 192,
        "causal": False,
        "lr": 3e-4,
        "lr_schedule": "constant",
        "warmup": 0.0,
        "min_steps": 0,
        "patience": 3,
    },
}


def make_problem(truth, n_train, n_targets, snr, seed):
    """Features, responses, runs, training mask and noise-free signal."""
    rng = np.random.default_rng(seed)
    n = n_train + N_TEST
    n_runs = -(-n // RUN_LENGTH)
    X = rng.standard_normal((n_runs * RUN_LENGTH, N_FEATURES))[:n]
    groups = np.repeat(np.arange(n_runs), RUN_LENGTH)[:n]
    if truth == "long":
        boxcar = np.ones(40) / 40
        drive = np.concatenate(
            [lfilter(boxcar, 1.0, X[groups == g], axis=0) for g in range(n_runs)]
        )
        signal = drive @ rng.standard_normal((N_FEATURES, n_targets))
    else:
        D = delay_features(X, [1, 2, 3], groups)
        if truth == "linear":
            signal = D @ rng.standard_normal((D.shape[1], n_targets))
        else:
            Z = D @ rng.standard_normal((D.shape[1], 8)) / np.sqrt(D.shape[1])
            products = Z[:, 4::2] * Z[:, 5::2]
            F = np.hstack([np.abs(Z[:, :4]), products])
            signal = F @ rng.standard_normal((F.shape[1], n_targets))
    signal = (signal - signal.mean(axis=0)) / signal.std(axis=0)
    y = signal + rng.standard_normal(signal.shape) / np.sqrt(snr)
    train = np.arange(n) < n_train
    return X, y, groups, train, signal


def make_model(name):
    if name == "ridge":
        return DelayedRidge()
    from brainenc.neural import ConvTemporalEncoder, PCAMLPEncoder

    if name == "mlp":
        return PCAMLPEncoder(random_state=0)
    if name == "mlp_paper":
        return PCAMLPEncoder(random_state=0, **PAPER_MLP)
    if name == "conv":
        return ConvTemporalEncoder(random_state=0)
    if name in VARIANTS:
        cls = PCAMLPEncoder if name.startswith("mlp") else ConvTemporalEncoder
        return cls(random_state=0, **VARIANTS[name])
    raise ValueError(f"unknown model {name!r}")


def _load():
    return float(open("/proc/loadavg").read().split()[0])


def run_cell(cell, models, seed):
    X, y, groups, train, signal = make_problem(
        cell["truth"], cell["n_train"], cell["n_targets"], cell["snr"], seed
    )
    test = ~train
    ceiling = float(pearson_r(y[test], signal[test]).mean())
    for name in models:
        if name == "mlp_paper" and cell["n_train"] > 3000:
            continue
        model = make_model(name)
        load_start = _load()
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X[train], y[train], groups=groups[train])
        fit_time = time.perf_counter() - start
        r = float(model.score(X[test], y[test], groups=groups[test]))
        row = {
            **cell,
            "seed": seed,
            "model": name,
            "test_r": r,
            "ceiling": ceiling,
            "fit_s": fit_time,
            "load_start": load_start,
            "load_end": _load(),
            "learned_nothing": any("learned nothing" in str(w.message) for w in caught),
        }
        if hasattr(model, "history_"):
            row.update(
                n_epochs=model.n_epochs_,
                best_epoch=model.best_epoch_,
                n_steps=model.n_steps_,
                epoch_s=float(np.mean([h["dur"] for h in model.history_])),
            )
        yield row


def grid(sizes, targets, truths, snrs, reduced_largest):
    for n_train in sizes:
        for n_targets in targets:
            if reduced_largest and n_train == max(SIZES) and n_targets != min(targets):
                continue
            for truth in truths:
                for snr in snrs:
                    yield {
                        "n_train": n_train,
                        "n_targets": n_targets,
                        "truth": truth,
                        "snr": snr,
                    }


def report(path):
    with open(path) as lines:
        rows = [json.loads(line) for line in lines]
    header = next((r for r in rows if r.get("model") == "_machine"), None)
    rows = [r for r in rows if r.get("model") != "_machine"]
    if header:
        print(f"machine: {header['machine']}; started {header['date']}\n")
    cells = {}
    for r in rows:
        key = (r["n_train"], r["n_targets"], r["truth"], r["snr"])
        cells.setdefault(key, {})[r["model"]] = r
    print(
        "| n_train | targets | truth | snr | ceiling | ridge r | MLP r (Δ) | "
        "MLP paper r | conv r (Δ) | MLP fit s (epochs, epoch s) | "
        "conv fit s (epochs, epoch s) | ridge fit s | load |"
    )
    print("|" + "---|" * 13)
    for key in sorted(cells, key=lambda k: (k[0], k[1], TRUTHS.index(k[2]), -k[3])):
        c = cells[key]
        if "mlp" not in c and "conv" not in c:
            continue
        ridge = c.get("ridge", {}).get("test_r", np.nan)

        def r_of(name, delta=True, c=c, ridge=ridge):
            if name not in c:
                return "-"
            r = c[name]["test_r"]
            flag = " (!)" if c[name].get("learned_nothing") else ""
            return f"{r:.3f} ({r - ridge:+.3f}){flag}" if delta else f"{r:.3f}{flag}"

        def cost(name, c=c):
            if name not in c:
                return "-"
            m = c[name]
            return f"{m['fit_s']:.0f} ({m['n_epochs']}, {m['epoch_s']:.2f})"

        loads = [m[k] for m in c.values() for k in ("load_start", "load_end")]
        print(
            f"| {key[0]} | {key[1]} | {key[2]} | {key[3]:g} | "
            f"{next(iter(c.values()))['ceiling']:.3f} | {ridge:.3f} | "
            f"{r_of('mlp')} | {r_of('mlp_paper', delta=False)} | {r_of('conv')} | "
            f"{cost('mlp')} | {cost('conv')} | "
            f"{c.get('ridge', {}).get('fit_s', np.nan):.1f} | "
            f"{min(loads):.1f}-{max(loads):.1f} |"
        )
    report_variants(rows)


def report_variants(rows):
    """Mean held-out r of each variant and of the defaults, per cell."""
    cells = {}
    for r in rows:
        key = (r["n_train"], r["n_targets"], r["truth"], r["snr"])
        cells.setdefault(key, {})[r["model"]] = r["test_r"]
    names = [n for n in VARIANTS if any(n in c for c in cells.values())]
    if not names:
        return
    keys = [k for k in sorted(cells) if any(n in cells[k] for n in names)]
    print("\n| variant | " + " | ".join(f"{k[0]} {k[2]} {k[3]:g}" for k in keys) + " |")
    print("|" + "---|" * (len(keys) + 1))
    for name in ["ridge", "mlp", "conv", *names]:
        values = [cells[k].get(name) for k in keys]
        text = [f"{v:.3f}" if v is not None else "-" for v in values]
        print(f"| {name} | " + " | ".join(text) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--targets", type=int, nargs="+", default=TARGETS)
    parser.add_argument("--truths", nargs="+", default=TRUTHS, choices=TRUTHS)
    parser.add_argument("--snrs", type=float, nargs="+", default=SNRS)
    parser.add_argument(
        "--models", nargs="+", default=["ridge", "mlp", "mlp_paper", "conv"]
    )
    parser.add_argument(
        "--full-largest",
        action="store_true",
        help="run every target count at the largest size (default: the smallest only)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--report", type=Path, help="print the tables of a run")
    args = parser.parse_args()
    if args.report:
        report(args.report)
        return
    import torch

    torch.set_num_threads(1)
    out = open(args.out, "a") if args.out else sys.stdout  # noqa: SIM115
    machine = {
        "model": "_machine",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}",
    }
    print(json.dumps(machine), file=out, flush=True)
    reduced = not args.full_largest
    cells = grid(args.sizes, args.targets, args.truths, args.snrs, reduced)
    for i, cell in enumerate(cells):
        for row in run_cell(cell, args.models, seed=args.seed + i):
            print(json.dumps(row), file=out, flush=True)


if __name__ == "__main__":
    main()
