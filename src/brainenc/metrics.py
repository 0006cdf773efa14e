"""Scores of encoding models: Pearson r and R^2 per target, and a scorer.

The field scores an encoding model by the Pearson correlation between the
predicted and the recorded response of every target (voxel, parcel, channel),
averaged over targets. Every function here works column-wise on arrays of shape
``(n_samples, n_targets)``, in float64 whatever the input dtype, without a
Python loop over targets.

A target whose variance is zero has no defined correlation: it scores 0.0 (never
NaN) and one warning says how many such targets there were.
"""

import numbers
import warnings

import numpy as np
from sklearn.metrics import make_scorer
from sklearn.utils import Bunch

from ._validation import (
    Y_AXES,
    check_finite,
    check_input_array,
    check_numeric,
    check_y,
    n_rows,
    user_stacklevel,
)

__all__ = [
    "correlation_score",
    "correlation_scorer",
    "noise_ceiling_cross_subject",
    "noise_ceiling_repeats",
    "normalized_correlation",
    "pearson_r",
    "r2_per_target",
]

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


def noise_ceiling_repeats(responses, *, n_average=None):
    """Explainable variance and correlation ceiling from repeated presentations.

    When the same stimulus is presented several times, the variance of the
    responses across repeats estimates the noise, and what is left of the
    variance of the mean response is signal, the part of the response an
    encoding model of the stimulus can explain. With ``n`` repeats (axis 0)
    of ``y[i, t]`` (sample ``t``, one target):

    - noise variance: ``noise = mean over t of var(y[:, t], ddof=1)``, the
      across-repeat variance averaged over samples;
    - signal variance: ``signal = var(mean(y, axis=0), ddof=1) - noise / n``,
      the variance over time of the mean response minus the noise variance
      left in a mean of ``n`` repeats. This bias correction makes it an
      unbiased estimate of the variance of the signal; without it the signal
      variance is over-estimated by ``noise / n``.

    From these come the noise-ceiling signal-to-noise ratio ``ncsnr =
    sqrt(signal) / sqrt(noise)`` (Allen et al., 2022), the explainable
    variance of a response averaged over ``m`` repeats, ``signal / (signal
    + noise / m)`` (the NSD noise ceiling divided by 100; the "explainable
    variance" of Hsu et al., 2004 and Schoppe et al., 2016), and the
    correlation ceiling ``sqrt(explainable variance)``: the expected Pearson
    r between a perfect model (one that predicts the signal) and the
    recorded response.

    Parameters
    ----------
    responses : array-like of shape (n_repeats, n_samples, n_targets) or \
            (n_repeats, n_samples)
        Responses to ``n_repeats`` presentations of the same stimulus,
        aligned in time. At least 2 repeats and 2 samples; NaN is rejected.
    n_average : int, default=None
        Number of repeats averaged in the response that a model is scored
        against, for the ``*_mean`` ceilings. ``None`` means ``n_repeats``:
        the ceiling of a prediction of the mean over all repeats, the usual
        target of an encoding model fitted on averaged responses.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        Each value has shape (n_targets,) (a Python float for 2-D
        ``responses``):

        - ``signal_variance`` : the bias-corrected signal variance. Not
          clipped: it is unbiased and can be negative by sampling error
          where the signal is weak.
        - ``noise_variance`` : the noise variance of a single trial.
        - ``ncsnr`` : ``sqrt(max(signal_variance, 0) / noise_variance)``.
        - ``explainable_variance_mean`` : fraction of the variance of the mean
          of ``n_average`` repeats that is signal, in [0, 1].
        - ``correlation_ceiling_mean`` : its square root, the largest expected
          r of a prediction of the mean of ``n_average`` repeats.
        - ``explainable_variance_single`` and ``correlation_ceiling_single`` :
          the same for a single trial (``n_average=1``).
        - ``n_repeats``, ``n_average`` : the numbers of repeats used and
          assumed averaged.

        The explainable variances use the signal variance clipped at 0 (as
        the NSD noise ceiling does), so a target without detectable signal
        has ceilings of 0. A target whose responses are all constant has
        ceilings of 0, with a warning that counts them; a target without
        noise (identical repeats) has ceilings of 1 and an infinite ncsnr.

    Raises
    ------
    ValueError
        If ``responses`` is not 2-D or 3-D, holds NaN or inf, has fewer than
        2 repeats or 2 samples, or ``n_average`` is not a positive int.

    See Also
    --------
    noise_ceiling_cross_subject : Ceiling from other subjects' responses.
    normalized_correlation : Model r divided by a correlation ceiling.

    References
    ----------
    Hsu, Borst & Theunissen (2004). Quantifying variability in neural
    responses and its application for the validation of model predictions.
    Network 15(2).

    Schoppe, Harper, Willmore, King & Schnupp (2016). Measuring the
    performance of neural models. Front. Comput. Neurosci. 10:10.

    Allen et al. (2022). A massive 7T fMRI dataset to bridge cognitive
    neuroscience and artificial intelligence. Nat. Neurosci. 25.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.metrics import noise_ceiling_repeats
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.standard_normal((5000, 2)) * [1.0, 0.5]
    >>> responses = signal + rng.standard_normal((4, 5000, 2))  # 4 repeats
    >>> nc = noise_ceiling_repeats(responses)
    >>> np.round(nc.signal_variance, 1)  # truth: 1, 0.25
    array([1. , 0.2])
    >>> np.round(nc.explainable_variance_mean, 1)  # truth: 0.8, 0.5
    array([0.8, 0.5])
    >>> np.round(nc.correlation_ceiling_single, 1)  # truth: 0.71, 0.45
    array([0.7, 0.4])
    """
    responses = check_input_array(
        responses,
        "responses",
        dtype=np.float64,
        ndim=(2, 3),
        what="(n_repeats, n_samples, n_targets) or (n_repeats, n_samples)",
        axes=("repeat", "sample", "target"),
    )
    one_target = responses.ndim == 2
    if one_target:
        responses = responses[:, :, np.newaxis]
    n_repeats, n_samples, _ = responses.shape
    if n_repeats < 2 or n_samples < 2:
        raise ValueError(
            "responses must hold at least 2 repeats (axis 0) and 2 samples "
            f"(axis 1), got shape {responses.shape}."
        )
    if n_average is None:
        n_average = n_repeats
    if (
        not isinstance(n_average, numbers.Integral)
        or isinstance(n_average, bool)
        or n_average < 1
    ):
        raise ValueError(
            f"n_average must be a positive int (repeats averaged) or None, got "
            f"{n_average!r}."
        )
    noise = responses.var(axis=0, ddof=1).mean(axis=0)
    signal = responses.mean(axis=0).var(axis=0, ddof=1) - noise / n_repeats
    signal_clipped = np.maximum(signal, 0.0)
    constant = (signal_clipped == 0) & (noise == 0)
    if np.any(constant):
        warnings.warn(
            f"{int(constant.sum())} of {constant.size} targets have constant "
            "responses; their noise ceiling is set to 0.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        ncsnr = np.where(
            noise > 0, np.sqrt(signal_clipped / np.where(noise > 0, noise, 1)), 0.0
        )
    ncsnr[(noise == 0) & (signal_clipped > 0)] = np.inf
    ev_mean = _explainable_variance(signal_clipped, noise, n_average)
    ev_single = _explainable_variance(signal_clipped, noise, 1)
    result = {
        "signal_variance": signal,
        "noise_variance": noise,
        "ncsnr": ncsnr,
        "explainable_variance_mean": ev_mean,
        "correlation_ceiling_mean": np.sqrt(ev_mean),
        "explainable_variance_single": ev_single,
        "correlation_ceiling_single": np.sqrt(ev_single),
    }
    if one_target:
        result = {key: float(value[0]) for key, value in result.items()}
    return Bunch(**result, n_repeats=n_repeats, n_average=int(n_average))


