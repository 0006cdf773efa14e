"""Stacked regression over feature spaces, and structured variance partitioning.

One encoding model is fitted per feature space (a column block of ``X``); their
out-of-fold predictions over held-out runs are then combined per target with
weights on the simplex (non-negative, summing to one) that minimise the
held-out squared error (Lin, Naselaris, Kay & Wehbe, "Stacked regressions and
structured variance partitioning for interpretable brain maps"). The weights
say how much each feature space matters for each target.

:func:`solve_simplex_qp` is the exact, batched solver of the per-target
simplex-constrained least-squares problems.
"""

import inspect
import itertools
import numbers
import sys

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted

from ._compat import Integral, StrOptions, _fit_context
from ._validation import (
    check_feature_spaces,
    check_groups,
    validate_X,
    validate_X_y,
)
from .linear import DelayedRidge
from .metrics import _CorrelationScoreMixin, pearson_r, r2_per_target
from .model_selection import _estimator_folds

__all__ = [
    "StackedRegressor",
    "solve_simplex_qp",
    "structured_variance_partitioning",
]

#: Default grid of the final ridge (``final="ridge"``). The level-1 design
#: holds predictions in the units of ``y``; alphas are absolute, as in
#: :class:`sklearn.linear_model.Ridge`.
DEFAULT_FINAL_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 9))

# method="auto" enumerates the supports (2**K - 1 equality-constrained
# problems, each batched over the targets) up to this many spaces, and runs
# FISTA with an exact polish beyond; problems whose polished solution fails
# the KKT check are then enumerated, up to _MAX_ENUMERATION_SPACES spaces.
_ENUMERATE_UP_TO = 4
_MAX_ENUMERATION_SPACES = 12


