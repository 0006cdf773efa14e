"""Ridge and banded ridge with hyper-parameters chosen by cross-validation.

The math under :class:`brainenc.DelayedRidge`, written once on himalaya's
backend array API so NumPy, torch-CPU and torch-CUDA run the same code.

Plain ridge and banded ridge are one solver. Banded ridge penalises feature
space ``i`` by ``alpha / gamma_i`` for a draw ``gamma`` of space weights on the
simplex, which is plain ridge on the design whose space ``i`` is scaled by
``sqrt(gamma_i)``; plain ridge is the one draw ``gamma = 1``. For each fold
the Gram matrix of the training samples (primal, ``n_features <= n_samples``)
or the kernel of each space (dual) is formed once from the products over all
samples; for each draw of space weights, the scaled Gram (or the weighted sum
of the spaces' kernels) gets one symmetric eigendecomposition, and the
held-out predictions of every alpha and target are batched matrix products in
its eigenbasis. Centring and scaling are estimated on the training samples of
each fold only.

Each solver has its memory estimate beside it (:func:`ridge_cv_memory`,
:func:`banded_ridge_cv_memory`), in the allocations the solver makes, so the
estimator that calls it does not need to know them. Solvers take the backend
*module*, a progress callable ``progress(done, total)`` and ``n_jobs``, and
return coefficients target-major, ``(n_targets, n_features)``.

Work splits over joblib: the folds (each with its decompositions), the draws
of space weights within a fold, or, when the targets dominate the cost, the
targets of each fold: its decomposition is made once and every job scores a
share of the targets from it (under ``joblib.parallel_config(backend="dask")``
joblib sends each large argument to a worker once per call).
"""

import importlib
import math

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

SCORINGS = ("neg_mean_squared_error", "r2", "pearson_r")

# Cost of a symmetric eigendecomposition (``eigh``, divide and conquer) of an
# m x m matrix in units of matrix-multiply flops: about 8 m**3 (measured:
# 0.16 s for m = 1200 in float32 against 90 GFLOP/s of sgemm, 1 thread).
_EIGH_COST = 8.0


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
    alpha_per_target=True,
    n_targets_batch=None,
    dtype="float32",
    n_jobs=None,
    progress=None,
    keep_dual=False,
):
    """Fit ridge with alpha chosen by cross-validation (per target or shared).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), or a list holding it
        Design matrix, owned by the solver: it is cast to ``dtype`` and
        **modified in place** (centred and scaled); pass a copy. Handed over
        in a one-element list, it is taken out of the list and released as
        soon as it is no longer needed (after the kernel, when the dual
        coefficients are kept): the caller then holds no reference to it.
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
        ``"auto"`` takes the primal when ``n_features`` is at most the
        smallest number of training samples of a fold.
    scoring : {"neg_mean_squared_error", "r2", "pearson_r"}
        Held-out score of each target on each fold, averaged over folds (for
        ``"pearson_r"``: the correlation within each fold, then the mean of
        the folds' correlations), maximised over alphas.
    alpha_per_target : bool, default=True
        Choose each target's alpha; ``False`` chooses the one alpha whose
        cross-validated score, averaged over targets, is best.
    n_targets_batch : int or None, default=None
        Number of targets processed at once; ``None`` means all.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the computation.
    n_jobs : int or None, default=None
        Jobs run in parallel through joblib (threads unless a backend is set
        with ``joblib.parallel_config``; ``None`` means 1 outside such a
        context): the folds, or the targets of each fold when they dominate
        the cost (:func:`parallel_plan`). The answer does not depend on it.
    progress : callable or None
        Called as ``progress(done, total)`` after each unit of work (a fold,
        or a fold's share of the targets) and after the refit.
    keep_dual : bool, default=False
        Dual only: return the dual coefficients (``dual_coef``, the
        coefficients of the training samples) instead of ``coef``; the
        primal coefficients are then ``(X_s.T @ dual_coef).T / x_scale``
        with ``X_s`` the centred and scaled training design.

    Returns
    -------
    result : dict
        ``best_alphas`` (n_targets,), ``cv_scores`` (n_alphas, n_targets)
        averaged over folds, ``null_scores`` (n_targets,) the held-out score
        of predicting the training mean, ``coef`` (n_targets, n_features) or
        None, ``dual_coef`` (n_samples, n_targets) or None, ``intercept``
        (n_targets,), ``x_mean`` and ``x_scale`` (n_features,), ``method``.
        All NumPy.
    """
    holder = X if isinstance(X, list) else [X]
    del X
    result = _solve(
        holder,
        Y,
        alphas,
        folds,
        backend=backend,
        columns=None,
        draws=np.ones((1, 1)),
        fit_intercept=fit_intercept,
        standardize=standardize,
        method=method,
        scoring=scoring,
        alpha_per_target=alpha_per_target,
        n_targets_batch=n_targets_batch,
        dtype=dtype,
        n_jobs=n_jobs,
        progress=progress,
        keep_dual=keep_dual,
    )
    result["cv_scores"] = result.pop("scores")[0]
    for key in ("space_alphas", "space_weights", "draws", "best_draws", "draw_alphas"):
        result.pop(key)
    return result


