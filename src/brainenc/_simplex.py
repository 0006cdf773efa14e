"""The solvers of stacking: convex (simplex) and ridge combinations of predictions.

:func:`solve_simplex_qp` is the exact, batched solver of many small
simplex-constrained least-squares problems (one per target): minimise
``w^T Q w - 2 b^T w`` subject to ``w >= 0`` and ``sum(w) = 1``.
:func:`stacking_weights` turns out-of-fold predictions into the per-target
weights of :class:`brainenc.StackedRegressor` (convex, or a ridge with its
alpha chosen per target over the same folds); structured variance
partitioning (:mod:`brainenc.analysis`) reuses it on subsets of spaces.
Pure functions on NumPy arrays, in float64.
"""

import itertools

import numpy as np
from sklearn.utils import Bunch

__all__ = ["solve_simplex_qp", "stacking_weights"]

# method="auto" enumerates the supports (2**K - 1 equality-constrained
# problems, each batched over the targets) up to this many spaces, and runs
# FISTA with an exact polish beyond; problems whose polished solution fails
# the KKT check are then enumerated, up to _MAX_ENUMERATION_SPACES spaces.
_ENUMERATE_UP_TO = 4
_MAX_ENUMERATION_SPACES = 12


def solve_simplex_qp(Q, b, *, method="auto", tol=1e-12, max_iter=20000):
    """Minimise ``w^T Q w - 2 b^T w`` over the simplex, for many problems at once.

    For every problem ``t``, finds ``w`` with ``w >= 0`` and ``sum(w) = 1``
    minimising the quadratic, where ``Q[t]`` is symmetric positive
    semi-definite. With ``Q[t] = P^T P`` and ``b[t] = P^T y`` this is the
    least-squares convex combination of the columns of ``P`` that best fits
    ``y``: the stacking weights of one target.

    Parameters
    ----------
    Q : array-like of shape (n_problems, n_spaces, n_spaces)
        Symmetric positive semi-definite matrices.
    b : array-like of shape (n_problems, n_spaces)
        Linear terms.
    method : {"auto", "enumerate", "fista"}, default="auto"
        ``"enumerate"``: exact; solves the equality-constrained problem on
        every support (``2**n_spaces - 1`` of them, each batched over the
        problems) and keeps the feasible solution of least objective.
        ``"fista"``: accelerated projected gradient with exact projection
        onto the simplex, run until the Frank-Wolfe duality gap falls below
        ``tol``, then polished by an exact solve on the support it found,
        kept where it passes the KKT optimality check.
        ``"auto"`` enumerates up to 4 spaces; beyond, it runs ``"fista"``
        and enumerates the problems (if at most 12 spaces) whose polished
        solution fails the KKT check, so that every answer is exact or
        certified.
    tol : float, default=1e-12
        Duality-gap tolerance of ``"fista"``, relative to the largest
        diagonal entry of each ``Q[t]``.
    max_iter : int, default=20000
        Iteration cap of ``"fista"``.

    Returns
    -------
    w : ndarray of shape (n_problems, n_spaces)
        The minimisers (float64), on the simplex. Where the minimiser is not
        unique (collinear predictions), one of the minimisers.

    Raises
    ------
    ValueError
        If the shapes disagree or the inputs are not finite.

    Notes
    -----
    Enumeration is exact: a minimiser with the smallest support is the
    unique minimiser of the problem restricted to that support (else the
    segment of restricted minimisers would reach a smaller support), so it
    is among the candidates, and every feasible candidate is no better than
    the optimum. Singular restricted problems are solved in the null space
    of the sum constraint with an eigen-decomposition pseudo-inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.stacking import solve_simplex_qp
    >>> Q = np.array([[[2.0, 0.0], [0.0, 1.0]]])
    >>> b = np.array([[0.0, 0.0]])
    >>> solve_simplex_qp(Q, b).round(4)
    array([[0.3333, 0.6667]])
    """
    Q = np.asarray(Q, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if Q.ndim != 3 or Q.shape[1] != Q.shape[2] or b.shape != Q.shape[:2]:
        raise ValueError(
            "Q must have shape (n_problems, n_spaces, n_spaces) and b shape "
            f"(n_problems, n_spaces), got Q {Q.shape} and b {b.shape}."
        )
    if not (np.all(np.isfinite(Q)) and np.all(np.isfinite(b))):
        raise ValueError("Q and b must be finite (no NaN or inf).")
    if method not in ("auto", "enumerate", "fista"):
        raise ValueError(
            f"method must be 'auto', 'enumerate' or 'fista', got {method!r}."
        )
    n_problems, K = b.shape
    if K == 0:
        raise ValueError("Q and b must have at least one space, got 0.")
    if n_problems == 0:
        return np.zeros((0, K))
    Q = 0.5 * (Q + Q.transpose(0, 2, 1))
    # Scale each problem by its largest diagonal entry: the minimiser does
    # not change and tolerances become relative.
    scale = np.max(np.abs(np.diagonal(Q, axis1=1, axis2=2)), axis=1)
    scale = np.where(scale > 0, scale, 1.0)
    Q = Q / scale[:, None, None]
    b = b / scale[:, None]
    if K == 1:
        return np.ones((n_problems, 1))
    if method == "enumerate" or (method == "auto" and K <= _ENUMERATE_UP_TO):
        return _simplex_enumerate(Q, b)
    w, certified = _simplex_fista(Q, b, tol=tol, max_iter=max_iter)
    redo = np.flatnonzero(~certified)
    if method == "auto" and redo.size and K <= _MAX_ENUMERATION_SPACES:
        w[redo] = _simplex_enumerate(Q[redo], b[redo])
    return w


def stacking_weights(P, Y, fold_of, final, alphas):
    """Weights of the combination of out-of-fold predictions, per target.

    Parameters
    ----------
    P : ndarray of shape (n_spaces, n_samples, n_targets)
        Out-of-fold predictions of every space.
    Y : ndarray of shape (n_samples, n_targets)
        Responses.
    fold_of : ndarray of shape (n_samples,)
        Fold in which each sample was held out (folds of the final ridge's
        alpha search).
    final : {"convex", "ridge"}
        Simplex weights, or ridge with intercept.
    alphas : ndarray of float
        Candidate alphas of the ridge.

    Returns
    -------
    result : Bunch
        ``weights`` (n_spaces, n_targets), ``intercept`` (n_targets,) and
        ``alpha`` (n_targets,) or None.
    """
    Y = np.asarray(Y, dtype=np.float64)
    n_targets = Y.shape[1]
    if final == "convex":
        Q, bvec = _gram_per_target(P, Y)
        weights = solve_simplex_qp(Q, bvec).T
        return Bunch(weights=weights, intercept=np.zeros(n_targets), alpha=None)
    return _ridge_final(P, Y, fold_of, alphas)


def _gram_per_target(P, Y, chunk=4096):
    """``Q[t] = P_t^T P_t`` and ``b[t] = P_t^T y_t`` in float64, by target chunks."""
    K, _, n_targets = P.shape
    Q = np.empty((n_targets, K, K))
    b = np.empty((n_targets, K))
    for lo in range(0, n_targets, chunk):
        cols = slice(lo, min(lo + chunk, n_targets))
        Pc = np.asarray(P[:, :, cols], dtype=np.float64)
        Yc = np.asarray(Y[:, cols], dtype=np.float64)
        Q[cols] = np.einsum("knt,lnt->tkl", Pc, Pc)
        b[cols] = np.einsum("knt,nt->tk", Pc, Yc)
    return Q, b


def _ridge_final(P, Y, fold_of, alphas):
    """Ridge with intercept on the predictions, alpha chosen per target by CV."""
    P = np.asarray(P, dtype=np.float64)
    K, _, n_targets = P.shape
    eye = np.eye(K)
    folds = np.unique(fold_of)
    if alphas.size > 1 and folds.size > 1:
        sse = np.zeros((alphas.size, n_targets))
        for f in folds:
            tr, te = fold_of != f, fold_of == f
            coef, icpt = _ridge_solve(P[:, tr], Y[tr], alphas, eye)
            P_te, Y_te = P[:, te], Y[te]  # copied once, for every alpha
            for a in range(alphas.size):
                pred = np.einsum("knt,tk->nt", P_te, coef[a]) + icpt[a]
                sse[a] += np.sum((pred - Y_te) ** 2, axis=0)
        best = np.argmin(sse, axis=0)
    else:
        best = np.zeros(n_targets, dtype=np.intp)
    chosen = alphas[best]
    coef, icpt = _ridge_solve(P, Y, alphas, eye)
    weights = coef[best, np.arange(n_targets)].T
    intercept = icpt[best, np.arange(n_targets)]
    return Bunch(weights=weights, intercept=intercept, alpha=chosen)


def _ridge_solve(P, Y, alphas, eye):
    """Ridge with intercept for every alpha and target: coef (n_alphas, T, K)."""
    p_mean = P.mean(axis=1)  # (K, T)
    y_mean = Y.mean(axis=0)  # (T,)
    Pc = P - p_mean[:, None, :]
    Yc = Y - y_mean
    Q, b = _gram_per_target(Pc, Yc)
    A = Q[None] + alphas[:, None, None, None] * eye  # (n_alphas, T, K, K)
    rhs = np.broadcast_to(b[None, :, :, None], A.shape[:-1] + (1,))
    coef = _batched_psd_solve(A, rhs[..., 0])
    intercept = y_mean[None] - np.einsum("atk,kt->at", coef, p_mean)
    return coef, intercept


def _batched_psd_solve(A, rhs):
    """Solve symmetric PSD systems, pseudo-inverse where singular."""
    vals, vecs = np.linalg.eigh(A)
    top = np.max(np.abs(vals), axis=-1, keepdims=True)
    keep = vals > 1e-13 * A.shape[-1] * np.where(top > 0, top, 1.0)
    inv = np.where(keep, 1.0 / np.where(keep, vals, 1.0), 0.0)
    proj = np.einsum("...kj,...k->...j", vecs, rhs)
    return np.einsum("...kj,...j->...k", vecs, inv * proj)


def _simplex_enumerate(Q, b):
    """Exact simplex QP by enumeration of the supports, batched over problems."""
    n_problems, K = b.shape
    best_w = np.zeros((n_problems, K))
    best_obj = np.full(n_problems, np.inf)
    for size in range(1, K + 1):
        for support in itertools.combinations(range(K), size):
            S = np.array(support)
            w_S = _restricted_minimiser(Q[:, S[:, None], S[None, :]], b[:, S])
            feasible = np.all(w_S >= -1e-9, axis=1)
            if not np.any(feasible):
                continue
            w_S = np.clip(w_S, 0.0, None)
            w_S /= w_S.sum(axis=1, keepdims=True)
            obj = _objective(Q[:, S[:, None], S[None, :]], b[:, S], w_S)
            margin = np.where(np.isfinite(best_obj), 1e-15 * np.abs(best_obj), 0.0)
            better = feasible & (obj < best_obj - margin)
            if np.any(better):
                best_obj[better] = obj[better]
                best_w[better] = 0.0
                best_w[np.ix_(better, S)] = w_S[better]
    return best_w


def _restricted_minimiser(Q, b):
    """Minimiser of ``w^T Q w - 2 b^T w`` subject to ``sum(w) = 1`` only.

    Solved in the null space of the constraint: ``w = 1/s + Z v`` with ``Z``
    an orthonormal basis of ``{d : sum(d) = 0}``; singular reduced Hessians
    get the minimum-norm minimiser.
    """
    n_problems, s = b.shape
    if s == 1:
        return np.ones((n_problems, 1))
    Z = _sum_zero_basis(s)  # (s, s - 1)
    w0 = np.full(s, 1.0 / s)
    H = Z.T @ Q @ Z
    g = (b - Q @ w0) @ Z
    v = _batched_psd_solve(H, g)
    return w0 + v @ Z.T


def _sum_zero_basis(s):
    """Orthonormal basis (s, s - 1) of the vectors whose entries sum to zero."""
    M = np.eye(s) - 1.0 / s
    q, _ = np.linalg.qr(M[:, : s - 1])
    return q


def _objective(Q, b, w):
    return np.einsum("tk,tkl,tl->t", w, Q, w) - 2.0 * np.einsum("tk,tk->t", b, w)


def _project_simplex(V):
    """Euclidean projection of every row of ``V`` onto the simplex (sort-based)."""
    n, K = V.shape
    U = -np.sort(-V, axis=1)
    css = np.cumsum(U, axis=1) - 1.0
    ind = np.arange(1, K + 1)
    cond = U - css / ind > 0
    rho = K - 1 - np.argmax(cond[:, ::-1], axis=1)
    theta = css[np.arange(n), rho] / (rho + 1)
    return np.maximum(V - theta[:, None], 0.0)


def _simplex_fista(Q, b, *, tol, max_iter):
    """Accelerated projected gradient with restarts, then an exact polish."""
    n_problems, K = b.shape
    L = 2.0 * np.linalg.eigvalsh(Q)[:, -1]
    step = 1.0 / np.where(L > 0, L, 1.0)
    w = np.full((n_problems, K), 1.0 / K)
    z = w.copy()
    t = np.ones(n_problems)
    active = np.ones(n_problems, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        grad = 2.0 * (np.einsum("tkl,tl->tk", Q[idx], z[idx]) - b[idx])
        w_new = _project_simplex(z[idx] - step[idx, None] * grad)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t[idx] ** 2))
        # Adaptive restart when the objective goes up.
        up = _objective(Q[idx], b[idx], w_new) > _objective(Q[idx], b[idx], w[idx])
        momentum = np.where(up, 0.0, (t[idx] - 1.0) / t_new)
        z[idx] = w_new + momentum[:, None] * (w_new - w[idx])
        t[idx] = np.where(up, 1.0, t_new)
        w[idx] = w_new
        grad_w = 2.0 * (np.einsum("tkl,tl->tk", Q[idx], w_new) - b[idx])
        gap = np.einsum("tk,tk->t", grad_w, w_new) - grad_w.min(axis=1)
        active[idx[gap <= tol]] = False
    return _polish(Q, b, w)