class StackedRegressor(_CorrelationScoreMixin, RegressorMixin, BaseEstimator):
    """Stacked regression: one model per feature space, combined per target.

    Each base estimator is fitted on its own feature space (a column block of
    ``X``). Their predictions on held-out runs (out-of-fold predictions over
    ``cv``) are combined, for every target separately, with the weights that
    minimise the out-of-fold squared error:

    - ``final="convex"``: weights on the simplex (non-negative, summing to
      one), the stacking of Lin et al. (2024). The weight of a space reads as
      its importance for the target. The problems of all targets are solved
      at once, exactly (:func:`solve_simplex_qp`).
    - ``final="ridge"``: an unconstrained ridge regression with intercept on
      the out-of-fold predictions, its alpha chosen per target from
      ``final_alphas`` by cross-validation over the same folds.

    The base estimators are then refitted on all samples, and :meth:`predict`
    combines their predictions with the weights.

    .. versionadded:: 0.1

    Parameters
    ----------
    estimators : list of (str, estimator, columns) tuples, default=None
        The base models: a unique name, an unfitted regressor (cloned, never
        modified) and the columns of ``X`` it sees, as in
        :class:`~sklearn.compose.ColumnTransformer`, by position (not by
        column name): a slice, a sequence of integer column indices, a
        boolean mask, or an int (a block of that
        many consecutive columns, following the previous int block). Spaces
        must not overlap; columns that belong to no space are not used.
    feature_spaces : dict of str to columns, default=None
        Shortcut for ``estimators``: ``{name: columns}`` gives each space a
        default :class:`~brainenc.DelayedRidge`. Exactly one of
        ``estimators`` and ``feature_spaces`` must be given.
    cv : int, cross-validation generator or iterable, default=5
        Folds of the out-of-fold predictions. An int with ``groups`` means
        that many folds of whole runs (leave-one-run-out, with a warning,
        when there are fewer runs); without ``groups``, contiguous unshuffled
        blocks. A splitter receives ``groups``; an iterable of (train, test)
        pairs is used as given. Test sets must not overlap; samples that are
        in no test set are left out of the weights and scores.
    final : {"convex", "ridge"}, default="convex"
        How the out-of-fold predictions are combined (see above).
    final_alphas : float or array-like of float, default=DEFAULT_FINAL_ALPHAS
        Candidate alphas of ``final="ridge"`` (``1e-3, ..., 1e5``); one value
        fixes the alpha. Ignored with ``final="convex"``.
    n_jobs : int, default=None
        Number of jobs fitting the base models (spaces x folds) in parallel
        with joblib. ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context; ``-1`` means all processors.
    random_state : int, RandomState instance or None, default=None
        When not None, every base estimator that has a ``random_state``
        parameter left at None gets a seed drawn from it (one per space, the
        same in every fold and in the refit). The stacking itself is
        deterministic.
    verbose : int, default=0
        Print progress when greater than 0.

    Attributes
    ----------
    estimators_ : list of estimators
        The base estimators refitted on all samples, in the order of
        ``space_names_``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The same, by name.
    space_names_ : list of str
        Names of the feature spaces.
    feature_spaces_ : dict of str to ndarray of int
        Sorted column indices of every space.
    weights_ : ndarray of shape (n_spaces, n_targets)
        Weight of every space for every target (on the simplex with
        ``final="convex"``).
    intercept_ : ndarray of shape (n_targets,)
        Intercept of the combination (zeros with ``final="convex"``, where
        the bases carry their own intercepts).
    final_alpha_ : ndarray of shape (n_targets,) or None
        Alpha of the final ridge of every target (``final="ridge"`` only;
        None otherwise).
    cv_scores_ : ndarray of shape (n_spaces, n_targets)
        Held-out Pearson r of every space's out-of-fold predictions.
    stacked_cv_score_ : ndarray of shape (n_targets,)
        Pearson r of the combined out-of-fold predictions. Optimistic: the
        weights were fitted on these same predictions. Score the model on
        held-out runs for an unbiased estimate.
    oof_predictions_ : ndarray of shape (n_spaces, n_samples, n_targets)
        Out-of-fold predictions of every space, in float32 (NaN for samples
        in no test set). They take ``4 * n_spaces * n_samples * n_targets``
        bytes; :meth:`predict` does not need them, so ``del
        model.oof_predictions_`` frees that memory.
    n_splits_ : int
        Number of folds.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    structured_variance_partitioning : Nested stacked models over ordered
        spaces.
    solve_simplex_qp : The batched simplex-constrained solver.
    sklearn.ensemble.StackingRegressor : Stacking of models on the same
        features, with one final estimator for all targets.

    Notes
    -----
    Lin et al. fit the weights on the training residuals of each fold; here
    they are fitted on out-of-fold predictions over held-out runs (the
    stacked generalisation of Wolpert and Breiman), so that, like every
    hyper-parameter in brainenc, they are chosen on held-out data.

    Fitting holds the out-of-fold predictions of all spaces in memory
    (float32, see ``oof_predictions_``) plus float64 working arrays of the
    size of ``y``; ``final="ridge"`` also makes a float64 copy of the
    out-of-fold predictions.

    Base estimators receive the training runs' ``groups`` when their ``fit``
    accepts ``groups``, and the predicted runs' ``groups`` when their
    ``predict`` does. Out-of-fold predictions of a held-out block without
    run labels treat that block as a run of its own.

    References
    ----------
    Lin, R., Naselaris, T., Kay, K., & Wehbe, L. (2024). Stacked regressions
    and structured variance partitioning for interpretable brain maps.
    NeuroImage, 298, 120772.

    Examples
    --------
    >>> from brainenc import DelayedRidge
    >>> from brainenc.datasets import make_multispace_data
    >>> from brainenc.stacking import StackedRegressor
    >>> X, y, groups, truth = make_multispace_data(
    ...     n_samples=600, space_sizes=(5, 5), n_targets=4, n_runs=4,
    ...     random_state=0)
    >>> base = DelayedRidge(delays=4, cv=3, backend="numpy")
    >>> model = StackedRegressor(
    ...     [("a", base, slice(0, 5)), ("b", base, slice(5, 10))], cv=3)
    >>> model = model.fit(X, y, groups=groups)
    >>> model.weights_.shape
    (2, 4)
    >>> bool((model.weights_.argmax(axis=0) == truth.driving_space).all())
    True
    """

    _parameter_constraints = {
        "estimators": [list, tuple, None],
        "feature_spaces": [dict, None],
        "cv": ["cv_object"],
        "final": [StrOptions({"convex", "ridge"})],
        "final_alphas": ["array-like", numbers.Real],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimators=None,
        *,
        feature_spaces=None,
        cv=5,
        final="convex",
        final_alphas=DEFAULT_FINAL_ALPHAS,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimators = estimators
        self.feature_spaces = feature_spaces
        self.cv = cv
        self.final = final
        self.final_alphas = final_alphas
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None):
        """Fit the base models out of fold, the weights, then refit the bases.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features of all spaces, time along axis 0.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Responses. NaN is rejected.
        groups : array-like of shape (n_samples,), default=None
            Run labels (contiguous runs). Folds hold out whole runs, and the
            base estimators receive their runs' labels. None means one run.

        Returns
        -------
        self : StackedRegressor
            The fitted estimator.
        """
        X, y = validate_X_y(self, X, y)
        names, bases, spaces = self._check_estimators(X.shape[1])
        alphas = _check_final_alphas(self.final_alphas, self.final)
        groups = check_groups(groups, X.shape[0])
        folds = _estimator_folds(self.cv, groups, X.shape[0])
        fold_of = _fold_labels(folds, X.shape[0])
        bases = _seed_bases(bases, self.random_state)
        Y = y[:, np.newaxis] if y.ndim == 1 else y

        tasks = [(k, f) for k in range(len(bases)) for f in range(len(folds))]
        tasks += [(k, None) for k in range(len(bases))]
        if self.verbose:
            print(
                f"[StackedRegressor] fitting {len(bases)} spaces x "
                f"({len(folds)} folds + refit) = {len(tasks)} models",
                file=sys.stderr,
                flush=True,
            )
        results = Parallel(n_jobs=self.n_jobs, verbose=max(self.verbose - 1, 0))(
            delayed(_fit_predict)(
                bases[k],
                X[:, spaces[k]],
                y,
                groups,
                None if f is None else folds[f],
            )
            for k, f in tasks
        )

        n_targets = Y.shape[1]
        oof = np.full((len(bases), X.shape[0], n_targets), np.nan, dtype=np.float32)
        refitted = [None] * len(bases)
        for (k, f), result in zip(tasks, results, strict=True):
            if f is None:
                refitted[k] = result
                continue
            pred = _as_2d_predictions(result, folds[f][1].size, n_targets, names[k])
            oof[k, folds[f][1]] = pred

        covered = fold_of >= 0
        final = _fit_final(
            oof[:, covered], Y[covered], fold_of[covered], self.final, alphas
        )
        self.weights_ = final.weights
        self.intercept_ = final.intercept
        self.final_alpha_ = final.alpha
        Y_cov = Y[covered]
        self.cv_scores_ = np.stack([pearson_r(Y_cov, p[covered]) for p in oof])
        stacked = np.broadcast_to(self.intercept_, Y_cov.shape).copy()
        for p, w in zip(oof, self.weights_, strict=True):
            stacked += p[covered] * w
        self.stacked_cv_score_ = pearson_r(Y_cov, stacked)
        self.oof_predictions_ = oof
        self._oof_fold = fold_of
        self._y_ndim = y.ndim
        self.estimators_ = refitted
        self.named_estimators_ = Bunch(**dict(zip(names, refitted, strict=True)))
        self.space_names_ = names
        self.feature_spaces_ = dict(zip(names, spaces, strict=True))
        self.n_splits_ = len(folds)
        return self

    def predict(self, X, groups=None):
        """Combine the refitted base models' predictions with ``weights_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features of all spaces.
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X``, passed to the bases whose ``predict``
            accepts ``groups``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_targets) or (n_samples,)
            ``intercept_ + sum_k weights_[k] * prediction_k``; 1-D when the
            model was fitted on a 1-D ``y``.
        """
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        groups = check_groups(groups, X.shape[0])
        n_targets = self.weights_.shape[1]
        y_pred = None
        for k, (name, base) in enumerate(
            zip(self.space_names_, self.estimators_, strict=True)
        ):
            cols = self.feature_spaces_[name]
            pred = _as_2d_predictions(
                _predict(base, X[:, cols], groups), X.shape[0], n_targets, name
            )
            term = pred * self.weights_[k].astype(pred.dtype)
            y_pred = term if y_pred is None else y_pred + term
        y_pred = y_pred + self.intercept_.astype(y_pred.dtype)
        return y_pred[:, 0] if self._y_ndim == 1 else y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _check_estimators(self, n_features):
        """Names, cloned bases and column indices of every space."""
        if self.estimators is not None and self.feature_spaces is not None:
            raise ValueError(
                "Pass either estimators or feature_spaces to StackedRegressor, "
                "not both."
            )
        if self.estimators is None and self.feature_spaces is None:
            raise ValueError(
                "StackedRegressor needs feature spaces: pass estimators=[(name, "
                "estimator, columns), ...] or feature_spaces={name: columns}, "
                "got neither."
            )
        if self.feature_spaces is not None:
            entries = [
                (name, DelayedRidge(), cols)
                for name, cols in self.feature_spaces.items()
            ]
            argname = "feature_spaces"
        else:
            entries = []
            for i, entry in enumerate(self.estimators):
                if not isinstance(entry, (tuple, list)) or len(entry) != 3:
                    raise ValueError(
                        "estimators must be a list of (name, estimator, columns) "
                        f"tuples, but entry {i} is {entry!r}."
                    )
                entries.append(tuple(entry))
            argname = "estimators"
        if not entries:
            raise ValueError(f"{argname} must name at least one feature space.")
        names = [name for name, _, _ in entries]
        for name in names:
            if not isinstance(name, str) or not name:
                raise TypeError(
                    f"{argname} names must be non-empty strings, got {name!r}."
                )
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"{argname} names must be unique, got {dup!r} twice.")
        for name, est, _ in entries:
            if not (hasattr(est, "fit") and hasattr(est, "predict")):
                raise TypeError(
                    f"estimators[{name!r}] must be an estimator with fit and "
                    f"predict methods, got {type(est).__name__} {est!r}."
                )
        columns = {name: cols for name, _, cols in entries}
        spaces = _resolve_spaces(columns, n_features, argname)
        bases = [clone(est) for _, est, _ in entries]
        return names, bases, [spaces[name] for name in names]


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