def ridge_cv_memory(
    n_samples,
    n_features,
    n_targets,
    folds,
    n_alphas,
    *,
    n_targets_batch,
    dtype="float32",
    method="auto",
    standardize=False,
    n_jobs=None,
    keep_dual=False,
    n_spaces=1,
    n_draws=1,
):
    """Bytes of working memory of :func:`solve_ridge_cv` beyond ``X`` and ``Y``.

    An upper estimate of what the solver allocates (tested against the peak
    that ``tracemalloc`` measures), counting the design the solver owns.

    Parameters
    ----------
    n_samples, n_features, n_targets : int
        Shape of the design and of the targets.
    folds : list of (train, test) pairs
        The folds (their sizes matter).
    n_alphas : int
        Size of the alpha grid.
    n_targets_batch, dtype, method, standardize, n_jobs, keep_dual
        As given to the solver.
    n_spaces, n_draws : int, default=1
        Banded ridge: feature spaces and draws of space weights.

    Returns
    -------
    need : int
        Bytes.
    """
    itemsize = np.dtype(dtype).itemsize
    n_folds = len(folds)
    n_train = max(len(train) for train, _ in folds)
    n_test = max(len(test) for _, test in folds)
    method = _resolve_method(method, n_features, folds, n_samples)
    banded = n_draws > 1 or n_spaces > 1
    mode, n_parallel, _ = parallel_plan(
        n_jobs, folds, method, n_features, n_targets, n_alphas, n_draws
    )
    batch = min(n_targets_batch or n_targets, n_targets)
    if mode == "targets":
        batch = min(batch, math.ceil(n_targets / n_parallel))
    n, p, t, b = n_samples, n_features, n_targets, batch
    k = n_parallel
    # In elements of dtype, the peak of each phase of the fit: what is held
    # through it, plus what its jobs allocate (``k`` at once; in the
    # "targets" mode the decomposition is made once, only the batches run
    # in parallel). eigh's divide-and-conquer workspace is 2 m^2 for an
    # m x m matrix; plain ridge lets it overwrite its one matrix with the
    # eigenvectors, banded ridge decomposes a scaled copy for each draw.
    jobs = 1 if mode == "targets" else k
    kernels = 0  # the dual's kernel phase
    if method == "primal":
        # the design, the Gram of all samples and X^T Y of every target; per
        # fold the training Gram, a draw's scaled copy, its eigenvectors and
        # workspace, the held-out design twice and in the eigenbasis; per
        # batch the held-out targets, predictions and the scores' temporaries
        held = n * p + p**2 + p * t
        per_job = (4 + banded) * p**2 + 3 * n_test * p
        per_batch = 5 * n_test + 3 * p
        # the refit (the design released): the Gram, a draw's copy, eigh's
        # workspace; then X^T Y and the coefficients side by side (plain
        # ridge frees X^T Y batch by batch), banded ridge a draw's share
        refit = p**2 + banded * p**2 + max(2 * p**2 + p * t, (2 + banded) * p * t)
        refit += 3 * p * b + n * b
    elif standardize:
        # the design; per fold a copy of the training design, its kernel,
        # eigenvectors and workspace, the held-out kernel blocks
        held = n * p
        per_job = n_train * p + 4 * n_train**2 + 2 * n_test * (n_train + p)
        per_batch = 3 * n_train + 5 * n_test
        # the refit: the kernel of all samples, eigh's workspace, then the
        # coefficients (and the design for the primal ones)
        out = n * t if keep_dual else p * t
        refit = n * p + n**2 + max(2 * n**2, out + 3 * n * b + p * b)
    else:
        # the kernel of each space (formed while the design is alive), and
        # the design unless the dual coefficients are kept
        kernels = n * p + n_spaces * n**2
        held = n_spaces * n**2 + (0 if keep_dual else n * p)
        # per fold a draw's kernel (banded), the training block, its
        # eigenvectors and workspace, the held-out block twice
        per_job = banded * n**2 + 3 * n_train**2 + 2 * n_test * n_train
        per_batch = 3 * n_train + 5 * n_test
        # the refit: a draw's kernel (banded), eigh's workspace, then the
        # dual or primal coefficients and one batch's products
        out = n * t if keep_dual else p * t
        refit = held + banded * n**2
        refit += max(2 * n**2, out + 3 * n * b + (0 if keep_dual else p * b))
    if mode == "targets":
        # every fold's decomposition is held while the shares are scored:
        # eigenvectors, the held-out design (or kernel block) in the
        # eigenbasis and, primal, the held-out design
        m = p if method == "primal" else n_train
        held += n_folds * (m**2 + (1 + (method == "primal")) * n_test * m)
    cv = held + jobs * per_job + k * per_batch * b
    # held-out scores of every draw, alpha and target (the sum over folds and
    # one per job), the null scores and the selection (float64)
    scores = 8 // itemsize * (k + 2) * (n_draws * n_alphas + 2) * t
    need = scores + max(kernels, cv, refit)
    # 10 % for the temporaries of numpy expressions and small arrays
    return int(1.1 * itemsize * need)