def _polish(Q, b, w):
    """Exact solve on the support FISTA found, kept where it satisfies the KKT.

    Returns the weights and whether each problem's solution is certified.
    """
    support = w > 1e-9
    out = w.copy()
    certified = np.zeros(w.shape[0], dtype=bool)
    patterns, inverse = np.unique(support, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        rows = np.flatnonzero(inverse.ravel() == p)
        S = np.flatnonzero(pattern)
        w_S = _restricted_minimiser(Q[rows][:, S[:, None], S[None, :]], b[rows][:, S])
        cand = np.zeros((rows.size, w.shape[1]))
        cand[:, S] = w_S
        grad = 2.0 * (np.einsum("tkl,tl->tk", Q[rows], cand) - b[rows])
        # KKT of the convex problem (scaled to unit largest diagonal): the
        # gradient is equal (mu) on the support and no smaller off it.
        mu = grad[:, S].mean(axis=1, keepdims=True)
        ok = (
            np.all(w_S >= -1e-12, axis=1)
            & np.all(np.abs(grad[:, S] - mu) <= 1e-9, axis=1)
            & np.all(grad >= mu - 1e-9, axis=1)
        )
        out[rows[ok]] = np.clip(cand[ok], 0.0, None)
        certified[rows[ok]] = True
    return out / out.sum(axis=1, keepdims=True), certified