def structured_variance_partitioning(
    estimator, X, y, groups=None, *, order=None, cv=5, threshold=0.95
):
    """Structured variance partitioning over an ordered list of feature spaces.

    For feature spaces with a hypothesised order (layers of a network, say),
    Lin et al. (2024) fit stacked models on nested subsets only: forward,
    ``spaces[k:]`` (dropping the first spaces one by one) and backward,
    ``spaces[:k + 1]`` (dropping the last ones), 2(K - 1) models besides the
    full one, instead of the 2**K - 1 subsets of classical variance
    partitioning. Every model is scored on held-out runs.

    With ``R2_f[k]`` the held-out R^2 of the stacked model on ``spaces[k:]``
    and ``R2_b[k]`` that on ``spaces[:k + 1]`` (``R2_f[0] = R2_b[K - 1]`` is
    the full model; ``R2_f[K] = R2_b[-1] = 0``):

    - ``forward_unique[k] = R2_f[k] - R2_f[k + 1]``: variance explained by
      space ``k`` beyond all later spaces (Lin et al.'s forward partition;
      for the last space, its own R^2);
    - ``backward_unique[k] = R2_b[k] - R2_b[k - 1]``: variance explained by
      space ``k`` beyond all earlier spaces (their backward partition,
      indexed by space; for the first space, its own R^2);
    - ``shared[k - 1] = R2_b[k - 1] + R2_f[k] - R2_f[0]`` for
      ``k = 1, ..., K - 1``: the variance shared by ``spaces[:k]`` and
      ``spaces[k:]`` (two-set variance partitioning at split ``k``);
    - ``forward_assignment``: Lin et al.'s forward 95% criterion, the first
      space ``k`` such that dropping ``spaces[:k + 1]`` brings R^2 below
      ``threshold`` times the full model's (the last space if none does);
      ``backward_assignment``: the last space ``k`` such that dropping
      ``spaces[k:]`` does (the first space if none does). -1 where the full
      model's R^2 is not positive.

    Each sum ``forward_unique.sum(0)`` and ``backward_unique.sum(0)`` equals
    the full model's R^2.

    .. versionadded:: 0.1

    Parameters
    ----------
    estimator : StackedRegressor
        Its parameters define the stacked models (it is cloned; a fitted
        estimator's state is ignored).
    X : array-like of shape (n_samples, n_features)
        Stimulus features.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Responses.
    groups : array-like of shape (n_samples,), default=None
        Run labels.
    order : sequence of str, default=None
        Names of the spaces in the hypothesised order (a permutation of the
        estimator's space names); None keeps the estimator's order.
    cv : int, cross-validation generator or iterable, default=5
        Outer folds on which the models are scored, as ``cv`` of
        :class:`StackedRegressor`; a single split is ``[(train, test)]``.
        Held-out predictions of all outer test sets are scored together.
    threshold : float, default=0.95
        Fraction of the full model's R^2 of the 95% criterion.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``space_names`` (list, in ``order``); ``forward_r2`` and
        ``backward_r2`` (n_spaces, n_targets) as defined above, and
        ``forward_r``, ``backward_r`` the same models' held-out Pearson r;
        ``forward_unique``, ``backward_unique`` (n_spaces, n_targets);
        ``shared`` (n_spaces - 1, n_targets); ``forward_assignment``,
        ``backward_assignment`` (n_targets,) space indices in ``order``;
        ``full_r2`` (n_targets,).

    Notes
    -----
    Within one outer fold, the stacked model on a subset of spaces uses the
    same base models and out-of-fold predictions as the full model (the
    bases do not depend on which other spaces are stacked), so only the
    final combination is refitted per subset: the full model is fitted once
    per outer fold. This gives the same answer as fitting every nested
    model from scratch.

    References
    ----------
    Lin, R., Naselaris, T., Kay, K., & Wehbe, L. (2024). Stacked regressions
    and structured variance partitioning for interpretable brain maps.
    NeuroImage, 298, 120772.

    Examples
    --------
    >>> from brainenc import DelayedRidge
    >>> from brainenc.datasets import make_multispace_data
    >>> from brainenc.stacking import (
    ...     StackedRegressor, structured_variance_partitioning)
    >>> X, y, groups, truth = make_multispace_data(
    ...     n_samples=600, space_sizes=(4, 4, 4), n_targets=3, n_runs=4,
    ...     random_state=0)
    >>> base = DelayedRidge(delays=4, cv=3, backend="numpy")
    >>> model = StackedRegressor(
    ...     [(f"s{i}", base, slice(4 * i, 4 * i + 4)) for i in range(3)], cv=3)
    >>> res = structured_variance_partitioning(model, X, y, groups, cv=4)
    >>> res.forward_r2.shape, res.shared.shape
    ((3, 3), (2, 3))
    >>> bool(abs(res.forward_unique.sum(0) - res.full_r2).max() < 1e-12)
    True
    """
    if not isinstance(estimator, StackedRegressor):
        raise TypeError(
            f"estimator must be a StackedRegressor, got {type(estimator).__name__}."
        )
    X_arr, y_arr = validate_X_y(None, X, y)
    Y = y_arr.reshape(y_arr.shape[0], -1).astype(np.float64)
    groups = check_groups(groups, X_arr.shape[0])
    model = clone(estimator)
    names, _, columns = model._check_estimators(X_arr.shape[1])
    if order is None:
        order = names
    order = list(order)
    if sorted(order) != sorted(names) or len(order) != len(names):
        raise ValueError(
            f"order must be a permutation of the space names {names}, got {order}."
        )
    K = len(order)
    perm = [names.index(name) for name in order]
    # Reorder with the resolved column indices: an int block size means
    # "the next columns", which depends on the order of the spaces.
    if model.feature_spaces is not None:
        model.set_params(feature_spaces={names[i]: columns[i] for i in perm})
    else:
        model.set_params(
            estimators=[(names[i], model.estimators[i][1], columns[i]) for i in perm]
        )
    alphas = _check_final_alphas(model.final_alphas, model.final)

    subsets = [list(range(k, K)) for k in range(K)]  # forward: spaces[k:]
    subsets += [list(range(k + 1)) for k in range(K - 1)]  # backward: spaces[:k+1]
    outer = _estimator_folds(cv, groups, X_arr.shape[0])
    fold_of = _fold_labels(outer, X_arr.shape[0])
    held_out = np.full((len(subsets), X_arr.shape[0], Y.shape[1]), np.nan)
    for train, test in outer:
        fitted = clone(model).fit(X_arr[train], Y[train], groups=groups[train])
        base_test = np.stack(
            [
                _as_2d_predictions(
                    _predict(
                        base, X_arr[test][:, fitted.feature_spaces_[name]], groups[test]
                    ),
                    test.size,
                    Y.shape[1],
                    name,
                )
                for name, base in zip(
                    fitted.space_names_, fitted.estimators_, strict=True
                )
            ]
        ).astype(np.float64)
        covered = fitted._oof_fold >= 0
        oof = fitted.oof_predictions_[:, covered]
        for s, subset in enumerate(subsets):
            final = _fit_final(
                oof[subset],
                Y[train][covered],
                fitted._oof_fold[covered],
                model.final,
                alphas,
            )
            held_out[s, test] = (
                np.einsum("knt,kt->nt", base_test[subset], final.weights)
                + final.intercept
            )
    scored = fold_of >= 0
    r2 = np.stack([r2_per_target(Y[scored], h[scored]) for h in held_out])
    r = np.stack([pearson_r(Y[scored], h[scored]) for h in held_out])
    forward_r2 = r2[:K]
    backward_r2 = np.concatenate([r2[K:], r2[:1]])
    forward_r = r[:K]
    backward_r = np.concatenate([r[K:], r[:1]])
    zero = np.zeros((1, Y.shape[1]))
    forward_unique = forward_r2 - np.concatenate([forward_r2[1:], zero])
    backward_unique = backward_r2 - np.concatenate([zero, backward_r2[:-1]])
    full = forward_r2[0]
    shared = backward_r2[:-1] + forward_r2[1:] - full
    return Bunch(
        space_names=order,
        forward_r2=forward_r2,
        backward_r2=backward_r2,
        forward_r=forward_r,
        backward_r=backward_r,
        forward_unique=forward_unique,
        backward_unique=backward_unique,
        shared=shared,
        forward_assignment=_assign_forward(forward_r2, threshold),
        backward_assignment=_assign_backward(backward_r2, threshold),
        full_r2=full,
    )


