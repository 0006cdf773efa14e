"""Interpretation of encoding models across feature spaces.

- :func:`variance_partitioning`: unique and shared explained variance of 2 or 3
  feature spaces per target, by fitting every subset of spaces and combining
  their held-out R^2 with the set-theoretic (inclusion-exclusion) formulas
  (Lescroart et al., 2015; de Heer et al., 2017).
- :class:`Residualizer`: removes from one feature space what a ridge from the
  other spaces predicts (residual analysis, Oota et al., 2025), fitted on
  training data only.
- :func:`ablate_feature_spaces`: leave-one-space-out ablation of a fitted
  model, the per-target drop in Pearson r when a space is replaced by zeros,
  by its training mean, or by the null the model was trained with.
- :func:`structured_variance_partitioning`: nested stacked models over an
  ordered list of spaces (Lin et al., 2024).

All of them except the last take ``feature_spaces`` as the rest of brainenc does: a dict
``{name: columns}`` (slice, column indices or int block size) that covers every
column of ``X`` exactly once.
"""

from itertools import combinations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._compat import HasMethods, _check_feature_names_in, _fit_context
from ._meta import (
    as_2d_predictions,
    call_member,
    fit_predict_fold,
    fold_groups,
    held_out_labels,
    parallel_fits,
)
from ._simplex import stacking_weights
from ._validation import (
    check_feature_spaces,
    check_groups,
    check_input_array,
    validate_X,
    validate_X_y,
)
from .linear import DelayedRidge
from .metrics import pearson_r, r2_per_target
from .model_selection import _estimator_folds
from .stacking import StackedRegressor, _check_final_alphas

__all__ = [
    "Residualizer",
    "ablate_feature_spaces",
    "structured_variance_partitioning",
    "variance_partitioning",
]

_SCORINGS = ("r2",)
_REPLACE_OPTIONS = ("zeros", "mean", "null")


