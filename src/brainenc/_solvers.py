"""Ridge regression with per-target alpha chosen by cross-validation.

The math under :class:`brainenc.DelayedRidge`, written once on himalaya's
backend array API so NumPy, torch-CPU and torch-CUDA run the same code.

For each fold, one symmetric eigendecomposition serves every alpha and every
target: in the primal (``n_features <= n_samples``) it is the decomposition of
the training Gram matrix, obtained by subtracting the held-out block's Gram
from the Gram of all samples; in the dual (``n_features > n_samples``) it is
the decomposition of the training kernel. Held-out predictions of all alphas
are then batched matrix products in the eigenbasis. Centering and scaling of
the features are estimated on the training samples of each fold only.
"""

import importlib

import numpy as np
from joblib import Parallel, delayed

SCORINGS = ("neg_mean_squared_error", "r2", "pearson_r")


def solve_ridge_cv(
    X,
    Y,
    alphas,
    folds,
    *,
    backend,
    fit_intercept=True,
    standardize=False,
    method="auto",
    scoring="neg_mean_squared_error",
    n_targets_batch=None,
    dtype="float32",
    n_jobs=None,
    progress=None,
):
    """Fit ridge with a per-target alpha chosen by cross-validation.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Design matrix. It is cast to ``dtype`` and then **modified in place**
        (centred and scaled): pass a copy you own.
    Y : ndarray of shape (n_samples, n_targets)
        Targets; never modified. Read in batches of ``n_targets_batch``
        columns.
    alphas : ndarray of shape (n_alphas,)
        Positive regularisation strengths, sorted in increasing order.
    folds : list of (train, test) pairs of index arrays
        Cross-validation folds.
    backend : module
        A himalaya backend module (``himalaya.backend.numpy``, ...).
    fit_intercept : bool, default=True
        Centre features and targets on the training samples of each fold.
    standardize : bool, default=False
        Scale features to unit variance on the training samples of each fold.
    method : {"auto", "primal", "dual"}, default="auto"
        ``"auto"`` takes the primal when ``n_features <= n_samples``.
    scoring : {"neg_mean_squared_error", "r2", "pearson_r"}
        Per-target held-out score, averaged over folds, maximised over alphas.
    n_targets_batch : int or None, default=None
        Number of targets processed at once; ``None`` means all.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the computation.
    n_jobs : int or None, default=None
        Folds run in parallel through joblib (threads unless a backend is set
        with ``joblib.parallel_config``; ``None`` means 1 outside such a
        context).
    progress : callable or None
        Called as ``progress(step, n_steps)`` after each fold and the refit.

    Returns
    -------
    result : dict
        ``best_alphas`` (n_targets,), ``cv_scores`` (n_alphas, n_targets)
        averaged over folds, ``null_scores`` (n_targets,) the held-out score
        of predicting the training mean, ``coef`` (n_targets, n_features), ``intercept``
        (n_targets,), ``method``. All NumPy.
    """
    B = backend
    n_samples, n_features = X.shape
    n_targets = Y.shape[1]
    if method == "auto":
        # Compare with the smallest training set: a fold whose training Gram
        # would be rank-deficient is solved faster (and better) in the dual.
        n_train_min = min((len(train) for train, _ in folds), default=n_samples)
        method = "primal" if n_features <= n_train_min else "dual"
    if n_targets_batch is None:
        n_targets_batch = n_targets
    batches = [
        slice(start, min(start + n_targets_batch, n_targets))
        for start in range(0, n_targets, n_targets_batch)
    ]
    n_steps = len(folds) + 1

    # Global centring and scaling, in place on the caller's copy. Fold-level
    # statistics are then corrections relative to these, computed on training
    # samples only; the global values only improve float32 accuracy.
    X = X.astype(dtype, copy=False)
    x_mean = np.zeros(n_features, dtype=np.float64)
    x_scale = np.ones(n_features, dtype=np.float64)
    if fit_intercept:
        x_mean = X.mean(axis=0, dtype=np.float64)
        X -= x_mean.astype(dtype)
    if standardize:
        # Only exactly constant columns (all values equal) get a scale of 1:
        # a small but real spread is legitimate in raw units.
        std = X.std(axis=0, dtype=np.float64)
        x_scale = np.where(std > 0, std, 1.0)
        X /= x_scale.astype(dtype)
    y_mean = (
        Y.mean(axis=0, dtype=np.float64)
        if fit_intercept
        else np.zeros(n_targets, dtype=np.float64)
    )

    def get_targets(batch, rows=None):
        return _targets(B, Y, y_mean, batch, rows, dtype)

    Xb = B.asarray(X, dtype=dtype)
    scores = np.empty((len(folds), len(alphas), n_targets), dtype=np.float64)
    # Score of predicting the training mean (the limit of an infinite alpha):
    # a target whose best score is no better has no signal to regularise.
    null_scores = np.empty((len(folds), n_targets), dtype=np.float64)

    gram = col_sum = XtY = y_sum = None
    if method == "primal":
        gram = Xb.T @ Xb
        col_sum = Xb.sum(0)
        XtY, y_sum = [], []
        for batch in batches:
            Y_batch = get_targets(batch)
            XtY.append(Xb.T @ Y_batch)
            y_sum.append(Y_batch.sum(0))
            del Y_batch

    # Folds are independent: joblib runs them (threads by default, which share
    # the arrays; any backend chosen with joblib.parallel_config, dask
    # included, takes precedence).
    fold_jobs = (
        delayed(_fold_scores)(
            B.name,
            Xb,
            Y,
            y_mean,
            train,
            test,
            batches,
            alphas,
            method=method,
            fit_intercept=fit_intercept,
            standardize=standardize,
            scoring=scoring,
            dtype=dtype,
            gram=gram,
            col_sum=col_sum,
            XtY=XtY,
            y_sum=y_sum,
        )
        for train, test in folds
    )
    results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
        fold_jobs
    )
    for i_fold, (fold_scores, fold_null) in enumerate(results):
        scores[i_fold], null_scores[i_fold] = fold_scores, fold_null
        if progress is not None:
            progress(i_fold + 1, n_steps)

    cv_scores = scores.mean(axis=0)
    best = select_best_alphas(cv_scores)
    best_alphas = np.asarray(alphas)[best]

    # Refit on all samples with each target's alpha: one decomposition, and
    # every target solved by a product in the eigenbasis.
    # Stored target-major, the layout of ``coef_``, so that no transposed copy
    # of a (possibly voxel-scale) coefficient matrix is ever made.
    coef = np.empty((n_targets, n_features), dtype=dtype)
    intercept = np.empty(n_targets, dtype=np.float64)
    if method == "primal":
        eigvals, eigvecs = _eigh(B, gram)
        del gram
    else:
        eigvals, eigvecs = _eigh(B, Xb @ Xb.T)
    for i_batch, batch in enumerate(batches):
        alpha_b = B.asarray(best_alphas[batch].astype(dtype), dtype=dtype)
        if method == "primal":
            # X^T Y of this batch is not needed after its refit: freeing it
            # as the coefficients fill in keeps their sum at one copy.
            xty, XtY[i_batch] = XtY[i_batch], None
            weights = eigvecs @ ((eigvecs.T @ xty) / (eigvals[:, None] + alpha_b))
            del xty
        else:
            dual = eigvecs @ (
                (eigvecs.T @ get_targets(batch)) / (eigvals[:, None] + alpha_b)
            )
            weights = Xb.T @ dual
        coef[batch] = B.to_numpy(weights).T / x_scale.astype(dtype)
        intercept[batch] = y_mean[batch] - coef[batch].astype(np.float64) @ x_mean
    if progress is not None:
        progress(n_steps, n_steps)
    return {
        "best_alphas": best_alphas,
        "cv_scores": cv_scores,
        "null_scores": null_scores.mean(axis=0),
        "coef": coef,
        "intercept": intercept,
        "method": method,
    }


