"""What every model over models does with its members.

StackedRegressor, TargetwiseEnsemble, Residualizer and the functions of
:mod:`brainenc.analysis` fit and predict other estimators ("members") on folds
of runs. They share this module:

- :func:`call_member` calls a member's ``fit``/``predict``/``transform`` with
  the runs' ``groups``, whatever kind of estimator it is (see below), and
  refuses, with the fix in the message, when the member would silently lose
  them (delays or folds inside it would then cross run boundaries);
- :func:`fit_predict_fold` fits a clone on a fold's training samples and
  predicts its test samples, with :func:`fold_groups` for the run labels of
  each part;
- :func:`held_out_labels` gives the fold in which each sample is held out,
  :func:`as_2d_predictions` checks a member's predictions;
- :class:`_MemberComposition` gives nested ``<member>__<param>`` parameters
  through scikit-learn's composition base, so ``GridSearchCV`` reaches members;
- :func:`seed_members`, :func:`check_member` and :func:`parallel_fits` (joblib
  with a progress bar).

The internal folds over runs are :func:`brainenc.model_selection.
_estimator_folds`, the one rule every estimator of the library uses.

How a member gets ``groups``
----------------------------
In this order:

1. its method names ``groups`` (brainenc's estimators, ``Delayer``): passed;
2. the method belongs to a wrapped estimator (``FrozenEstimator``
   delegates ``predict`` to the estimator it freezes): these rules applied to
   that estimator;
3. a fitted search (``GridSearchCV`` with ``best_estimator_``) predicts
   through its best estimator, by these rules;
4. scikit-learn's metadata routing is enabled and the member routes metadata
   (a ``Pipeline``, a ``GridSearchCV``...): passed when the member routes
   ``groups`` for that method; otherwise, when it holds an
   estimator that takes ``groups`` and has not refused them explicitly, an
   error says which ``set_*_request`` calls to make, or that the member does
   not route them at all;
5. routing is off and the member is a ``Pipeline``: its ``fit``,
   ``predict`` and ``transform`` run the steps one by one, each step getting
   ``groups`` by these same rules (what the Pipeline's own methods do, steps
   fitted in place as without ``memory``, with the runs handed on; a step
   whose ``transform`` takes ``groups`` but whose ``fit_transform`` would not
   pass them on is fitted, then transformed);
6. routing is off and the member is another meta-estimator holding an
   estimator that takes ``groups``: an error says to enable routing (such
   meta-estimators do not reliably hand ``groups`` on without it);
7. its method takes ``**params`` and it routes nothing (it is not a
   meta-estimator): passed (``TransformerMixin.fit_transform``, which hands
   its ``**params`` to ``fit``, only when ``fit`` takes them);
8. otherwise (``Ridge``, a ``Pipeline`` of estimators that ignore time):
   called without ``groups``; nothing in it could use them.
"""

import inspect

import numpy as np
from sklearn import get_config
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.metadata_routing import MetadataRouter, get_routing_for_object

# scikit-learn's joblib wrappers: every call sees the caller's configuration
# (metadata routing on or off), in threads and processes alike.
from sklearn.utils.parallel import Parallel, delayed

from ._compat import _BaseComposition
from ._progress import progress_bar

__all__ = [
    "as_2d_predictions",
    "call_member",
    "check_member",
    "check_member_names",
    "fit_predict_fold",
    "fold_groups",
    "held_out_labels",
    "parallel_fits",
    "seed_members",
]

#: Methods through which an estimator can take run labels.
_GROUPS_METHODS = ("fit", "fit_transform", "transform", "predict", "partial_fit")

_ROUTING_FIX = "sklearn.set_config(enable_metadata_routing=True)"