def variance_partitioning(
    estimator,
    X,
    y,
    feature_spaces,
    *,
    groups=None,
    cv=None,
    scoring="r2",
    clip=False,
    n_jobs=None,
):
    """Unique and shared held-out explained variance of feature spaces.

    A clone of ``estimator`` is fitted on every non-empty subset of the
    feature spaces (the columns of ``X`` of the spaces in the subset, side by
    side in ``feature_spaces`` order), its held-out R^2 is computed per
    target, and the R^2 of the subsets are combined into the regions of the
    Venn diagram of explained variance by inclusion-exclusion (Lescroart et
    al., 2015; de Heer et al., 2017). For two spaces A and B::

        unique_A  = R2(A+B) - R2(B)
        unique_B  = R2(A+B) - R2(A)
        shared_AB = R2(A) + R2(B) - R2(A+B)

    and for three spaces the 7 regions (3 unique, 3 shared by exactly two
    spaces, 1 shared by all three) follow from the 7 subset models in the
    same way. Any number of spaces works (``2**n_spaces - 1`` fits per fold).

    Parameters
    ----------
    estimator : estimator object or None
        Regressor with ``fit`` and ``predict``, cloned for every subset and
        fold. ``None`` means ``DelayedRidge()``. ``groups`` is passed to its
        ``fit`` and ``predict`` when they take a ``groups`` parameter (or
        accept ``**params`` while scikit-learn's metadata routing is
        enabled). An estimator with a ``feature_spaces`` parameter that is
        set (a banded ridge) gets the spaces of each subset.
    X : array-like of shape (n_samples, n_features)
        Features of all spaces, side by side.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Responses.
    feature_spaces : dict
        ``{name: columns}`` (slice, column indices or int block size),
        covering every column of ``X`` exactly once; at least 2 spaces.
    groups : array-like of shape (n_samples,), default=None
        Run labels (contiguous runs). Passed, restricted to the training or
        test samples, to the estimator, and used by ``cv``.
    cv : int, cross-validation splitter, iterable or None, default=None
        Outer folds whose test samples are predicted out of fold (as
        :func:`~sklearn.model_selection.cross_val_predict`). An int with
        ``groups`` means that many folds of whole runs, without ``groups``
        contiguous blocks (:func:`brainenc.model_selection.check_run_cv`).
        ``None`` means 5 folds, or leave-one-run-out when ``groups`` holds
        fewer than 5 runs. A single train/test split is ``cv=[(train,
        test)]``. Test sets must not overlap; samples in no test set are left
        out of the scores.
    scoring : {"r2"}, default="r2"
        Held-out score that is partitioned: the coefficient of determination
        of the pooled out-of-fold predictions, per target (a variance
        fraction, so that the regions add up).
    clip : bool, default=False
        Set negative regions to 0. Regions estimated from held-out R^2 can be
        negative by sampling error (and over-fitting of the larger models);
        they are left as they are by default, so that the identities below
        hold exactly. Clipped regions no longer add up to ``total``.
    n_jobs : int, default=None
        Fits run in parallel over subsets and folds through joblib (``None``
        means 1 unless in a :func:`joblib.parallel_config` context).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``space_names`` : list of str, the spaces in ``feature_spaces``
          order.
        - ``scores`` : dict of tuple of str to ndarray of shape (n_targets,),
          the held-out R^2 of the model fitted on each subset of spaces
          (keys like ``("A",)``, ``("A", "B")``, in ``feature_spaces`` order).
        - ``regions`` : dict of tuple of str to ndarray of shape (n_targets,),
          the explained variance shared by exactly the spaces of the key and
          by no other: ``regions[("A",)]`` is A's unique variance,
          ``regions[("A", "B")]`` what A and B share and C does not.
        - ``unique`` : dict of str to ndarray, ``unique[name]`` is
          ``regions[(name,)]``.
        - ``shared`` : dict of tuple of str to ndarray, the regions of two or
          more spaces.
        - ``total`` : ndarray of shape (n_targets,), the held-out R^2 of the
          model with all spaces.

        Per-target values are Python floats instead of arrays when ``y`` is
        1-D. Without ``clip``, the regions that contain a space add up to
        that space's R^2 (``scores[(name,)]``) and all regions add up to
        ``total``.

    Raises
    ------
    ValueError
        If there are fewer than 2 feature spaces, ``scoring`` is unknown,
        test sets overlap, or for the reasons of
        :func:`brainenc.model_selection.check_run_cv`.

    See Also
    --------
    ablate_feature_spaces : Drop in r when one space of a fitted model is
        removed.
    Residualizer : Remove the part of one space that others predict.

    Notes
    -----
    Regions of three or more spaces can be negative even without sampling
    error (suppression effects); negative unique variance of a space usually
    means that adding it to the model over-fits.

    References
    ----------
    Lescroart, Stansbury & Gallant (2015). Fourier power, subjective distance,
    and object categories all provide plausible models of BOLD responses in
    scene-selective visual areas. Front. Comput. Neurosci. 9:135.

    de Heer, Huth, Griffiths, Gallant & Theunissen (2017). The hierarchical
    cortical organization of human speech processing. J. Neurosci. 37(27).

    Examples
    --------
    >>> from brainenc import DelayedRidge
    >>> from brainenc.analysis import variance_partitioning
    >>> from brainenc.datasets import make_multispace_data
    >>> X, y, groups, truth = make_multispace_data(
    ...     n_samples=400, space_sizes=(4, 4), n_targets=4, n_runs=4,
    ...     random_state=0)
    >>> result = variance_partitioning(
    ...     DelayedRidge(backend="numpy", cv=2), X, y, truth.feature_spaces,
    ...     groups=groups, cv=2)
    >>> sorted(result.scores)
    [('space0',), ('space0', 'space1'), ('space1',)]
    >>> parts = (result.unique["space0"] + result.unique["space1"]
    ...          + result.shared[("space0", "space1")])
    >>> bool(abs(parts - result.total).max() < 1e-12)
    True
    """
    X, y = validate_X_y(None, X, y)
    if not isinstance(scoring, str) or scoring not in _SCORINGS:
        raise ValueError(f"scoring must be one of {_SCORINGS}, got {scoring!r}.")
    spaces = check_feature_spaces(feature_spaces, X.shape[1])
    if len(spaces) < 2:
        raise ValueError(
            f"feature_spaces must hold at least 2 spaces to partition variance, "
            f"got {len(spaces)} ({list(spaces)})."
        )
    if estimator is None:
        estimator = DelayedRidge()
    _check_regressor(estimator, "estimator")
    if isinstance(estimator, StackedRegressor) and estimator.estimators is not None:
        raise ValueError(
            "variance_partitioning refits the estimator on subsets of the "
            "columns of X, so it cannot use an estimator whose estimators list "
            "names columns of the full X (such as StackedRegressor(estimators="
            "...)). Pass StackedRegressor(feature_spaces=...) instead: its "
            "feature spaces are remapped to each subset."
        )
    groups = check_groups(groups, X.shape[0])
    folds = _estimator_folds(cv, groups, X.shape[0])
    tested = np.flatnonzero(
        held_out_labels(folds, X.shape[0], owner="variance_partitioning") >= 0
    )

    names = list(spaces)
    subsets = [
        subset
        for size in range(1, len(names) + 1)
        for subset in combinations(names, size)
    ]
    jobs = [(subset, k) for subset in subsets for k in range(len(folds))]
    predictions = parallel_fits(
        _fit_predict_subset,
        ((estimator, X, y, spaces, subset, folds[k], groups) for subset, k in jobs),
        len(jobs),
        n_jobs=n_jobs,
        verbose=0,
        desc="variance_partitioning fits",
    )
    y_2d = y[:, None] if y.ndim == 1 else y
    out_of_fold = {subset: np.zeros(y_2d.shape) for subset in subsets}
    for (subset, k), pred in zip(jobs, predictions, strict=True):
        test = folds[k][1]
        out_of_fold[subset][test] = as_2d_predictions(
            pred,
            test.size,
            y_2d.shape[1],
            name="estimator",
            owner="variance_partitioning",
        )
    scores = {
        subset: r2_per_target(y_2d[tested], out_of_fold[subset][tested])
        for subset in subsets
    }
    regions = _venn_regions(scores, names)
    if clip:
        regions = {key: np.maximum(value, 0.0) for key, value in regions.items()}
    if y.ndim == 1:
        scores = {key: float(value[0]) for key, value in scores.items()}
        regions = {key: float(value[0]) for key, value in regions.items()}
    return Bunch(
        space_names=names,
        scores=scores,
        regions=regions,
        unique={name: regions[(name,)] for name in names},
        shared={key: value for key, value in regions.items() if len(key) > 1},
        total=scores[tuple(names)],
    )


