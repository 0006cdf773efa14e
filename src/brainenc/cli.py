"""The ``brainenc`` command.

- ``brainenc demo`` fits a :class:`~brainenc.DelayedRidge` on synthetic data with
  a known noise ceiling and reports how close it gets.
- ``brainenc fit`` loads per-run feature and response files
  (:func:`brainenc.io.load_runs`: arrays, or NIfTI runs with ``--mask``, GIFTI
  or CIFTI series, MNE ``.fif`` files), holds out the last run(s), fits a model
  on the others and writes to ``--out`` the model (``model.pkl``), the held-out
  predictions (``predictions.npz``), the per-target held-out scores
  (``scores.csv``), a summary (``summary.json``), the scores as brain maps in
  the responses' space (``r.nii.gz``, ``r.func.gii``, ``r.dscalar.nii``,
  ``r-ave.fif``) and figures (``figures/*.png``, ``figures/r_map.png``); with
  ``--permutations N``, a run-aware permutation test of every target's r (p,
  FDR q and family-wise p in ``scores.csv`` and as maps, counts in
  ``summary.json``, ``figures/significance.png``).
- ``brainenc predict`` and ``brainenc score`` apply a saved model to new files
  (``score --map`` writes the map of its scores).

``python -m brainenc`` runs the same commands. Progress goes to stderr (a bar on
a terminal), results to stdout; an error prints one line
``brainenc: error: ...`` and exits with 1.
"""

import argparse
import ast
import contextlib
import csv
import json
import platform
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["main"]

_BACKENDS = ("auto", "numpy", "torch", "torch_cuda")