# ------------------------------------------------------------- calling members
def call_member(member, method, *args, groups, name, owner):
    """Call ``member.<method>(*args)`` with the run labels ``groups``.

    Parameters
    ----------
    member : estimator
        The member (fitted for ``predict`` and ``transform``).
    method : {"fit", "predict", "transform", "fit_transform"}
        The method to call.
    *args
        Its positional arguments (``X``, or ``X, y``).
    groups : ndarray of shape (n_samples,) or None
        Run labels of the rows of ``X``; ``None`` calls the method as is.
    name : str
        The member's name (in error messages).
    owner : str
        The model over models, or function, calling it (in error messages).

    Returns
    -------
    result
        What the method returns.

    Raises
    ------
    ValueError
        If the member would silently lose ``groups`` (see the module
        docstring); the message names the member, ``groups`` and the fix.
    """
    func = getattr(member, method)
    if groups is None:
        return func(*args)
    how = _groups_plan(member, method, name=name, owner=owner)
    if how == "pass":
        return func(*args, groups=groups)
    if how == "steps":
        return _run_pipeline(member, method, args, groups, name=name, owner=owner)
    if how == "delegate":
        return call_member(
            func.__self__, method, *args, groups=groups, name=name, owner=owner
        )
    if how == "best_estimator":
        return call_member(
            member.best_estimator_, method, *args, groups=groups, name=name, owner=owner
        )
    return func(*args)


def _groups_plan(member, method, *, name, owner):
    """How ``member.<method>`` gets ``groups``: "pass" (as a keyword),
    "steps" (a Pipeline run step by step), "delegate" (the method belongs to
    a wrapped estimator, e.g. ``FrozenEstimator``'s) or "plain" (not at all)."""
    if _names_groups(member, method):
        return "pass"
    owner_of_method = getattr(getattr(member, method, None), "__self__", member)
    if owner_of_method is not member and hasattr(owner_of_method, "get_params"):
        return "delegate"
    if method in ("predict", "transform") and hasattr(member, "best_estimator_"):
        # a fitted search (refit=True) predicts with its best estimator
        return "best_estimator"
    router = _is_router(member)
    if get_config()["enable_metadata_routing"] and router:
        consumed = get_routing_for_object(member).consumes(method, ["groups"])
        if consumed:
            return "pass"
        _refuse_unrouted_requests(member, method, name=name, owner=owner)
        return "plain"
    if isinstance(member, Pipeline):
        return "steps"
    aware = _groups_aware_components(member, splitters=True)
    if aware:
        calls = _request_calls(aware)
        raise ValueError(
            f"{owner} cannot hand groups (the run labels) to member {name!r}: "
            f"{type(member).__name__} holds {_describe(aware)}, which take "
            f"groups, but {type(member).__name__}.{method} does not pass them on "
            "without scikit-learn's metadata routing, so delays or folds inside "
            f"it would cross run boundaries. Enable routing with {_ROUTING_FIX}"
            + (f" and request groups with {calls}." if calls else ".")
        )
    if not router and _takes_var_keyword(member, method):
        if method == "fit_transform" and _inherits_fit_transform(member):
            # TransformerMixin.fit_transform hands its **params to fit only
            return "pass" if _takes_groups(member, "fit") else "plain"
        return "pass"
    return "plain"


def _takes_groups(est, method):
    """Whether ``est.<method>`` accepts a ``groups`` keyword."""
    return _names_groups(est, method) or (
        not _is_router(est) and _takes_var_keyword(est, method)
    )


def _inherits_fit_transform(est):
    from sklearn.base import TransformerMixin

    return getattr(type(est), "fit_transform", None) is TransformerMixin.fit_transform


def _run_pipeline(pipeline, method, args, groups, *, name, owner):
    """A Pipeline's ``method`` step by step, each step with ``groups``.

    What ``Pipeline.fit``/``fit_transform``/``predict``/``transform`` do
    (steps fitted in place, as a Pipeline without ``memory`` does), with the
    run labels handed to every step that takes them.
    """
    fitting = method in ("fit", "fit_transform")
    Xt = args[0]
    y = args[1] if fitting and len(args) > 1 else None
    final = pipeline.steps[-1][1]
    final_active = not (
        final is None or (isinstance(final, str) and final == "passthrough")
    )
    steps = _active_steps(pipeline)
    transformers = steps[:-1] if final_active else steps
    kwargs = {"groups": groups, "name": name, "owner": owner}
    for _, step in transformers:
        if not fitting:
            Xt = call_member(step, "transform", Xt, **kwargs)
        elif _fit_transform_keeps_groups(step):
            Xt = call_member(step, "fit_transform", Xt, y, **kwargs)
        else:
            call_member(step, "fit", Xt, y, **kwargs)
            Xt = call_member(step, "transform", Xt, **kwargs)
    if not final_active:
        return pipeline if method == "fit" else Xt
    if method == "fit":
        call_member(final, "fit", Xt, y, **kwargs)
        return pipeline
    if method == "fit_transform":
        if _fit_transform_keeps_groups(final):
            return call_member(final, "fit_transform", Xt, y, **kwargs)
        call_member(final, "fit", Xt, y, **kwargs)
        return call_member(final, "transform", Xt, **kwargs)
    return call_member(final, method, Xt, **kwargs)


