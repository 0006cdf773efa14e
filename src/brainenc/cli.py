"""The ``brainenc`` command.

``brainenc demo`` fits a :class:`~brainenc.DelayedRidge` on synthetic data with a
known noise ceiling and reports how close it gets. ``python -m brainenc`` runs
the same command.
"""

import argparse
import sys
import time

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
        return args.func(args)
    except KeyboardInterrupt:
        print("brainenc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, no traceback
        message = str(exc).strip().splitlines()
        message = message[0] if message else type(exc).__name__
        print(f"brainenc: error: {message}", file=sys.stderr)
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


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an int >= 1, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number > 0, got {text!r}"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 2
