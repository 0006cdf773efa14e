"""Which rule of alpha selection holds on held-out data: per target or shared,
by held-out MSE, R^2 or Pearson r.

``python benchmarks/alpha_selection.py [--quick] [--save results.json]``

Nested cross-validation over runs on each dataset: every outer fold holds out
whole runs; on the remaining runs, ``DelayedRidge``'s inner cross-validation
(its default folds of whole runs) gives the cross-validated score of every
alpha and target for each ``scoring``, and each rule picks alphas from it with
the library's own selection (``brainenc._solvers.select_hyperparameters``).
The model refitted on the outer training runs with those alphas is scored on
the held-out runs (mean Pearson r over targets).

The oracle is the same refit scored at every alpha of the grid (one fit with
the single fold (outer train, outer test)): ``oracle shared`` is the best
alpha for the mean r of all targets, ``oracle per target`` the best alpha of
each target, both chosen on the test runs themselves (an upper bound, not a
method). Each rule is reported as the fraction of ``oracle per target`` it
reaches, averaged over outer folds; a second table gives the held-out R^2 of
the same models (what variance partitioning measures).

Datasets:

- ``fmri_snr*_t*``: ``make_encoding_data`` (10 runs of 150 TRs, 50 features x
  4 delays, HRF-shaped weights) at one SNR for every target, 200 or 2000
  targets; ``fmri_mixed``: each target's SNR log-uniform in [0.005, 1] (voxels
  of a real brain range from noise to well-driven); ``fmri_hetero``: voxels
  unlike each other in every way (which features drive them, SNR, scale);
- ``nitime``: nitime's real event-related fMRI (one BOLD time course, 3360
  TRs, six trial types as onset indicators, delays 0-14: an FIR model), cut
  in 4 runs;
- ``eeg_forward`` / ``eeg_backward``: EEG-like simulations (5 trials of 2000
  samples at 64 Hz, 16 smooth stimulus envelopes, 4 neural sources with
  random TRFs over 0-500 ms, mixed into 64 channels by smooth topographies,
  plus spatially correlated brain noise and sensor noise; channel SNR ~0.05):
  forward = 16 envelopes x 32 delays -> 64 channels, backward = 64 channels x
  32 lags (delays -31..0) -> the 16 envelopes.
"""

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from brainenc import DelayedRidge, make_encoding_data
from brainenc._solvers import select_hyperparameters
from brainenc.metrics import pearson_r

ALPHAS = np.logspace(-2, 8, 11)
SCORINGS = ("neg_mean_squared_error", "r2", "pearson_r")
RULES = [(s, per) for s in SCORINGS for per in (True, False)]


def rule_name(scoring, per_target):
    short = {"neg_mean_squared_error": "MSE", "r2": "R2", "pearson_r": "r"}[scoring]
    return f"{'per-target' if per_target else 'shared'} {short}"


# --------------------------------------------------------------------------
# datasets: (X, Y, groups, delays)


def fmri(snr, n_targets, seed):
    X, y, groups, truth = make_encoding_data(
        n_samples=1500,
        n_features=50,
        n_targets=n_targets,
        n_runs=10,
        snr=1.0 if snr == "mixed" else snr,
        random_state=seed,
    )
    if snr == "mixed":
        rng = np.random.default_rng(seed)
        target_snr = np.exp(rng.uniform(np.log(0.005), np.log(1.0), n_targets))
        clean = truth.y_clean
        noise = rng.standard_normal(clean.shape)
        noise *= clean.std(0) / np.sqrt(target_snr) / noise.std(0)
        y = clean + noise
    return X, y, groups, np.arange(1, 5)


def fmri_hetero(n_targets, seed):
    """Voxels unlike each other: each driven by a sparse mix of 5 feature
    spaces of 10 features (Dirichlet(0.2) shares), with its own HRF-shaped
    delays, SNR (log-uniform in [0.005, 1]) and scale (log-uniform over two
    decades, as raw BOLD units differ across voxels)."""
    from brainenc.datasets import make_multispace_data

    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(0.2 * np.ones(5), n_targets).T
    X, _, groups, truth = make_multispace_data(
        n_samples=1500,
        space_sizes=(10,) * 5,
        n_targets=n_targets,
        shares=shares,
        n_runs=10,
        snr=1.0,
        random_state=seed,
    )
    target_snr = np.exp(rng.uniform(np.log(0.005), np.log(1.0), n_targets))
    clean = truth.y_clean
    noise = rng.standard_normal(clean.shape)
    noise *= clean.std(0) / np.sqrt(target_snr) / noise.std(0)
    scale = np.exp(rng.uniform(0, np.log(100), n_targets))
    return X, (clean + noise) * scale, groups, np.arange(1, 5)