def solve_banded_ridge_cv(
    X,
    Y,
    alphas,
    folds,
    *,
    spaces,
    backend,
    n_iter=100,
    concentration=(0.1, 1.0),
    random_state=None,
    fit_intercept=True,
    method="auto",
    scoring="neg_mean_squared_error",
    alpha_per_target=True,
    n_targets_batch=None,
    dtype="float32",
    n_jobs=None,
    progress=None,
    keep_dual=False,
):
    """Banded ridge: one regularisation per feature space and target.

    A random search over the simplex of space weights, as himalaya's
    ``solve_group_ridge_random_search`` (the same Dirichlet draws for the same
    seed, the first draw uniform): for each draw ``gamma`` and each alpha of
    the grid, space ``i`` is penalised by ``alpha / gamma_i``, and each
    target keeps the draw and alpha with the best held-out score (a later
    draw must beat an earlier one by the dtype's epsilon, as in himalaya).
    Each draw costs one eigendecomposition per fold and is shared by every
    alpha and target (:func:`solve_ridge_cv`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), or a list holding it
        Design matrix, owned by the solver (see :func:`solve_ridge_cv`).
    Y : ndarray of shape (n_samples, n_targets)
        Targets; never modified.
    alphas : ndarray of shape (n_alphas,)
        Grid of overall regularisation strengths, increasing.
    folds : list of (train, test) pairs
        Cross-validation folds.
    spaces : list of array of int
        Columns of ``X`` in each feature space; every column in exactly one.
    backend : module
        A himalaya backend module.
    n_iter : int or ndarray of shape (n_iter, n_spaces), default=100
        Number of draws of space weights, or the draws themselves.
    concentration : float or sequence of float, default=(0.1, 1.0)
        Dirichlet concentrations the draws cycle through.
    random_state : int, RandomState instance or None
        Seed of the draws (an int gives himalaya's draws for that int).
    fit_intercept, method, scoring, alpha_per_target, n_targets_batch, dtype, \
n_jobs, progress, keep_dual
        As in :func:`solve_ridge_cv`. With ``alpha_per_target=False`` the
        alpha of each draw is shared by all targets (the best mean score),
        and each target keeps its best draw at that alpha (himalaya's
        ``local_alpha=False``).

    Returns
    -------
    result : dict
        As :func:`solve_ridge_cv`, with ``space_alphas`` (n_spaces,
        n_targets), ``best_alphas`` (n_targets,) the overall alpha,
        ``cv_scores`` (n_iter, n_targets) the best held-out score of each
        draw over alphas, ``space_weights`` (n_spaces, n_targets) the chosen
        draw of each target, ``draws`` (n_iter, n_spaces), ``best_draws``
        (n_targets,) its index.
    """
    if isinstance(n_iter, (int, np.integer)):
        draws = dirichlet_draws(n_iter, len(spaces), concentration, random_state)
    else:
        draws = np.asarray(n_iter, dtype=np.float64)
    holder = X if isinstance(X, list) else [X]
    del X
    result = _solve(
        holder,
        Y,
        alphas,
        folds,
        backend=backend,
        columns=spaces,
        draws=draws,
        fit_intercept=fit_intercept,
        standardize=False,
        method=method,
        scoring=scoring,
        alpha_per_target=alpha_per_target,
        n_targets_batch=n_targets_batch,
        dtype=dtype,
        n_jobs=n_jobs,
        progress=progress,
        keep_dual=keep_dual,
    )
    scores = result.pop("scores")
    alpha_idx = result.pop("draw_alphas")
    result["cv_scores"] = np.take_along_axis(scores, alpha_idx[:, None, :], 1)[:, 0]
    return result


def banded_ridge_cv_memory(
    n_samples, n_features, n_targets, folds, n_alphas, *, n_spaces, n_iter, **kwargs
):
    """Bytes of working memory of :func:`solve_banded_ridge_cv`.

    Parameters
    ----------
    n_samples, n_features, n_targets, folds, n_alphas
        As in :func:`ridge_cv_memory`.
    n_spaces, n_iter : int
        Feature spaces and draws of space weights.
    **kwargs
        ``n_targets_batch``, ``dtype``, ``method``, ``n_jobs``,
        ``keep_dual`` as given to the solver.

    Returns
    -------
    need : int
        Bytes.
    """
    return ridge_cv_memory(
        n_samples,
        n_features,
        n_targets,
        folds,
        n_alphas,
        n_spaces=n_spaces,
        n_draws=n_iter,
        **kwargs,
    )


def dirichlet_draws(n_draws, n_spaces, concentration=(0.1, 1.0), random_state=None):
    """Draws of space weights on the simplex, as himalaya makes them.

    ``n_draws`` Dirichlet samples cycling through the concentrations (one
    block of ``ceil(n_draws / n_concentrations)`` samples per concentration
    from one generator, interleaved), the first replaced by uniform weights.
    For an int seed they are himalaya's ``generate_dirichlet_samples`` for
    the same seed.

    Parameters
    ----------
    n_draws, n_spaces : int
        Number of draws and of feature spaces.
    concentration : float or sequence of float, default=(0.1, 1.0)
        Dirichlet concentrations (``inf``: uniform weights).
    random_state : int, RandomState instance or None
        Seed; ``None`` draws fresh entropy without touching NumPy's global
        generator.

    Returns
    -------
    draws : ndarray of shape (n_draws, n_spaces)
        Non-negative rows summing to 1.
    """
    if random_state is None:
        rng = np.random.RandomState(np.random.SeedSequence().generate_state(1)[0])
    elif isinstance(random_state, np.random.RandomState):
        rng = random_state
    else:
        rng = np.random.RandomState(random_state)
    concentration = np.atleast_1d(np.asarray(concentration, dtype=np.float64))
    per = math.ceil(n_draws / concentration.size)
    blocks = []
    for conc in concentration:
        if np.isinf(conc):
            blocks.append(np.full((per, n_spaces), 1.0 / n_spaces))
        else:
            blocks.append(rng.dirichlet([conc] * n_spaces, per))
    # interleave: one draw of each concentration in turn
    draws = np.stack(blocks, axis=1).reshape(-1, n_spaces)[:n_draws]
    draws[0] = 1.0 / n_spaces
    return draws


def parallel_plan(n_jobs, folds, method, n_features, n_targets, n_alphas, n_draws=1):
    """How the work of one fit splits over ``n_jobs`` joblib workers.

    Parameters
    ----------
    n_jobs : int or None
        As given to the solver (resolved by :func:`joblib.effective_n_jobs`,
        which follows ``joblib.parallel_config``).
    folds : list of (train, test) pairs
        The folds.
    method : {"primal", "dual"}
        The formulation.
    n_features, n_targets, n_alphas, n_draws : int
        Shape of the problem.

    Returns
    -------
    mode : {"folds", "targets"}
        ``"folds"``: each job decomposes one fold (and, with draws of space
        weights, one share of the draws) and scores every target;
        ``"targets"``: each fold is decomposed once and each job scores a
        share of the targets from it.
    n_parallel : int
        Number of jobs that run at once.
    n_chunks : int
        Shares of the draws (``"folds"``) or of the targets (``"targets"``).
    """
    k = max(1, int(effective_n_jobs(n_jobs)))
    n_folds = len(folds)
    if k == 1:
        return "folds", 1, 1
    if n_draws > 1:
        # folds x shares of the draws: k shares keep every worker busy
        chunks = 1 if n_folds % k == 0 else min(k, n_draws)
        return "folds", min(k, n_folds * chunks), chunks
    n_train = max(len(train) for train, _ in folds)
    n_test = max(len(test) for _, test in folds)
    m = n_features if method == "primal" else n_train
    decompose = _EIGH_COST * m**3
    score = 2.0 * n_targets * m * (n_alphas * n_test + m + n_test)
    shares = min(k, n_targets)
    by_folds = math.ceil(n_folds / k) * (decompose + score)
    by_targets = n_folds * (decompose + score / shares)
    if shares > 1 and by_targets < by_folds:
        return "targets", shares, shares
    return "folds", min(k, n_folds), 1


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