def _fit_transform_keeps_groups(step):
    """Whether ``step.fit_transform`` can be called for a fitting Pipeline
    step: it names groups, or the step's transform does not want them (the
    default ``TransformerMixin.fit_transform`` gives them to ``fit`` only, so
    a step whose transform takes them is fitted, then transformed)."""
    if not hasattr(step, "fit_transform"):
        return False
    if isinstance(step, Pipeline) or _names_groups(step, "fit_transform"):
        return True
    return not _takes_groups(step, "transform")


def _active_steps(pipeline):
    return [
        (step_name, step)
        for step_name, step in pipeline.steps
        if step is not None and not (isinstance(step, str) and step == "passthrough")
    ]


def _refuse_unrouted_requests(member, method, *, name, owner):
    """With routing on and ``member.<method>`` not routing groups: error if an
    estimator inside takes groups and has not refused them explicitly (it
    would silently not get them)."""
    unset, requested = [], []
    for component in _groups_aware_components(member):
        try:
            request = component.get_metadata_routing()
        except AttributeError:  # pragma: no cover - not a scikit-learn estimator
            continue
        values = [
            getattr(getattr(request, m, None), "requests", {}).get("groups", False)
            for m in _GROUPS_METHODS
        ]
        if any(value is None for value in values):
            unset.append(component)
        elif any(value not in (False, None) for value in values):
            requested.append(component)
    if unset:
        raise ValueError(
            f"{owner} cannot hand groups (the run labels) to member {name!r}: "
            f"metadata routing is enabled, but {_describe(unset)} inside "
            f"{type(member).__name__} {'does' if len(unset) == 1 else 'do'} not "
            "request them, so delays or folds there would cross run boundaries. "
            f"Request them with {_request_calls(unset)} (or set the requests "
            "to False to leave the runs out on purpose)."
        )
    if requested:
        raise ValueError(
            f"{owner} cannot hand groups (the run labels) to member {name!r}: "
            f"{type(member).__name__}.{method} does not route them to "
            f"{_describe(requested)} inside it, even under metadata routing, so "
            "delays or folds there would cross run boundaries. Use a member "
            f"whose {method} hands them on (a Pipeline, or the fitted estimator "
            "itself)."
        )


def _names_groups(est, method):
    params = _parameters(est, method)
    return params is not None and "groups" in params


def _takes_var_keyword(est, method):
    params = _parameters(est, method)
    return params is not None and any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    )


def _parameters(est, method):
    func = getattr(est, method, None)
    if func is None:
        return None
    try:
        return inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return None


def _is_router(est):
    try:
        return isinstance(get_routing_for_object(est), MetadataRouter)
    except Exception:
        return False


def _groups_aware_components(est, *, splitters=False):
    """Estimators inside ``est`` (not ``est`` itself, at any depth) whose
    methods name groups; with ``splitters``, also the cross-validation
    splitters inside that split by groups (a search's ``cv=GroupKFold()``)."""
    found, seen, todo = [], {id(est)}, [est]
    while todo:
        current = todo.pop()
        try:
            params = current.get_params(deep=True)
        except Exception:
            continue
        for value in params.values():
            if splitters and _splits_by_groups(value) and id(value) not in seen:
                seen.add(id(value))
                found.append(value)
                continue
            if isinstance(value, type) or not hasattr(value, "get_params"):
                continue
            if id(value) in seen:
                continue
            seen.add(id(value))
            todo.append(value)
            if any(_names_groups(value, m) for m in _GROUPS_METHODS):
                found.append(value)
    return found


