"""Stacked regression over feature spaces.

One encoding model is fitted per feature space (a column block of ``X``); their
out-of-fold predictions over held-out runs are then combined per target with
weights on the simplex (non-negative, summing to one) that minimise the
held-out squared error (Lin, Naselaris, Kay & Wehbe, "Stacked regressions and
structured variance partitioning for interpretable brain maps"). The weights
say how much each feature space matters for each target.

The solvers (:func:`solve_simplex_qp`, the exact batched solver of the
per-target simplex-constrained least-squares problems, and the final ridge)
live in the private module ``brainenc._simplex``; structured variance
partitioning lives in :mod:`brainenc.analysis`. Both stay importable from here.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._compat import HasMethods, Integral, StrOptions, _fit_context
from ._meta import (
    _MemberComposition,
    as_2d_predictions,
    call_member,
    check_member,
    check_member_names,
    fit_predict_fold,
    held_out_labels,
    parallel_fits,
    seed_members,
)
from ._simplex import solve_simplex_qp, stacking_weights
from ._validation import (
    check_feature_spaces,
    check_groups,
    validate_X,
    validate_X_y,
)
from .linear import DelayedRidge
from .metrics import _CorrelationScoreMixin, pearson_r
from .model_selection import _estimator_folds

__all__ = ["StackedRegressor", "solve_simplex_qp"]

#: Default grid of the final ridge (``final="ridge"``). The level-1 design
#: holds predictions in the units of ``y``; alphas are absolute, as in
#: :class:`sklearn.linear_model.Ridge`.
DEFAULT_FINAL_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 9))

_OWNER = "StackedRegressor"


class StackedRegressor(
    _CorrelationScoreMixin, RegressorMixin, _MemberComposition, BaseEstimator
):
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
        boolean mask, or an int (a block of that many consecutive columns,
        following the previous space). Spaces must not overlap; columns that
        belong to no space are not used. A member's parameters are reached as
        ``<name>__<param>`` (``set_params``, ``GridSearchCV``); one estimator
        object listed for several spaces is one object there, so give each
        space its own instance to tune them apart.
    feature_spaces : dict of str to columns, default=None
        Shortcut for ``estimators``: ``{name: columns}`` gives each space a
        clone of ``estimator``. Exactly one of ``estimators`` and
        ``feature_spaces`` must be given.
    estimator : estimator, default=None
        With ``feature_spaces``: the base model of every space (``None``
        means :class:`~brainenc.DelayedRidge` with its defaults). Its
        parameters are reached as ``estimator__<param>``. Must be None with
        ``estimators``.
    cv : int, cross-validation generator, iterable or None, default=None
        Folds of the out-of-fold predictions, by the library's one rule for
        internal folds (as :class:`~brainenc.DelayedRidge`'s ``cv``):
        ``None`` means 5 folds of whole runs, or leave-one-run-out with
        fewer runs; an int with ``groups`` means that many folds of whole
        runs (leave-one-run-out, with a warning, when there are fewer runs);
        without ``groups``, contiguous unshuffled blocks. A splitter receives
        ``groups``; an iterable of (train, test) pairs is used as given. Test
        sets must not overlap; samples that are in no test set are left out
        of the weights and scores.
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
        Show a progress bar over the base-model fits when greater than 0.

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
    oof_folds_ : ndarray of int of shape (n_samples,)
        Fold in which each sample was held out (index into the folds of
        ``cv``), -1 for samples in no test set.
    n_splits_ : int
        Number of folds.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    brainenc.structured_variance_partitioning : Nested stacked models over ordered
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

    Every base estimator receives the run labels of the samples it is fitted
    on and predicts, whatever it is: an estimator whose methods take
    ``groups`` (or ``**params``), a :class:`~sklearn.pipeline.Pipeline` (its
    steps get them, with or without scikit-learn's metadata routing), or a
    meta-estimator under metadata routing; one that would silently lose them
    is refused with the fix in the message. Without ``groups``, or where a
    fold cuts a run, every contiguous piece of the samples is a run of its
    own, so no delay bridges a held-out block.

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
        "estimator": [HasMethods(["fit", "predict"]), None],
        # validated by the one rule for internal folds (model_selection)
        "cv": "no_validation",
        "final": [StrOptions({"convex", "ridge"})],
        "final_alphas": ["array-like", numbers.Real],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # The (name, estimator) pairs of the composition machinery: estimators
    # holds triples, as ColumnTransformer's transformers do.
    _members_attr = "_members"

    def __init__(
        self,
        estimators=None,
        *,
        feature_spaces=None,
        estimator=None,
        cv=None,
        final="convex",
        final_alphas=DEFAULT_FINAL_ALPHAS,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimators = estimators
        self.feature_spaces = feature_spaces
        self.estimator = estimator
        self.cv = cv
        self.final = final
        self.final_alphas = final_alphas
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @property
    def _members(self):
        if self.estimators is None:
            return []
        try:
            return [(name, est) for name, est, _ in self.estimators]
        except (TypeError, ValueError):  # malformed: refused in fit
            return self.estimators

    @_members.setter
    def _members(self, value):
        self.estimators = [
            (name, est, entry[2])
            for (name, est), entry in zip(value, self.estimators, strict=True)
        ]

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
        names, bases, spaces = self._resolve_members(X.shape[1])
        alphas = _check_final_alphas(self.final_alphas, self.final)
        groups = check_groups(groups, X.shape[0])
        folds = _estimator_folds(self.cv, groups, X.shape[0])
        fold_of = held_out_labels(folds, X.shape[0], owner=_OWNER)
        bases = seed_members(bases, self.random_state)
        Y = y[:, np.newaxis] if y.ndim == 1 else y

        # per space: its folds, then its refit (its columns copied once)
        tasks = [(k, f) for k in range(len(bases)) for f in [*range(len(folds)), None]]

        def calls():
            for k in range(len(bases)):
                X_space = X[:, spaces[k]]
                for f in [*range(len(folds)), None]:
                    train, test = (None, None) if f is None else folds[f]
                    yield bases[k], X_space, y, groups, train, test, names[k]

        results = parallel_fits(
            _fit_predict,
            calls(),
            len(tasks),
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            desc=f"{_OWNER} fits ({len(bases)} spaces x {len(folds)} folds + refit)",
        )

        n_targets = Y.shape[1]
        oof = np.full((len(bases), X.shape[0], n_targets), np.nan, dtype=np.float32)
        refitted = [None] * len(bases)
        for (k, f), (fitted, pred) in zip(tasks, results, strict=True):
            if f is None:
                refitted[k] = fitted
                continue
            test = folds[f][1]
            oof[k, test] = as_2d_predictions(
                pred, test.size, n_targets, name=names[k], owner=_OWNER
            )

        covered = fold_of >= 0
        if covered.all():  # every sample held out once (the default cv)
            oof_cov, Y_cov, folds_cov = oof, Y, fold_of
        else:
            oof_cov, Y_cov, folds_cov = oof[:, covered], Y[covered], fold_of[covered]
        final = stacking_weights(oof_cov, Y_cov, folds_cov, self.final, alphas)
        self.weights_ = final.weights
        self.intercept_ = final.intercept
        self.final_alpha_ = final.alpha
        self.cv_scores_ = np.stack([pearson_r(Y_cov, p) for p in oof_cov])
        stacked = np.einsum("knt,kt->nt", oof_cov, self.weights_) + self.intercept_
        self.stacked_cv_score_ = pearson_r(Y_cov, stacked)
        del oof_cov
        self.oof_predictions_ = oof
        self.oof_folds_ = fold_of
        self._y_ndim_ = y.ndim
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
            Run labels of ``X``, handed to every base model.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_targets) or (n_samples,)
            ``intercept_ + sum_k weights_[k] * prediction_k``; 1-D when the
            model was fitted on a 1-D ``y``.
        """
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        groups = check_groups(groups, X.shape[0])
        y_pred = None
        for k, (pred, _) in enumerate(self._space_predictions(X, groups)):
            term = pred * self.weights_[k].astype(pred.dtype)
            y_pred = term if y_pred is None else y_pred + term
        y_pred = y_pred + self.intercept_.astype(y_pred.dtype)
        return y_pred[:, 0] if self._y_ndim_ == 1 else y_pred

    def predict_split(self, X, groups=None):
        """Prediction of every refitted base model, before weighting.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features of all spaces.
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X``.

        Returns
        -------
        y_split : ndarray of shape (n_spaces, n_samples, n_targets)
            Prediction of each space's model, in the order of
            ``space_names_`` (2-D per space also for a 1-D ``y``);
            :meth:`predict` is ``intercept_ + sum_k weights_[k] *
            y_split[k]``.
        """
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        groups = check_groups(groups, X.shape[0])
        return np.stack([pred for pred, _ in self._space_predictions(X, groups)])

    def _space_predictions(self, X, groups):
        n_targets = self.weights_.shape[1]
        for name, base in zip(self.space_names_, self.estimators_, strict=True):
            pred = call_member(
                base,
                "predict",
                X[:, self.feature_spaces_[name]],
                groups=groups,
                name=name,
                owner=_OWNER,
            )
            yield (
                as_2d_predictions(pred, X.shape[0], n_targets, name=name, owner=_OWNER),
                name,
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _resolve_members(self, n_features):
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
            base = DelayedRidge() if self.estimator is None else self.estimator
            entries = [(name, base, cols) for name, cols in self.feature_spaces.items()]
            argname = "feature_spaces"
        else:
            if self.estimator is not None:
                raise ValueError(
                    "estimator is the base model of every space of feature_spaces; "
                    "with estimators=[(name, estimator, columns), ...] it must be "
                    f"None, got {self.estimator!r}."
                )
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
        check_member_names(
            names,
            argname=argname,
            owner=_OWNER,
            reserved=self.get_params(deep=False) if argname == "estimators" else (),
        )
        for name, est, _ in entries:
            check_member(est, name, owner=_OWNER)
        spaces = check_feature_spaces(
            {name: cols for name, _, cols in entries},
            n_features,
            name=argname,
            allow_uncovered=True,
        )
        bases = [clone(est) for _, est, _ in entries]
        return names, bases, [spaces[name] for name in names]


def _fit_predict(member, X, y, groups, train, test, name):
    return fit_predict_fold(member, X, y, groups, train, test, name=name, owner=_OWNER)


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


def __getattr__(name):
    # structured_variance_partitioning moved to brainenc.analysis (which
    # imports this module); it stays importable from here.
    if name == "structured_variance_partitioning":
        from .analysis import structured_variance_partitioning

        return structured_variance_partitioning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