def select_hyperparameters(cv_scores, *, alpha_per_target=True, eps=0.0):
    """Best draw of space weights and alpha of each target.

    For each draw, the best alpha: of each target (``alpha_per_target``), or
    the one with the best score averaged over targets, shared by all. Then
    each target keeps the draw whose score at that alpha is best (as
    himalaya's random search with ``local_alpha`` true or false). With one
    draw (plain ridge) and ``alpha_per_target=False``, every target gets the
    alpha of the best mean score.

    Parameters
    ----------
    cv_scores : ndarray of shape (n_draws, n_alphas, n_targets)
        Held-out scores averaged over folds (greater is better).
    alpha_per_target : bool, default=True
        Choose the alpha of each draw per target, or one for all targets.
    eps : float, default=0.0
        A later draw replaces an earlier one only when its score is greater
        by more than ``eps`` (himalaya's rule, with the dtype's epsilon).

    Returns
    -------
    best_draws, best_alphas : ndarray of int of shape (n_targets,)
        Indices into the draws and the alphas.
    draw_alphas : ndarray of int of shape (n_draws, n_targets)
        The best alpha of each draw.
    """
    n_draws, _, n_targets = cv_scores.shape
    if alpha_per_target:
        draw_alphas = np.stack([select_best_alphas(s) for s in cv_scores])
    else:
        mean = np.nanmean(cv_scores, axis=2, keepdims=True)
        shared = np.stack([select_best_alphas(s) for s in mean])  # (n_draws, 1)
        draw_alphas = np.repeat(shared, n_targets, axis=1)
    draw_best = np.take_along_axis(cv_scores, draw_alphas[:, None, :], 1)[:, 0]
    draw_best = np.nan_to_num(draw_best, nan=-np.inf)
    best_draws = np.zeros(n_targets, dtype=np.intp)
    current = draw_best[0].copy()
    for i in range(1, n_draws):
        better = draw_best[i] > current + eps
        best_draws[better] = i
        current[better] = draw_best[i, better]
    best_alphas = draw_alphas[best_draws, np.arange(n_targets)]
    return best_draws, best_alphas, draw_alphas


# ---------------------------------------------------------------------------
# The solver shared by plain and banded ridge


def _resolve_method(method, n_features, folds, n_samples):
    if method != "auto":
        return method
    # Compare with the smallest training set: a fold whose training Gram
    # would be rank-deficient is solved faster (and better) in the dual.
    n_train_min = min((len(train) for train, _ in folds), default=n_samples)
    return "primal" if n_features <= n_train_min else "dual"


def _batches(n_targets, size):
    return [
        slice(start, min(start + size, n_targets))
        for start in range(0, n_targets, size)
    ]