def _splits_by_groups(value):
    """Whether ``value`` is a splitter whose ``split`` requests groups."""
    if isinstance(value, type) or not callable(getattr(value, "split", None)):
        return False
    try:
        requests = get_routing_for_object(value).split.requests
    except Exception:
        return False
    return requests.get("groups") is True


def _describe(components):
    names = sorted({type(c).__name__ for c in components})
    return ", ".join(names)


def _request_calls(components):
    calls = []
    for component in components:
        methods = [
            m for m in ("fit", "transform", "predict") if _names_groups(component, m)
        ]
        if not methods:  # a splitter: it requests groups by default
            continue
        call = f"{type(component).__name__}()" + "".join(
            f".set_{m}_request(groups=True)" for m in methods
        )
        if call not in calls:
            calls.append(call)
    return " and ".join(calls)


# ----------------------------------------------------------------------- folds
def fold_groups(groups, indices):
    """Run labels of the samples ``indices`` of a fold, as a member sees them.

    The labels ``groups[indices]``, unless a run is cut by samples left out of
    ``indices`` (no ``groups``, or folds that split runs): then every
    contiguous piece of a run becomes a run of its own (labels ``0, 1,
    ...``), so that no delay or window of the member bridges the gap.

    Parameters
    ----------
    groups : ndarray of shape (n_samples,)
        Run labels of all samples (validated: contiguous runs).
    indices : ndarray of int
        Sorted samples of the fold's training or test part.

    Returns
    -------
    labels : ndarray of shape (len(indices),)
    """
    indices = np.asarray(indices)
    labels = groups[indices]
    if indices.size < 2:
        return labels
    gap = np.diff(indices) != 1
    same_run = labels[1:] == labels[:-1]
    if not np.any(gap & same_run):
        return labels
    breaks = gap | ~same_run
    return np.concatenate([[0], np.cumsum(breaks)]).astype(np.intp)


def held_out_labels(folds, n_samples, *, owner):
    """Fold in which each sample is held out (-1: in no test set).

    Parameters
    ----------
    folds : list of (train, test) pairs
        The folds of out-of-fold predictions.
    n_samples : int
        Number of samples.
    owner : str
        The model or function whose ``cv`` this is (in error messages).

    Returns
    -------
    fold_of : ndarray of int of shape (n_samples,)

    Raises
    ------
    ValueError
        If a sample is in several test sets, or fewer than 2 samples are held
        out.
    """
    fold_of = np.full(n_samples, -1, dtype=np.intp)
    for f, (_, test) in enumerate(folds):
        already = fold_of[test] >= 0
        if np.any(already):
            raise ValueError(
                f"cv of {owner} must hold out every sample at most once (each "
                f"sample is predicted out of fold once), but fold {f} holds out "
                f"sample {int(np.asarray(test)[already][0])}, already held out by "
                f"fold {int(fold_of[test][already][0])}."
            )
        fold_of[test] = f
    n_held_out = int(np.sum(fold_of >= 0))
    if n_held_out < 2:
        raise ValueError(
            f"cv of {owner} must hold out at least 2 samples in its test sets, "
            f"got {n_held_out}."
        )
    return fold_of


def fit_predict_fold(member, X, y, groups, train, test, *, name, owner):
    """Fit a clone of ``member`` on ``train`` and predict ``test``.

    Parameters
    ----------
    member : estimator
        Unfitted member (cloned, never modified).
    X, y : ndarray
        All samples.
    groups : ndarray of shape (n_samples,)
        Run labels of all samples.
    train : ndarray of int or None
        Training samples (``None``: all of them).
    test : ndarray of int or None
        Samples to predict (``None``: no prediction).
    name, owner : str
        For error messages.

    Returns
    -------
    fitted : estimator
        The fitted clone.
    prediction : ndarray or None
        Its prediction of ``X[test]``.
    """
    estimator = clone(member)
    if train is None:
        call_member(estimator, "fit", X, y, groups=groups, name=name, owner=owner)
    else:
        call_member(
            estimator,
            "fit",
            X[train],
            y[train],
            groups=fold_groups(groups, train),
            name=name,
            owner=owner,
        )
    prediction = None
    if test is not None:
        prediction = call_member(
            estimator,
            "predict",
            X[test],
            groups=fold_groups(groups, test),
            name=name,
            owner=owner,
        )
    return estimator, prediction