# --------------------------------------------------------------------------
# Private helpers
# --------------------------------------------------------------------------


def _fit_final(P, Y, fold_of, final, alphas):
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


def _resolve_spaces(columns, n_features, argname):
    """Column indices of every space; spaces may leave columns out.

    The columns are resolved as in :func:`brainenc._validation.
    check_feature_spaces` (whose checks and messages are reused), except
    that columns outside every space are allowed (and ignored).
    """
    resolved = {}
    next_start = 0
    for name, cols in columns.items():
        idx = cols
        if isinstance(cols, numbers.Integral) and not isinstance(cols, bool):
            if cols >= 1:
                idx = np.arange(next_start, next_start + int(cols))
        elif isinstance(cols, slice):
            idx = np.arange(n_features)[cols]
        elif not isinstance(cols, (str, bytes, bool, float)):
            arr = np.asarray(cols)
            if arr.dtype == bool and arr.shape == (n_features,):
                idx = np.flatnonzero(arr)
            elif arr.ndim == 1 and arr.size and arr.dtype.kind in "iu":
                idx = arr
        if isinstance(idx, np.ndarray) and idx.size == 0:
            raise ValueError(
                f"{argname}[{name!r}] selects no column of X, which has "
                f"{n_features} feature(s)."
            )
        if isinstance(idx, np.ndarray):
            next_start = int(idx.max()) + 1
        resolved[name] = idx
    taken = [v for v in resolved.values() if isinstance(v, np.ndarray) and v.size]
    rest = np.setdiff1d(
        np.arange(n_features), np.concatenate(taken) if taken else np.zeros(0)
    )
    key = "\x00unused columns"
    if rest.size:
        resolved[key] = rest
    spaces = check_feature_spaces(resolved, n_features, name=argname)
    spaces.pop(key, None)
    return spaces


