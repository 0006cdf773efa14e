"""Scores of encoding models: Pearson r and R^2 per target, and a scorer.

The field scores an encoding model by the Pearson correlation between the
predicted and the recorded response of every target (voxel, parcel, channel),
averaged over targets. Every function here works column-wise on arrays of shape
``(n_samples, n_targets)``, in float64 whatever the input dtype, without a
Python loop over targets.

A target whose variance is zero has no defined correlation: it scores 0.0 (never
NaN) and one warning says how many such targets there were.
"""

import warnings

import numpy as np
from sklearn.metrics import make_scorer
from sklearn.utils import check_array

__all__ = ["correlation_score", "correlation_scorer", "pearson_r", "r2_per_target"]

_NAN_POLICIES = ("raise", "omit")
_MULTIOUTPUT_OPTIONS = ("raw_values", "uniform_average")
# Columns per batch are chosen so that one float64 batch holds about this many
# elements (32 MiB): memory stays bounded at any number of targets.
_BATCH_ELEMENTS = 2**22


def pearson_r(y_true, y_pred, *, nan_policy="raise"):
    """Pearson correlation between truth and prediction, for every target.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        Recorded responses.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
        Predicted responses, of the same shape as ``y_true``.
    nan_policy : {"raise", "omit"}, default="raise"
        What to do with missing values. ``"raise"``: NaN or inf in either input
        is an error. ``"omit"``: for each target, the samples where ``y_true``
        is NaN are left out (a subject's missing samples in multi-subject data);
        ``y_pred`` must still be finite wherever ``y_true`` is not NaN, and a
        target with fewer than 2 remaining samples scores 0.

    Returns
    -------
    r : float or ndarray of shape (n_targets,)
        Correlation of each column, in [-1, 1]; a Python float for 1-D inputs.
        A target whose ``y_true`` or ``y_pred`` is constant scores 0.0, and a
        ``UserWarning`` says how many such targets there were.

    Raises
    ------
    ValueError
        If the shapes differ, an input is not 1-D or 2-D, there are fewer than
        2 samples, ``nan_policy`` is unknown, or an input holds NaN or inf that
        ``nan_policy`` does not allow.

    See Also
    --------
    correlation_score : The same correlations averaged over targets.
    r2_per_target : Coefficient of determination per target.

    Notes
    -----
    The columns are centred before their products are summed (a two-pass
    algorithm), so that a large offset (a BOLD baseline of 1e4, say) does not
    cost precision, and float32 inputs are promoted to float64.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.metrics import pearson_r
    >>> y_true = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0], [4.0, 3.0]])
    >>> y_pred = np.array([[2.0, 2.0], [4.0, 2.0], [6.0, 4.0], [8.0, 4.0]])
    >>> np.round(pearson_r(y_true, y_pred), 4)
    array([1.    , 0.8944])
    >>> round(pearson_r([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]), 4)
    -1.0
    """
    y_true, y_pred, mask, one_d = _check_targets(y_true, y_pred, nan_policy)
    n_targets = y_true.shape[1]
    r = np.zeros(n_targets, dtype=np.float64)
    constant = np.zeros(n_targets, dtype=bool)
    too_few = np.zeros(n_targets, dtype=bool)
    for cols in _batches(y_true.shape):
        valid = None if mask is None else mask[:, cols]
        t, n_t, const_t = _centred(y_true[:, cols], valid)
        p, _, const_p = _centred(y_pred[:, cols], valid)
        ok = ~(const_t | const_p) & (n_t >= 2)
        cov, norm = _cov_norm(t, p)
        if not np.all(np.isfinite(cov) & np.isfinite(norm) & ((norm > 0) | ~ok)):
            # Squares overflowed or underflowed: divide each column by its
            # largest absolute value (r is invariant to it) and start again.
            t /= _safe_scale(t)
            p /= _safe_scale(p)
            cov, norm = _cov_norm(t, p)
        r[cols] = np.divide(cov, norm, out=np.zeros_like(cov), where=ok)
        too_few[cols] = n_t < 2
        constant[cols] = ~ok & ~too_few[cols]
    _warn_undefined(too_few, constant, "y_true or y_pred", "correlation")
    np.clip(r, -1.0, 1.0, out=r)
    return float(r[0]) if one_d else r