def noise_ceiling_cross_subject(y, n_subjects):
    """Cross-subject noise ceiling: r of each subject with the others' mean.

    Subjects who saw the same stimulus share its signal and differ by their
    noise. For every subject and target, the mean response of the other
    subjects (over the subjects with a sample there) is a prediction of that
    subject's response made without any model; its Pearson r with the
    subject's response is the cross-subject noise ceiling: the accuracy of a
    "model" as good as the average of the other subjects.

    Parameters
    ----------
    y : array-like of shape (n_samples, n_subjects * n_targets)
        Responses of the subjects side by side, subject-major: the columns
        ``s * n_targets`` to ``(s + 1) * n_targets - 1`` are subject ``s``'s
        targets (the same targets, in the same order, for every subject).
        A subject's missing samples are NaN.
    n_subjects : int
        Number of subjects, at least 2.

    Returns
    -------
    ceiling : ndarray of shape (n_subjects, n_targets)
        Pearson r between each subject's response and the mean of the other
        subjects' responses, per target, over the samples where the subject
        and at least one other subject have a value. A target with fewer
        than 2 such samples or zero variance scores 0, with a warning.

    Raises
    ------
    ValueError
        If ``y`` is not 2-D, holds inf, ``n_subjects`` is not an int >= 2,
        or the number of columns is not a multiple of ``n_subjects``.

    See Also
    --------
    noise_ceiling_repeats : Ceiling from repeated presentations.
    normalized_correlation : Model r divided by a correlation ceiling.

    Notes
    -----
    With a shared signal of variance ``v`` and independent noise of variance
    ``n_s`` in subject ``s``, the expected ceiling of subject ``s`` among
    ``S`` subjects is ``v / sqrt((v + n_s) * (v + sum_{j != s} n_j /
    (S - 1) ** 2))``. The mean of the others is itself noisy, so this ceiling
    is lower than the correlation of the subject with the signal,
    ``sqrt(v / (v + n_s))``, the more so with fewer subjects.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.metrics import noise_ceiling_cross_subject
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.standard_normal((20000, 2))
    >>> y = np.hstack([signal + rng.standard_normal((20000, 2))
    ...                for _ in range(3)])  # 3 subjects, 2 targets each
    >>> np.round(noise_ceiling_cross_subject(y, 3), 1)  # truth: 0.58
    array([[0.6, 0.6],
           [0.6, 0.6],
           [0.6, 0.6]])
    """
    if (
        not isinstance(n_subjects, numbers.Integral)
        or isinstance(n_subjects, bool)
        or n_subjects < 2
    ):
        raise ValueError(
            f"n_subjects must be an int >= 2 (a ceiling needs other subjects), "
            f"got {n_subjects!r}."
        )
    y = check_input_array(
        y,
        "y",
        dtype=np.float64,
        what="(n_samples, n_subjects * n_targets)",
        axes=Y_AXES,
        allow_nan=True,
    )
    n_samples, n_columns = y.shape
    if n_columns % n_subjects:
        raise ValueError(
            f"y must have n_subjects * n_targets columns, but its {n_columns} "
            f"columns are not a multiple of n_subjects={n_subjects}."
        )
    n_targets = n_columns // n_subjects
    y = y.reshape(n_samples, n_subjects, n_targets)
    present = ~np.isnan(y)
    values = np.where(present, y, 0.0)
    others_count = present.sum(axis=1, keepdims=True) - present
    others_sum = values.sum(axis=1, keepdims=True) - values
    valid = present & (others_count > 0)
    others_mean = np.divide(
        others_sum, others_count, out=np.zeros_like(others_sum), where=valid
    )
    y_true = np.where(valid, y, np.nan).reshape(n_samples, n_columns)
    r = pearson_r(y_true, others_mean.reshape(n_samples, n_columns), nan_policy="omit")
    return r.reshape(n_subjects, n_targets)