def _check_final_alphas(final_alphas, final):
    values = np.atleast_1d(np.asarray(final_alphas, dtype=np.float64))
    if final != "ridge":
        return values
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            "final_alphas must be a float or a non-empty 1-D array of floats, "
            f"got {final_alphas!r}."
        )
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(
            f"final_alphas must be non-negative and finite, got {final_alphas!r}."
        )
    return np.unique(values)


def _fold_labels(folds, n_samples):
    """Fold in which each sample is held out (-1: none); test sets are disjoint."""
    fold_of = np.full(n_samples, -1, dtype=np.intp)
    for f, (_, test) in enumerate(folds):
        if np.any(fold_of[test] >= 0):
            raise ValueError(
                f"cv must give disjoint test sets for out-of-fold predictions, "
                f"but fold {f} holds out samples already held out by fold "
                f"{fold_of[test][fold_of[test] >= 0][0]}."
            )
        fold_of[test] = f
    if not np.any(fold_of >= 0):
        raise ValueError("cv holds out no sample.")
    return fold_of


def _seed_bases(bases, random_state):
    if random_state is None:
        return bases
    rng = check_random_state(random_state)
    seeded = []
    for base in bases:
        seed = int(rng.randint(np.iinfo(np.int32).max))
        params = base.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None:
            base = clone(base).set_params(random_state=seed)
        seeded.append(base)
    return seeded