def _solve(
    holder,
    Y,
    alphas,
    folds,
    *,
    backend,
    columns,
    draws,
    fit_intercept,
    standardize,
    method,
    scoring,
    alpha_per_target,
    n_targets_batch,
    dtype,
    n_jobs,
    progress,
    keep_dual,
):
    B = backend
    X = holder.pop()
    n_samples, n_features = X.shape
    n_targets = Y.shape[1]
    n_draws = draws.shape[0]
    if columns is None:
        columns = [np.arange(n_features)]
    col_space = np.zeros(n_features, dtype=np.intp)
    for i, cols in enumerate(columns):
        col_space[np.asarray(cols)] = i
    alphas = np.asarray(alphas, dtype=np.float64)
    method = _resolve_method(method, n_features, folds, n_samples)
    keep_dual = bool(keep_dual) and method == "dual"
    mode, _, n_chunks = parallel_plan(
        n_jobs, folds, method, n_features, n_targets, alphas.size, n_draws
    )
    size = min(n_targets_batch or n_targets, n_targets)
    if mode == "targets":
        size = min(size, math.ceil(n_targets / n_chunks))
    batches = _batches(n_targets, size)

    # Global centring and scaling, in place on the solver's copy. Fold-level
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
    Xb = B.asarray(X, dtype=dtype)
    del X
    shared = {
        "Xb": None,
        "gram": None,
        "col_sum": None,
        "kernels": None,
    }
    XtY = y_sum = None
    # the intercept of the dual coefficients: x_mean / x_scale seen through
    # each space's training design
    intercept_dirs = None
    if method == "primal":
        shared["Xb"] = Xb
        shared["gram"] = Xb.T @ Xb
        shared["col_sum"] = Xb.sum(0)
        if mode == "folds":  # else each share's job computes its own
            XtY, y_sum = _cross_products(B, Xb, Y, y_mean, batches, dtype)
    elif standardize:
        shared["Xb"] = Xb
    else:
        shared["kernels"] = []
        for cols in columns:
            X_space = _columns(B, Xb, cols)
            shared["kernels"].append(X_space @ X_space.T)
            del X_space
        if not keep_dual:
            shared["Xb"] = Xb
    if keep_dual and fit_intercept:
        direction = (x_mean / x_scale).astype(dtype)
        intercept_dirs = [
            B.to_numpy(_columns(B, Xb, cols) @ B.asarray(direction[cols], dtype=dtype))
            for cols in columns
        ]
    # the refit needs the design only for the primal coefficients of the dual
    design = Xb if method == "dual" and not keep_dual else None
    del Xb

    common = {
        "method": method,
        "fit_intercept": fit_intercept,
        "standardize": standardize,
        "scoring": scoring,
        "dtype": dtype,
    }
    n_folds = len(folds)
    n_steps = (1 if mode == "targets" else n_folds) * n_chunks + 1
    scores = np.zeros((n_draws, alphas.size, n_targets), dtype=np.float64)
    null_scores = np.zeros(n_targets, dtype=np.float64)
    done = 0
    parallel = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")
    if mode == "folds":
        draw_chunks = np.array_split(np.arange(n_draws), n_chunks)
        jobs = (
            delayed(_fold_job)(
                B.name,
                train,
                test,
                draws[chunk],
                col_space,
                alphas,
                batches,
                Y,
                y_mean,
                XtY=XtY,
                y_sum=y_sum,
                **shared,
                **common,
            )
            for train, test in folds
            for chunk in draw_chunks
        )
        chunk_of = [chunk for _ in folds for chunk in draw_chunks]
        for i_job, (fold_scores, fold_null) in enumerate(parallel(jobs)):
            scores[chunk_of[i_job]] += fold_scores
            if chunk_of[i_job][0] == 0:
                null_scores += fold_null
            done += 1
            if progress is not None:
                progress(done, n_steps)
    else:
        # Every fold decomposed once, here; then one job per share of the
        # targets scores them on every fold (joblib sends the decompositions
        # to each worker once, and each share of the targets once).
        decompositions = []
        for train, test in folds:
            parts = _fold_parts(B, train, test, **shared, **common)
            draw = None if _is_plain(draws) else draws[0]  # banded, n_iter=1
            dec = _draw_decomposition(B, parts, draw, col_space, shared, **common)
            # only what scoring reads is kept (and shipped) for each fold
            for name in ("gram_train", "X_test_fold", "kernel_train", "kernel_test"):
                parts.pop(name, None)
            decompositions.append((parts, dec))
            del parts, dec
        shares = _shares(batches, n_chunks)
        jobs = (
            delayed(_share_job)(
                B.name,
                decompositions,
                folds,
                alphas,
                local,
                Y[:, share],
                y_mean[share],
                Xb=shared["Xb"] if method == "primal" else None,
                **common,
            )
            for share, _, _, local in shares
        )
        XtY = y_sum = None
        if method == "primal":
            XtY, y_sum = [], []
        for (share, *_), (part, part_null, part_xty, part_sum) in zip(
            shares, parallel(jobs), strict=True
        ):
            scores[0, :, share] = part
            null_scores[share] = part_null
            if XtY is not None:
                XtY += part_xty
                y_sum += part_sum
            done += 1
            if progress is not None:
                progress(done, n_steps)
        del decompositions, jobs
    scores /= n_folds
    null_scores /= n_folds

    eps = float(np.finfo(dtype).eps) if n_draws > 1 else 0.0
    best_draws, best_alpha_idx, draw_alphas = select_hyperparameters(
        scores, alpha_per_target=alpha_per_target, eps=eps
    )
    best_alphas = alphas[best_alpha_idx]
    space_weights = draws[best_draws].T  # (n_spaces, n_targets)

    # Refit on all samples: one decomposition per draw chosen by a target,
    # every target of that draw solved by products in its eigenbasis.
    # Stored target-major, the layout of ``coef_``, so that no transposed copy
    # of a (possibly voxel-scale) coefficient matrix is ever made.
    kernels = shared["kernels"]
    if method == "dual" and kernels is None:  # standardised dual
        kernels = [shared["Xb"] @ shared["Xb"].T]
    gram = shared["gram"]
    del shared
    width = n_samples if keep_dual else n_features
    refit = {
        "design": design,
        "x_scale": x_scale,
        "keep_dual": keep_dual,
        "dtype": dtype,
        "method": method,
    }
    if mode == "targets":
        dec = _refit_decomposition(
            B,
            draws[0],
            col_space,
            gram=gram,
            kernels=kernels,
            method=method,
            dtype=dtype,
            consume=True,
        )
        del gram, kernels
        pieces = _shares(batches, n_chunks)
        jobs = (
            delayed(_refit_job)(
                B.name,
                dec,
                draws[0],
                col_space,
                local,
                [None] * len(local),
                best_alphas[share],
                Y[:, share],
                y_mean[share],
                XtY=None if XtY is None else XtY[first:last],
                **refit,
            )
            for share, first, last, local in pieces
        )
        targets_of = [share for share, *_ in pieces]
    else:
        used = np.unique(best_draws)
        jobs = (
            delayed(_refit_job)(
                B.name,
                None,
                draws[i_draw],
                col_space,
                batches,
                [None if used.size == 1 else best_draws[b] == i_draw for b in batches],
                best_alphas,
                Y,
                y_mean,
                XtY=XtY,
                gram=gram,
                kernels=kernels,
                free=used.size == 1,
                **refit,
            )
            for i_draw in used
        )
        targets_of = [
            slice(None) if used.size == 1 else np.flatnonzero(best_draws == i)
            for i in used
        ]
    out = None
    for targets, part in zip(targets_of, parallel(jobs), strict=True):
        if out is None and len(targets_of) == 1:
            out = part  # the only job: its output is the whole answer
        else:
            if out is None:
                out = np.empty((n_targets, width), dtype=dtype)
            out[targets] = part
        del part
    del jobs, refit, design, XtY
    if progress is not None:
        progress(n_steps, n_steps)
    coef = None if keep_dual else out
    dual_coef = out.T if keep_dual else None

    intercept = y_mean.copy()
    if coef is not None:
        for batch in batches:
            intercept[batch] -= coef[batch].astype(np.float64) @ x_mean
    elif intercept_dirs is not None:
        for batch in batches:
            for i, direction in enumerate(intercept_dirs):
                intercept[batch] -= space_weights[i, batch] * (
                    out[batch].astype(np.float64) @ direction.astype(np.float64)
                )
    with np.errstate(divide="ignore"):
        space_alphas = best_alphas / space_weights
    return {
        "best_alphas": best_alphas,
        "scores": scores,
        "draw_alphas": draw_alphas,
        "null_scores": null_scores,
        "coef": coef,
        "dual_coef": dual_coef,
        "intercept": intercept,
        "x_mean": x_mean,
        "x_scale": x_scale,
        "method": method,
        "space_alphas": space_alphas,
        "space_weights": space_weights,
        "draws": draws,
        "best_draws": best_draws,
    }