def nitime_fmri():
    import nitime

    path = os.path.join(
        os.path.dirname(nitime.__file__), "data", "event_related_fmri.csv"
    )
    data = np.genfromtxt(path, delimiter=",", names=True)
    bold, events = data["bold"], data["events"]
    types = np.unique(events[events != 0])
    X = (events[:, None] == types[None, :]).astype(float)
    groups = np.repeat(np.arange(4), bold.size // 4)
    return X, bold[:, None], groups, np.arange(15)


def _smooth(rng, n, k, width):
    """k smooth positive envelopes (low-passed noise, rectified)."""
    white = rng.standard_normal((n + 4 * width, k))
    kernel = np.exp(-0.5 * (np.arange(-2 * width, 2 * width + 1) / width) ** 2)
    out = np.stack([np.convolve(white[:, j], kernel, "valid") for j in range(k)], 1)
    return out[:n]


def eeg(direction, seed, n_trials=5, n_per_trial=2000):
    rng = np.random.default_rng(seed)
    n = n_trials * n_per_trial
    groups = np.repeat(np.arange(n_trials), n_per_trial)
    n_bands, n_lags, n_sources, n_channels = 16, 32, 4, 64
    common = _smooth(rng, n, 1, 6)
    stim = np.abs(0.7 * common + 0.5 * _smooth(rng, n, n_bands, 4))
    stim = (stim - stim.mean(0)) / stim.std(0)
    lags = np.arange(n_lags)
    sources = np.zeros((n, n_sources))
    for s in range(n_sources):
        peak = rng.uniform(4, 14)
        trf = np.sin(np.pi * lags / (2 * peak)) * np.exp(-lags / peak)
        gains = rng.standard_normal(n_bands)
        drive = stim @ gains
        for t in range(n_trials):  # causal response inside each trial
            rows = slice(t * n_per_trial, (t + 1) * n_per_trial)
            sources[rows, s] = np.convolve(drive[rows], trf)[:n_per_trial]
    # smooth topographies over a ring of channels (neighbours correlate)
    angle = np.linspace(0, 2 * np.pi, n_channels, endpoint=False)

    def topographies(k):
        centres = rng.uniform(0, 2 * np.pi, k)
        dist = np.angle(np.exp(1j * (angle[None, :] - centres[:, None])))
        return np.exp(-(dist**2) / 0.8) * rng.choice([-1, 1], (k, 1))

    signal = sources @ topographies(n_sources)
    brain = _smooth(rng, n, 30, 2) @ topographies(30)
    sensor = rng.standard_normal((n, n_channels))
    noise = brain / brain.std() + 0.5 * sensor
    signal *= np.sqrt(0.05) * noise.std() / signal.std()
    channels = signal + noise
    if direction == "forward":
        return stim, channels, groups, lags
    return channels, stim, groups, -lags[::-1]


def datasets(quick):
    out = {}
    snrs = (0.05, 0.3) if quick else (0.02, 0.1, 0.5)
    targets = (200,) if quick else (200, 2000)
    for snr in snrs:
        for t in targets:
            out[f"fmri_snr{snr}_t{t}"] = lambda snr=snr, t=t: fmri(snr, t, 0)
    out["fmri_mixed_t2000" if not quick else "fmri_mixed_t200"] = lambda: fmri(
        "mixed", 200 if quick else 2000, 0
    )
    out["fmri_hetero_t2000"] = lambda: fmri_hetero(2000, 0)
    out["nitime"] = nitime_fmri
    out["eeg_forward"] = lambda: eeg("forward", 0)
    out["eeg_backward"] = lambda: eeg("backward", 0)
    return out


# --------------------------------------------------------------------------


def outer_folds(groups):
    runs = np.unique(groups)
    n_outer = 5 if runs.size >= 5 else runs.size
    blocks = np.array_split(runs, n_outer)
    return [np.isin(groups, block) for block in blocks]


def evaluate(X, Y, groups, delays):
    """Per outer fold: the test r of each rule and of the two oracles."""
    rows = []
    for test in outer_folds(groups):
        train = ~test
        # the oracle: the refit on the outer training runs, scored on the test
        # runs at every alpha (one fold (train, test) of the full data)
        idx = np.arange(len(groups))
        oracle = DelayedRidge(
            delays=delays,
            alphas=ALPHAS,
            cv=[(idx[train], idx[test])],
            scoring="pearson_r",
            backend="numpy",
        ).fit(X, Y, groups=groups)
        curve = oracle.cv_scores_  # (n_alphas, n_targets) test r per alpha
        r2_curve = (
            DelayedRidge(
                delays=delays,
                alphas=ALPHAS,
                cv=[(idx[train], idx[test])],
                scoring="r2",
                backend="numpy",
            )
            .fit(X, Y, groups=groups)
            .cv_scores_
        )
        row = {
            "oracle per target": float(curve.max(0).mean()),
            "oracle shared": float(curve.mean(1).max()),
            "R2 oracle per target": float(r2_curve.max(0).mean()),
        }
        for scoring in SCORINGS:
            inner = DelayedRidge(
                delays=delays, alphas=ALPHAS, scoring=scoring, backend="numpy"
            ).fit(X[train], Y[train], groups=groups[train])
            for per_target in (True, False):
                _, best, _ = select_hyperparameters(
                    inner.cv_scores_[None], alpha_per_target=per_target
                )
                # the refit at the chosen alphas is the oracle's fit at them
                r = curve[best, np.arange(curve.shape[1])]
                row[rule_name(scoring, per_target)] = float(r.mean())
                r2 = r2_curve[best, np.arange(curve.shape[1])]
                row["R2 " + rule_name(scoring, per_target)] = float(r2.mean())
        # check the shortcut once: a refit at the chosen alphas scores the same
        if not rows:
            chosen = ALPHAS[best]
            model = DelayedRidge(
                delays=delays, alphas=chosen[:1], backend="numpy", cv=2
            ).fit(X[train], Y[train], groups=groups[train])
            direct = pearson_r(
                Y[test], model.predict(X[test], groups=groups[test])
            ).mean()
            if not per_target and not np.isclose(direct, r.mean(), atol=1e-3):
                raise AssertionError((direct, r.mean()))
        rows.append(row)
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--save", type=Path)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)  # alphas on the grid's edge
    results = {}
    for name, make in datasets(args.quick).items():
        if args.only and name not in args.only:
            continue
        load = os.getloadavg()[0]
        start = time.perf_counter()
        X, Y, groups, delays = make()
        results[name] = evaluate(X, Y, groups, delays)
        results[name]["seconds"] = time.perf_counter() - start
        results[name]["load"] = load
        print(name, json.dumps(results[name]), flush=True)
    names = [rule_name(*rule) for rule in RULES]
    print()
    print(
        "| dataset | oracle per target (r) | oracle shared | "
        + " | ".join(names)
        + " |"
    )
    print("|---" * (len(names) + 3) + "|")
    for name, res in results.items():
        top = res["oracle per target"]
        cells = [f"{res[n] / top:.1%}" for n in names]
        best = max(names, key=lambda n: res[n])
        cells = [
            f"**{c}**" if n == best else c for c, n in zip(cells, names, strict=True)
        ]
        print(
            f"| {name} | {top:.4f} | {res['oracle shared'] / top:.1%} | "
            + " | ".join(cells)
            + " |"
        )
    print()
    print("Held-out R^2 (mean over targets) of the same models:")
    print()
    print("| dataset | oracle per target (R^2) | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 2) + "|")
    for name, res in results.items():
        print(
            f"| {name} | {res['R2 oracle per target']:.4f} | "
            + " | ".join(f"{res['R2 ' + n]:.4f}" for n in names)
            + " |"
        )
    if args.save:
        args.save.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