def correlation_score(
    y_true, y_pred, *, multioutput="uniform_average", nan_policy="raise"
):
    """Pearson correlation score, averaged over targets.

    The field's score of an encoding model, in the style of
    :func:`sklearn.metrics.r2_score`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        Recorded responses.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
        Predicted responses, of the same shape as ``y_true``.
    multioutput : {"raw_values", "uniform_average"} or array-like of shape \
            (n_targets,), default="uniform_average"
        How to aggregate the per-target correlations. ``"raw_values"``: return
        them all; ``"uniform_average"``: their mean; an array of non-negative
        weights: their weighted average.
    nan_policy : {"raise", "omit"}, default="raise"
        Missing-value handling, as in :func:`pearson_r`.

    Returns
    -------
    score : float or ndarray of shape (n_targets,)
        The averaged correlation, or the per-target correlations with
        ``multioutput="raw_values"`` (an array of shape (1,) for 1-D inputs, as
        in scikit-learn).

    Raises
    ------
    ValueError
        If ``multioutput`` is neither a known option nor valid weights, or for
        the reasons given in :func:`pearson_r`.

    See Also
    --------
    pearson_r : Per-target correlations.
    correlation_scorer : This score as a scorer for model selection.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.metrics import correlation_score
    >>> y_true = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0], [4.0, 3.0]])
    >>> y_pred = np.array([[2.0, 2.0], [4.0, 2.0], [6.0, 4.0], [8.0, 4.0]])
    >>> round(correlation_score(y_true, y_pred), 4)
    0.9472
    >>> round(correlation_score(y_true, y_pred, multioutput=[3, 1]), 4)
    0.9736
    """
    if isinstance(multioutput, str):
        if multioutput not in _MULTIOUTPUT_OPTIONS:
            raise ValueError(
                f"multioutput must be one of {_MULTIOUTPUT_OPTIONS} or an array "
                f"of weights of shape (n_targets,), got {multioutput!r}."
            )
        weights = None
    else:
        weights = multioutput
    r = np.atleast_1d(pearson_r(y_true, y_pred, nan_policy=nan_policy))
    if weights is None:
        return r if multioutput == "raw_values" else float(np.mean(r))
    weights = _check_weights(weights, r.shape[0])
    return float(np.average(r, weights=weights))


correlation_scorer = make_scorer(correlation_score)
correlation_scorer.__doc__ = """Scorer of the mean Pearson r over targets.

Use as ``scoring=correlation_scorer`` in :class:`~sklearn.model_selection.\
GridSearchCV` or :func:`~sklearn.model_selection.cross_val_score`; greater is
better. It calls ``estimator.predict`` and :func:`correlation_score`.
"""


def r2_per_target(y_true, y_pred, *, nan_policy="raise"):
    """Coefficient of determination (R^2) of every target.

    Equal to ``sklearn.metrics.r2_score(y_true, y_pred,
    multioutput="raw_values")``, except that a target whose ``y_true`` is
    constant scores 0.0 (with a warning) instead of scikit-learn's 1.0 or
    -inf convention.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        Recorded responses.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
        Predicted responses, of the same shape as ``y_true``.
    nan_policy : {"raise", "omit"}, default="raise"
        Missing-value handling, as in :func:`pearson_r`.

    Returns
    -------
    r2 : float or ndarray of shape (n_targets,)
        R^2 of each column (at most 1, unbounded below); a Python float for
        1-D inputs. A target whose ``y_true`` is constant scores 0.0, and a
        ``UserWarning`` says how many such targets there were.

    Raises
    ------
    ValueError
        For the reasons given in :func:`pearson_r`.

    See Also
    --------
    pearson_r : Per-target correlations, the field's usual score.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.metrics import r2_per_target
    >>> y_true = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0], [4.0, 3.0]])
    >>> y_pred = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 4.0], [5.0, 3.0]])
    >>> np.round(r2_per_target(y_true, y_pred), 4)
    array([0.8, 0.8])
    """
    y_true, y_pred, mask, one_d = _check_targets(y_true, y_pred, nan_policy)
    n_targets = y_true.shape[1]
    r2 = np.zeros(n_targets, dtype=np.float64)
    constant = np.zeros(n_targets, dtype=bool)
    too_few = np.zeros(n_targets, dtype=bool)
    for cols in _batches(y_true.shape):
        valid = None if mask is None else mask[:, cols]
        t, n_t, const_t = _centred(y_true[:, cols], valid)
        resid = y_true[:, cols].astype(np.float64) - y_pred[:, cols]
        if valid is not None:
            resid[~valid] = 0.0
        ok = ~const_t & (n_t >= 2)
        ss_res = np.einsum("ij,ij->j", resid, resid)
        ss_tot = np.einsum("ij,ij->j", t, t)
        ratio = np.divide(ss_res, ss_tot, out=np.ones_like(ss_res), where=ok)
        r2[cols] = 1.0 - ratio
        too_few[cols] = n_t < 2
        constant[cols] = ~ok & ~too_few[cols]
    _warn_undefined(too_few, constant, "y_true", "R^2")
    return float(r2[0]) if one_d else r2


# --------------------------------------------------------------------------
# Private helpers
# --------------------------------------------------------------------------