def _shares(batches, n_shares):
    """Contiguous shares of the target batches: (targets, first, last, local
    batches relative to the share's first target)."""
    out = []
    for group in np.array_split(np.arange(len(batches)), n_shares):
        if group.size == 0:
            continue
        first, last = int(group[0]), int(group[-1]) + 1
        start, stop = batches[first].start, batches[last - 1].stop
        local = [slice(b.start - start, b.stop - start) for b in batches[first:last]]
        out.append((slice(start, stop), first, last, local))
    return out


def _columns(B, X, cols):
    """Columns ``cols`` of ``X``: a view when they are consecutive."""
    cols = np.asarray(cols)
    if cols.size and np.array_equal(cols, np.arange(cols[0], cols[0] + cols.size)):
        return X[:, int(cols[0]) : int(cols[0]) + cols.size]
    return X[:, _index(B, cols)]


def _index(B, indices):
    return B.asarray(np.asarray(indices, dtype=np.int64), dtype="int64")


def _cross_products(B, Xb, Y, y_mean, batches, dtype):
    """X^T Y and the sum of Y of each batch of targets."""
    XtY, y_sum = [], []
    for batch in batches:
        Y_batch = _targets(B, Y, y_mean, batch, None, dtype)
        XtY.append(Xb.T @ Y_batch)
        y_sum.append(Y_batch.sum(0))
        del Y_batch
    return XtY, y_sum


def _fold_job(
    backend_name,
    train,
    test,
    draws,
    col_space,
    alphas,
    batches,
    Y,
    y_mean,
    *,
    Xb,
    gram,
    col_sum,
    kernels,
    XtY,
    y_sum,
    method,
    fit_intercept,
    standardize,
    scoring,
    dtype,
):
    """Held-out scores of some draws, every alpha and target on one fold.

    Returns ``scores`` (n_draws, n_alphas, n_targets) and ``null_scores``
    (n_targets,), the score of predicting the training mean.
    """
    B = importlib.import_module(f"himalaya.backend.{backend_name}")
    common = {
        "method": method,
        "fit_intercept": fit_intercept,
        "standardize": standardize,
        "scoring": scoring,
        "dtype": dtype,
    }
    shared = {"Xb": Xb, "gram": gram, "col_sum": col_sum, "kernels": kernels}
    parts = _fold_parts(B, train, test, **shared, **common)
    plain = _is_plain(draws)
    # a single batch of targets: its training cross-products serve every draw
    cache = {} if len(batches) == 1 and not plain else None
    out = np.empty((len(draws), len(alphas), Y.shape[1]), dtype=np.float64)
    null_scores = None
    for i, draw in enumerate(draws):
        dec = _draw_decomposition(
            B, parts, None if plain else draw, col_space, shared, **common
        )
        out[i], null_scores = _score_batches(
            B,
            dec,
            parts,
            train,
            test,
            alphas,
            batches,
            Y,
            y_mean,
            XtY=XtY,
            y_sum=y_sum,
            cache=cache,
            **common,
        )
        del dec
    return out, null_scores


def _share_job(
    backend_name, decompositions, folds, alphas, batches, Y, y_mean, *, Xb, **common
):
    """Held-out scores of one share of the targets, summed over the folds,
    from every fold's decomposition; with the share's X^T Y (primal), which
    the refit reuses."""
    B = importlib.import_module(f"himalaya.backend.{backend_name}")
    XtY = y_sum = None
    if Xb is not None:
        XtY, y_sum = _cross_products(B, Xb, Y, y_mean, batches, common["dtype"])
    scores = null_scores = 0.0
    for (parts, dec), (train, test) in zip(decompositions, folds, strict=True):
        fold_scores, fold_null = _score_batches(
            B,
            dec,
            parts,
            train,
            test,
            alphas,
            batches,
            Y,
            y_mean,
            XtY=XtY,
            y_sum=y_sum,
            cache=None,
            **common,
        )
        scores = scores + fold_scores
        null_scores = null_scores + fold_null
    return scores, null_scores, XtY, y_sum


def _fold_parts(
    B,
    train,
    test,
    *,
    Xb,
    gram,
    col_sum,
    kernels,
    method,
    fit_intercept,
    standardize,
    scoring,
    dtype,
):
    """What every draw of a fold needs: the training Gram (primal, centred and
    scaled on the training samples), or the training design (dual with
    standardisation), and the held-out design."""
    del scoring
    n_train = len(train)
    test_b = _index(B, test)
    parts = {"mean": None, "scale": None, "train": train, "test": test}
    if method == "primal":
        X_test = Xb[test_b]
        gram_train = gram - X_test.T @ X_test
        mean = (col_sum - X_test.sum(0)) / n_train
        if standardize:
            var = B.diagonal_view(gram_train) / n_train - mean**2
            parts["scale"] = _fold_scale(B, var, mean, n_train, dtype)
        if fit_intercept:
            gram_train -= n_train * (mean[:, None] * mean[None, :])
            parts["mean"] = mean
        if standardize:
            scale = parts["scale"]
            gram_train /= scale[:, None] * scale[None, :]
        parts["gram_train"] = gram_train
        parts["X_test"] = X_test  # globally centred, for X_test^T Y_test
        parts["X_test_fold"] = _transform(X_test, parts["mean"], parts["scale"])
    elif standardize:
        X_train = Xb[_index(B, train)]  # a copy: centred and scaled in place
        mean = X_train.mean(0)
        var = ((X_train - mean) ** 2).mean(0)
        scale = _fold_scale(B, var, mean, n_train, dtype)
        if not fit_intercept:
            mean = None
        _transform_inplace(X_train, mean, scale)
        X_test = _transform(Xb[test_b], mean, scale)
        parts["kernel_train"] = X_train @ X_train.T
        parts["kernel_test"] = X_test @ X_train.T
        del X_train, X_test
    return parts


