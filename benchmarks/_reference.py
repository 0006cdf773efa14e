"""Tight BLAS reference for run-wise cross-validated ridge (the floor of issue 6).

One Gram ``X^T X`` and one ``X^T Y`` over all samples; each fold's training
Gram is the full one minus the held-out block's (centred on the training
samples); one symmetric eigendecomposition per fold
(``scipy.linalg.eigh(..., driver="evd")``) and one for the refit; the held-out
errors of all alphas come from products in the eigenbasis (one GEMM per alpha
and target batch). Folds are processed one at a time (one p x p eigenbasis
alive) and targets in batches, so memory stays bounded: the delayed design,
``X^T Y`` (overwritten by the coefficients) and one batch's temporaries.

Pure NumPy/SciPy, float32 in, float32 math. ``python benchmarks/_reference.py``
checks it against a naive per-fold, per-alpha solve on small data.
"""

import numpy as np
from scipy import linalg


def ridge_cv_reference(X, Y, alphas, folds, *, fit_intercept=True, batch_mb=256):
    """Cross-validated ridge with one alpha per target, chosen by held-out MSE.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_columns)
        Delayed design (already delayed; float32 or float64).
    Y : ndarray of shape (n_samples, n_targets)
        Responses, same dtype as ``X``.
    alphas : array-like of shape (n_alphas,)
        Regularisation grid.
    folds : list of (train, test) index arrays
        Held-out blocks; the test blocks must not overlap.
    fit_intercept : bool, default=True
        Centre on the training samples of each fold (and of the refit).
    batch_mb : float, default=256
        Working memory per target batch, in MB.

    Returns
    -------
    coef : ndarray of shape (n_columns, n_targets)
    intercept : ndarray of shape (n_targets,)
    best_alphas : ndarray of shape (n_targets,)
    cv_scores : ndarray of shape (n_alphas, n_targets)
        Negative held-out MSE averaged over folds.
    """
    dtype = X.dtype
    n, p = X.shape
    t = Y.shape[1]
    alphas = np.asarray(alphas, dtype=dtype)
    n_test_max = max(len(test) for _, test in folds)
    per_target = (2 * p + 3 * n_test_max) * np.dtype(dtype).itemsize
    batch = max(1, min(t, int(batch_mb * 1e6 / per_target)))
    batches = [slice(i, min(i + batch, t)) for i in range(0, t, batch)]

    G = X.T @ X
    sum_x = X.sum(axis=0)
    sum_y = Y.sum(axis=0)
    # X^T Y of all targets; overwritten by the coefficients at the end.
    C = np.empty((p, t), dtype=dtype)
    for sl in batches:
        C[:, sl] = X.T @ Y[:, sl]

    # Folds one at a time: one eigendecomposition each, every target batch
    # and alpha scored from it, then dropped (one p x p basis alive at once).
    cv_scores = np.zeros((len(alphas), t), dtype=dtype)
    for _train, test in folds:
        Xte = X[test]
        n_tr = n - len(test)
        Gtr = G - Xte.T @ Xte
        if fit_intercept:
            mu_x = (sum_x - Xte.sum(axis=0)) / n_tr
            Gtr -= n_tr * np.outer(mu_x, mu_x)
            Xte -= mu_x
        s, V = linalg.eigh(Gtr, driver="evd", overwrite_a=True, check_finite=False)
        del Gtr
        A = Xte @ V  # held-out design in the eigenbasis (n_test, p)
        for sl in batches:
            Yte = Y[test, sl]
            Ctr = C[:, sl] - X[test].T @ Yte
            if fit_intercept:
                mu_y = (sum_y[sl] - Yte.sum(axis=0)) / n_tr
                Ctr -= n_tr * np.outer(mu_x, mu_y)
                Yte -= mu_y
            Q = V.T @ Ctr  # (p, b)
            del Ctr
            for k, alpha in enumerate(alphas):
                R = Yte - A @ (Q / (s + alpha)[:, None])
                cv_scores[k, sl] -= np.einsum("ij,ij->j", R, R) / len(test)
        del A, V, Xte
    cv_scores /= len(folds)
    best_alphas = alphas[np.argmax(cv_scores, axis=0)]

    # Refit: one eigendecomposition of the centred Gram of all samples.
    mu_all = sum_x / n if fit_intercept else np.zeros(p, dtype=dtype)
    if fit_intercept:
        G -= n * np.outer(mu_all, mu_all)
    s, V = linalg.eigh(G, driver="evd", overwrite_a=True, check_finite=False)
    del G
    coef = C  # overwritten batch by batch
    for sl in batches:
        Cc = C[:, sl] - np.outer(mu_all, sum_y[sl]) if fit_intercept else C[:, sl]
        Q = V.T @ Cc
        Q /= s[:, None] + best_alphas[sl][None, :]
        coef[:, sl] = V @ Q
    intercept = sum_y / n - mu_all @ coef if fit_intercept else np.zeros(t, dtype)
    return coef, intercept.astype(dtype), best_alphas, cv_scores


def ridge_fixed_alpha(X, Y, alpha, *, fit_intercept=True):
    """Plain ridge at one alpha (float64 solve), for agreement checks."""
    X = X.astype(np.float64)
    Y = Y.astype(np.float64)
    mx = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    my = Y.mean(axis=0) if fit_intercept else np.zeros(Y.shape[1])
    Xc, Yc = X - mx, Y - my
    coef = linalg.solve(
        Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ Yc, assume_a="pos"
    )
    return coef, my - mx @ coef


def _naive_ridge_cv(X, Y, alphas, folds):
    """Per fold, per alpha, float64 solve: the independent check."""
    X = X.astype(np.float64)
    Y = Y.astype(np.float64)
    scores = np.zeros((len(alphas), Y.shape[1]))
    for train, test in folds:
        for k, alpha in enumerate(alphas):
            coef, b = ridge_fixed_alpha(X[train], Y[train], alpha)
            R = Y[test] - X[test] @ coef - b
            scores[k] -= (R**2).mean(axis=0)
    scores /= len(folds)
    best = np.asarray(alphas)[np.argmax(scores, axis=0)]
    coef = np.column_stack(
        [ridge_fixed_alpha(X, Y[:, [j]], best[j])[0][:, 0] for j in range(Y.shape[1])]
    )
    return coef, best, scores


if __name__ == "__main__":
    from sklearn.model_selection import GroupKFold

    rng = np.random.default_rng(0)
    n, p, t = 400, 30, 25
    X = rng.standard_normal((n, p)) + 0.3
    Y = X @ rng.standard_normal((p, t)) * rng.uniform(0.05, 1, t) + 2
    Y += rng.standard_normal((n, t)) * 3
    groups = np.repeat(np.arange(10), n // 10)
    folds = list(GroupKFold(5).split(X, Y, groups))
    alphas = np.logspace(-1, 4, 9)
    for dtype, rtol in ((np.float64, 1e-8), (np.float32, 2e-3)):
        coef, b, best, scores = ridge_cv_reference(
            X.astype(dtype), Y.astype(dtype), alphas, folds, batch_mb=0.01
        )
        coef_n, best_n, scores_n = _naive_ridge_cv(X, Y, alphas, folds)
        np.testing.assert_allclose(scores, scores_n, rtol=rtol)
        assert np.array_equal(best, best_n.astype(dtype)), (best, best_n)
        np.testing.assert_allclose(coef, coef_n, rtol=rtol * 10, atol=rtol * 1e-2)
        print(
            f"{np.dtype(dtype).name}: reference == naive per-fold solve; "
            f"alphas chosen {np.unique(best)}"
        )
