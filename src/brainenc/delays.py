"""Run-aware time delays (finite impulse response expansion of features).

A delay ``d`` (in samples) means that the response at time ``t`` depends on
the stimulus at ``t - d`` (MNE's sign convention: a positive delay looks into
the past of the stimulus, a negative one into its future, as EEG/MEG temporal
response functions do with lags before stimulus onset). Delayed copies are
zero-padded inside every run, so no value ever crosses a run boundary.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._compat import Integral, Interval, Real, _check_feature_names_in, _fit_context
from ._validation import (
    check_delays,
    check_groups,
    check_input_array,
    check_run_lengths,
    validate_X,
)

__all__ = ["Delayer", "delay_features", "delays_from_times"]


def delay_features(X, delays, groups=None):
    """Stack time-shifted copies of the features, zero-padded inside each run.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Stimulus features, time along axis 0.
    delays : int or array-like of int
        Delays in samples. An int ``n`` means the delays ``1, ..., n``; a
        sequence is taken as given (negative delays are allowed).
    groups : array-like of shape (n_samples,), default=None
        Run label of every sample (runs are contiguous). ``None`` means one
        run. Shifted values never cross a run boundary.

    Returns
    -------
    X_delayed : ndarray of shape (n_samples, n_features * n_delays)
        Column ``f * n_delays + k`` holds feature ``f`` delayed by
        ``delays[k]`` samples, so ``X_delayed.reshape(n_samples, n_features,
        n_delays)`` indexes features then delays. float32 and float64 inputs
        keep their dtype; other inputs become float64.

    Raises
    ------
    ValueError
        If ``X`` holds NaN or inf or is not 2-D, a run is shorter than the
        largest absolute delay (its delayed copy would be all padding), or
        ``groups`` is not a valid set of contiguous runs.
    TypeError
        If ``X`` does not hold real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc import delay_features
    >>> X = np.arange(1.0, 7.0)[:, None]
    >>> delay_features(X, [0, 1], groups=[0, 0, 0, 1, 1, 1])
    array([[1., 0.],
           [2., 1.],
           [3., 2.],
           [4., 0.],
           [5., 4.],
           [6., 5.]])
    """
    X = check_input_array(X, "X")
    return _delay_features(X, check_delays(delays), check_groups(groups, X.shape[0]))


def _delay_features(X, delays, groups):
    """:func:`delay_features` on validated inputs (a float array, delays and
    run labels), for the estimators that validated them already."""
    n_samples, n_features = X.shape
    out = np.zeros((n_samples, n_features, delays.size), dtype=X.dtype)
    for run in check_run_lengths(groups, delays):
        length = run.stop - run.start
        X_run = X[run]
        for k, delay in enumerate(delays):
            if delay >= 0:
                out[run.start + delay : run.stop, :, k] = X_run[: length - delay]
            else:
                out[run.start : run.stop + delay, :, k] = X_run[-delay:]
    return out.reshape(n_samples, n_features * delays.size)


def _delayed_columns(columns, n_delays):
    """Columns of the delayed design that hold the given input columns.

    Feature ``f`` at delay index ``k`` is column ``f * n_delays + k`` of
    :func:`delay_features`' output; the result lists, for every input
    column in order, its ``n_delays`` delayed columns.

    Parameters
    ----------
    columns : array-like of int
        Columns of the undelayed ``X``.
    n_delays : int
        Number of delays.

    Returns
    -------
    delayed : ndarray of int of shape (len(columns) * n_delays,)
    """
    columns = np.asarray(columns, dtype=np.intp)
    return (columns[:, None] * n_delays + np.arange(n_delays)).ravel()


def delays_from_times(tmin, tmax, sfreq):
    """Convert a lag window in seconds into delays in samples.

    Follows MNE's ``ReceptiveField`` convention: a positive time is a lag
    into the stimulus' past (the response follows the stimulus), a negative
    time a lag into its future. Both ends are included.

    Parameters
    ----------
    tmin, tmax : float
        First and last lag, in seconds (``tmin <= tmax``).
    sfreq : float
        Sampling frequency in Hz (``1 / TR`` for fMRI).

    Returns
    -------
    delays : ndarray of int
        ``round(tmin * sfreq), ..., round(tmax * sfreq)``.

    Examples
    --------
    >>> from brainenc import delays_from_times
    >>> delays_from_times(-0.1, 0.4, sfreq=10.0)
    array([-1,  0,  1,  2,  3,  4])
    >>> delays_from_times(2.0, 8.0, sfreq=1 / 2.0)  # fMRI, TR = 2 s
    array([1, 2, 3, 4])
    """
    for name, value in (("tmin", tmin), ("tmax", tmax), ("sfreq", sfreq)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a number, got {value!r}.")
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}.")
    if sfreq <= 0:
        raise ValueError(f"sfreq must be positive (Hz), got {sfreq!r}.")
    if tmin > tmax:
        raise ValueError(f"tmin must be <= tmax, got tmin={tmin!r} > tmax={tmax!r}.")
    smin = int(round(tmin * sfreq))
    smax = int(round(tmax * sfreq))
    return np.arange(smin, smax + 1, dtype=np.intp)


class Delayer(TransformerMixin, BaseEstimator):
    """Add run-aware delayed copies of the features (FIR expansion).

    Parameters
    ----------
    delays : int or array-like of int, default=4
        Delays in samples. An int ``n`` means ``1, ..., n``; a sequence is
        taken as given and may hold negative delays (lags before stimulus
        onset). The default suits fMRI at a TR of 1.5-2 s (2-8 s after the
        stimulus, around the peak of the haemodynamic response).

    Attributes
    ----------
    delays_ : ndarray of int
        The delays used, in samples.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    delay_features : The function under this transformer.
    brainenc.DelayedRidge : Ridge regression on delayed features.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc import Delayer
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> Delayer(delays=[0, 1]).fit_transform(X)
    array([[0., 0., 1., 0.],
           [2., 0., 3., 1.],
           [4., 2., 5., 3.],
           [6., 4., 7., 5.]])
    """

    _parameter_constraints = {
        "delays": [Interval(Integral, 1, None, closed="left"), "array-like"],
    }

    def __init__(self, delays=4):
        self.delays = delays

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, groups=None):
        """Record the number of features and validate the delays.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features.
        y : None
            Ignored.
        groups : array-like of shape (n_samples,), default=None
            Run labels; checked for consistency with ``X`` and against the
            largest delay (every run at least that long).

        Returns
        -------
        self : Delayer
            The fitted transformer.
        """
        X = validate_X(self, X, reset=True)
        self.delays_ = check_delays(self.delays)
        check_run_lengths(check_groups(groups, X.shape[0]), self.delays_)
        return self

    def transform(self, X, groups=None):
        """Return the delayed features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features.
        groups : array-like of shape (n_samples,), default=None
            Run labels; delayed values never cross a run boundary.

        Returns
        -------
        X_delayed : ndarray of shape (n_samples, n_features * n_delays)
            Feature-major layout (see :func:`delay_features`).
        """
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        return _delay_features(X, self.delays_, check_groups(groups, X.shape[0]))

    def fit_transform(self, X, y=None, groups=None):
        """Fit, then return the delayed features of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features.
        y : None
            Ignored.
        groups : array-like of shape (n_samples,), default=None
            Run labels.

        Returns
        -------
        X_delayed : ndarray of shape (n_samples, n_features * n_delays)
            Feature-major layout (see :func:`delay_features`).
        """
        return self.fit(X, y, groups=groups).transform(X, groups=groups)

    def get_feature_names_out(self, input_features=None):
        """Names of the delayed features, ``"<feature>_delay<d>"``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input feature names; defaults to ``feature_names_in_`` or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            One name per output column, in the feature-major order.
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        return np.asarray(
            [f"{name}_delay{d}" for name in names for d in self.delays_], dtype=object
        )