def _is_plain(draws):
    """Whether the draws of space weights are plain ridge's single weight 1
    (one space, no scaling of the columns or kernels)."""
    return draws.shape == (1, 1) and draws[0, 0] == 1.0


def _draw_decomposition(
    B, parts, draw, col_space, shared, *, method, fit_intercept, dtype, **_
):
    """Eigendecomposition of one fold for one draw of space weights.

    Returns ``eigvals``, ``eigvecs``, ``A`` (the held-out design, or kernel
    block, in the eigenbasis) and ``d`` (the column scaling, or None).
    """
    d = None
    if draw is not None:
        d = B.asarray(np.sqrt(draw[col_space]).astype(dtype), dtype=dtype)
    if method == "primal":
        if d is not None:
            gram = parts["gram_train"] * (d[:, None] * d[None, :])
        else:
            # plain ridge decomposes each fold's Gram once: its eigenvectors
            # may overwrite it
            gram = parts.pop("gram_train")
        eigvals, eigvecs = _eigh(B, gram, owned=True)
        del gram
        X_test = parts["X_test_fold"]
        A = (X_test if d is None else X_test * d) @ eigvecs
        return {"eigvals": eigvals, "eigvecs": eigvecs, "A": A, "d": d}
    if "kernel_train" in parts:  # standardised dual: no draws
        eigvals, eigvecs = _eigh(B, parts["kernel_train"], owned=False)
        return {
            "eigvals": eigvals,
            "eigvecs": eigvecs,
            "A": parts["kernel_test"] @ eigvecs,
            "d": None,
        }
    kernel_train, kernel_test = _fold_kernel(
        B, shared["kernels"], draw, parts["train"], parts["test"], fit_intercept
    )
    eigvals, eigvecs = _eigh(B, kernel_train, owned=True)
    del kernel_train
    return {
        "eigvals": eigvals,
        "eigvecs": eigvecs,
        "A": kernel_test @ eigvecs,
        "d": None,
    }


def _fold_kernel(B, kernels, draw, train, test, fit_intercept):
    """Training and held-out blocks of the (weighted) kernel, centred on the
    training samples of the fold."""
    train_b, test_b = _index(B, train), _index(B, test)
    rows, cols = train_b[:, None], train_b[None, :]
    if draw is None:
        K_train = kernels[0][rows, cols]
        K_test = kernels[0][test_b[:, None], cols]
    else:
        K_train = K_test = None
        for weight, kernel in zip(draw, kernels, strict=True):
            block = kernel[rows, cols]
            block *= float(weight)
            cross = kernel[test_b[:, None], cols]
            cross *= float(weight)
            if K_train is None:
                K_train, K_test = block, cross
            else:
                K_train += block
                K_test += cross
            del block, cross
    if fit_intercept:
        # (x_i - m) . (x_j - m) with m the training mean of the features
        # in place, one vector at a time: no temporary of the blocks' size
        row_mean = K_train.mean(1)
        col_term = (row_mean - row_mean.mean())[None, :]
        K_test -= K_test.mean(1)[:, None]
        K_test -= col_term
        K_train -= row_mean[:, None]
        K_train -= col_term
    return K_train, K_test


def _score_batches(
    B,
    dec,
    parts,
    train,
    test,
    alphas,
    batches,
    Y,
    y_mean,
    *,
    XtY,
    y_sum,
    cache,
    method,
    fit_intercept,
    standardize,
    scoring,
    dtype,
):
    """Held-out scores (n_alphas, n_targets) and null scores (n_targets,) of
    the targets of ``batches`` from one decomposition."""
    n_targets = batches[-1].stop
    scores = np.empty((len(alphas), n_targets), dtype=np.float64)
    null_scores = np.empty(n_targets, dtype=np.float64)
    alphas_b = B.asarray(np.asarray(alphas, dtype=dtype), dtype=dtype)
    eigvals, eigvecs, A, d = dec["eigvals"], dec["eigvecs"], dec["A"], dec["d"]
    n_train = len(train)
    mean, scale = parts["mean"], parts["scale"]
    for i_batch, batch in enumerate(batches):
        if cache is not None and "Y_test" in cache:
            Y_test, rhs = cache["Y_test"], cache["rhs"]
        else:
            Y_test = _targets(B, Y, y_mean, batch, test, dtype)
            if method == "primal":
                rhs = XtY[i_batch] - parts["X_test"].T @ Y_test
                if fit_intercept:
                    y_train_mean = (y_sum[i_batch] - Y_test.sum(0)) / n_train
                    rhs -= n_train * (mean[:, None] * y_train_mean[None, :])
                    Y_test -= y_train_mean
                if standardize:
                    rhs /= scale[:, None]
            else:
                rhs = _targets(B, Y, y_mean, batch, train, dtype)
                if fit_intercept:
                    y_train_mean = rhs.mean(0)
                    rhs -= y_train_mean
                    Y_test -= y_train_mean
            if cache is not None:
                cache["Y_test"], cache["rhs"] = Y_test, rhs
        proj = eigvecs.T @ (rhs if d is None else rhs * d[:, None])
        if cache is None:
            del rhs
        score = _scorer(B, scoring, Y_test)
        null_scores[batch] = B.to_numpy(score(Y_test * 0))
        for i_alpha in range(len(alphas)):
            pred = A @ (proj / (eigvals + alphas_b[i_alpha])[:, None])
            scores[i_alpha, batch] = B.to_numpy(score(pred))
            del pred
        del score
        del proj, Y_test
    return scores, null_scores