def _accepts_groups(method):
    try:
        return "groups" in inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def _fit_predict(base, X, y, groups, fold):
    """Fit a clone on a fold's training samples and predict its test samples.

    With ``fold=None``, fit on all samples and return the fitted estimator.
    """
    est = clone(base)
    if fold is None:
        train, test = slice(None), None
    else:
        train, test = fold
    kwargs = {"groups": groups[train]} if _accepts_groups(est.fit) else {}
    est.fit(X[train], y[train], **kwargs)
    if test is None:
        return est
    return _predict(est, X[test], groups[test])


def _predict(est, X, groups):
    if _accepts_groups(est.predict):
        return est.predict(X, groups=groups)
    return est.predict(X)


def _as_2d_predictions(pred, n_samples, n_targets, name):
    pred = np.asarray(pred)
    if pred.ndim == 1:
        pred = pred[:, np.newaxis]
    if pred.shape != (n_samples, n_targets):
        raise ValueError(
            f"The base estimator of space {name!r} predicted an array of shape "
            f"{pred.shape}, expected ({n_samples}, {n_targets})."
        )
    return pred


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
            for a in range(alphas.size):
                pred = np.einsum("knt,tk->nt", P[:, te], coef[a]) + icpt[a]
                sse[a] += np.sum((pred - Y[te]) ** 2, axis=0)
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


def _assign_forward(forward_r2, threshold):
    """First space whose removal (with the earlier ones) drops R^2 below threshold."""
    K = forward_r2.shape[0]
    full = forward_r2[0]
    below = forward_r2[1:] < threshold * full  # row j-1: spaces[j:] kept
    assigned = np.where(below.any(axis=0), np.argmax(below, axis=0), K - 1)
    return np.where(full > 0, assigned, -1).astype(np.intp)


def _assign_backward(backward_r2, threshold):
    """Last space whose removal (with the later ones) drops R^2 below threshold."""
    K = backward_r2.shape[0]
    full = backward_r2[-1]
    # Row j of the reversed stack keeps spaces[:K - 1 - j], i.e. drops K - 1 - j on.
    below = backward_r2[:-1][::-1] < threshold * full
    assigned = np.where(below.any(axis=0), K - 1 - np.argmax(below, axis=0), 0)
    return np.where(full > 0, assigned, -1).astype(np.intp)