def _check_targets(y_true, y_pred, nan_policy):
    """Validate both inputs; return 2-D arrays, the valid-sample mask, 1-D flag.

    The mask is None under ``nan_policy="raise"`` (every sample is valid).
    """
    if not isinstance(nan_policy, str) or nan_policy not in _NAN_POLICIES:
        raise ValueError(
            f"nan_policy must be one of {_NAN_POLICIES}, got {nan_policy!r}."
        )
    y_true = _as_numeric(y_true, "y_true")
    y_pred = _as_numeric(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got y_true of shape "
            f"{y_true.shape} and y_pred of shape {y_pred.shape}."
        )
    one_d = y_true.ndim == 1
    if one_d:
        y_true = y_true[:, np.newaxis]
        y_pred = y_pred[:, np.newaxis]
    if y_true.shape[0] < 2:
        raise ValueError(
            f"A correlation or R^2 needs at least 2 samples, got y_true of shape "
            f"{y_true.shape}."
        )
    mask = None
    if nan_policy == "raise":
        _check_finite(y_true, "y_true", "Use nan_policy='omit' to ignore NaN.")
        _check_finite(y_pred, "y_pred")
    else:
        missing = np.isnan(y_true)
        if np.any(missing):
            mask = ~missing
            _check_finite(
                np.where(mask, y_true, 0),
                "y_true",
                "Only NaN marks a missing sample under nan_policy='omit'.",
            )
            _check_finite(
                np.where(mask, y_pred, 0),
                "y_pred",
                "It must be finite wherever y_true is not NaN.",
            )
        else:
            _check_finite(y_true, "y_true")
            _check_finite(y_pred, "y_pred")
    return y_true, y_pred, mask, one_d


def _as_numeric(y, name):
    """Array of a numeric dtype, 1-D or 2-D, with NaN left in place."""
    y = check_array(
        y,
        dtype="numeric",
        ensure_all_finite=False,
        ensure_2d=False,
        allow_nd=True,
        ensure_min_samples=0,
        input_name=name,
    )
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_targets), "
            f"got an array of shape {y.shape}."
        )
    if y.dtype.kind == "c":
        raise ValueError(f"{name} must hold real numbers, got dtype {y.dtype}.")
    return y


def _check_finite(y, name, hint=""):
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        n_bad = int(np.count_nonzero(~np.isfinite(y)))
        raise ValueError(
            f"{name} contains NaN or inf ({n_bad} values). {hint}".rstrip()
        )


def _batches(shape):
    """Slices of columns holding about ``_BATCH_ELEMENTS`` elements each."""
    n_samples, n_targets = shape
    step = max(1, _BATCH_ELEMENTS // max(n_samples, 1))
    return [slice(i, min(i + step, n_targets)) for i in range(0, n_targets, step)]


def _centred(y, valid):
    """Centre the valid samples of each column, in float64; zero the others.

    Returns the centred copy, the number of valid samples per column and a
    flag for columns that are exactly constant over their valid samples.
    """
    y = y.astype(np.float64)  # always a copy: the caller's array is untouched
    if valid is None:
        n = np.full(y.shape[1], y.shape[0])
        constant = np.all(y == y[:1], axis=0)
        y -= y.mean(axis=0)
        return y, n, constant
    n = valid.sum(axis=0)
    y[~valid] = 0.0
    mean = y.sum(axis=0) / np.maximum(n, 1)
    y -= mean
    y[~valid] = 0.0
    big = np.where(valid, y, -np.inf).max(axis=0)
    small = np.where(valid, y, np.inf).min(axis=0)
    constant = (n >= 2) & (big == small)
    return y, n, constant


def _cov_norm(t, p):
    """Column-wise cross-product and product of norms of centred arrays."""
    cov = np.einsum("ij,ij->j", t, p)
    norm = np.sqrt(np.einsum("ij,ij->j", t, t)) * np.sqrt(np.einsum("ij,ij->j", p, p))
    return cov, norm


def _safe_scale(y):
    scale = np.abs(y).max(axis=0)
    scale[scale == 0] = 1.0
    return scale


def _warn_undefined(too_few, constant, where, what):
    n_targets = too_few.shape[0]
    if np.any(too_few):
        warnings.warn(
            f"{int(too_few.sum())} of {n_targets} targets have fewer than 2 "
            f"samples where y_true is not NaN; their {what} is set to 0.",
            UserWarning,
            stacklevel=3,
        )
    if np.any(constant):
        warnings.warn(
            f"{int(constant.sum())} of {n_targets} targets have zero variance in "
            f"{where}; their {what} is set to 0.",
            UserWarning,
            stacklevel=3,
        )


def _check_weights(weights, n_targets):
    try:
        weights = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"multioutput must be one of {_MULTIOUTPUT_OPTIONS} or an array of "
            f"weights of shape (n_targets,), got {weights!r}."
        ) from exc
    if weights.shape != (n_targets,):
        raise ValueError(
            f"multioutput weights must have shape (n_targets,) = ({n_targets},), "
            f"got shape {weights.shape}."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(
            f"multioutput weights must be finite and non-negative, got {weights!r}."
        )
    if weights.sum() == 0:
        raise ValueError("multioutput weights must not all be zero.")
    return weights