class Residualizer(TransformerMixin, BaseEstimator):
    """Remove from one feature space what the other spaces linearly predict.

    Residual analysis (Oota et al., 2025): :meth:`fit` learns a regression
    (by default a ridge with its alpha chosen per column by cross-validation
    over runs) from the ``source_spaces`` columns of ``X`` to the
    ``target_space`` columns, on the training data only. :meth:`transform`
    returns ``X`` with the ``target_space`` columns replaced by their
    residuals, ``target - regression.predict(source)``, on any data, with the
    regression fitted during :meth:`fit`. The other columns are returned
    unchanged, so that the transformer can sit in a
    :class:`~sklearn.pipeline.Pipeline` before an encoding model: the
    encoding performance of the residualised space measures what it brings
    beyond the sources.

    Parameters
    ----------
    feature_spaces : dict
        ``{name: columns}`` (slice, column indices or int block size),
        covering every column of ``X`` exactly once.
    target_space : str
        Name of the space to residualise.
    source_spaces : list of str or None, default=None
        Names of the predicting spaces; ``None`` means every space other than
        ``target_space``.
    estimator : estimator object or None, default=None
        Multi-output regressor from the source columns to the target columns.
        ``None`` means ``DelayedRidge(delays=[0])``: contemporaneous, its
        alpha chosen per target column by cross-validation over whole runs.
        Pass for instance ``DelayedRidge(delays=[0, 1, 2])`` to remove what
        the recent past of the sources predicts too (then pass ``groups`` to
        :meth:`transform`).

    Attributes
    ----------
    estimator_ : estimator object
        The regression fitted on the training data.
    feature_spaces_ : dict of str to ndarray of int
        Column indices of each space.
    target_columns_ : ndarray of int
        Columns of ``X`` that are residualised.
    source_columns_ : ndarray of int
        Columns of ``X`` that predict them.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    variance_partitioning : Unique and shared variance of feature spaces.

    Notes
    -----
    A ridge shrinks its coefficients, so on the training data the residuals
    keep a small part of the sources (the shrinkage bias); with an alpha
    chosen by cross-validation that part is small against the independent
    part of the target space.

    References
    ----------
    Oota, Çelik, Deniz, Toneva et al. (2025). Multi-modal brain encoding
    models for multi-modal stimuli. arXiv:2505.20027.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc import DelayedRidge
    >>> from brainenc.analysis import Residualizer
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((200, 3))
    >>> B = A @ rng.standard_normal((3, 2)) + 0.1 * rng.standard_normal((200, 2))
    >>> X = np.hstack([A, B])
    >>> res = Residualizer(
    ...     {"audio": 3, "video": 2}, "video",
    ...     estimator=DelayedRidge(delays=[0], backend="numpy", cv=2))
    >>> X_res = res.fit_transform(X)
    >>> bool(np.all(X_res[:, :3] == A))
    True
    >>> bool(X_res[:, 3:].std() < 0.15 < B.std())
    True
    """

    _parameter_constraints = {
        "feature_spaces": [dict],
        "target_space": [str],
        "source_spaces": ["array-like", None],
        "estimator": [HasMethods(["fit", "predict"]), None],
    }

    def __init__(
        self, feature_spaces, target_space, *, source_spaces=None, estimator=None
    ):
        self.feature_spaces = feature_spaces
        self.target_space = target_space
        self.source_spaces = source_spaces
        self.estimator = estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, groups=None):
        """Fit the regression from the source spaces to the target space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features of all spaces.
        y : None
            Ignored.
        groups : array-like of shape (n_samples,), default=None
            Run labels, passed to the regression's ``fit`` (cross-validation
            over whole runs, delays inside runs).

        Returns
        -------
        self : Residualizer
            The fitted transformer.
        """
        X = validate_X(self, X, reset=True)
        try:
            spaces = check_feature_spaces(self.feature_spaces, X.shape[1])
        except ValueError as exc:
            raise ValueError(f"{exc} (X has {X.shape[1]} feature(s).)") from exc
        if self.target_space not in spaces:
            raise ValueError(
                f"target_space must be one of the feature spaces {list(spaces)}, "
                f"got {self.target_space!r}."
            )
        if self.source_spaces is None:
            sources = [name for name in spaces if name != self.target_space]
        else:
            sources = [str(name) for name in self.source_spaces]
        unknown = [name for name in sources if name not in spaces]
        if unknown or not sources or self.target_space in sources:
            raise ValueError(
                f"source_spaces must be a non-empty list of feature spaces other "
                f"than target_space {self.target_space!r} (among {list(spaces)}), "
                f"got {self.source_spaces!r}."
            )
        groups = check_groups(groups, X.shape[0])
        self.feature_spaces_ = spaces
        self.target_columns_ = spaces[self.target_space]
        self.source_columns_ = np.concatenate([spaces[name] for name in sources])
        if self.estimator is None:
            self.estimator_ = DelayedRidge(delays=[0])
        else:
            self.estimator_ = clone(self.estimator)
        call_member(
            self.estimator_,
            "fit",
            X[:, self.source_columns_],
            X[:, self.target_columns_],
            groups=groups,
            name="estimator",
            owner="Residualizer",
        )
        return self

    def transform(self, X, groups=None):
        """Replace the target space's columns by their residuals.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of all spaces (training or new data).
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X``, passed to the regression's ``predict`` (only
            needed when it uses delays).

        Returns
        -------
        X_res : ndarray of shape (n_samples, n_features)
            A copy of ``X`` whose ``target_space`` columns are the residuals
            of the fitted regression.
        """
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        groups = check_groups(groups, X.shape[0])
        predicted = call_member(
            self.estimator_,
            "predict",
            X[:, self.source_columns_],
            groups=groups,
            name="estimator",
            owner="Residualizer",
        )
        X_res = X.copy()
        target = X[:, self.target_columns_]
        X_res[:, self.target_columns_] = target - as_2d_predictions(
            predicted, *target.shape, name="estimator", owner="Residualizer"
        )
        return X_res

    def fit_transform(self, X, y=None, groups=None):
        """Fit on ``X``, then return its residualised copy.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features of all spaces.
        y : None
            Ignored.
        groups : array-like of shape (n_samples,), default=None
            Run labels, passed to the regression's ``fit`` and ``predict``.

        Returns
        -------
        X_res : ndarray of shape (n_samples, n_features)
            ``X`` with the ``target_space`` columns residualised.
        """
        return self.fit(X, y, groups=groups).transform(X, groups=groups)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: the input names, unchanged.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input feature names; defaults to ``feature_names_in_`` or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            The input feature names (residualised columns keep their name).
        """
        check_is_fitted(self)
        return np.asarray(_check_feature_names_in(self, input_features), dtype=object)


def ablate_feature_spaces(
    model,
    X,
    y,
    feature_spaces,
    *,
    groups=None,
    replace="zeros",
    X_train=None,
    train_mean=None,
    nan_policy="raise",
):
    """Leave-one-space-out ablation of a fitted model: drop in r per target.

    For each feature space in turn, the columns of that space in ``X`` are
    replaced by zeros or by their training mean (or, with ``replace="null"``,
    the model itself replaces the space by the null it was trained with),
    the fitted ``model`` predicts from the ablated features, and the
    per-target Pearson r of that prediction is subtracted from the r of the
    prediction from the intact ``X``. A large drop means the model relies on
    that space.

    Parameters
    ----------
    model : fitted estimator
        Model with a ``predict`` method, already fitted on features laid out
        as ``X``. ``groups`` is passed to ``predict`` when it takes it.
    X : array-like of shape (n_samples, n_features)
        Features to evaluate on (normally held-out runs).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Responses to evaluate on. NaN (missing samples, e.g. of a subject
        not recorded in every run) only with ``nan_policy="omit"``.
    feature_spaces : dict
        ``{name: columns}`` (slice, column indices or int block size),
        covering every column of ``X`` exactly once.
    groups : array-like of shape (n_samples,), default=None
        Run labels of ``X``.
    replace : {"zeros", "mean", "null"}, default="zeros"
        What replaces an ablated space: zeros, or each column's mean over the
        training data (``X_train`` or ``train_mean``). For a model linear in
        its features the two give the same r (the prediction moves by a
        constant), except for the zero padding of delays at run starts.
        ``"null"``: the model's own trained null, through its
        ``predict_ablated(X, spaces, groups=...)`` method (a
        :class:`~brainenc.neural.MultimodalTransformerEncoder` trained with
        modality dropout replaces a dropped space by a learned null
        embedding, so this ablation stays in the distribution it was
        trained on, where zeroed inputs would not); ``feature_spaces`` must
        then be the model's own spaces (``model.feature_spaces_``). A
        :class:`~sklearn.pipeline.Pipeline` ending in such a model works
        too: its other steps transform ``X`` (they must keep its columns,
        as a scaler does), then its last step ablates.
    X_train : array-like of shape (n_train_samples, n_features), default=None
        Training features, whose column means replace an ablated space when
        ``replace="mean"``.
    train_mean : array-like of shape (n_features,), default=None
        The training column means themselves (instead of ``X_train``).
    nan_policy : {"raise", "omit"}, default="raise"
        ``"omit"``: NaN in ``y`` are missing samples, left out of each
        target's r (as :func:`brainenc.pearson_r` does), for the responses of
        several subjects with gaps (``n_subjects``).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``space_names`` : list of str.
        - ``full`` : ndarray of shape (n_targets,), r of the intact model.
        - ``ablated`` : dict of str to ndarray of shape (n_targets,), r with
          that space ablated.
        - ``drop`` : dict of str to ndarray of shape (n_targets,),
          ``full - ablated[name]`` (positive when the space helps).
        - ``dominant_space`` : ndarray of str of shape (n_targets,), the
          space whose ablation drops r the most, per target (the dominant
          modality).

        Per-target values are Python floats (and a str) when ``y`` is 1-D.

    Raises
    ------
    ValueError
        If ``replace`` is unknown, ``replace="mean"`` comes without
        ``X_train`` or ``train_mean`` (or with both), their number of features
        differs from ``X``'s, ``replace="null"`` is given spaces other than
        the model's, or for the reasons of :func:`brainenc.pearson_r`.
    TypeError
        If ``replace="null"`` and the model has no ``predict_ablated``
        method.

    See Also
    --------
    variance_partitioning : Unique and shared variance, by refitting subsets.

    Examples
    --------
    >>> from brainenc import DelayedRidge
    >>> from brainenc.analysis import ablate_feature_spaces
    >>> from brainenc.datasets import make_multispace_data
    >>> X, y, groups, truth = make_multispace_data(
    ...     n_samples=600, space_sizes=(4, 4), n_targets=2, n_runs=3,
    ...     random_state=0)
    >>> train, test = groups < 2, groups == 2
    >>> model = DelayedRidge(backend="numpy", cv=2).fit(
    ...     X[train], y[train], groups=groups[train])
    >>> result = ablate_feature_spaces(
    ...     model, X[test], y[test], truth.feature_spaces, groups=groups[test])
    >>> truth.driving_space.tolist()
    [0, 1]
    >>> bool(result.drop["space0"][0] > 0.3 > result.drop["space1"][0])
    True
    """
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}.")
    X, y = validate_X_y(None, X, y, allow_nan_y=True)
    n_nan = int(np.isnan(y).sum())
    if n_nan and nan_policy == "raise":
        raise ValueError(
            f"y contains NaN ({n_nan} value{'s' if n_nan > 1 else ''}). Use "
            f"nan_policy='omit' to leave missing samples out of each target's r."
        )
    if not isinstance(replace, str) or replace not in _REPLACE_OPTIONS:
        raise ValueError(f"replace must be one of {_REPLACE_OPTIONS}, got {replace!r}.")
    spaces = check_feature_spaces(feature_spaces, X.shape[1])
    if not hasattr(model, "predict"):
        raise TypeError(
            f"model must be a fitted estimator with a predict method, got "
            f"{type(model).__name__}."
        )
    groups = check_groups(groups, X.shape[0])
    kwargs = {"groups": groups, "name": "model", "owner": "ablate_feature_spaces"}

    def score(pred):
        return pearson_r(y, pred, nan_policy=nan_policy)

    full = score(call_member(model, "predict", X, **kwargs))
    ablated = {}
    if replace == "null":
        final, X_final = _null_model(model, X, kwargs)
        _check_null_spaces(final, spaces)
        for name in spaces:
            pred = call_member(final, "predict_ablated", X_final, [name], **kwargs)
            ablated[name] = score(pred)
    else:
        fill = _fill_values(replace, X_train, train_mean, X.shape[1])
        for name, columns in spaces.items():
            X_ablated = X.copy()
            X_ablated[:, columns] = fill[columns]
            ablated[name] = score(call_member(model, "predict", X_ablated, **kwargs))
    drop = {name: full - r for name, r in ablated.items()}
    names = np.asarray(list(spaces))
    dominant = names[np.argmax(np.stack([np.atleast_1d(d) for d in drop.values()]), 0)]
    return Bunch(
        space_names=list(spaces),
        full=full,
        ablated=ablated,
        drop=drop,
        dominant_space=str(dominant[0]) if np.ndim(full) == 0 else dominant,
    )


def _null_model(model, X, kwargs):
    """The estimator that ablates with its null, and the ``X`` it takes.

    A Pipeline's steps before the last transform ``X`` (with ``groups`` as
    its predict would hand them); the last step ablates.
    """
    if isinstance(model, Pipeline) and not hasattr(model, "predict_ablated"):
        steps = model[:-1]
        if len(steps):
            X = call_member(steps, "transform", X, **kwargs)
        return model[-1], X
    return model, X


def _check_null_spaces(model, spaces):
    """``replace="null"``: the model ablates its own spaces, these ones."""
    if not hasattr(model, "predict_ablated"):
        raise TypeError(
            f"replace='null' needs a model that replaces a feature space by its "
            f"trained null (a predict_ablated(X, spaces, groups=...) method, as "
            f"brainenc.neural.MultimodalTransformerEncoder has); "
            f"{type(model).__name__} has none. Use replace='zeros' or 'mean'."
        )
    own = getattr(model, "feature_spaces_", None)
    same = own is not None and list(own) == list(spaces)
    same = same and all(
        np.array_equal(np.asarray(own[name]), np.asarray(spaces[name]))
        for name in spaces
    )
    if not same:
        given = {name: _columns_text(cols) for name, cols in spaces.items()}
        fitted = (
            None
            if own is None
            else {name: _columns_text(cols) for name, cols in own.items()}
        )
        raise ValueError(
            f"replace='null' ablates the model's own feature spaces, so "
            f"feature_spaces must be model.feature_spaces_ ({fitted}), got "
            f"{given}."
        )


def _columns_text(columns):
    columns = np.asarray(columns)
    if columns.size and np.array_equal(
        columns, np.arange(columns[0], columns[0] + columns.size)
    ):
        return f"columns {columns[0]}-{columns[-1]}"
    return f"columns {columns.tolist()}"


def structured_variance_partitioning(
    estimator, X, y, groups=None, *, order=None, cv=None, threshold=0.95
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
    cv : int, cross-validation generator, iterable or None, default=None
        Outer folds on which the models are scored, by the same rule as
        ``cv`` of :class:`~brainenc.StackedRegressor` (``None``: 5 folds of
        whole runs, or leave-one-run-out with fewer runs); a single split is
        ``[(train, test)]``.
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
    >>> from brainenc import StackedRegressor
    >>> from brainenc.analysis import structured_variance_partitioning
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
    names = _stacked_space_names(model)
    if names is None:
        # malformed spaces: the estimator's own fit says what is wrong
        clone(model).fit(X_arr, Y, groups=groups)
    if order is None:
        order = names
    order = list(order)
    if sorted(order) != sorted(names) or len(order) != len(names):
        raise ValueError(
            f"order must be a permutation of the space names {names}, got {order}."
        )
    alphas = _check_final_alphas(model.final_alphas, model.final)

    K = len(order)
    # Positions of the spaces in ``order``: forward spaces[k:], backward
    # spaces[:k + 1]. The stacked model of a subset reuses the full model's
    # base models and out-of-fold predictions of the fold.
    subsets = [list(range(k, K)) for k in range(K)]
    subsets += [list(range(k + 1)) for k in range(K - 1)]
    outer = _estimator_folds(cv, groups, X_arr.shape[0])
    fold_of = held_out_labels(
        outer, X_arr.shape[0], owner="structured_variance_partitioning"
    )
    held_out = np.full((len(subsets), X_arr.shape[0], Y.shape[1]), np.nan)
    for train, test in outer:
        fitted = clone(model).fit(
            X_arr[train], Y[train], groups=fold_groups(groups, train)
        )
        position = [fitted.space_names_.index(name) for name in order]
        base_test = fitted.predict_split(
            X_arr[test], groups=fold_groups(groups, test)
        ).astype(np.float64)
        covered = fitted.oof_folds_ >= 0
        oof = fitted.oof_predictions_[:, covered]
        for s, subset in enumerate(subsets):
            spaces = [position[k] for k in subset]
            final = stacking_weights(
                oof[spaces],
                Y[train][covered],
                fitted.oof_folds_[covered],
                model.final,
                alphas,
            )
            held_out[s, test] = (
                np.einsum("knt,kt->nt", base_test[spaces], final.weights)
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


def _venn_regions(scores, names):
    """Regions of the Venn diagram of explained variance, by Moebius inversion.

    With ``R(S)`` the score of the model on the spaces ``S`` (``R({}) = 0``)
    and ``U`` all spaces, ``g(C) = R(U) - R(U - C)`` is the variance that
    only spaces of ``C`` explain: the sum of the regions ``T`` inside ``C``.
    Inverting that sum over subsets gives each region ``T`` (the variance
    explained by exactly the spaces of ``T``) as
    ``sum over C inside T of (-1) ** (|T| - |C|) * g(C)``.
    """
    full = scores[tuple(names)]

    def score(subset):
        return scores[subset] if subset else np.zeros_like(full)

    def g(subset):
        rest = tuple(name for name in names if name not in subset)
        return full - score(rest)

    regions = {}
    for size in range(1, len(names) + 1):
        for region in combinations(names, size):
            value = np.zeros_like(full)
            for k in range(1, size + 1):
                for part in combinations(region, k):
                    value = value + (-1) ** (size - k) * g(part)
            regions[region] = value
    return regions


def _fit_predict_subset(estimator, X, y, spaces, subset, fold, groups):
    """Fit a clone on the subset's columns of the training fold, predict test."""
    train, test = fold
    columns = np.concatenate([spaces[name] for name in subset])
    if estimator.get_params(deep=False).get("feature_spaces") is not None:
        estimator = clone(estimator).set_params(
            feature_spaces={name: int(spaces[name].size) for name in subset}
        )
    return fit_predict_fold(
        estimator,
        X[:, columns],
        y,
        groups,
        train,
        test,
        name="estimator",
        owner="variance_partitioning",
    )[1]