def select_best_alphas(cv_scores):
    """Index of the best alpha per target; ties go to the largest alpha.

    Parameters
    ----------
    cv_scores : ndarray of shape (n_alphas, n_targets)
        Held-out scores (greater is better), alphas in increasing order.

    Returns
    -------
    best : ndarray of int of shape (n_targets,)
    """
    n_alphas = cv_scores.shape[0]
    # A vanishing slope over the (sorted) alphas sends exact ties, such as
    # the flat scores of a constant target, to the largest alpha, as himalaya
    # does; it is far below any meaningful score difference.
    scale = np.abs(cv_scores).max(axis=0, keepdims=True) + np.finfo(float).tiny
    slope = 1e-10 * scale * np.arange(n_alphas)[:, None]
    return np.argmax(np.nan_to_num(cv_scores, nan=-np.inf) + slope, axis=0)


def _fold_scores(
    backend_name,
    Xb,
    Y,
    y_mean,
    train,
    test,
    batches,
    alphas,
    *,
    method,
    fit_intercept,
    standardize,
    scoring,
    dtype,
    gram,
    col_sum,
    XtY,
    y_sum,
):
    """Held-out scores of every alpha and target on one fold.

    Returns ``scores`` (n_alphas, n_targets) and ``null_scores`` (n_targets,),
    the score of predicting the training mean.
    """
    B = importlib.import_module(f"himalaya.backend.{backend_name}")
    n_targets = Y.shape[1]
    scores = np.empty((len(alphas), n_targets), dtype=np.float64)
    null_scores = np.empty(n_targets, dtype=np.float64)
    alphas_b = B.asarray(np.asarray(alphas, dtype=dtype), dtype=dtype)
    test_b = B.asarray(np.asarray(test, dtype=np.int64), dtype="int64")
    n_train = len(train)
    X_test = Xb[test_b]
    if method == "primal":
        gram_train = gram - X_test.T @ X_test
        mean = (col_sum - X_test.sum(0)) / n_train
        scale = None
        if standardize:
            var = B.diagonal_view(gram_train) / n_train - mean**2
            scale = _fold_scale(B, var, mean, n_train, dtype)
        if fit_intercept:
            gram_train = gram_train - n_train * (mean[:, None] * mean[None, :])
        else:
            mean = None
        if standardize:
            gram_train = gram_train / (scale[:, None] * scale[None, :])
        eigvals, eigvecs = _eigh(B, gram_train)
        del gram_train
        A = _transform(X_test, mean, scale) @ eigvecs
    else:
        train_b = B.asarray(np.asarray(train, dtype=np.int64), dtype="int64")
        X_train = Xb[train_b]  # a copy: centred and scaled in place
        mean = X_train.mean(0)
        scale = None
        if standardize:
            var = ((X_train - mean) ** 2).mean(0)
            scale = _fold_scale(B, var, mean, n_train, dtype)
        if not fit_intercept:
            mean = None
        _transform_inplace(X_train, mean, scale)
        eigvals, eigvecs = _eigh(B, X_train @ X_train.T)
        _transform_inplace(X_test, mean, scale)
        A = (X_test @ X_train.T) @ eigvecs
        del X_train

    for i_batch, batch in enumerate(batches):
        Y_test = _targets(B, Y, y_mean, batch, test, dtype)
        if method == "primal":
            y_train_sum = y_sum[i_batch] - Y_test.sum(0)
            XtY_train = XtY[i_batch] - X_test.T @ Y_test
            if fit_intercept:
                y_train_mean = y_train_sum / n_train
                XtY_train = XtY_train - n_train * (
                    mean[:, None] * y_train_mean[None, :]
                )
                Y_test = Y_test - y_train_mean
            if standardize:
                XtY_train = XtY_train / scale[:, None]
            proj = eigvecs.T @ XtY_train
            del XtY_train
        else:
            Y_train = _targets(B, Y, y_mean, batch, train, dtype)
            if fit_intercept:
                y_train_mean = Y_train.mean(0)
                Y_train = Y_train - y_train_mean
                Y_test = Y_test - y_train_mean
            proj = eigvecs.T @ Y_train
            del Y_train
        null_scores[batch] = B.to_numpy(_score(B, scoring, Y_test, Y_test * 0))
        for i_alpha in range(len(alphas)):
            pred = A @ (proj / (eigvals + alphas_b[i_alpha])[:, None])
            scores[i_alpha, batch] = B.to_numpy(_score(B, scoring, Y_test, pred))
        del proj, Y_test
    return scores, null_scores


