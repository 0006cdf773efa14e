"""Per-target ensembles of encoding models.

Different encoding models win on different targets (a language model on
language parcels, a vision model on visual ones). :class:`TargetwiseEnsemble`
scores every member on held-out runs, target by target, and combines the
members' predictions with per-target weights: the mean of the ``k`` best members
(MedARC, Algonauts 2025) or a softmax over members of their held-out Pearson r
(MIRAGE). :func:`targetwise_weights` is the weighting rule alone, as a pure
function.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._compat import Integral, Interval, Real, StrOptions, _fit_context
from ._meta import (
    _MemberComposition,
    as_2d_predictions,
    call_member,
    check_member,
    check_member_names,
    fit_predict_fold,
    held_out_labels,
    parallel_fits,
)
from ._validation import (
    check_groups,
    check_numeric,
    run_starts,
    user_stacklevel,
    validate_X,
    validate_X_y,
)
from .metrics import _CorrelationScoreMixin, pearson_r
from .model_selection import _estimator_folds

__all__ = ["TargetwiseEnsemble", "targetwise_weights"]

_OWNER = "TargetwiseEnsemble"

_METHODS = ("topk", "softmax", "mean")


def targetwise_weights(scores, *, method="topk", k=5, temperature=0.3):
    """Per-target weights of ensemble members from their held-out scores.

    Parameters
    ----------
    scores : array-like of shape (n_members, n_targets)
        Held-out score (Pearson r) of every member on every target.
    method : {"topk", "softmax", "mean"}, default="topk"
        ``"topk"``: each target gets weight ``1 / k`` on its ``k`` best
        members and 0 on the others (``k`` is capped at ``n_members``; of
        members with equal scores, the one listed first ranks higher).
        ``"softmax"``: ``softmax(scores / temperature)`` taken over the members
        of each target (axis 0). ``"mean"``: ``1 / n_members`` everywhere.
    k : int, default=5
        Number of members averaged per target by ``"topk"``.
    temperature : float, default=0.3
        Softmax temperature (> 0): the smaller, the closer the softmax comes to
        picking the single best member of each target.

    Returns
    -------
    weights : ndarray of shape (n_members, n_targets)
        Non-negative weights; each column (target) sums to one.

    Raises
    ------
    ValueError
        If ``scores`` is not a finite 2-D array with at least one member, or
        ``method``, ``k`` or ``temperature`` is invalid.

    See Also
    --------
    TargetwiseEnsemble : The ensemble estimator that uses these weights.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.ensemble import targetwise_weights
    >>> scores = np.array([[0.1, 0.5], [0.3, 0.2], [0.2, 0.4]])
    >>> targetwise_weights(scores, method="topk", k=2)
    array([[0. , 0.5],
           [0.5, 0. ],
           [0.5, 0.5]])
    >>> w = targetwise_weights(scores, method="softmax", temperature=0.3)
    >>> w.sum(axis=0)
    array([1., 1.])
    """
    scores = np.asarray(check_numeric(scores, "scores"), dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(
            "scores must be a 2-D array of shape (n_members, n_targets) with at "
            f"least one member, got shape {scores.shape}."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite, got NaN or inf.")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
    n_members, n_targets = scores.shape
    if method == "mean":
        return np.full((n_members, n_targets), 1.0 / n_members)
    if method == "softmax":
        if not isinstance(temperature, numbers.Real) or not temperature > 0:
            raise ValueError(f"temperature must be a float > 0, got {temperature!r}.")
        logits = scores / temperature
        logits -= logits.max(axis=0, keepdims=True)
        weights = np.exp(logits)
        weights /= weights.sum(axis=0, keepdims=True)
        return weights
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}.")
    k = min(int(k), n_members)
    # Stable sort of the negated scores: best first, ties in member order.
    order = np.argsort(-scores, axis=0, kind="stable")
    weights = np.zeros((n_members, n_targets))
    np.put_along_axis(weights, order[:k], 1.0 / k, axis=0)
    return weights


class TargetwiseEnsemble(
    _CorrelationScoreMixin, RegressorMixin, _MemberComposition, BaseEstimator
):
    """Per-target weighted ensemble of encoding models, weighted on held-out runs.

    Every member predicts every target. The ensemble scores each member, target
    by target, by the Pearson r of its predictions on *selection* data that the
    member was not trained on, turns the scores into per-target weights
    (:func:`targetwise_weights`) and predicts the weighted sum of the members'
    predictions. ``method="topk"`` is the per-parcel top-k mean of MedARC
    (Algonauts 2025); ``method="softmax"`` the per-parcel softmax over members
    of MIRAGE.

    The selection data comes from one of three schemes:

    - hold-out (``cv=None``, the default): the last runs (``selection_runs``)
      are held out; the members are fitted on the other runs only and used as
      they are. A member's own internal early stopping or cross-validation sees
      only the member-training runs, never the selection runs. This costs one
      fit per member.
    - out-of-fold (``cv`` given): every member is fitted on the training runs of
      each fold and predicts the fold's held-out runs; the pooled out-of-fold
      predictions score the members, which are then refitted on all runs. This
      uses every run for selection and for the final members, at the cost of
      ``n_splits + 1`` fits per member. ``cv=[(train, test)]`` (one explicit
      split) is a hold-out whose members are refitted on all runs.
    - prefit (``prefit=True``): the members are already fitted (for instance
      with early stopping on other runs); they are neither cloned nor refitted,
      and all the data given to :meth:`fit` is selection data.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The members, as in :class:`~sklearn.ensemble.VotingRegressor`. Each
        has ``fit`` and ``predict`` and receives the run labels of the samples
        it sees, whatever it is (an estimator taking ``groups``, a
        :class:`~sklearn.pipeline.Pipeline`, a meta-estimator under metadata
        routing; one that would lose them is refused, see
        :ref:`cross_validation`). Names must be unique,
        must not contain ``"__"`` and must not be a parameter name of the
        ensemble. A member's parameters can be set as ``<name>__<param>``.
    method : {"topk", "softmax", "mean"}, default="topk"
        How held-out scores become weights, per target: the uniform mean of
        the ``k`` best members, a softmax over members of ``r / temperature``,
        or the uniform mean of all members.
    k : int, default=5
        Members averaged per target by ``method="topk"`` (capped at the
        number of members).
    temperature : float, default=0.3
        Temperature of ``method="softmax"`` (MIRAGE's value by default).
    cv : int, cross-validation generator, iterable or None, default=None
        ``None``: hold-out selection on ``selection_runs``. Otherwise the folds
        of the out-of-fold scheme, following the library's convention: an int
        with ``groups`` means that many folds of whole runs (``GroupKFold``),
        without ``groups`` contiguous unshuffled blocks
        (:class:`brainenc.BlockedKFold`); a splitter receives ``groups``; an
        iterable of (train, test) pairs is used as given (a sample may be in
        at most one test set; samples in none are not used for selection).
    selection_runs : int, float or array-like, default=0.2
        Selection data of the hold-out scheme (``cv=None``). An int: that many
        runs, the last ones in time order. A float in (0, 1): that fraction of
        the runs, rounded up, the last ones (without ``groups``, or with a
        single run, that fraction of the samples, the last ones, as one
        contiguous block). An array-like: the run labels to hold out. At least
        one run (or sample) is always left to fit the members.
    n_subjects : int, default=1
        Number of subjects whose targets ``y`` holds side by side, as
        ``(n_samples, n_subjects * n_targets)`` (column ``s * n_targets + t``
        is target ``t`` of subject ``s``). With ``n_subjects > 1``, NaN in
        ``y`` marks a subject's missing samples: selection scores and
        :meth:`score` leave them out per column, and the members fitted here
        must accept NaN in ``y`` themselves. With ``n_subjects=1``, NaN in
        ``y`` is an error.
    prefit : bool, default=False
        Whether the members are already fitted. They are then used as they
        are (``estimators_`` holds the same objects) and ``cv`` and
        ``selection_runs`` are not used.
    n_jobs : int, default=None
        Member fits (one per member and fold, each followed by the member's
        held-out predictions) run in parallel through joblib; :meth:`predict`
        calls the members one after the other.
        ``None`` means 1 unless in a :func:`joblib.parallel_config` context;
        ``-1`` means all processors.
    verbose : int, default=0
        Show a progress bar over the member fits when greater than 0.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, in the order of ``estimators`` (the given objects
        themselves when ``prefit=True``).
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name.
    member_names_ : list of str
        Names of the members, in order.
    selection_scores_ : ndarray of shape (n_members, n_outputs)
        Pearson r of every member's held-out predictions on every output
        column (subject and target).
    weights_ : ndarray of shape (n_members, n_outputs)
        Weight of every member on every output column; each column sums to
        one.
    selection_runs_ : ndarray or None
        Run labels of the selection data of the hold-out scheme, when
        ``groups`` (with at least two runs) was given; ``None`` otherwise.
    n_splits_ : int
        Number of folds of the out-of-fold scheme (1 for a hold-out, 0 with
        ``prefit=True``).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    targetwise_weights : The weighting rule alone.
    sklearn.ensemble.VotingRegressor : Uniform or fixed weights for all targets.

    Notes
    -----
    The selection data must not be the data a member used for early stopping
    or hyper-parameter selection, or its held-out scores are optimistic. The
    hold-out and out-of-fold schemes guarantee this for members fitted here:
    a member only ever receives the ``X``, ``y`` and ``groups`` of its
    training runs. With ``prefit=True`` it is up to the caller.

    Cloning the ensemble (as :class:`~sklearn.model_selection.GridSearchCV`
    and :func:`~sklearn.model_selection.cross_val_score` do) clones its
    members, which undoes their fit: wrap prefit members in
    :class:`sklearn.frozen.FrozenEstimator` to keep them fitted.

    References
    ----------
    .. [1] MedARC team, "Predicting Brain Responses To Natural Movies With
       Multimodal LLMs", Algonauts 2025 challenge report, arXiv:2507.19956
       (per-parcel top-k mean of validated models).
    .. [2] MIRAGE, Algonauts 2025 challenge entry (per subject and parcel,
       softmax over models of the validation Pearson r, temperature 0.3).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyRegressor
    >>> from brainenc import DelayedRidge, make_encoding_data
    >>> from brainenc.ensemble import TargetwiseEnsemble
    >>> X, y, groups, truth = make_encoding_data(
    ...     n_samples=500, n_features=8, n_targets=6, n_runs=5, random_state=0)
    >>> ensemble = TargetwiseEnsemble(
    ...     [("ridge", DelayedRidge(delays=4, cv=2, backend="numpy")),
    ...      ("dummy", DummyRegressor())],
    ...     method="topk", k=1, selection_runs=1)
    >>> ensemble = ensemble.fit(X[groups < 4], y[groups < 4], groups[groups < 4])
    >>> ensemble.weights_.shape
    (2, 6)
    >>> ensemble.weights_[0]
    array([1., 1., 1., 1., 1., 1.])
    >>> ensemble.selection_runs_
    array([3])
    >>> r = ensemble.score(X[groups == 4], y[groups == 4], groups[groups == 4])
    >>> bool(r > 0.5)
    True
    """

    _parameter_constraints = {
        "estimators": [list, tuple],
        "method": [StrOptions(set(_METHODS))],
        "k": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        # validated by the one rule for internal folds (model_selection)
        "cv": "no_validation",
        "selection_runs": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            "array-like",
        ],
        "n_subjects": [Interval(Integral, 1, None, closed="left")],
        "prefit": ["boolean"],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimators,
        *,
        method="topk",
        k=5,
        temperature=0.3,
        cv=None,
        selection_runs=0.2,
        n_subjects=1,
        prefit=False,
        n_jobs=None,
        verbose=0,
    ):
        self.estimators = estimators
        self.method = method
        self.k = k
        self.temperature = temperature
        self.cv = cv
        self.selection_runs = selection_runs
        self.n_subjects = n_subjects
        self.prefit = prefit
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None):
        """Fit the members, score them on held-out runs and set the weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features, time along axis 0.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Responses; ``n_outputs = n_subjects * n_targets``. NaN only with
            ``n_subjects > 1`` (a subject's missing samples).
        groups : array-like of shape (n_samples,), default=None
            Run labels (contiguous runs). Selection data is made of whole
            runs; members receive the labels of their training runs only.
            ``None`` means one run.

        Returns
        -------
        self : TargetwiseEnsemble
            The fitted ensemble.
        """
        names, members = self._validate_estimators()
        X, y = validate_X_y(self, X, y, allow_nan_y=self.n_subjects > 1)
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        self._check_subjects(y, n_outputs)
        groups = check_groups(groups, X.shape[0])
        runs = groups[run_starts(groups)]

        self.selection_runs_ = None
        if self.prefit:
            for name, member in zip(names, members, strict=True):
                _check_member_fitted(name, member)
            fitted = members
            predictions = [
                as_2d_predictions(
                    call_member(
                        m, "predict", X, groups=groups, name=name, owner=_OWNER
                    ),
                    X.shape[0],
                    n_outputs,
                    name=name,
                    owner=_OWNER,
                    dtype=np.float64,
                )
                for name, m in zip(names, members, strict=True)
            ]
            selection = np.arange(X.shape[0])
            self.n_splits_ = 0
        else:
            if self.cv is None:
                train, selection = self._holdout_split(groups, runs)
                if runs.size > 1:
                    self.selection_runs_ = np.unique(groups[selection])
                folds = [(train, selection)]
                refit = False
            else:
                folds = _estimator_folds(self.cv, groups, X.shape[0])
                fold_of = held_out_labels(folds, X.shape[0], owner=_OWNER)
                selection = np.flatnonzero(fold_of >= 0)
                refit = True
            tasks = [(m, f) for m in range(len(members)) for f in range(len(folds))]
            if refit:
                tasks += [(m, None) for m in range(len(members))]
            results = parallel_fits(
                _fit_predict,
                (
                    (
                        members[m],
                        X,
                        y,
                        groups,
                        None if f is None else folds[f][0],
                        None if f is None else folds[f][1],
                        names[m],
                    )
                    for m, f in tasks
                ),
                len(tasks),
                n_jobs=self.n_jobs,
                verbose=self.verbose,
                desc=f"{_OWNER} fits ({len(members)} members x {len(folds)} "
                f"fold{'s' if len(folds) != 1 else ''}"
                f"{' + refit' if refit else ''})",
            )
            position = np.empty(X.shape[0], dtype=np.intp)
            position[selection] = np.arange(selection.size)
            predictions = [
                np.empty((selection.size, n_outputs)) for _ in range(len(members))
            ]
            fitted = [None] * len(members)
            for (m, f), (estimator, pred) in zip(tasks, results, strict=True):
                if f is None or not refit:
                    fitted[m] = estimator
                if f is not None:
                    test = folds[f][1]
                    predictions[m][position[test]] = as_2d_predictions(
                        pred,
                        test.size,
                        n_outputs,
                        name=names[m],
                        owner=_OWNER,
                        dtype=np.float64,
                    )
            self.n_splits_ = len(folds)

        if selection.size < 2:
            raise ValueError(
                "TargetwiseEnsemble needs at least 2 selection samples to score "
                f"its members, got {selection.size} sample(s) out of "
                f"{X.shape[0]}. Pass more data or a larger selection_runs."
            )
        y_sel = y[selection].reshape(selection.size, n_outputs)
        self.selection_scores_ = self._selection_scores(
            names, predictions, y_sel, n_outputs
        )
        self.weights_ = targetwise_weights(
            self.selection_scores_,
            method=self.method,
            k=self.k,
            temperature=self.temperature,
        )
        self.estimators_ = list(fitted)
        self.member_names_ = list(names)
        self.named_estimators_ = Bunch(**dict(zip(names, fitted, strict=True)))
        self._y_1d_ = y.ndim == 1
        return self

    def predict(self, X, groups=None):
        """Weighted sum, per target, of the members' predictions.

        Members whose weight is zero on every target are not evaluated.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features.
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X``, handed to every member.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_outputs) or (n_samples,)
            Predicted responses; 1-D when the ensemble was fitted on a 1-D
            ``y``.
        """
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        groups = check_groups(groups, X.shape[0])
        n_outputs = self.weights_.shape[1]
        used = np.flatnonzero(np.any(self.weights_ > 0, axis=1))
        y_pred = np.zeros((X.shape[0], n_outputs))
        for m in used:
            name = self.member_names_[m]
            pred = call_member(
                self.estimators_[m],
                "predict",
                X,
                groups=groups,
                name=name,
                owner=_OWNER,
            )
            pred = as_2d_predictions(
                pred, X.shape[0], n_outputs, name=name, owner=_OWNER, dtype=np.float64
            )
            y_pred += pred * self.weights_[m]
        return y_pred[:, 0] if self._y_1d_ else y_pred

    def _score_nan_policy(self):
        return "omit" if self.n_subjects > 1 else "raise"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _validate_estimators(self):
        estimators = self.estimators
        if not estimators:
            raise ValueError(
                "estimators must be a non-empty list of (name, estimator) "
                f"tuples, got {estimators!r}."
            )
        for i, item in enumerate(estimators):
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise TypeError(
                    "estimators must be a list of (name, estimator) tuples, but "
                    f"item {i} is {item!r}."
                )
        names = [name for name, _ in estimators]
        members = [member for _, member in estimators]
        check_member_names(
            names,
            argname="estimators",
            owner=_OWNER,
            reserved=self.get_params(deep=False),
        )
        needs = ("predict",) if self.prefit else ("fit", "predict")
        for name, member in zip(names, members, strict=True):
            check_member(member, name, owner=_OWNER, methods=needs)
        return names, members

    def _check_subjects(self, y, n_outputs):
        if n_outputs % self.n_subjects:
            raise ValueError(
                f"y must hold n_subjects={self.n_subjects} blocks of targets side "
                "by side (n_samples, n_subjects * n_targets), but it has "
                f"{n_outputs} column(s), not a multiple of {self.n_subjects}."
            )

    def _holdout_split(self, groups, runs):
        n_samples = groups.shape[0]
        value = self.selection_runs
        is_scalar = isinstance(value, numbers.Number)
        if runs.size < 2:
            if is_scalar and isinstance(value, numbers.Integral):
                raise ValueError(
                    f"selection_runs={value} counts runs, but there is a single "
                    "run (groups is None or has one label). Pass groups with "
                    "more runs, or a float fraction of the samples."
                )
            if not is_scalar:
                raise ValueError(
                    "selection_runs as run labels needs groups with at least 2 "
                    "runs, but there is a single run (groups is None or has one "
                    "label)."
                )
            n_selection = min(int(np.ceil(value * n_samples)), n_samples - 1)
            if n_selection < 1:
                raise ValueError(
                    "TargetwiseEnsemble needs at least 2 samples to fit its "
                    f"members and select their weights, got {n_samples} sample."
                )
            indices = np.arange(n_samples)
            cut = n_samples - n_selection
            return indices[:cut], indices[cut:]
        if is_scalar:
            if isinstance(value, numbers.Integral):
                n_selection = int(value)
                if n_selection >= runs.size:
                    raise ValueError(
                        f"selection_runs={value} must leave at least one run to "
                        f"fit the members, but groups holds {runs.size} runs."
                    )
            else:
                n_selection = min(int(np.ceil(value * runs.size)), runs.size - 1)
            held_out = runs[runs.size - n_selection :]
        else:
            held_out = np.unique(np.asarray(value))
            unknown = np.setdiff1d(held_out, runs)
            if held_out.size == 0 or unknown.size:
                raise ValueError(
                    "selection_runs must be labels of runs in groups, got "
                    f"{value!r} (unknown: {unknown.tolist()!r})."
                )
            if held_out.size >= runs.size:
                raise ValueError(
                    "selection_runs must leave at least one run to fit the "
                    f"members, but it holds all {runs.size} runs of groups."
                )
        is_selection = np.isin(groups, held_out)
        return np.flatnonzero(~is_selection), np.flatnonzero(is_selection)

    def _selection_scores(self, names, predictions, y_sel, n_outputs):
        scores = np.empty((len(names), n_outputs))
        observed = ~np.isnan(y_sel)
        nan_policy = self._score_nan_policy()
        for m, (name, pred) in enumerate(zip(names, predictions, strict=True)):
            # (n_selection, n_outputs) float64: checked where they were made
            if not np.all(np.isfinite(pred[observed])):
                raise ValueError(
                    f"estimators member {name!r} predicted NaN or inf on the "
                    "selection data."
                )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r = pearson_r(y_sel, pred, nan_policy=nan_policy)
            for warning in caught:
                warnings.warn(
                    f"estimators member {name!r}: {warning.message}",
                    warning.category,
                    stacklevel=user_stacklevel(),
                )
            scores[m] = np.atleast_1d(r)
        return scores


def _fit_predict(member, X, y, groups, train, test, name):
    return fit_predict_fold(member, X, y, groups, train, test, name=name, owner=_OWNER)


def _check_member_fitted(name, member):
    try:
        check_is_fitted(member)
    except NotFittedError as exc:
        raise NotFittedError(
            f"prefit=True needs fitted members, but estimators member {name!r} "
            f"({type(member).__name__}) is not fitted. Fit it first, or use "
            "prefit=False. (A clone of the ensemble clones its members unfitted; "
            "wrap them in sklearn.frozen.FrozenEstimator.)"
        ) from exc