def _check_regressor(estimator, name):
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
        raise TypeError(
            f"{name} must be an estimator with fit and predict methods (or "
            f"None for DelayedRidge()), got {type(estimator).__name__}."
        )


def _fill_values(replace, X_train, train_mean, n_features):
    """Values per column that replace an ablated space."""
    if replace == "zeros":
        return np.zeros(n_features)
    if X_train is not None and train_mean is not None:
        raise ValueError(
            "replace='mean' takes the training mean from X_train or from "
            "train_mean, not both."
        )
    if X_train is None and train_mean is None:
        raise ValueError(
            "replace='mean' needs the training mean of the features: pass "
            "X_train (the training features) or train_mean (their column means)."
        )
    if X_train is not None:
        X_train = check_input_array(X_train, "X_train", dtype=np.float64)
        mean, name = X_train.mean(axis=0), "X_train"
    else:
        mean = check_input_array(
            train_mean,
            "train_mean",
            dtype=np.float64,
            ndim=(1,),
            what="(n_features,)",
        )
        name = "train_mean"
    if mean.shape != (n_features,):
        raise ValueError(
            f"{name} must have the {n_features} features of X, got means of "
            f"shape {mean.shape}."
        )
    return mean


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


def _stacked_space_names(model):
    """The space names of a StackedRegressor's parameters (None if malformed:
    its fit then says what is wrong)."""
    try:
        if model.feature_spaces is not None:
            return [str(name) for name in model.feature_spaces]
        return [entry[0] for entry in model.estimators]
    except (TypeError, IndexError):
        return None