def _targets(B, Y, y_mean, batch, rows, dtype):
    """A batch of targets (rows optional), centred globally, on the backend."""
    values = Y[:, batch] if rows is None else Y[rows, batch]
    # Subtracted in float64 (y_mean's precision) but written straight into
    # the solver's dtype, through numpy's buffered casting: no float64 copy of
    # the batch.
    centred = np.empty(values.shape, dtype=dtype)
    np.subtract(values, y_mean[batch], out=centred, casting="same_kind")
    return B.asarray(centred, dtype=dtype)


def _transform(X, mean, scale):
    if mean is not None:
        X = X - mean
    if scale is not None:
        X = X / scale
    return X


def _transform_inplace(X, mean, scale):
    if mean is not None:
        X -= mean
    if scale is not None:
        X /= scale


def _fold_scale(B, var, mean, n_train, dtype):
    """Standard deviation of each feature on a fold, 1 for constant ones.

    With ``standardize`` the features reaching the solver have unit variance
    over all samples, so the variance on a fold's training samples is
    rounding residue, not spread, when it is below ``n * eps * (1 + mean**2)``
    (the error of a variance computed as a difference of sums). Such a
    feature is constant on the fold and is left unscaled; dividing by the
    residue would blow up its held-out values.
    """
    eps = float(np.finfo(dtype).eps)
    constant = var <= n_train * eps * (1 + mean**2)
    return B.sqrt(B.clip(var, 0, None)) * ~constant + 1.0 * constant


def _eigh(B, matrix):
    """Symmetric eigendecomposition, eigenvalues clipped at zero."""
    if B.name == "numpy":
        from scipy.linalg import eigh

        # The divide-and-conquer driver is several times faster than the
        # default one on these sizes, in float32 especially.
        eigvals, eigvecs = eigh(matrix, driver="evd", check_finite=False)
    else:
        eigvals, eigvecs = B.eigh(matrix)
    return B.clip(eigvals, 0, None), eigvecs