def _refit_decomposition(
    B, draw, col_space, *, gram, kernels, method, dtype, consume=False
):
    """Eigendecomposition of all samples for one draw of space weights.

    With ``consume`` (plain ridge: one decomposition), the Gram or kernel
    matrix is overwritten by the eigenvectors."""
    plain = _is_plain(draw[None])
    d = None if plain else B.asarray(np.sqrt(draw[col_space]).astype(dtype), dtype)
    if method == "primal":
        matrix = gram if d is None else gram * (d[:, None] * d[None, :])
    else:
        matrix = None
        for weight, kernel in zip(draw, kernels, strict=True):
            term = kernel if plain else kernel * float(weight)
            matrix = term if matrix is None else matrix + term
            del term
    eigvals, eigvecs = _eigh(B, matrix, owned=consume or not plain)
    return {"eigvals": eigvals, "eigvecs": eigvecs, "d": d}


def _refit_job(
    backend_name,
    dec,
    draw,
    col_space,
    batches,
    masks,
    best_alphas,
    Y,
    y_mean,
    *,
    design,
    XtY,
    x_scale,
    keep_dual,
    dtype,
    method,
    gram=None,
    kernels=None,
    free=False,
):
    """Coefficients of the targets of one draw, refitted on all samples.

    ``masks[i]`` selects the targets of ``batches[i]`` that chose this draw
    (None: all of them). Returns (n_selected, n_features) primal or
    (n_selected, n_samples) dual coefficients, target-major.
    """
    B = importlib.import_module(f"himalaya.backend.{backend_name}")
    if dec is None:
        dec = _refit_decomposition(
            B,
            draw,
            col_space,
            gram=gram,
            kernels=kernels,
            method=method,
            dtype=dtype,
            consume=free,
        )
    eigvals, eigvecs, d = dec["eigvals"], dec["eigvecs"], dec["d"]
    n_selected = sum(
        (b.stop - b.start) if m is None else int(np.count_nonzero(m))
        for b, m in zip(batches, masks, strict=True)
    )
    width = Y.shape[0] if keep_dual else x_scale.size
    out = np.empty((n_selected, width), dtype=dtype)
    scale = (1.0 / x_scale).astype(dtype)
    if d is not None and not keep_dual:
        # coefficients of the unscaled design: d * (Z^T dual) or d * weights
        scale = scale * B.to_numpy(d)
    row = 0
    for i_batch, (batch, mask) in enumerate(zip(batches, masks, strict=True)):
        idx = None if mask is None else np.flatnonzero(mask)
        if idx is not None and idx.size == 0:
            continue
        alpha = best_alphas[batch] if idx is None else best_alphas[batch][idx]
        alpha_b = B.asarray(alpha.astype(dtype), dtype=dtype)
        if method == "primal":
            rhs = XtY[i_batch] if idx is None else XtY[i_batch][:, _index(B, idx)]
            if free and idx is None:
                # X^T Y of this batch is not needed after its refit: freeing
                # it as the coefficients fill in keeps their sum at one copy.
                XtY[i_batch] = None
            if d is not None:
                rhs = rhs * d[:, None]
        else:
            rhs = _targets(B, Y, y_mean, batch, None, dtype)
            if idx is not None:
                rhs = rhs[:, _index(B, idx)]
        # two batch-sized arrays alive at a time
        proj = eigvecs.T @ rhs
        del rhs
        proj /= eigvals[:, None] + alpha_b
        weights = eigvecs @ proj
        del proj
        if method == "dual" and not keep_dual:
            weights = design.T @ weights
            if d is not None:
                weights *= d[:, None]
        n = weights.shape[1]
        if keep_dual:
            out[row : row + n] = B.to_numpy(weights).T
        else:
            out[row : row + n] = B.to_numpy(weights).T * scale
        row += n
        del weights
    return out


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


def _eigh(B, matrix, owned=False):
    """Symmetric eigendecomposition, eigenvalues clipped at zero.

    With ``owned``, the matrix (symmetric, C-ordered) may be overwritten by
    the eigenvectors, which saves a copy of it.
    """
    if B.name == "numpy":
        from scipy.linalg import eigh

        # The divide-and-conquer driver is several times faster than the
        # default one on these sizes, in float32 especially. The transpose of
        # a C-ordered symmetric matrix is itself in Fortran order, which
        # LAPACK overwrites without a copy. A read-only matrix (joblib's
        # memory-mapped arguments of worker processes) is never overwritten.
        owned = owned and matrix.flags.writeable and matrix.flags.c_contiguous
        eigvals, eigvecs = eigh(
            matrix.T if owned else matrix,
            driver="evd",
            check_finite=False,
            overwrite_a=owned,
        )
    else:
        eigvals, eigvecs = B.eigh(matrix)
    return B.clip(eigvals, 0, None), eigvecs


def _scorer(B, scoring, y_true):
    """Per-target score of predictions of the centred held-out targets
    ``y_true`` (greater is better), with what depends on ``y_true`` alone
    computed once for all alphas."""
    if scoring == "neg_mean_squared_error":
        return lambda y_pred: -((y_true - y_pred) ** 2).mean(0)
    true_c = y_true - y_true.mean(0)
    total = (true_c**2).sum(0)
    if scoring == "r2":
        safe = total + (total == 0)
        return lambda y_pred: (
            (1 - ((y_true - y_pred) ** 2).sum(0) / safe) * (total != 0)
        )

    def pearson_r(y_pred):
        pred_c = y_pred - y_pred.mean(0)
        denom = B.sqrt(total * (pred_c**2).sum(0))
        safe = denom + (denom == 0)
        return (true_c * pred_c).sum(0) / safe * (denom != 0)

    return pearson_r
