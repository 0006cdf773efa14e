"""Linear encoding models: ridge regression over run-aware FIR delays."""

import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ._backend import (
    BackendOptions,
    device_context,
    get_backend_module,
    resolve_backend,
)
from ._compat import Integral, Interval, Real, StrOptions, _fit_context
from ._progress import progress_bar
from ._solvers import (
    SCORINGS,
    _batches,
    _resolve_method,
    banded_ridge_cv_memory,
    ridge_cv_memory,
    solve_banded_ridge_cv,
    solve_ridge_cv,
)
from ._validation import (
    check_delays,
    check_feature_spaces,
    check_groups,
    user_stacklevel,
    validate_X,
    validate_X_y,
)
from .delays import _delay_features, _delayed_columns
from .metrics import _CorrelationScoreMixin
from .model_selection import _estimator_folds

__all__ = ["DelayedRidge"]

#: Default grid: wide enough for raw or standardised features of a few
#: hundred to a few thousand columns and fMRI runs of a few hundred TRs.
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 8, 11))


class DelayedRidge(_CorrelationScoreMixin, RegressorMixin, BaseEstimator):
    """Ridge regression over run-aware FIR delays, alpha chosen by cross-validation.

    The features are expanded with delayed copies (zero-padded inside each
    run, see :func:`brainenc.delay_features`), and one ridge regression per
    target is fitted on them. The regularisation is chosen by
    cross-validation over whole runs (one alpha per target by default, or one
    for all targets): features and targets are centred (and optionally
    standardised) on the training runs of each fold only. The model is then
    refitted on all samples with the chosen alphas.

    The solver decomposes each fold's training Gram matrix (primal, when the
    delayed design has no more columns than rows) or kernel matrix (dual)
    once, and scores every alpha and target from that decomposition. With
    ``banded=True`` it does so once per draw of feature-space weights. It runs
    on himalaya's backends (NumPy, torch on CPU, torch on CUDA); the backend
    is chosen per call and nothing process-global changes.

    Parameters
    ----------
    delays : int or array-like of int, default=4
        Delays in samples. An int ``n`` means ``1, ..., n``; a sequence is
        taken as given (negative delays are lags before stimulus onset). The
        default covers 1.5-8 s after the stimulus at a TR of 1.5-2 s, where
        the haemodynamic response lies.
    alphas : float or array-like of float, default=DEFAULT_ALPHAS
        Candidate regularisation strengths (``1e-2, 1e-1, ..., 1e8``). Sorted
        and de-duplicated before use.
    cv : int, cross-validation generator, iterable or None, default=None
        Folds for the alpha search. ``None`` means 5 folds of whole runs, or
        leave-one-run-out when ``groups`` holds fewer than 5 runs (5
        contiguous blocks without ``groups``). An int with ``groups`` means
        that many folds of whole runs (``GroupKFold``; leave-one-run-out,
        with a warning, when there are fewer runs); an int without ``groups``
        means contiguous unshuffled blocks (:class:`brainenc.BlockedKFold`).
        A splitter receives ``groups``; an iterable of (train, test) pairs is
        used as given.
    fit_intercept : bool, default=True
        Fit an intercept (centre features and targets on the training samples
        of each fold).
    standardize : bool, default=False
        Scale each delayed feature to unit variance on the training samples
        of each fold (the coefficients are returned in the original units).
    scoring : {"neg_mean_squared_error", "r2", "pearson_r"}, \
            default="neg_mean_squared_error"
        Held-out score that selects the alpha: computed on each fold's
        held-out runs, then averaged over folds. ``"pearson_r"`` is the
        correlation of prediction and response within each fold, averaged
        over folds (not the correlation of the pooled out-of-fold
        predictions).
    alpha_per_target : bool, default=True
        ``True``: each target gets the alpha of its own best cross-validated
        score. ``False``: one alpha for all targets, the one whose
        cross-validated score averaged over targets is best (with
        ``banded=True``: for each draw of space weights one alpha for all
        targets, and each target keeps its best draw, as himalaya's
        ``local_alpha=False``). Per-target alphas by held-out MSE (the
        defaults) suit targets of unequal noise, such as fMRI voxels; one
        alpha chosen by ``scoring="pearson_r"`` suits targets that share one
        signal, such as EEG or MEG channels (``benchmarks/README.md``, and the
        user guide's :ref:`choosing-alpha`).
    solver : {"auto", "primal", "dual"}, default="auto"
        ``"auto"`` takes the primal formulation when the delayed design has no
        more columns than rows, else the kernel (dual) one. Both give the
        same answer.
    backend : {"auto", "numpy", "torch", "torch_cuda"} or "torch_cuda:N", \
            default="auto"
        ``"auto"`` uses torch on CUDA when torch sees a GPU, else NumPy (torch
        on the CPU is no faster here, and importing it costs seconds and
        memory; ask for ``"torch"`` explicitly). ``"torch_cuda:N"`` runs on
        CUDA device ``N``. ``"torch_cuda"`` without a GPU, or a device index
        torch does not see, is an error.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the solver.
    n_targets_batch : int or "auto", default="auto"
        Targets solved at once; ``"auto"`` sizes batches to about 256 MiB of
        working memory (at least 1 target).
    n_jobs : int, default=None
        Jobs run in parallel through joblib (threads by default; ``None``
        means 1 unless in a :func:`joblib.parallel_config` context, -1 means
        all cores): the cross-validation folds (and shares of the draws of
        space weights with ``banded=True``), or, when the targets dominate
        the cost (many targets, a small design), shares of the targets,
        each scored on every fold from the fold's one decomposition. Under
        ``joblib.parallel_config(backend="dask")`` they run on a dask
        cluster. The answer does not depend on it.
    feature_spaces : dict, default=None
        ``{name: columns}`` blocks of the columns of ``X`` (a slice, a
        sequence of column indices, or an int block size); every column in
        exactly one space. Enables :meth:`predict_split` (each space's
        contribution to the prediction) and is required by ``banded=True``.
    banded : bool, default=False
        Banded ridge (the Gallant lab's group ridge): one regularisation per
        feature space and target, searched by a random search over the
        simplex of space weights (``n_iter`` draws, as himalaya's) times the
        ``alphas`` grid, scored on the same held-out runs: space ``i`` is
        penalised by ``alpha / w_i`` for a draw of weights ``w``. Requires
        ``feature_spaces`` and ``standardize=False``.
    n_iter : int, default=100
        Banded ridge only: number of draws of space weights (the first one is
        uniform). Each costs one eigendecomposition per fold.
    concentration : float or tuple of float, default=(0.1, 1.0)
        Banded ridge only: Dirichlet concentrations the draws cycle through
        (small values favour a few spaces, 1 is uniform on the simplex).
    patterns : bool, default=False
        Also compute ``patterns_``, the activation patterns of the weights
        (Haufe et al., 2014), for decoding (backward) models whose weights
        are not interpretable as such.
    random_state : int, RandomState instance or None, default=None
        Seeds the banded random search: an int gives himalaya's draws for the
        same int. The plain (non-banded) eigen-solver is deterministic and
        does not use it.
    verbose : int, default=0
        Print progress (folds, elapsed time and ETA) when greater than 0.

    Attributes
    ----------
    coef_ : ndarray of shape (n_targets, n_features_in_ * n_delays) or \
            (n_features_in_ * n_delays,)
        Weights of the delayed features (feature-major: column
        ``f * n_delays + k`` is feature ``f`` at ``delays_[k]``). 1-D when
        ``y`` was 1-D. Computed from ``dual_coef_`` on each access when the
        dual coefficients are kept (see Notes).
    dual_coef_ : ndarray of shape (n_samples, n_targets)
        Only when the dual coefficients are kept (see Notes): the weight of
        each training sample, in the centred (and standardised) delayed
        training design.
    X_fit_ : ndarray of shape (n_samples, n_features_in_)
        Only with ``dual_coef_``: the training features (undelayed), from
        which predictions and ``coef_`` are computed.
    groups_fit_ : ndarray of shape (n_samples,)
        Only with ``dual_coef_``: the run labels of ``X_fit_``.
    patterns_ : ndarray, shaped like ``coef_``
        Only with ``patterns=True``: ``cov(X_delayed) @ W @ pinv(cov(y_pred))``
        on the training samples (Haufe et al., 2014), with ``W = coef_.T``
        and ``y_pred`` the model's predictions of its training responses.
    coef_delays_ : ndarray of shape (n_targets, n_features_in_, n_delays)
        View of ``coef_`` indexed by target, feature and delay (the temporal
        response function of each target).
    intercept_ : ndarray of shape (n_targets,) or float
        Intercept of each target (0 when ``fit_intercept=False``).
    best_alphas_ : ndarray of shape (n_targets,)
        Alpha chosen for each target. With ``banded=True``, the overall
        alpha of the grid (each space's penalty is this alpha divided by the
        space's weight on the simplex).
    space_alphas_ : ndarray of shape (n_spaces, n_targets)
        Banded ridge only: the penalty of each feature space for each target.
    space_names_ : list of str
        Names of the feature spaces, when ``feature_spaces`` is given.
    feature_spaces_ : dict of str to ndarray of int
        When ``feature_spaces`` is given: the sorted columns of ``X`` of each
        space, in the order of ``space_names_``.
    alphas_ : ndarray of shape (n_alphas,)
        The sorted alpha grid that was searched.
    cv_scores_ : ndarray of shape (n_alphas, n_targets) or (n_iter, n_targets)
        Held-out ``scoring`` of every alpha and target, averaged over folds.
        With ``banded=True``, the best score over alphas of each draw of
        space weights.
    delays_ : ndarray of int
        The delays used, in samples.
    n_splits_ : int
        Number of cross-validation folds used.
    solver_ : str
        ``"primal"`` or ``"dual"``: the formulation that was used.
    backend_ : str
        The backend that ran the fit.
    n_features_in_ : int
        Number of features seen during :meth:`fit` (before delaying).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    brainenc.Delayer : The delay expansion alone, as a transformer.
    sklearn.linear_model.RidgeCV : Ridge with leave-one-out alpha selection.
    himalaya.ridge.RidgeCV : The Gallant lab's ridge with a CV alpha search.

    Notes
    -----
    Delayed copies are zero-padded at the start of every run, so predictions
    of one run depend only on that run's features: pass the same ``groups``
    to :meth:`predict` as the runs of ``X``.

    Wide designs: when the dual (kernel) formulation is used and the dual
    coefficients with the training features take less memory than
    ``coef_`` (``n_samples * (n_features_in_ + n_targets) < n_targets *
    n_features_in_ * n_delays``: many delayed columns and many targets), the
    model keeps ``dual_coef_`` and ``X_fit_`` and predicts from the kernel
    between new and training samples; ``coef_`` is then computed on each
    access (store it if you use it often). Predictions are computed in
    batches of targets either way.

    ``patterns_`` follows Haufe et al. (2014): the covariance of the delayed
    design times the weights times the inverse covariance of the predicted
    targets. MNE's ``ReceptiveField(patterns=True)`` uses the covariance of
    the measured targets in place of the predictions'; for a single target
    the two patterns differ by a constant factor only.

    References
    ----------
    Haufe, S., Meinecke, F., Görgen, K., Dähne, S., Haynes, J.-D., Blankertz,
    B., & Bießmann, F. (2014). On the interpretation of weight vectors of
    linear models in multivariate neuroimaging. NeuroImage, 87, 96-110.

    Examples
    --------
    >>> from brainenc import DelayedRidge, make_encoding_data
    >>> X, y, groups, truth = make_encoding_data(
    ...     n_samples=600, n_features=10, n_targets=20, n_runs=4, random_state=0)
    >>> train, test = groups < 3, groups == 3
    >>> model = DelayedRidge(delays=4, backend="numpy")
    >>> model = model.fit(X[train], y[train], groups=groups[train])
    >>> model.coef_delays_.shape
    (20, 10, 4)
    >>> r = model.score(X[test], y[test], groups=groups[test])
    >>> bool(r > 0.5)
    True
    """

    _parameter_constraints = {
        "delays": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "alphas": [Interval(Real, 0, None, closed="neither"), "array-like"],
        # validated by the one rule for internal folds (model_selection)
        "cv": "no_validation",
        "fit_intercept": ["boolean"],
        "standardize": ["boolean"],
        "scoring": [StrOptions(set(SCORINGS))],
        "alpha_per_target": ["boolean"],
        "patterns": ["boolean"],
        "solver": [StrOptions({"auto", "primal", "dual"})],
        "backend": [BackendOptions()],
        "dtype": [StrOptions({"float32", "float64"})],
        "feature_spaces": [dict, None],
        "banded": ["boolean"],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "concentration": [Interval(Real, 0, None, closed="neither"), tuple, list],
        "n_jobs": [Integral, None],
        "n_targets_batch": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        delays=4,
        *,
        alphas=DEFAULT_ALPHAS,
        cv=None,
        fit_intercept=True,
        standardize=False,
        scoring="neg_mean_squared_error",
        alpha_per_target=True,
        solver="auto",
        backend="auto",
        dtype="float32",
        n_targets_batch="auto",
        n_jobs=None,
        feature_spaces=None,
        banded=False,
        n_iter=100,
        concentration=(0.1, 1.0),
        patterns=False,
        random_state=None,
        verbose=0,
    ):
        self.delays = delays
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.scoring = scoring
        self.alpha_per_target = alpha_per_target
        self.solver = solver
        self.backend = backend
        self.dtype = dtype
        self.n_targets_batch = n_targets_batch
        self.n_jobs = n_jobs
        self.feature_spaces = feature_spaces
        self.banded = banded
        self.n_iter = n_iter
        self.concentration = concentration
        self.patterns = patterns
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Choose the regularisation by cross-validation over runs, then refit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features, time along axis 0.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Responses (parcels, voxels, channels). NaN is rejected.
        groups : array-like of shape (n_samples,), default=None
            Run labels (contiguous runs). Delays never cross a run boundary
            and cross-validation holds out whole runs. ``None`` means one run.

        Returns
        -------
        self : DelayedRidge
            The fitted estimator.
        """
        X, y = validate_X_y(self, X, y)
        self.delays_ = check_delays(self.delays)
        alphas = _check_alphas(self.alphas)
        groups = check_groups(groups, X.shape[0])
        Y = y[:, None] if y.ndim == 1 else y
        folds = self._make_folds(X.shape[0], groups)
        if X.shape[0] < 2:
            raise ValueError(
                f"DelayedRidge needs at least 2 samples, got n_samples={X.shape[0]}."
            )

        spaces = self._check_spaces(X.shape[1])
        backend_name = resolve_backend(self.backend)
        backend = get_backend_module(backend_name)
        n_columns = X.shape[1] * self.delays_.size
        batch = self._targets_batch((X.shape[0], n_columns), Y.shape[1])
        self._check_memory(X.shape[0], n_columns, Y.shape[1], batch, folds, alphas.size)
        keep_dual = self._keep_dual(X.shape, n_columns, Y.shape[1], folds)
        bar = progress_bar(
            "DelayedRidge folds", verbose=self.verbose, unit="fold", leave=True
        )
        options = {
            "backend": backend,
            "fit_intercept": self.fit_intercept,
            "method": self.solver,
            "scoring": self.scoring,
            "alpha_per_target": self.alpha_per_target,
            "n_targets_batch": batch,
            "dtype": self.dtype,
            "n_jobs": self.n_jobs,
            "progress": bar,
            "keep_dual": keep_dual,
        }
        # The delayed design is handed to the solver in a list it empties, so
        # that no reference stays here and the solver can release it as soon
        # as it has its Gram or kernel matrices.
        design = [
            _delay_features(X.astype(self.dtype, copy=False), self.delays_, groups)
        ]
        with bar, device_context(backend_name):
            if self.banded:
                result = solve_banded_ridge_cv(
                    design,
                    Y,
                    alphas,
                    folds,
                    spaces=list(self._delayed_columns(spaces).values()),
                    n_iter=self.n_iter,
                    concentration=self.concentration,
                    random_state=self.random_state,
                    **options,
                )
            else:
                result = solve_ridge_cv(
                    design, Y, alphas, folds, standardize=self.standardize, **options
                )
        self.solver_ = result["method"]
        for name in _OPTIONAL_ATTRIBUTES:
            self.__dict__.pop(name, None)
        squeeze = y.ndim == 1
        intercept = result["intercept"]
        self.intercept_ = float(intercept[0]) if squeeze else intercept
        if result["dual_coef"] is not None:
            self.dual_coef_ = result["dual_coef"]
            self.X_fit_ = np.array(X, dtype=self.dtype)
            self.groups_fit_ = groups
        else:
            coef = result["coef"]
            self.coef_ = coef[0] if squeeze else coef
        self.best_alphas_ = result["best_alphas"]
        self.alphas_ = alphas
        self.cv_scores_ = result["cv_scores"]
        self.n_splits_ = len(folds)
        self.backend_ = backend_name
        if self.banded:
            self.space_alphas_ = result["space_alphas"]
        if spaces is not None:
            self.space_names_ = list(spaces)
            self.feature_spaces_ = spaces
        if self.patterns:
            self.patterns_ = self._haufe_patterns(X, groups)
        if not self.banded:
            _warn_alphas_on_edge(
                self.best_alphas_,
                alphas,
                self.cv_scores_,
                result["null_scores"],
                shared=not self.alpha_per_target,
            )
        return self

    @property
    def coef_(self):
        """Weights of the delayed features, (n_targets, n_features_in_ * n_delays).

        Stored, or computed from ``dual_coef_`` on each access when the dual
        coefficients were kept.
        """
        if "coef_" in self.__dict__:
            return self.__dict__["coef_"]
        if "dual_coef_" not in self.__dict__:
            raise AttributeError("'DelayedRidge' object has no attribute 'coef_'")
        coef = np.empty(
            (self.dual_coef_.shape[1], self.n_features_in_ * self.delays_.size),
            dtype=self.dual_coef_.dtype,
        )
        design, scale = self._training_design()
        scale = scale.astype(coef.dtype)[:, None]
        for batch in _batches(coef.shape[0], _PREDICT_BATCH // coef.shape[1] + 1):
            weights = design.T @ self.dual_coef_[:, batch]
            weights *= self._column_weights(batch)
            weights /= scale
            coef[batch] = weights.T
        del design
        return coef[0] if self._y_was_1d() else coef

    @coef_.setter
    def coef_(self, value):
        self.__dict__["coef_"] = value

    @property
    def coef_delays_(self):
        """Coefficients as (n_targets, n_features_in_, n_delays)."""
        check_is_fitted(self)
        coef = np.atleast_2d(self.coef_)
        return coef.reshape(coef.shape[0], self.n_features_in_, self.delays_.size)

    def predict(self, X, groups=None):
        """Predict responses from features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features.
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X`` (delays never cross a run boundary).

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_targets) or (n_samples,)
            Predicted responses; 1-D when the model was fitted on a 1-D ``y``.
        """
        check_is_fitted(self)
        X_delayed = self._delayed_design(X, groups)
        intercept = np.atleast_1d(np.asarray(self.intercept_, dtype=X_delayed.dtype))
        out = np.empty((X_delayed.shape[0], intercept.size), dtype=X_delayed.dtype)
        for batch, part in self._products(X_delayed, split=False):
            out[:, batch] = part[0]
            out[:, batch] += intercept[batch]
        return out[:, 0] if self._y_was_1d() else out

    def predict_split(self, X, groups=None):
        """Contribution of each feature space to the prediction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features.
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X``.

        Returns
        -------
        y_split : ndarray of shape (n_spaces, n_samples, n_targets)
            Prediction from each space's delayed features alone (without the
            intercept), in the order of ``space_names_``. They add up to
            ``predict(X, groups) - intercept_``. 2-D per space when the model
            was fitted on a 1-D ``y``.
        """
        check_is_fitted(self)
        if self.feature_spaces is None:
            raise ValueError(
                "predict_split needs feature_spaces: this DelayedRidge was "
                "fitted with feature_spaces=None."
            )
        X_delayed = self._delayed_design(X, groups)
        n_targets = np.atleast_1d(self.intercept_).size
        out = np.empty(
            (len(self.feature_spaces_), X_delayed.shape[0], n_targets),
            dtype=X_delayed.dtype,
        )
        for batch, parts in self._products(X_delayed, split=True):
            out[:, :, batch] = parts
        return out[..., 0] if self._y_was_1d() else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _y_was_1d(self):
        return np.ndim(self.intercept_) == 0

    def _delayed_design(self, X, groups):
        """Validated, delayed ``X`` in the precision of X and the model
        (float64 input gives float64 predictions)."""
        X = validate_X(self, X, reset=False)
        dtype = np.result_type(X.dtype, np.dtype(self.dtype))
        groups = check_groups(groups, X.shape[0])
        return _delay_features(X.astype(dtype, copy=False), self.delays_, groups)

    def _products(self, X_delayed, *, split):
        """``(batch, parts)`` over target batches: the prediction without
        intercept from the delayed ``X`` (``parts[0]``), or, with ``split``,
        from each space's columns (``parts[i]``), batch by batch."""
        dtype = X_delayed.dtype
        columns = (
            list(self._delayed_columns(self.feature_spaces_).values())
            if split
            else [slice(None)]
        )
        n_targets = np.atleast_1d(self.intercept_).size
        batches = _batches(n_targets, _PREDICT_BATCH // max(1, X_delayed.shape[0]) + 1)
        if "dual_coef_" not in self.__dict__:
            coef = np.atleast_2d(self.coef_)
            for batch in batches:
                weights = coef[batch].astype(dtype, copy=False)
                yield (
                    batch,
                    [X_delayed[:, cols] @ weights[:, cols].T for cols in columns],
                )
            return
        # dual coefficients: the prediction is (X_new / scale) Z^T dual, with
        # Z the centred and scaled training design, space by space weighted
        # by the chosen space weights
        design, scale = self._training_design()
        X_scaled = X_delayed / scale.astype(dtype)
        spaces = (
            list(self._delayed_columns(self.feature_spaces_).values())
            if split or self.banded
            else [slice(None)]
        )
        kernels = [
            X_scaled[:, cols] @ design[:, cols].T.astype(dtype) for cols in spaces
        ]
        del design, X_scaled
        dual = self.dual_coef_
        for batch in batches:
            parts = [
                (kernel @ dual[:, batch].astype(dtype)) * self._space_weights(i, batch)
                for i, kernel in enumerate(kernels)
            ]
            yield batch, parts if split else [sum(parts)]

    def _training_design(self):
        """The centred (and scaled) delayed training design and the scale of
        its columns, as the solver built them."""
        design = _delay_features(self.X_fit_, self.delays_, self.groups_fit_)
        scale = np.ones(design.shape[1])
        if self.fit_intercept:
            design -= design.mean(axis=0, dtype=np.float64).astype(design.dtype)
        if self.standardize:
            std = design.std(axis=0, dtype=np.float64)
            scale = np.where(std > 0, std, 1.0)
            design /= scale.astype(design.dtype)
        return design, scale

    def _space_weights(self, i, batch):
        """Weight on the simplex of space ``i`` for the targets of ``batch``
        (1 for plain ridge)."""
        if not self.banded:
            return 1.0
        return self.best_alphas_[batch] / self.space_alphas_[i, batch]

    def _column_weights(self, batch):
        """Space weight of every delayed column, (n_columns, batch size)."""
        n_targets = batch.stop - batch.start
        weights = np.ones((self.n_features_in_ * self.delays_.size, n_targets))
        if self.banded:
            for i, cols in enumerate(
                self._delayed_columns(self.feature_spaces_).values()
            ):
                weights[cols] = self._space_weights(i, batch)
        return weights

    def _keep_dual(self, shape, n_columns, n_targets, folds):
        """Keep the dual coefficients when the design is wider than the
        training samples and they, with the training features, take less
        memory than the coefficients."""
        n_samples, n_features = shape
        dual = _resolve_method(self.solver, n_columns, folds, n_samples) == "dual"
        return dual and n_samples * (n_features + n_targets) < n_targets * n_columns

    def _haufe_patterns(self, X, groups):
        """Haufe et al.'s (2014) activation patterns of the fitted weights:
        cov(X_delayed) @ W @ inv(cov(y_pred)), on the training data."""
        X_delayed = _delay_features(
            X.astype(self.dtype, copy=False), self.delays_, groups
        )
        # the prediction from this design (no second delayed copy of X); the
        # intercept goes with the centring
        prediction = np.empty(
            (X_delayed.shape[0], np.atleast_1d(self.intercept_).size),
            dtype=np.float64,
        )
        for batch, part in self._products(X_delayed, split=False):
            prediction[:, batch] = part[0]
        prediction -= prediction.mean(axis=0)
        X_delayed -= X_delayed.mean(axis=0, dtype=np.float64).astype(X_delayed.dtype)
        # cov(X) W = X_c^T Y_hat_c / (n - 1) and cov(Y_hat) = Y_hat_c^T
        # Y_hat_c / (n - 1): the (n - 1) cancel, and no p x p matrix is formed
        cross = prediction.T @ X_delayed
        del X_delayed
        patterns = np.linalg.pinv(prediction.T @ prediction) @ cross
        patterns = patterns.astype(self.dtype, copy=False)
        return patterns[0] if self._y_was_1d() else patterns

    def _check_spaces(self, n_features):
        if self.banded and self.feature_spaces is None:
            raise ValueError(
                "banded=True needs feature_spaces={name: columns} (one "
                "regularisation per space), got feature_spaces=None."
            )
        if self.banded and self.standardize:
            raise ValueError(
                "standardize=True is not supported with banded=True: the space "
                "weights already set each space's scale. Standardise the "
                "features beforehand (per run, for example) or set "
                "standardize=False."
            )
        if self.feature_spaces is None:
            return None
        return check_feature_spaces(self.feature_spaces, n_features)

    def _delayed_columns(self, spaces):
        """Columns of the delayed design that belong to each space."""
        return {
            name: _delayed_columns(cols, self.delays_.size)
            for name, cols in spaces.items()
        }

    def _make_folds(self, n_samples, groups):
        return _estimator_folds(self.cv, groups, n_samples)

    def _check_memory(self, n_samples, n_columns, n_targets, batch, folds, n_alphas):
        """Refuse up front a fit whose working memory exceeds what is free."""
        need = self._memory_need(
            n_samples, n_columns, n_targets, batch, folds, n_alphas
        )
        available = _available_memory()
        if need > available:
            raise MemoryError(
                f"DelayedRidge.fit would need about {need / 2**30:.1f} GiB of "
                f"memory but {available / 2**30:.1f} GiB are available (delayed "
                f"design {n_samples} x {n_columns}, {n_targets} targets in batches "
                f"of {batch}, dtype {self.dtype}). Lower n_targets_batch, use "
                f"dtype='float32', fewer delays or features, or n_jobs=None."
            )

    def _memory_need(self, n_samples, n_columns, n_targets, batch, folds, n_alphas):
        """Bytes of working memory of a fit beyond the caller's X and y: the
        solver's own estimate (beside it in ``_solvers.py``), plus the
        training features kept with dual coefficients and the patterns."""
        n_features = n_columns // self.delays_.size
        keep_dual = self._keep_dual(
            (n_samples, n_features), n_columns, n_targets, folds
        )
        options = {
            "n_targets_batch": batch,
            "dtype": self.dtype,
            "method": self.solver,
            "n_jobs": self.n_jobs,
            "keep_dual": keep_dual,
        }
        if self.banded:
            need = banded_ridge_cv_memory(
                n_samples,
                n_columns,
                n_targets,
                folds,
                n_alphas,
                n_spaces=len(self.feature_spaces),
                n_iter=self.n_iter,
                **options,
            )
        else:
            need = ridge_cv_memory(
                n_samples,
                n_columns,
                n_targets,
                folds,
                n_alphas,
                standardize=self.standardize,
                **options,
            )
        itemsize = np.dtype(self.dtype).itemsize
        if keep_dual:
            need += itemsize * n_samples * n_features
        if self.patterns:
            # the delayed design again, the training predictions, their
            # covariance and its pseudo-inverse, the patterns and their cross
            # products (float64 where numpy promotes)
            need += itemsize * n_samples * n_columns
            need += 8 * (2 * n_samples * n_targets + 3 * n_targets**2)
            need += 8 * 2 * n_targets * n_columns
        return need

    def _targets_batch(self, design_shape, n_targets):
        if self.n_targets_batch != "auto":
            return min(int(self.n_targets_batch), n_targets)
        n_samples, n_columns = design_shape
        itemsize = np.dtype(self.dtype).itemsize
        # Per target: the batch of y (n_samples), its cross-products and
        # projections (a few n_columns or n_samples), held-out predictions.
        per_target = itemsize * (3 * n_samples + 4 * min(n_samples, n_columns))
        budget = min(_available_memory() // 4, 1 << 28)
        return int(np.clip(budget // per_target, 1, max(n_targets, 1)))


#: Fitted attributes that only some fits set (cleared by every fit).
_OPTIONAL_ATTRIBUTES = (
    "coef_",
    "dual_coef_",
    "X_fit_",
    "groups_fit_",
    "patterns_",
    "space_alphas_",
    "space_names_",
    "feature_spaces_",
)

#: Elements of a prediction batch (samples x targets), about 256 MiB of
#: float32 with its temporaries.
_PREDICT_BATCH = 1 << 25


def _check_alphas(alphas):
    values = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"alphas must be a non-empty 1-D array of floats, got {alphas!r}."
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"alphas must be positive and finite, got {alphas!r}.")
    return np.unique(values)


def _warn_alphas_on_edge(
    best_alphas, alphas, cv_scores, null_scores, *, shared=False, share=0.2
):
    # Leave out of the count the targets with nothing to regularise: those
    # whose score does not depend on alpha (constant targets), those whose
    # best held-out score is no better than predicting the training mean (no
    # signal: the largest alpha is right, and a larger one would change
    # nothing), and those whose score is flat at the edge they chose (the
    # last step of the grid gains less than a tenth of the score's range: a
    # plateau, such as the unregularised limit or the scale-free limit of
    # Pearson r at large alphas, or chance). A shared alpha is judged on the
    # mean score over targets, as it was chosen.
    if alphas.size < 3:
        return
    n_targets = best_alphas.size
    if shared:
        cv_scores = cv_scores.mean(axis=1, keepdims=True)
        null_scores = np.atleast_1d(null_scores.mean())
        best_alphas = best_alphas[:1]
    best = cv_scores.max(axis=0)
    spread = np.ptp(cv_scores, axis=0)
    margin = 1e-3 * np.abs(null_scores) + np.finfo(np.float32).eps
    informative = (spread > 0) & (best > null_scores + margin)
    for edge, name, advice, inner in (
        (alphas[0], "smallest", "smaller", 1),
        (alphas[-1], "largest", "larger", -2),
    ):
        edge_index = 0 if inner == 1 else -1
        rising = cv_scores[edge_index] - cv_scores[inner] > 0.1 * spread
        on_edge = informative & rising & (best_alphas == edge)
        n_edge, n_informative = int(on_edge.sum()), int(informative.sum())
        if n_informative == 0 or n_edge <= share * n_informative:
            continue
        if shared:
            what = (
                f"{n_targets} of {n_targets} targets chose the {name} alpha of "
                f"the grid ({edge:g}), shared by all targets "
                "(alpha_per_target=False)"
            )
        else:
            what = (
                f"{n_edge} of {n_informative} targets chose the {name} alpha "
                f"of the grid ({edge:g})"
            )
        warnings.warn(
            f"{what}; the best alpha may lie outside it. Extend alphas to "
            f"{advice} values.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _available_memory():
    """Bytes of memory available to this process (a conservative guess)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30