def _score(B, scoring, y_true, y_pred):
    """Per-target score of centred held-out targets; greater is better."""
    residual = y_true - y_pred
    if scoring == "neg_mean_squared_error":
        return -(residual**2).mean(0)
    true_c = y_true - y_true.mean(0)
    if scoring == "r2":
        total = (true_c**2).sum(0)
        safe = total + (total == 0)
        return (1 - (residual**2).sum(0) / safe) * (total != 0)
    pred_c = y_pred - y_pred.mean(0)
    denom = B.sqrt((true_c**2).sum(0) * (pred_c**2).sum(0))
    safe = denom + (denom == 0)
    return (true_c * pred_c).sum(0) / safe * (denom != 0)


def solve_banded_ridge_cv(
    Xs,
    Y,
    alphas,
    folds,
    *,
    backend,
    fit_intercept=True,
    scoring="neg_mean_squared_error",
    n_iter=100,
    concentration=(0.1, 1.0),
    random_state=None,
    n_targets_batch=None,
    dtype="float32",
    progress_bar=False,
):
    """Banded ridge: one regularisation per feature space and target.

    A thin layer over himalaya's random search on the simplex of space
    weights (``solve_group_ridge_random_search``): for each of ``n_iter``
    Dirichlet draws of space weights ``gamma`` and each alpha of the grid,
    space ``i`` is penalised by ``alpha / gamma_i``; each target keeps the
    draw and alpha with the best held-out score. himalaya's backend is global,
    so the call runs under :func:`brainenc._backend.use_backend`.

    Parameters
    ----------
    Xs : list of ndarray of shape (n_samples, n_features_i)
        Design matrix of each feature space.
    Y : ndarray of shape (n_samples, n_targets)
        Targets.
    alphas : ndarray of shape (n_alphas,)
        Grid of overall regularisation strengths.
    folds : list of (train, test) pairs
        Cross-validation folds.
    backend : str
        Backend name (see :func:`brainenc._backend.resolve_backend`).
    fit_intercept, scoring, n_targets_batch, dtype
        As in :func:`solve_ridge_cv`.
    n_iter : int, default=100
        Number of draws of space weights (the first is uniform).
    concentration : float or sequence of float, default=(0.1, 1.0)
        Dirichlet concentrations the draws cycle through.
    random_state : int, RandomState instance or None
        Seed of the draws.
    progress_bar : bool, default=False
        Show himalaya's progress bar.

    Returns
    -------
    result : dict
        ``space_alphas`` (n_spaces, n_targets), ``best_alphas``
        (n_targets,) the overall alpha, ``cv_scores`` (n_iter, n_targets)
        best held-out score of each draw, ``coef`` (sum of n_features_i,
        n_targets), ``intercept`` (n_targets,). All NumPy.
    """
    from himalaya import scoring as hscoring
    from himalaya.ridge import solve_group_ridge_random_search

    from ._backend import use_backend

    score_func = {
        "neg_mean_squared_error": hscoring.l2_neg_loss,
        "r2": hscoring.r2_score,
        "pearson_r": hscoring.correlation_score,
    }[scoring]
    seed = random_state
    if not isinstance(seed, (int, np.integer)) and seed is not None:
        seed = seed.randint(np.iinfo(np.int32).max)  # himalaya wants an int
    with use_backend(backend) as B:
        Xs_b = [B.asarray(np.asarray(X, dtype=dtype), dtype=dtype) for X in Xs]
        Y_b = B.asarray(np.asarray(Y, dtype=dtype), dtype=dtype)
        out = solve_group_ridge_random_search(
            Xs_b,
            Y_b,
            n_iter=n_iter,
            concentration=list(np.atleast_1d(concentration)),
            alphas=B.asarray(np.asarray(alphas, dtype=dtype), dtype=dtype),
            fit_intercept=fit_intercept,
            score_func=score_func,
            cv=folds,
            return_weights=True,
            local_alpha=True,
            random_state=seed,
            n_targets_batch=n_targets_batch,
            progress_bar=progress_bar,
            warn=False,
        )
        deltas, coef, cv_scores = (B.to_numpy(a) for a in out[:3])
        if fit_intercept:
            intercept = np.asarray(B.to_numpy(out[3]), dtype=np.float64)
        else:
            intercept = np.zeros(Y.shape[1])
    deltas = deltas.astype(np.float64)
    return {
        "space_alphas": np.exp(-deltas),
        "best_alphas": 1.0 / np.exp(deltas).sum(axis=0),
        "cv_scores": cv_scores.astype(np.float64),
        "coef": np.asarray(coef, dtype=dtype),
        "intercept": intercept,
    }