def main(argv=None):
    """Run the ``brainenc`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    exit_code : int
        0 on success, 1 when the command failed (one line
        ``brainenc: error: ...`` is printed on stderr), 2 for bad arguments
        (argparse's usage message is printed on stderr).

    Examples
    --------
    >>> from brainenc.cli import main
    >>> main(["--version"])
    brainenc ...
    0
    >>> main(["demo", "--n-samples", "600", "--n-targets", "5", "--quiet"])
    held-out mean r  0...
    noise ceiling    0...
    ratio            ...
    median alpha     ...
    fit time (s)     ...
    0
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an argparse error
        return _exit_code(exc.code)
    try:
        with _one_line_warnings():
            return args.func(args)
    except KeyboardInterrupt:
        _print_line("brainenc: interrupted")
        return 130
    except Exception as exc:  # one line, no traceback
        message = str(exc).strip().splitlines()
        message = message[0] if message else type(exc).__name__
        _print_line(f"brainenc: error: {message}")
        return 1


def _build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="brainenc",
        description="Brain encoding models with a scikit-learn API.",
    )
    parser.add_argument(
        "--version", action="version", version=f"brainenc {__version__}"
    )
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )

    demo = commands.add_parser(
        "demo",
        help="fit DelayedRidge on synthetic data and compare with the noise ceiling",
        description=(
            "Generate synthetic fMRI-like data with a known ground truth "
            "(brainenc.datasets.make_encoding_data), fit DelayedRidge on the "
            "training runs (alpha chosen per target by leave-runs-out "
            "cross-validation) and score it on the held-out runs, next to the "
            "noise ceiling (the best Pearson r any model can reach there)."
        ),
    )
    demo.add_argument(
        "--n-targets",
        type=_positive_int,
        default=100,
        metavar="N",
        help="number of response targets (default: %(default)s)",
    )
    demo.add_argument(
        "--n-features",
        type=_positive_int,
        default=20,
        metavar="N",
        help="number of stimulus features (default: %(default)s)",
    )
    demo.add_argument(
        "--n-samples",
        type=_positive_int,
        default=1800,
        metavar="N",
        help="number of samples (TRs), all runs together (default: %(default)s)",
    )
    demo.add_argument(
        "--n-runs",
        type=_positive_int,
        default=6,
        metavar="N",
        help="number of runs; the last one is held out (default: %(default)s)",
    )
    demo.add_argument(
        "--snr",
        type=_positive_float,
        default=1.0,
        metavar="S",
        help="signal-to-noise variance ratio per target (default: %(default)s)",
    )
    demo.add_argument(
        "--backend",
        choices=_BACKENDS,
        default="auto",
        help="ridge backend (default: %(default)s)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="random seed of the data and the model (default: %(default)s)",
    )
    demo.add_argument(
        "--quiet",
        action="store_true",
        help="print only the results table",
    )
    demo.set_defaults(func=_run_demo)
    _add_fit_parser(commands)
    _add_predict_parser(commands)
    _add_score_parser(commands)
    return parser


def _run_demo(args):
    from .datasets import make_encoding_data
    from .linear import DelayedRidge
    from .metrics import pearson_r

    if args.n_runs < 3:
        raise ValueError(
            f"--n-runs must be at least 3 (two to train and cross-validate on, "
            f"one to test on), got {args.n_runs}."
        )
    delays = 4
    X, y, groups, truth = make_encoding_data(
        n_samples=args.n_samples,
        n_features=args.n_features,
        n_targets=args.n_targets,
        n_runs=args.n_runs,
        delays=delays,
        tr=2.0,
        snr=args.snr,
        random_state=args.seed,
    )
    test = groups == groups[-1]
    train = ~test
    n_train_runs = len(np.unique(groups[train]))
    if not args.quiet:
        print(
            f"Synthetic data: {X.shape[0]} samples in {args.n_runs} runs (TR 2 s), "
            f"{X.shape[1]} features, {y.shape[1]} targets, SNR {args.snr:g}, "
            f"HRF-shaped weights at delays 1-{delays}."
        )
        print(
            f"Fitting DelayedRidge on runs 0-{n_train_runs - 1} "
            f"({int(train.sum())} samples, backend {args.backend!r}); "
            f"testing on run {groups[-1]} ({int(test.sum())} samples)."
        )
    model = DelayedRidge(
        delays=delays,
        cv=min(5, n_train_runs),
        backend=args.backend,
        random_state=args.seed,
    )
    start = time.perf_counter()
    model.fit(X[train], y[train], groups=groups[train])
    fit_time = time.perf_counter() - start

    r = pearson_r(y[test], model.predict(X[test], groups=groups[test]))
    ceiling = pearson_r(y[test], truth.y_clean[test])
    mean_r = float(np.mean(r))
    mean_ceiling = float(np.mean(ceiling))
    rows = [
        ("held-out mean r", f"{mean_r:.3f}"),
        ("noise ceiling", f"{mean_ceiling:.3f}"),
        ("ratio", f"{mean_r / mean_ceiling:.3f}"),
        ("median alpha", f"{float(np.median(model.best_alphas_)):.3g}"),
        ("fit time (s)", f"{fit_time:.2f}"),
    ]
    if not args.quiet:
        print()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def _add_data_arguments(parser, *, responses, zscore):
    data = parser.add_argument_group("data")
    data.add_argument(
        "--features",
        nargs="+",
        action="extend",
        required=True,
        metavar="[NAME=]PATH",
        help=(
            "feature files, one per run: files, directories or glob patterns. "
            "Every array of a run's .npz/.h5 file is a feature space named by its "
            "key; NAME=PATH gives a space its own files (repeat for several "
            "spaces)"
        ),
    )
    if responses:
        data.add_argument(
            "--responses",
            nargs="+",
            action="extend",
            required=True,
            metavar="PATH",
            help=(
                "response files, one per run, paired with the features by run "
                "name: .npy/.npz/.h5 arrays, 4-D NIfTI images (.nii, .nii.gz; "
                "with --mask), GIFTI series (.func.gii), CIFTI series "
                "(.dtseries.nii) or MNE raw files (.fif)"
            ),
        )
        data.add_argument(
            "--response-key",
            metavar="KEY",
            help="array to read in .npz/.h5 response files holding several",
        )
        data.add_argument(
            "--mask",
            metavar="PATH",
            help=(
                "brain mask image (.nii/.nii.gz): its non-zero voxels are the "
                "targets of NIfTI responses (required there); for GIFTI "
                "responses, one value per vertex (.gii/.npy), non-zero kept; for "
                "array responses, the mask whose voxels the columns are, to "
                "write brain maps"
            ),
        )
    data.add_argument(
        "--runs",
        nargs="+",
        action="extend",
        metavar="RUN",
        help="runs to use, in this order (default: all, in natural order of names)",
    )
    data.add_argument(
        "--run-pattern",
        metavar="REGEX",
        help=(
            "regular expression whose first group is the run name in a file name "
            "(default: the file name without its ending)"
        ),
    )
    data.add_argument(
        "--length-mismatch",
        choices=("trim", "pad", "error"),
        default="trim",
        help=(
            "runs whose arrays differ by a few samples: trim all to the shortest, "
            "pad/trim the features to the responses' length, or fail "
            "(default: %(default)s)"
        ),
    )
    data.add_argument(
        "--max-mismatch",
        type=_nonnegative_int,
        default=5,
        metavar="N",
        help="largest length difference (samples) to reconcile (default: %(default)s)",
    )
    if zscore:
        data.add_argument(
            "--feature-keys",
            nargs="+",
            action="extend",
            metavar="KEY",
            help="arrays of the feature files to read (default: all numeric arrays)",
        )
        data.add_argument(
            "--zscore",
            choices=("none", "features", "responses", "both"),
            default="none",
            help=(
                "z-score every column within every run; predict and score apply "
                "the same (default: %(default)s)"
            ),
        )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress messages on stderr"
    )


def _add_fit_parser(commands):
    fit = commands.add_parser(
        "fit",
        help="fit a model on per-run files, evaluate it on held-out runs",
        description=(
            "Load per-run features and responses, hold out the last run(s) (or "
            "--test-runs), fit the model on the other runs (its hyper-parameters "
            "chosen by cross-validation over those runs) and score it on the "
            "held-out runs. Writes to --out: model.pkl (the model fitted on the "
            "training runs, which made the held-out predictions), predictions.npz "
            "(held-out predictions, one array per run), scores.csv (held-out "
            "Pearson r per target), summary.json, figures/*.png and, for "
            "neuroimaging responses, the scores as maps in their space "
            "(r.nii.gz with mask.nii.gz, r.func.gii, r.dscalar.nii or "
            "r-ave.fif) and figures/r_map.png."
        ),
    )
    _add_data_arguments(fit, responses=True, zscore=True)
    model = fit.add_argument_group("model")
    model.add_argument(
        "--model",
        default="delayed-ridge",
        metavar="NAME",
        help=f"one of {', '.join(_MODELS)} (default: %(default)s)",
    )
    model.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=(
            "a parameter of the model, VALUE a Python literal (number, list, "
            "tuple, True/False/None) or else a string; repeat for several. "
            "With --model stacked, parameters of StackedRegressor go to it and "
            "those of DelayedRidge (or ridge__KEY) to every space's ridge"
        ),
    )
    model.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="random_state of the model (default: %(default)s)",
    )
    held = fit.add_mutually_exclusive_group()
    held.add_argument(
        "--test-runs",
        nargs="+",
        action="extend",
        metavar="RUN",
        help="runs held out for evaluation",
    )
    held.add_argument(
        "--n-test-runs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="hold out the last N runs (default: %(default)s)",
    )
    ceiling = fit.add_argument_group("noise ceiling")
    ceiling.add_argument(
        "--repeats",
        metavar="PATH",
        help=(
            "responses to repeated presentations, (n_repeats, n_samples, "
            "n_targets), for the per-target noise ceiling"
        ),
    )
    ceiling.add_argument("--repeats-key", metavar="KEY", help="array in --repeats")
    ceiling.add_argument(
        "--repeats-averaged",
        type=_positive_int,
        default=1,
        metavar="N",
        help=(
            "repeats averaged in the scored responses: the ceiling is that of a "
            "mean of N repeats (default: %(default)s, single trials)"
        ),
    )
    significance = fit.add_argument_group("significance")
    significance.add_argument(
        "--permutations",
        type=_nonnegative_int,
        default=0,
        metavar="N",
        help=(
            "test every target's held-out r with N circular shifts within the "
            "held-out runs (brainenc.stats.permutation_test, seeded by --seed): "
            "columns p, q (FDR, Benjamini-Hochberg) and p_fwe (max statistic) "
            "in scores.csv, p and q maps beside the r map, counts in "
            "summary.json, figures/significance.png "
            "(default: %(default)s, no test)"
        ),
    )
    output = fit.add_argument_group("output")
    output.add_argument(
        "--out", required=True, metavar="DIR", help="output directory (created)"
    )
    output.add_argument(
        "--tr",
        type=_positive_float,
        metavar="SECONDS",
        help=(
            "sampling interval (TR), to draw the delay profile in seconds "
            "(default: from the NIfTI, CIFTI or .fif files when they say it)"
        ),
    )
    output.add_argument(
        "--no-figures", action="store_true", help="do not draw the figures"
    )
    fit.set_defaults(func=_run_fit)


def _add_predict_parser(commands):
    predict = commands.add_parser(
        "predict",
        help="predict responses from features with a saved model",
        description=(
            "Apply a model saved by 'brainenc fit' to feature files (the same "
            "feature spaces, z-scored as at fit time) and write the predictions: "
            ".npz or .h5 (one array per run) or .npy (the runs concatenated)."
        ),
    )
    predict.add_argument("model", metavar="MODEL", help="model.pkl or its directory")
    _add_data_arguments(predict, responses=False, zscore=False)
    predict.add_argument(
        "--out", required=True, metavar="FILE", help="predictions file to write"
    )
    predict.set_defaults(func=_run_predict)


def _add_score_parser(commands):
    score = commands.add_parser(
        "score",
        help="score a saved model on feature and response files",
        description=(
            "Predict the responses of the given runs with a model saved by "
            "'brainenc fit' and print the mean Pearson r over targets (computed "
            "over the runs together, as fit does on the held-out runs)."
        ),
    )
    score.add_argument("model", metavar="MODEL", help="model.pkl or its directory")
    _add_data_arguments(score, responses=True, zscore=False)
    score.add_argument(
        "--out", metavar="FILE", help="write per-target scores to this CSV file"
    )
    score.add_argument(
        "--map",
        metavar="FILE",
        help=(
            "write the per-target scores as a map in the responses' space "
            "(r.nii.gz, r.func.gii, r.dscalar.nii, r-ave.fif); NIfTI responses "
            "use --mask, or the mask the model was fitted with"
        ),
    )
    score.set_defaults(func=_run_score)


# --------------------------------------------------------------------------
# fit / predict / score

_MODEL_FILE = "model.pkl"


def _run_fit(args):
    """``brainenc fit``: load, fit and score, write."""
    start = time.perf_counter()
    log = _Log(args.quiet)
    entry = _model_entry(args.model)
    params = _parse_params(args.param)
    estimator_class = entry.load(args.model)
    _check_param_names(args.model, entry, estimator_class, params)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a directory, but {str(out)!r} is a file.")
    data = _load_fit_data(args, entry, log)
    data.load_time = time.perf_counter() - start
    result = _fit_and_score(args, entry, estimator_class, params, data, log)
    _write_fit(args, out, data, result, log, start)
    return 0


@dataclass
class _FitResult:
    """What ``brainenc fit`` computed, for the write step.

    ``columns`` are the per-target columns of ``scores.csv`` after ``r`` and
    ``maps`` the per-target values written as maps in the responses' space
    (``{name}{ending}``, e.g. ``r.nii.gz``), both in the order given;
    ``figure_maps`` names the maps also drawn as ``figures/{name}_map.png``;
    ``significance`` is what :func:`_significance` returned (or None).
    """

    model: object
    params: dict
    y_pred: np.ndarray
    r: np.ndarray
    columns: dict = field(default_factory=dict)
    maps: dict = field(default_factory=dict)
    figure_maps: tuple = ("r",)
    hyperparameters: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    significance: object = None


def _load_fit_data(args, entry, log):
    """The data of ``fit``: runs loaded, test runs chosen, the noise ceiling."""
    zscore = None if args.zscore == "none" else args.zscore
    data = _load(
        args,
        responses=args.responses,
        zscore=zscore,
        allow_nan=entry.nan_y,
        feature_keys=args.feature_keys,
        mask=args.mask,
        sfreq=None if args.tr is None else 1.0 / args.tr,
    )
    data.zscore = zscore
    data.test_runs = _test_runs(args, data.runs)
    data.train_runs = [run for run in data.runs if run not in data.test_runs]
    data.test = np.isin(data.groups, data.test_runs)
    data.train = ~data.test
    data.ceiling = None
    if args.repeats is not None:
        data.ceiling = _ceiling(args, data.y.shape[1])
    for message in data.messages:
        log(message)
    return data


def _fit_and_score(args, entry, estimator_class, params, data, log):
    """Fit on the training runs, score per target on the held-out runs."""
    from .metrics import pearson_r

    model = entry.build(
        estimator_class,
        params,
        data.feature_spaces,
        args.seed,
        verbose=not args.quiet,
    )
    spaces = ", ".join(
        f"{name} {cols.stop - cols.start}" for name, cols in data.feature_spaces.items()
    )
    train, test = data.train, data.test
    log(
        f"{len(data.runs)} runs, {data.X.shape[0]} samples, {data.X.shape[1]} "
        f"features ({spaces}), {data.y.shape[1]} targets{_space_text(data.space)}; "
        f"training on {len(data.train_runs)} runs ({int(train.sum())} samples), "
        f"testing on {', '.join(data.test_runs)} ({int(test.sum())} samples)"
    )
    log(f"fitting {type(model).__name__} ...")
    tic = time.perf_counter()
    model.fit(data.X[train], data.y[train], groups=data.groups[train])
    fit_time = time.perf_counter() - tic
    log(f"fit done in {fit_time:.1f} s")

    tic = time.perf_counter()
    y_pred = model.predict(data.X[test], groups=data.groups[test])
    y_pred = y_pred.reshape(y_pred.shape[0], -1)
    predict_time = time.perf_counter() - tic
    y_test = data.y[test]
    missing = bool(np.isnan(y_test).any())
    r = pearson_r(y_test, y_pred, nan_policy="omit" if missing else "raise")
    significance = None
    if args.permutations:
        significance = _significance(
            y_test,
            y_pred,
            data.groups[test],
            args.permutations,
            seed=args.seed,
            missing=missing,
            keep_null=not args.no_figures,
            log=log,
        )
    del y_test

    hyper, columns = entry.summary(model)
    maps = {"r": r}
    if data.ceiling is not None:
        columns = {"ceiling": data.ceiling, **columns}
        maps["ceiling"] = data.ceiling
    if significance is not None:
        columns.update(significance.columns)
        # p and q as maps too (p_fwe stays in scores.csv)
        maps.update(
            {key: significance.columns[key] for key in ("p", "q")}
            if significance.columns
            else {}
        )
    return _FitResult(
        model=model,
        params=params,
        y_pred=y_pred,
        r=r,
        columns=columns,
        maps=maps,
        hyperparameters=hyper,
        timings={"fit": fit_time, "predict": predict_time},
        significance=significance,
    )


def _write_fit(args, out, data, result, log, start):
    """Write every output of ``fit`` to ``out`` and print the results table."""
    from . import __version__
    from .io import save_model

    out.mkdir(parents=True, exist_ok=True)
    model, r, ceiling = result.model, result.r, data.ceiling
    space = _describe_space(data.space)
    metadata = {
        "model": args.model,
        "feature_spaces": {
            name: [cols.start, cols.stop] for name, cols in data.feature_spaces.items()
        },
        "feature_keys": args.feature_keys,
        "response_key": args.response_key,
        "zscore": data.zscore,
        "n_features": int(data.X.shape[1]),
        "n_targets": int(data.y.shape[1]),
        "train_runs": data.train_runs,
        "test_runs": data.test_runs,
        "responses": space,
        "sfreq": data.sfreq,
    }
    files = {}
    # Progress was for this command; the saved model is quiet unless asked.
    model.set_params(verbose=result.params.get("verbose", 0))
    files["model"] = str(save_model(out / _MODEL_FILE, model, **_jsonable(metadata)))
    files["predictions"] = str(out / "predictions.npz")
    np.savez(
        out / "predictions.npz",
        **{run: result.y_pred[data.groups[data.test] == run] for run in data.test_runs},
    )
    files["scores"] = str(_write_scores(out / "scores.csv", r, result.columns))
    maps = _write_maps(out, data.space, result.maps)
    if maps:
        files["maps"] = {name: str(path) for name, path in maps.items()}
        names = ", ".join(path.name for path in maps.values())
        log(f"wrote {len(maps)} map(s) to {out}: {names}")
    mask = _write_mask(out, data.space)
    if mask is not None:
        files["mask"] = str(mask)

    figure_time = 0.0
    if not args.no_figures:
        tic = time.perf_counter()
        tr = args.tr if args.tr is not None else _interval(data.sfreq)
        figures = _draw_figures(
            out / "figures", model, r, ceiling, tr, log, result.significance
        )
        figures += _draw_maps(out / "figures", data.space, result, log)
        log(f"wrote {len(figures)} figures to {out / 'figures'}")
        figure_time = time.perf_counter() - tic
        files["figures"] = [str(path) for path in figures]

    scores = {
        "mean_r": float(np.mean(r)),
        "median_r": float(np.median(r)),
        "min_r": float(np.min(r)),
        "max_r": float(np.max(r)),
        "n_targets": int(r.size),
    }
    if ceiling is not None:
        scores["mean_ceiling"] = float(np.mean(ceiling))
        mean_ceiling = scores["mean_ceiling"]
        scores["mean_r_over_mean_ceiling"] = (
            scores["mean_r"] / mean_ceiling if mean_ceiling > 0 else None
        )
    summary = {
        "brainenc_version": __version__,
        "options": {key: value for key, value in vars(args).items() if key != "func"},
        "model": args.model,
        "estimator": type(model).__name__,
        "params": _jsonable(_model_params(model)),
        "data": {
            "runs": data.runs,
            "train_runs": data.train_runs,
            "test_runs": data.test_runs,
            "n_samples_train": int(data.train.sum()),
            "n_samples_test": int(data.test.sum()),
            "n_samples_per_run": data.n_samples_per_run,
            "n_features": int(data.X.shape[1]),
            "n_targets": int(data.y.shape[1]),
            "feature_spaces": {
                name: cols.stop - cols.start
                for name, cols in data.feature_spaces.items()
            },
            "adjusted_runs": data.adjusted,
            "zscore": data.zscore,
            "sfreq": data.sfreq,
            "responses": space,
            "files": data.files,
        },
        "evaluation": (
            "model fitted on the training runs (hyper-parameters by "
            "cross-validation over them), Pearson r per target on the held-out "
            "runs together"
        ),
        "scores": scores,
        **(
            {}
            if result.significance is None
            else {"significance": result.significance.summary}
        ),
        "hyperparameters": _jsonable(result.hyperparameters),
        "timings_s": {
            "load": round(data.load_time, 3),
            "fit": round(result.timings["fit"], 3),
            "predict": round(result.timings["predict"], 3),
            "figures": round(figure_time, 3),
            "total": round(time.perf_counter() - start, 3),
        },
        "versions": _versions(),
        "files": files,
    }
    with open(out / "summary.json", "w") as file:
        json.dump(_jsonable(summary), file, indent=2, allow_nan=False)

    rows = [("held-out mean r", f"{scores['mean_r']:.4f}")]
    rows.append(("held-out median r", f"{scores['median_r']:.4f}"))
    if ceiling is not None:
        rows.append(("mean noise ceiling", f"{scores['mean_ceiling']:.4f}"))
    significance = result.significance
    if significance is not None and "n_significant_fdr" in significance.summary:
        rows.append(
            ("significant (FDR q<=0.05)", significance.summary["n_significant_fdr"])
        )
    rows.append(("fit time (s)", f"{result.timings['fit']:.2f}"))
    rows.append(("output", str(out)))
    _print_table(rows)


def _significance(
    y_true, y_pred, groups, n_permutations, *, seed, missing, keep_null, log
):
    """Permutation test of the held-out r of every target.

    Returns a Bunch: ``columns`` for scores.csv (p, q, p_fwe), ``summary``
    for summary.json (the settings and how many targets are significant) and
    ``test``, what :func:`brainenc.stats.permutation_test` returned (with the
    whole null while it is small, if ``keep_null``: the figure draws it), or
    None when the test was skipped (``missing`` held-out responses).
    """
    from sklearn.utils import Bunch

    from .stats import fdr_correction, permutation_test

    alpha = 0.05
    if missing or np.isnan(y_pred).any():
        log(
            "warning: --permutations skipped: the held-out responses or "
            "predictions have missing values (NaN)",
            always=True,
        )
        return Bunch(columns={}, summary={"skipped": "missing values"}, test=None)
    log(f"permutation test of {y_true.shape[1]} targets ({n_permutations} shifts) ...")
    tic = time.perf_counter()
    keep_null = keep_null and n_permutations * y_true.shape[1] <= 2**24
    result = permutation_test(
        y_true,
        y_pred,
        groups=groups,
        n_permutations=n_permutations,
        random_state=seed,
        return_null=keep_null,
    )
    rejected, q = fdr_correction(result.p_values, alpha=alpha)
    summary = {
        "method": "circular shifts within each held-out run",
        "n_permutations": n_permutations,
        "seed": seed,
        "alternative": "greater",
        "alpha": alpha,
        "n_targets": int(q.size),
        "n_significant_uncorrected": int(np.sum(result.p_values <= alpha)),
        "n_significant_fdr": int(rejected.sum()),
        "n_significant_fwe": int(np.sum(result.p_values_fwe <= alpha)),
        "smallest_possible_p": 1 / (n_permutations + 1),
        "time_s": round(time.perf_counter() - tic, 3),
    }
    log(
        f"{summary['n_significant_fdr']} of {q.size} targets significant at FDR "
        f"q <= {alpha:g} ({summary['n_significant_fwe']} family-wise)"
    )
    columns = {"p": result.p_values, "q": q, "p_fwe": result.p_values_fwe}
    return Bunch(columns=columns, summary=summary, test=result)


def _run_predict(args):
    log = _Log(args.quiet)
    model, metadata = _load_saved(args.model)
    target = Path(args.out)
    if target.suffix.lower() not in (".npz", ".npy", ".h5", ".hdf5"):
        raise ValueError(
            f"--out must end in .npz, .h5, .hdf5 or .npy, got {str(target)!r}."
        )
    data = _load_for_model(args, metadata, responses=None)
    for message in data.messages:
        log(message)
    y_pred = model.predict(data.X, groups=data.groups)
    y_pred = y_pred.reshape(y_pred.shape[0], -1)
    per_run = {run: y_pred[data.groups == run] for run in data.runs}
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = target.suffix.lower()
    if suffix == ".npy":
        np.save(target, y_pred)
    elif suffix == ".npz":
        np.savez(target, **per_run)
    else:
        import h5py

        with h5py.File(target, "w") as file:
            for run, pred in per_run.items():
                file.create_dataset(run, data=pred)
    log(
        f"wrote predictions of {len(data.runs)} runs ({y_pred.shape[0]} samples x "
        f"{y_pred.shape[1]} targets) to {target}"
    )
    return 0


def _run_score(args):
    from .io import save_map
    from .metrics import pearson_r

    log = _Log(args.quiet)
    model, metadata = _load_saved(args.model)
    if args.mask is None:
        args.mask = (metadata.get("responses") or {}).get("mask")
    data = _load_for_model(args, metadata, responses=args.responses)
    n_targets = metadata.get("n_targets")
    if data.y.shape[1] != n_targets:
        raise ValueError(
            f"the responses have {data.y.shape[1]} targets but the model was fitted "
            f"on {n_targets}."
        )
    if args.map is not None and not _has_place(data.space):
        raise ValueError(
            "--map needs neuroimaging responses (NIfTI with --mask, GIFTI, CIFTI, "
            "MNE .fif) or array responses with --mask; these are plain arrays."
        )
    for message in data.messages:
        log(message)
    y_pred = model.predict(data.X, groups=data.groups)
    y_pred = y_pred.reshape(y_pred.shape[0], -1)
    nan_policy = "omit" if np.isnan(data.y).any() else "raise"
    r = pearson_r(data.y, y_pred, nan_policy=nan_policy)
    if args.out is not None:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        _write_scores(Path(args.out), r, {})
    if args.map is not None:
        Path(args.map).parent.mkdir(parents=True, exist_ok=True)
        log(f"wrote {save_map(r, args.map, like=data.space, names=['r'])}")
    _print_table(
        [
            ("mean r", f"{float(np.mean(r)):.4f}"),
            ("median r", f"{float(np.median(r)):.4f}"),
            ("runs", str(len(data.runs))),
            ("targets", str(r.size)),
        ]
    )
    return 0


# ---- the models of `brainenc fit --model`


@dataclass(frozen=True)
class _Model:
    """How ``brainenc fit`` builds, checks and reports one model.

    ``build(estimator_class, params, feature_spaces, seed, verbose=...)``
    makes the estimator; ``params(estimator_class)`` lists the ``--param``
    names it takes; ``summary(fitted)`` returns what it adds to
    ``summary.json`` (a dict) and to ``scores.csv`` (per-target columns);
    ``nan_y`` says whether it takes NaN in ``y`` (missing samples of
    multi-subject responses); ``extra`` is the pip extra it needs.
    """

    module: str
    cls: str
    build: object
    params: object
    summary: object
    nan_y: bool = False
    extra: str = None

    def load(self, name):
        import importlib

        try:
            return getattr(importlib.import_module(self.module), self.cls)
        except ImportError:
            if self.extra is None:
                raise
            raise ImportError(
                f"model {name!r} needs PyTorch and skorch: pip install "
                f"'brainenc[{self.extra}]'"
            ) from None


#: Parameters the command sets from the data and its own options.
_RESERVED = {"feature_spaces", "estimators"}


def _own_params(estimator_class):
    return set(estimator_class().get_params(deep=False))


def _stacked_params(estimator_class):
    from .linear import DelayedRidge

    ridge = set(DelayedRidge().get_params(deep=False)) - _RESERVED
    return _own_params(estimator_class) | ridge | {f"ridge__{key}" for key in ridge}


def _build_flat(estimator_class, params, feature_spaces, seed, *, verbose):
    kwargs = {"feature_spaces": dict(feature_spaces), "random_state": seed}
    kwargs["verbose"] = int(verbose)
    kwargs.update(params)
    return estimator_class(**kwargs)


def _build_stacked(estimator_class, params, feature_spaces, seed, *, verbose):
    """One DelayedRidge per feature space; ridge parameters go to each."""
    from .linear import DelayedRidge

    stack_keys = _own_params(estimator_class)
    stack, ridge = {}, {}
    for key, value in params.items():
        if key.startswith("ridge__"):
            ridge[key[len("ridge__") :]] = value
        elif key in stack_keys:
            stack[key] = value
        else:
            ridge[key] = value
    estimators = [
        (space, DelayedRidge(**ridge), cols) for space, cols in feature_spaces.items()
    ]
    kwargs = {"random_state": seed, "verbose": int(verbose), **stack}
    return estimator_class(estimators, **kwargs)


def _ridge_report(model):
    return _ridge_summary(model), {
        "alpha": np.asarray(model.best_alphas_, dtype=np.float64)
    }


def _stacked_report(model):
    weights = np.asarray(model.weights_, dtype=np.float64)
    spaces = list(model.space_names_)
    dominant = weights.argmax(axis=0)
    hyper = {
        "final": model.final,
        "weights_mean": dict(zip(spaces, weights.mean(axis=1), strict=True)),
        "dominant_space_counts": {
            space: int(np.sum(dominant == k)) for k, space in enumerate(spaces)
        },
        "spaces": {
            space: _ridge_summary(est)
            for space, est in zip(spaces, model.estimators_, strict=True)
            if hasattr(est, "best_alphas_")
        },
    }
    columns = {f"weight_{space}": weights[k] for k, space in enumerate(spaces)}
    return hyper, columns


def _neural_report(model):
    hyper = {
        attr.rstrip("_"): getattr(model, attr)
        for attr in ("best_epoch_", "n_epochs_", "n_components_", "device_")
        if hasattr(model, attr)
    }
    return hyper, {}


def _transformer_report(model):
    hyper, columns = _neural_report(model)
    profiles = {
        space: weights.mean(axis=(0, 1))
        for space, weights in model.layer_attention_.items()
    }
    hyper["n_layers"] = dict(model.n_layers_)
    hyper["layer_attention"] = {space: p.tolist() for space, p in profiles.items()}
    hyper["layer_attention_peak"] = {
        space: int(p.argmax()) for space, p in profiles.items()
    }
    return hyper, columns


#: The models of ``brainenc fit --model``, by name.
_MODELS = {
    "delayed-ridge": _Model(
        "brainenc.linear", "DelayedRidge", _build_flat, _own_params, _ridge_report
    ),
    "stacked": _Model(
        "brainenc.stacking",
        "StackedRegressor",
        _build_stacked,
        _stacked_params,
        _stacked_report,
    ),
    "pca-mlp": _Model(
        "brainenc.neural",
        "PCAMLPEncoder",
        _build_flat,
        _own_params,
        _neural_report,
        extra="deep",
    ),
    "conv": _Model(
        "brainenc.neural",
        "ConvTemporalEncoder",
        _build_flat,
        _own_params,
        _neural_report,
        nan_y=True,
        extra="deep",
    ),
    "transformer": _Model(
        "brainenc.neural",
        "MultimodalTransformerEncoder",
        _build_flat,
        _own_params,
        _transformer_report,
        nan_y=True,
        extra="deep",
    ),
}


def _model_entry(name):
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(_MODELS)}.")
    return _MODELS[name]


def _check_param_names(name, entry, estimator_class, params):
    valid = entry.params(estimator_class) - _RESERVED
    for key in params:
        if key in _RESERVED:
            raise ValueError(
                f"--param {key} is set by the command from the feature files; "
                "remove it."
            )
        if key not in valid:
            raise ValueError(
                f"unknown parameter {key!r} for model {name!r}; valid parameters: "
                f"{', '.join(sorted(valid))}."
            )


def _ridge_summary(model):
    alphas = np.asarray(model.best_alphas_, dtype=np.float64)
    summary = {
        "delays": np.asarray(model.delays_).tolist(),
        "alpha_median": float(np.median(alphas)),
        "alpha_min": float(alphas.min()),
        "alpha_max": float(alphas.max()),
        "solver": getattr(model, "solver_", None),
        "backend": getattr(model, "backend_", None),
    }
    if hasattr(model, "space_alphas_"):
        summary["space_alpha_median"] = dict(
            zip(
                model.space_names_,
                np.median(model.space_alphas_, axis=1).tolist(),
                strict=True,
            )
        )
    return summary


# ---- helpers of the commands


def _load(args, *, responses, zscore, allow_nan, feature_keys, mask=None, sfreq=None):
    from ._progress import progress_bar
    from .io import load_runs

    tic = time.perf_counter()
    # A bar on a terminal only: in a log file or a pipe the loaded runs are one
    # line, reported by the caller once its own checks passed, so that bad
    # input gives one line on stderr and nothing else.
    with progress_bar(
        "brainenc: loading runs", verbose=not args.quiet and _on_terminal(), unit="run"
    ) as bar:
        data = load_runs(
            _feature_spec(args.features),
            responses,
            runs=args.runs,
            feature_keys=feature_keys,
            response_key=args.response_key if responses is not None else None,
            mask=mask,
            sfreq=sfreq,
            run_pattern=args.run_pattern,
            length_mismatch=args.length_mismatch,
            max_mismatch=args.max_mismatch,
            zscore=zscore,
            allow_nan_responses=allow_nan,
            dtype="float32",
            callback=bar,
        )
    data.messages = [
        f"loaded {len(data.runs)} runs ({time.perf_counter() - tic:.1f} s)"
    ] + [
        f"run {run!r}: {note} ({_lengths_text(data.lengths[run])})"
        for run, note in data.adjusted.items()
    ]
    return data


def _load_for_model(args, metadata, *, responses):
    zscore = metadata.get("zscore")
    if responses is None and zscore == "both":
        zscore = "features"
    elif responses is None and zscore == "responses":
        zscore = None
    if responses is not None and getattr(args, "response_key", None) is None:
        args.response_key = metadata.get("response_key")
    elif responses is None:
        args.response_key = None
    entry = _MODELS.get(metadata.get("model"))
    data = _load(
        args,
        responses=responses,
        zscore=zscore,
        allow_nan=entry is not None and entry.nan_y,
        feature_keys=metadata.get("feature_keys"),
        mask=getattr(args, "mask", None) if responses is not None else None,
    )
    expected = {
        name: stop - start for name, (start, stop) in metadata["feature_spaces"].items()
    }
    got = {name: cols.stop - cols.start for name, cols in data.feature_spaces.items()}
    if expected != got:
        raise ValueError(
            f"the feature spaces differ from the model's: it was fitted on "
            f"{_spaces_text(expected)}, the files give {_spaces_text(got)}."
        )
    if list(expected) != list(got):  # same spaces, another order: reorder columns
        order = np.concatenate(
            [
                np.arange(
                    data.feature_spaces[name].start, data.feature_spaces[name].stop
                )
                for name in expected
            ]
        )
        data.X = data.X[:, order]
    return data


def _load_saved(path):
    from .io import load_model

    path = Path(path)
    if path.is_dir():
        path = path / _MODEL_FILE
    model, header = load_model(path)
    metadata = header.get("metadata", {})
    if "feature_spaces" not in metadata:
        raise ValueError(
            f"{str(path)!r} was not written by 'brainenc fit' (no feature spaces "
            "in its header)."
        )
    return model, metadata


def _feature_spec(specs):
    named = [re.match(r"^([A-Za-z_][\w.\-/]*)=(.+)$", spec) for spec in specs]
    if not any(named):
        return specs
    if not all(named):
        plain = specs[[m is None for m in named].index(True)]
        raise ValueError(
            f"--features mixes NAME=PATH and plain paths ({plain!r}); name every "
            "feature space or none."
        )
    spec = {}
    for match in named:
        spec.setdefault(match.group(1), []).append(match.group(2))
    return spec


def _test_runs(args, runs):
    if args.test_runs is not None:
        unknown = [run for run in args.test_runs if run not in runs]
        if unknown:
            raise ValueError(
                f"--test-runs names run {unknown[0]!r}, which is not among the "
                f"loaded runs ({', '.join(runs)})."
            )
        test = list(dict.fromkeys(args.test_runs))
    else:
        test = runs[len(runs) - args.n_test_runs :]
    if len(test) >= len(runs):
        raise ValueError(
            f"need at least one training run besides the {len(test)} test run(s), "
            f"got {len(runs)} run(s) in all."
        )
    return test


def _ceiling(args, n_targets):
    from .io import load_repeats
    from .metrics import noise_ceiling_repeats

    repeats = load_repeats(args.repeats, key=args.repeats_key)
    if repeats.shape[2] != n_targets:
        raise ValueError(
            f"--repeats has {repeats.shape[2]} targets but the responses have "
            f"{n_targets}."
        )
    result = noise_ceiling_repeats(repeats, n_average=args.repeats_averaged)
    return np.asarray(result.correlation_ceiling_mean, dtype=np.float64)


def _parse_params(items):
    params = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"--param expects KEY=VALUE, got {item!r}.")
        if key in params:
            raise ValueError(f"--param {key} is given twice.")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = text.strip()
        params[key] = value
    return params


def _write_scores(path, r, columns):
    names = ["target", "r", *columns]
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(names)
        for t in range(r.size):
            row = [t, repr(float(r[t]))]
            row += [repr(float(values[t])) for values in columns.values()]
            writer.writerow(row)
    return path


def _has_place(space):
    """Whether per-target values of ``space`` can be written as brain maps."""
    return space is not None and space.kind != "array"


def _write_maps(out, space, maps):
    """Every map of ``maps`` as ``out/{name}{ending}``; ``{name: path}``."""
    from .io import save_map

    if not _has_place(space):
        return {}
    return {
        name: save_map(
            values, out / f"{name}{space.map_ending}", like=space, names=[name]
        )
        for name, values in maps.items()
    }


def _write_mask(out, space):
    """The mask that chose the targets, beside the maps (volumes and surfaces)."""
    from .io import save_map

    if not _has_place(space) or space.kind not in ("volume", "surface"):
        return None
    if space.mask is None:
        return None
    path = out / f"mask{space.map_ending}"
    return save_map(np.ones(space.n_targets), path, like=space, dtype="uint8")


def _describe_space(space):
    return None if space is None else space.describe()


def _space_text(space):
    if not _has_place(space):
        return ""
    words = {
        "volume": "voxels",
        "surface": "vertices",
        "cifti": "grayordinates",
        "sensors": "channels",
    }
    return f" ({words[space.kind]})"


def _interval(sfreq):
    return None if sfreq is None else 1.0 / sfreq


def _draw_figures(folder, model, r, ceiling, tr, log, significance=None):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        log(
            "warning: matplotlib is not installed, figures skipped "
            "(pip install 'brainenc[plot]')",
            always=True,
        )
        return []
    from .plotting import (
        plot_delay_profile,
        plot_layer_attention,
        plot_score_distribution,
        plot_scores_vs_ceiling,
        plot_significance,
        plot_stacking_weights,
    )

    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=120)
        written.append(path)

    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_score_distribution(r, kind="hist", ax=left)
    plot_score_distribution(r, kind="sorted", ax=right)
    fig.suptitle("held-out Pearson r per target")
    save(fig, "score_distribution")

    if ceiling is not None:
        fig = Figure(figsize=(5.5, 5.5), layout="constrained")
        plot_scores_vs_ceiling(r, ceiling, ax=fig.add_subplot())
        save(fig, "scores_vs_ceiling")

    best = np.argsort(-r, kind="stable")[: min(5, r.size)]
    if hasattr(model, "coef_delays_"):
        fig = Figure(figsize=(6.5, 4.5), layout="constrained")
        ax = fig.add_subplot()
        plot_delay_profile(model, targets=best, tr=tr, ax=ax)
        ax.set_title("delay profile of the 5 best-predicted targets")
        save(fig, "delay_profile")
    if hasattr(model, "weights_") and hasattr(model, "estimators_"):
        fig = Figure(figsize=(9, 4.5), layout="constrained")
        plot_stacking_weights(model, ax=fig.add_subplot())
        save(fig, "stacking_weights")
        for space, est in zip(model.space_names_, model.estimators_, strict=True):
            if hasattr(est, "coef_delays_"):
                fig = Figure(figsize=(6.5, 4.5), layout="constrained")
                ax = fig.add_subplot()
                plot_delay_profile(est, targets=best, tr=tr, ax=ax)
                ax.set_title(f"delay profile, space {space!r}, 5 best targets")
                save(fig, f"delay_profile_{_safe_name(space)}")
    if getattr(model, "layer_attention_", None):
        fig = Figure(figsize=(6.5, 4.0), layout="constrained")
        plot_layer_attention(model, ax=fig.add_subplot())
        save(fig, "layer_attention")
    if significance is not None and significance.test is not None:
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        plot_significance(
            significance.test,
            alpha=significance.summary["alpha"],
            ax=fig.add_subplot(),
        )
        save(fig, "significance")
    return written


def _draw_maps(folder, space, result, log):
    """``figures/{name}_map.png`` for the maps of ``result.figure_maps``."""
    if not _has_place(space) or space.kind == "sensors":
        return []
    try:
        from matplotlib.figure import Figure

        from ._neuro import needs

        needs("nilearn", "brain-map figures")
    except ImportError:
        log(
            "warning: nilearn is not installed, brain-map figures skipped "
            "(pip install 'brainenc[neuro]')",
            always=True,
        )
        return []
    from .plotting import plot_brain_map

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in result.figure_maps:
        if name not in result.maps:
            continue
        size = (9.0, 3.4) if space.kind == "volume" else (9.0, 3.6)
        try:
            fig = plot_brain_map(
                result.maps[name],
                space,
                title=f"held-out {name}" if name == "r" else name,
                figure=Figure(figsize=size),
            )
        except ValueError as exc:  # e.g. a mesh nilearn does not ship
            log(f"figures/{name}_map.png skipped: {exc}")
            continue
        path = folder / f"{name}_map.png"
        fig.savefig(path, dpi=120)
        written.append(path)
    return written


def _model_params(model):
    params = model.get_params(deep=False)
    if "estimators" in params and params["estimators"] is not None:
        params["estimators"] = [
            {
                "name": name,
                "estimator": type(est).__name__,
                "params": est.get_params(deep=False),
                "columns": cols,
            }
            for name, est, cols in params["estimators"]
        ]
    return params


def _versions():
    import scipy
    import sklearn

    from . import __version__

    versions = {
        "brainenc": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }
    modules = ("himalaya", "torch", "skorch", "h5py", "matplotlib", "nibabel")
    for module in (*modules, "nilearn", "mne"):
        if module in sys.modules:
            versions[module] = getattr(sys.modules[module], "__version__", None)
    return versions


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(key): _jsonable(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(value) for value in obj]
    if isinstance(obj, slice):
        return [obj.start, obj.stop]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return repr(obj)


def _print_table(rows):
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def _lengths_text(lengths):
    return ", ".join(f"{name} {n}" for name, n in lengths.items())


def _spaces_text(spaces):
    return "{" + ", ".join(f"{name!r}: {n}" for name, n in spaces.items()) + "}"


def _safe_name(name):
    return re.sub(r"[^\w.-]+", "_", str(name))


class _Log:
    """One line per message on stderr, unless quiet."""

    def __init__(self, quiet):
        self.quiet = quiet

    def __call__(self, message, *, always=False):
        if self.quiet and not always:
            return
        _print_line(f"brainenc: {message}")


def _print_line(text):
    """One line on stderr, above any open progress bar (tqdm's, which redraws it)."""
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)
    sys.stderr.flush()


def _on_terminal():
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


@contextlib.contextmanager
def _one_line_warnings():
    """Show warnings as one ``brainenc: warning: ...`` line each."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message).strip().splitlines()
        text = text[0] if text else category.__name__
        _print_line(f"brainenc: warning: {text}")

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _number_type(kind, minimum, *, strict=False):
    """An argparse ``type``: ``kind`` (int or float) >= (or >) ``minimum``."""
    relation = ">" if strict else ">="
    expected = (
        f"expected {'an int' if kind is int else 'a number'} {relation} {minimum}"
    )

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
        if not (value > minimum if strict else value >= minimum):
            raise argparse.ArgumentTypeError(f"{expected}, got {text}")
        return value

    return parse


_nonnegative_int = _number_type(int, 0)
_positive_int = _number_type(int, 1)
_positive_float = _number_type(float, 0, strict=True)


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 2