def normalized_correlation(r, ceiling):
    """Model correlation divided by the noise ceiling: ``r / ceiling``.

    Parameters
    ----------
    r : float or array-like
        Pearson r of a model, per target (and subject).
    ceiling : float or array-like
        Correlation ceiling of the same targets (for instance
        ``correlation_ceiling_mean`` of :func:`noise_ceiling_repeats` or
        :func:`noise_ceiling_cross_subject`), broadcastable against ``r``.

    Returns
    -------
    r_normalized : float or ndarray
        ``r / ceiling``, of the broadcast shape (a Python float when both
        inputs are scalars). Where the ceiling is 0, negative, NaN or
        infinite the normalised correlation is undefined: it is NaN there,
        and a ``UserWarning`` says how many such values there were. Values
        above 1 (a model beating a noisy ceiling estimate) are kept as they
        are.

    Raises
    ------
    ValueError
        If ``r`` and ``ceiling`` do not broadcast together.

    See Also
    --------
    noise_ceiling_repeats, noise_ceiling_cross_subject : The ceilings.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.metrics import normalized_correlation
    >>> normalized_correlation([0.3, 0.4], [0.6, 0.8])
    array([0.5, 0.5])
    >>> normalized_correlation(0.2, 0.5)
    0.4
    """
    r = np.asarray(check_numeric(r, "r"), dtype=np.float64)
    ceiling = np.asarray(check_numeric(ceiling, "ceiling"), dtype=np.float64)
    try:
        r, ceiling = np.broadcast_arrays(r, ceiling)
    except ValueError as exc:
        raise ValueError(
            f"r and ceiling must broadcast together, got shapes {r.shape} and "
            f"{ceiling.shape}."
        ) from exc
    defined = np.isfinite(ceiling) & (ceiling > 0)
    out = np.divide(r, ceiling, out=np.full(r.shape, np.nan), where=defined)
    if not np.all(defined):
        n_bad = int(np.count_nonzero(~defined))
        warnings.warn(
            f"{n_bad} of {defined.size} noise ceilings are 0, negative or not "
            "finite; their normalized correlation is set to NaN.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return float(out) if out.ndim == 0 else out


class _CorrelationScoreMixin:
    """``score`` = mean Pearson r over targets, for the regressors of brainenc.

    Mixed in left of :class:`sklearn.base.RegressorMixin`. The regressor's
    ``predict`` takes ``groups``; ``score`` passes it on. Multi-subject
    regressors (NaN marks missing samples) override ``_score_nan_policy``.
    """

    def _score_nan_policy(self):
        return "raise"

    def score(self, X, y, groups=None, sample_weight=None):
        """Mean over targets of the Pearson correlation of predictions with ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True responses (NaN marks missing samples for multi-subject
            estimators, and is left out of their score).
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X``.
        sample_weight : None
            Not supported (accepted so that a ``Pipeline`` ending in this
            estimator can be scored under metadata routing); must be None.

        Returns
        -------
        score : float
            Mean Pearson r over targets (per-target values come from
            :func:`brainenc.pearson_r`).
        """
        if sample_weight is not None:
            raise ValueError(
                f"sample_weight is not supported by {type(self).__name__}.score "
                "(the mean Pearson r over targets is unweighted); got an array."
            )
        policy = self._score_nan_policy()
        y = check_y(y, n_rows(X), dtype="numeric", allow_nan=policy == "omit")
        prediction = self.predict(X, groups=groups)
        return float(correlation_score(y, prediction, nan_policy=policy))


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
        check_finite(
            y_true, "y_true", hint="Use nan_policy='omit' to ignore NaN.", axes=Y_AXES
        )
        check_finite(y_pred, "y_pred", axes=Y_AXES)
    else:
        missing = np.isnan(y_true)
        if np.any(missing):
            mask = ~missing
            check_finite(
                np.where(mask, y_true, 0),
                "y_true",
                hint="Only NaN marks a missing sample under nan_policy='omit'.",
                axes=Y_AXES,
            )
            check_finite(
                np.where(mask, y_pred, 0),
                "y_pred",
                hint="It must be finite wherever y_true is not NaN.",
                axes=Y_AXES,
            )
        else:
            check_finite(y_true, "y_true", axes=Y_AXES)
            check_finite(y_pred, "y_pred", axes=Y_AXES)
    return y_true, y_pred, mask, one_d


def _as_numeric(y, name):
    """Array of a numeric dtype, 1-D or 2-D, with NaN and inf left in place.

    Integer and float16 arrays keep their dtype: the column batches are cast
    to float64 one at a time (no float64 copy of a whole int16 BOLD array).
    """
    return check_input_array(
        y,
        name,
        dtype="numeric",
        ndim=(1, 2),
        what="(n_samples,) or (n_samples, n_targets)",
        axes=Y_AXES,
        ensure_finite=False,
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
            stacklevel=user_stacklevel(),
        )
    if np.any(constant):
        warnings.warn(
            f"{int(constant.sum())} of {n_targets} targets have zero variance in "
            f"{where}; their {what} is set to 0.",
            UserWarning,
            stacklevel=user_stacklevel(),
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


def _explainable_variance(signal, noise, n_average):
    """``signal / (signal + noise / n_average)``; 0 where both are 0."""
    total = signal + noise / n_average
    return np.divide(signal, total, out=np.zeros_like(total), where=total > 0)