def parallel_fits(function, jobs, n_jobs_total, *, n_jobs, verbose, desc):
    """``[function(*job) for job in jobs]`` through joblib, with a progress bar.

    Parameters
    ----------
    function : callable
    jobs : iterable of tuple
        Positional arguments of every call; a generator is consumed as joblib
        dispatches the calls, so large arguments (column blocks of ``X``)
        are not all made at once.
    n_jobs_total : int
        Number of calls (the bar's total).
    n_jobs : int or None
        joblib's ``n_jobs``.
    verbose : int
        Show a bar over the calls when true.
    desc : str
        Label of the bar.

    Returns
    -------
    results : list
        In the order of ``jobs``.
    """
    results = []
    with progress_bar(desc, n_jobs_total, verbose=verbose, unit="fit") as bar:
        outputs = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(function)(*job) for job in jobs
        )
        for output in outputs:
            results.append(output)
            bar.update()
    return results


def as_2d_predictions(prediction, n_samples, n_targets, *, name, owner, dtype=None):
    """A member's prediction as ``(n_samples, n_targets)``, or a clear error."""
    prediction = np.asarray(prediction, dtype=dtype)
    if prediction.ndim == 1:
        prediction = prediction[:, np.newaxis]
    if prediction.shape != (n_samples, n_targets):
        raise ValueError(
            f"{owner} member {name!r} predicted an array of shape "
            f"{prediction.shape}, expected ({n_samples}, {n_targets}) like y."
        )
    return prediction


# --------------------------------------------------------------------- members
def check_member(member, name, *, owner, methods=("fit", "predict")):
    """Error unless ``member`` has the ``methods``."""
    missing = [m for m in methods if not callable(getattr(member, m, None))]
    if missing:
        raise TypeError(
            f"{owner} member {name!r} must be an estimator with "
            f"{' and '.join(methods)} methods, got {type(member).__name__} "
            f"without {', '.join(missing)}."
        )


def check_member_names(names, *, argname, owner, reserved=()):
    """Error unless the member names are unique non-empty strings without
    ``"__"`` that are not a parameter of the owner (nested parameters
    ``<name>__<param>`` must be unambiguous)."""
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"{argname} names must be non-empty strings, got {name!r} for item {i}."
            )
        if "__" in name:
            raise ValueError(
                f"{argname} names must be non-empty strings without '__', got "
                f"{name!r} for item {i}."
            )
        if name in reserved:
            raise ValueError(
                f"{argname} name {name!r} conflicts with the parameter of {owner} "
                "of the same name; rename the member."
            )
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(
            f"{argname} names must be unique, got {repeated[0]!r} more than once."
        )


def seed_members(members, random_state):
    """Give every member whose ``random_state`` is None a seed from ``random_state``.

    One seed per member, drawn in order (so the same member gets the same
    seed in every fold and in the refit); members are cloned when seeded,
    never modified.
    """
    if random_state is None:
        return list(members)
    rng = check_random_state(random_state)
    seeded = []
    for member in members:
        seed = int(rng.randint(np.iinfo(np.int32).max))
        params = member.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None:
            member = clone(member).set_params(random_state=seed)
        seeded.append(member)
    return seeded


class _MemberComposition(_BaseComposition):
    """Nested ``<member>__<param>`` parameters over a list of members.

    Subclasses set ``_members_attr`` to the name of the attribute that holds
    the ``(name, estimator)`` pairs (a property for lists with more fields,
    as :class:`sklearn.compose.ColumnTransformer` does).
    """

    _members_attr = "estimators"

    def get_params(self, deep=True):
        """Get the parameters of this estimator and, with ``deep``, of its members.

        Parameters
        ----------
        deep : bool, default=True
            Also return every member by name and its parameters as
            ``<name>__<param>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params(self._members_attr, deep=deep)

    def set_params(self, **params):
        """Set the parameters of this estimator or of its members.

        Valid keys are this estimator's parameters, member names (to replace
        a member) and ``<name>__<param>`` for a member's parameters.

        Parameters
        ----------
        **params : dict
            Parameters to set.

        Returns
        -------
        self : estimator
            This estimator.
        """
        self._set_params(self._members_attr, **params)
        return self
