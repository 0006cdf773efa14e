"""One tool's fit in a fresh process: ``python _child.py TOOL SIZE SEED WORKDIR``.

Loads the cached data, imports the tool (untimed), then times the fit alone
(delaying included for the tools that take a hand-delayed matrix), predicts
the held-out runs (untimed) and writes ``WORKDIR/TOOL.json`` (times, peak RSS
from ``VmHWM``, BLAS from threadpoolctl), ``TOOL_pred.npy`` and
``TOOL_alphas.npy``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common


def _status_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------
# Tools: prepare(d) imports what the tool needs (untimed) and returns fit(d),
# which returns (predict(X_test, groups_test) -> array, best_alphas, extra).


def tool_reference(d):
    from _reference import ridge_cv_reference

    def fit(d):
        Xd = _common.delay(d["X"], d["delays"], d["groups"])
        coef, b, best, scores = ridge_cv_reference(Xd, d["Y"], d["alphas"], d["folds"])

        def predict(X, groups):
            return _common.delay(X, d["delays"], groups) @ coef + b

        values, counts = np.unique(best, return_counts=True)
        on_edge = np.isin(best, d["alphas"][[0, -1]]).mean()
        extra = {
            "modal_alpha": float(values[np.argmax(counts)]),
            "cv": "5 run folds",
            "note": f"{on_edge:.1%} of targets chose an alpha on the grid's edge; "
            "chosen alphas: "
            + ", ".join(f"{v:g} ({c})" for v, c in zip(values, counts, strict=False)),
        }
        return predict, best, extra

    return fit


def _tool_brainenc(backend):
    def prepare(d):
        from brainenc import DelayedRidge
        from brainenc._backend import resolve_backend
        from brainenc.model_selection import check_run_cv

        # "auto" is torch on CUDA when a GPU is visible, else NumPy without
        # importing torch. When the backend is torch, import it here, untimed,
        # as set_backend does for the himalaya rows (and start CUDA), and
        # report the one-off cost in the note.
        resolved = resolve_backend(backend)
        import_note = f"; backend={backend!r} resolved to {resolved!r}"
        if resolved != "numpy":
            t0 = time.perf_counter()
            rss0 = _status_mb("VmRSS")
            import himalaya.backend.torch  # noqa: F401
            import torch

            if resolved == "torch_cuda":
                torch.zeros(1, device="cuda")  # CUDA context, untimed
                torch.cuda.reset_peak_memory_stats()
            import_note += (
                f", one-off torch import {time.perf_counter() - t0:.2f} s, "
                f"+{_status_mb('VmRSS') - rss0:.0f} MB RSS, not in the time"
            )
        folds = check_run_cv(_common.N_FOLDS, d["groups"], len(d["groups"]))
        assert all(
            np.array_equal(a[1], b[1]) for a, b in zip(folds, d["folds"], strict=False)
        ), "brainenc's default run folds differ from GroupKFold(5)"

        def fit(d):
            model = DelayedRidge(
                delays=d["delays"],
                alphas=d["alphas"],
                cv=_common.N_FOLDS,
                backend=backend,
            )
            model.fit(d["X"], d["Y"], groups=d["groups"])

            def predict(X, groups):
                return model.predict(X, groups=groups)

            note = f"backend_={model.backend_}, solver_={model.solver_}" + import_note
            if model.backend_ == "torch_cuda":
                import torch

                peak = torch.cuda.max_memory_allocated() / 2**20
                note += (
                    f"; GPU memory peak {peak:.0f} MB ({torch.cuda.get_device_name()})"
                )
            return predict, model.best_alphas_, {"cv": "5 run folds", "note": note}

        return fit

    return prepare


def tool_sklearn_loo(d):
    from sklearn.linear_model import RidgeCV

    def fit(d):
        Xd = _common.delay(d["X"], d["delays"], d["groups"])
        model = RidgeCV(alphas=d["alphas"], alpha_per_target=True).fit(Xd, d["Y"])

        def predict(X, groups):
            return model.predict(_common.delay(X, d["delays"], groups))

        return (
            predict,
            np.asarray(model.alpha_),
            {
                "cv": "LOO over samples (GCV; takes no folds)",
                "note": f"coef_ dtype {model.coef_.dtype}",
            },
        )

    return fit


def tool_sklearn_cv5(d):
    from sklearn.linear_model import Ridge

    def fit(d):
        Xd = _common.delay(d["X"], d["delays"], d["groups"])
        Y, alphas = d["Y"], d["alphas"]
        scores = np.zeros((len(alphas), Y.shape[1]))
        for train, test in d["folds"]:
            for k, alpha in enumerate(alphas):
                model = Ridge(alpha=alpha).fit(Xd[train], Y[train])
                err = Y[test] - model.predict(Xd[test])
                scores[k] -= np.mean(err * err, axis=0)
        best = alphas[np.argmax(scores, axis=0)]
        coef = np.empty((Y.shape[1], Xd.shape[1]), dtype=Xd.dtype)
        intercept = np.empty(Y.shape[1], dtype=Xd.dtype)
        for alpha in np.unique(best):
            cols = best == alpha
            model = Ridge(alpha=alpha).fit(Xd, Y[:, cols])
            coef[cols] = model.coef_
            intercept[cols] = model.intercept_

        def predict(X, groups):
            return _common.delay(X, d["delays"], groups) @ coef.T + intercept

        return (
            predict,
            best,
            {
                "cv": "5 run folds",
                "note": "45 Ridge fits + 1 refit per chosen alpha",
            },
        )

    return fit


def _tool_himalaya(backend_name):
    def prepare(d):
        from himalaya.backend import set_backend
        from himalaya.ridge import RidgeCV

        backend = set_backend(backend_name)

        def fit(d):
            Xd = _common.delay(d["X"], d["delays"], d["groups"])
            # Defaults otherwise: solver="svd", score_func=l2_neg_loss (held-out
            # MSE), all targets and alphas in one batch.
            model = RidgeCV(alphas=d["alphas"], fit_intercept=True, cv=d["folds"])
            model.fit(Xd, d["Y"])

            def predict(X, groups):
                pred = model.predict(_common.delay(X, d["delays"], groups))
                return np.asarray(backend.to_numpy(pred))

            return (
                predict,
                np.asarray(backend.to_numpy(model.best_alphas_)),
                {"cv": "5 run folds", "note": f"solver svd (default), {backend_name}"},
            )

        return fit

    return prepare


def _mtrf_trials(d):
    """Training runs as mTRF trials, ordered so that mTRF's k=5 folds are ours.

    mTRF shuffles the trial indices with ``random.seed(seed)`` and
    ``random.shuffle``, then ``array_split``s them into k folds; we replay that
    shuffle and place the runs of our fold i at the positions of its fold i.
    """
    import random

    groups = d["groups"]
    order = np.arange(_common.N_RUNS)
    random.seed(0)
    random.shuffle(order)
    splits = np.array_split(order, _common.N_FOLDS)
    trial_runs = np.empty(_common.N_RUNS, dtype=int)
    for split, (_, test) in zip(splits, d["folds"], strict=False):
        runs = np.unique(groups[test])
        assert len(runs) == len(split)
        trial_runs[split] = runs
    stim = [d["X"][groups == r] for r in trial_runs]
    resp = [d["Y"][groups == r] for r in trial_runs]
    return stim, resp


def tool_mtrf(d):
    from mtrf.model import TRF
    from mtrf.stats import neg_mse

    stim, resp = _mtrf_trials(d)
    n_train_trials = _common.N_RUNS - _common.N_RUNS // _common.N_FOLDS
    fs = 1

    def fit(d):
        trf = TRF(direction=1, metric=neg_mse)
        # mTRF solves (mean over trials of X^T X + lambda * fs * I): lambda =
        # alpha / (fs * n_train_trials) gives our alpha in the folds (and
        # alpha * 10 / 8 in the final refit over 10 trials).
        lambdas = [float(a) / (fs * n_train_trials) for a in d["alphas"]]
        trf.train(
            stim,
            resp,
            fs,
            float(d["delays"].min()),
            float(d["delays"].max()),
            lambdas,
            k=_common.N_FOLDS,
            seed=0,
            verbose=False,
            reg_per_y_channel=True,
        )
        best = np.asarray(trf.regularization, dtype=float) * fs * n_train_trials

        def predict(X, groups):
            trials = [X[groups == r] for r in np.unique(groups)]
            return np.concatenate(trf.predict(trials), axis=0)

        return (
            predict,
            best.astype(np.float32),
            {
                "cv": "5 run folds (its k=5 over trials, same runs)",
                "note": "refit penalty is 1.25x the chosen alpha (mTRF averages the "
                "covariance over trials)",
            },
        )

    return fit


def _mne_epochs(X, groups):
    runs = np.unique(groups)
    return np.stack([X[groups == r] for r in runs], axis=1)  # (times, epochs, feat)


def _mne_model(d, alpha):
    from mne.decoding import ReceptiveField, TimeDelayingRidge

    tmin, tmax = float(d["delays"].min()), float(d["delays"].max())
    est = TimeDelayingRidge(tmin, tmax, 1.0, alpha=alpha, fit_intercept=True, n_jobs=1)
    return ReceptiveField(tmin, tmax, 1.0, estimator=est, fit_intercept=True, n_jobs=1)


def _mne_predict(model, X, groups):
    pred = model.predict(_mne_epochs(X, groups))  # (times, epochs, targets)
    return np.concatenate([pred[:, e] for e in range(pred.shape[1])], axis=0)


def tool_mne_tdr(d, fixed_alpha):
    import mne

    mne.set_log_level("WARNING")

    def fit(d):
        model = _mne_model(d, fixed_alpha)
        model.fit(_mne_epochs(d["X"], d["groups"]), _mne_epochs(d["Y"], d["groups"]))
        return (
            lambda X, groups: _mne_predict(model, X, groups),
            None,
            {
                "cv": "none: ONE alpha, all runs",
                "fixed_alpha": fixed_alpha,
                "note": f"time of one fit at alpha={fixed_alpha:g}; a 5x9 CV is "
                f"about 46x this",
            },
        )

    return fit


def tool_mne_tdr_cv(d):
    import mne

    mne.set_log_level("WARNING")

    def fit(d):
        Y, groups, alphas = d["Y"], d["groups"], d["alphas"]
        scores = np.zeros((len(alphas), Y.shape[1]))
        for train, test in d["folds"]:
            Xtr, Ytr = (
                _mne_epochs(d["X"][train], groups[train]),
                _mne_epochs(Y[train], groups[train]),
            )
            for k, alpha in enumerate(alphas):
                model = _mne_model(d, alpha).fit(Xtr, Ytr)
                err = Y[test] - _mne_predict(model, d["X"][test], groups[test])
                scores[k] -= np.mean(err * err, axis=0)
        best = alphas[np.argmax(scores, axis=0)]
        models = {}
        for alpha in np.unique(best):
            cols = best == alpha
            models[alpha] = (
                cols,
                _mne_model(d, alpha).fit(
                    _mne_epochs(d["X"], groups), _mne_epochs(Y[:, cols], groups)
                ),
            )

        def predict(X, g):
            out = np.empty((X.shape[0], Y.shape[1]), dtype=np.float32)
            for cols, model in models.values():
                out[:, cols] = _mne_predict(model, X, g)
            return out

        return predict, best, {"cv": "5 run folds", "note": "45 fits + refits"}

    return fit


def _space_columns(d):
    """Columns of the hand-delayed design in each feature space."""
    n_delays = d["delays"].size
    bounds = np.cumsum((0,) + tuple(d["spaces"]))
    return [
        np.arange(start * n_delays, stop * n_delays)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def tool_brainenc_banded(d):
    from brainenc import DelayedRidge

    def fit(d):
        spaces = {f"space{i}": int(size) for i, size in enumerate(d["spaces"])}
        model = DelayedRidge(
            delays=d["delays"],
            alphas=d["alphas"],
            cv=d["folds"],
            feature_spaces=spaces,
            banded=True,
            n_iter=_common.N_ITER,
            random_state=d["seed"],
            backend="numpy",
        )
        model.fit(d["X"], d["Y"], groups=d["groups"])

        def predict(X, groups):
            return model.predict(X, groups=groups)

        note = f"solver_={model.solver_}; {_common.N_ITER} draws, seed {d['seed']}"
        return predict, model.space_alphas_, {"cv": "5 run folds", "note": note}

    return fit


def tool_himalaya_banded(d):
    from himalaya.backend import set_backend
    from himalaya.ridge import BandedRidgeCV

    backend = set_backend("numpy")

    def fit(d):
        Xd = _common.delay(d["X"], d["delays"], d["groups"])
        groups = np.empty(Xd.shape[1], dtype=int)
        for i, cols in enumerate(_space_columns(d)):
            groups[cols] = i
        model = BandedRidgeCV(
            groups=groups,
            solver_params={
                "n_iter": _common.N_ITER,
                "alphas": d["alphas"],
                "progress_bar": False,
            },
            fit_intercept=True,
            cv=d["folds"],
            random_state=d["seed"],
        )
        model.fit(Xd, d["Y"])

        def predict(X, groups):
            pred = model.predict(_common.delay(X, d["delays"], groups))
            return np.asarray(backend.to_numpy(pred))

        space_alphas = np.exp(-np.asarray(backend.to_numpy(model.deltas_)))
        note = f"random search, {_common.N_ITER} draws, seed {d['seed']}, numpy"
        return predict, space_alphas, {"cv": "5 run folds", "note": note}

    return fit


TOOL_FUNCS = {
    "reference": tool_reference,
    "brainenc": _tool_brainenc("auto"),
    "brainenc_numpy": _tool_brainenc("numpy"),
    "brainenc_cuda": _tool_brainenc("torch_cuda"),
    "sklearn_loo": tool_sklearn_loo,
    "sklearn_cv5": tool_sklearn_cv5,
    "himalaya_numpy": _tool_himalaya("numpy"),
    "himalaya_torch": _tool_himalaya("torch"),
    "mtrf": tool_mtrf,
    "mne_tdr": tool_mne_tdr,
    "mne_tdr_cv": tool_mne_tdr_cv,
    "brainenc_banded": tool_brainenc_banded,
    "himalaya_banded": tool_himalaya_banded,
}


def blas_info():
    from threadpoolctl import threadpool_info

    out = []
    for pool in threadpool_info():
        out.append(
            "{} {} {} ({} thread{}; {})".format(
                pool.get("internal_api"),
                pool.get("version"),
                pool.get("architecture", ""),
                pool.get("num_threads"),
                "" if pool.get("num_threads") == 1 else "s",
                Path(pool.get("filepath", "")).name,
            )
        )
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        out.append(
            f"torch intra-op threads {torch.get_num_threads()}, "
            f"MKL {torch.backends.mkl.is_available()}"
        )
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=list(TOOL_FUNCS))
    parser.add_argument("size")
    parser.add_argument("seed", type=int)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--fixed-alpha", type=float, default=1e3)
    args = parser.parse_args()

    d = _common.load_data(args.size, args.seed)
    if args.tool == "mne_tdr":
        fit = tool_mne_tdr(d, args.fixed_alpha)
    else:
        fit = TOOL_FUNCS[args.tool](d)
    rss_before = _status_mb("VmRSS")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    predict, best, extra = fit(d)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak = _status_mb("VmHWM")
    blas = blas_info()
    pred = np.asarray(predict(d["X_test"], d["groups_test"]), dtype=np.float32)
    np.save(args.workdir / f"{args.tool}_pred.npy", pred)
    if best is not None:
        np.save(
            args.workdir / f"{args.tool}_alphas.npy",
            np.asarray(best, dtype=np.float32).ravel(),
        )
    report = dict(
        tool=args.tool,
        size=args.size,
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=peak,
        rss_before_mb=rss_before,
        blas=blas,
        **extra,
    )
    (args.workdir / f"{args.tool}.json").write_text(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
