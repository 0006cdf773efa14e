"""DelayedRidge with a negligible alpha reproduces nitime's FIR estimates.

nitime ships a real event-related fMRI recording (``event_related_fmri.csv``:
3360 TRs of BOLD, in percent signal change, from motion-sensitive voxels near
MT, and six trial types coded 1-6 in an ``events`` column, 0 elsewhere). Its
documented example analyses it with ``EventRelatedAnalyzer(bold, events,
len_et=15)`` at a TR of 2 s.

What ``EventRelatedAnalyzer(...).FIR`` computes (nitime 0.12):

* the BOLD and event series are padded with ``offset`` (here 0) zeros before
  and ``len_et`` zeros after;
* ``nitime.utils.fir_design_matrix`` builds one block of ``len_et`` columns
  per event type (sorted type values): column ``k`` of type ``e`` is 1 at
  row ``t`` when an event of type ``e`` happened at ``t - k``. That is
  exactly a delayed copy of the type's onset indicator at delays
  ``0, ..., len_et - 1``, zero-padded at the start (MNE sign), i.e. the
  feature-major layout of :func:`brainenc.delay_features`;
* ``nitime.algorithms.fir`` solves ordinary least squares,
  ``pinv(D.T @ D) @ D.T @ y``, with **no intercept column and no centring**
  of either the design or the BOLD signal;
* the result is reshaped to ``(n_event_types, len_et)``.

So the matching DelayedRidge is ``delays=range(len_et)`` with
``fit_intercept=False`` on the raw signal. The trailing zero padding adds
rows with y = 0; they would only matter if an event fell within ``len_et``
TRs of the end (the last onset here is 19 TRs before it, so those rows are
all-zero in the design too and change nothing). The test still fits on the
padded series, as nitime does, so that it is an exact replica.

With alpha = 1e-8 against a Gram matrix whose eigenvalues span 42-284
(96 onsets per type; the design is well conditioned), ridge differs from
OLS by a relative ``alpha / lambda_min`` ~ 2e-10. The observed largest
absolute difference is ~1.3e-10 (on coefficients of order 0.1-0.7), on both
backends; rtol=1e-6 with atol=1e-9 leaves margin for BLAS/LAPACK round-off
of two different solvers (pinv of the Gram matrix vs. an eigendecomposition)
while still failing on any real mismatch: fitting an intercept, for example,
moves the estimates by ~0.06.
"""

import os

import numpy as np
import pytest

from brainenc import DelayedRidge, delay_features

nitime = pytest.importorskip("nitime")

TR = 2.0
LEN_ET = 15  # lags in TRs, as in nitime's event_related_fmri example
ALPHA = 1e-8
RTOL, ATOL = 1e-6, 1e-9


def _load_nitime_data():
    path = os.path.join(
        os.path.dirname(nitime.__file__), "data", "event_related_fmri.csv"
    )
    data = np.genfromtxt(path, delimiter=",", names=True)
    return data["bold"], data["events"]


@pytest.fixture(scope="module")
def nitime_fir():
    import nitime.analysis as nta
    import nitime.timeseries as ts

    bold, events = _load_nitime_data()
    analyzer = nta.EventRelatedAnalyzer(
        ts.TimeSeries(bold, sampling_interval=TR),
        ts.TimeSeries(events, sampling_interval=TR),
        LEN_ET,
    )
    fir = np.asarray(analyzer.FIR.data)
    return bold, events, fir


def _indicator_design(bold, events):
    """One onset indicator column per event type, padded as nitime pads."""
    types = np.unique(events[events != 0])
    X = (events[:, None] == types[None, :]).astype(np.float64)
    # nitime appends len_et zeros to both series (offset=0: nothing before).
    X = np.vstack([X, np.zeros((LEN_ET, types.size))])
    y = np.concatenate([bold, np.zeros(LEN_ET)])
    return X, y, types


def _fit(X, y, backend):
    n = X.shape[0]
    folds = [
        (np.arange(n // 2), np.arange(n // 2, n)),
        (np.arange(n // 2, n), np.arange(n // 2)),
    ]
    model = DelayedRidge(
        delays=np.arange(LEN_ET),
        alphas=[ALPHA],
        cv=folds,
        fit_intercept=False,  # nitime's OLS has no intercept and no centring
        standardize=False,
        dtype="float64",
        backend=backend,
    )
    return model.fit(X, y)


def _check_against_nitime(model, fir, types):
    coef = model.coef_delays_
    assert coef.shape == (1, types.size, LEN_ET) == (1,) + fir.shape
    assert coef.dtype == np.float64
    np.testing.assert_allclose(coef[0], fir, rtol=RTOL, atol=ATOL)
    assert model.intercept_ == 0.0
    np.testing.assert_array_equal(model.best_alphas_, [ALPHA])


def test_nitime_data_and_design_are_what_the_test_assumes(nitime_fir):
    from nitime.utils import fir_design_matrix

    bold, events, fir = nitime_fir
    X, y, types = _indicator_design(bold, events)
    np.testing.assert_array_equal(types, np.arange(1, 7))
    assert fir.shape == (6, LEN_ET)
    # nitime's design is the feature-major delayed indicator matrix.
    padded_events = np.concatenate([events, np.zeros(LEN_ET)])
    np.testing.assert_array_equal(
        fir_design_matrix(padded_events, LEN_ET),
        delay_features(X, np.arange(LEN_ET)),
    )
    # The FIR is a haemodynamic response, not noise or zeros: every event
    # type peaks positive (0.4-0.7 % signal change) 2-4 TRs (4-8 s) after
    # onset, rises from a smaller value at onset, and is followed by a
    # post-stimulus undershoot (negative minimum after the peak).
    peak_lag = fir.argmax(axis=1)
    peak = fir.max(axis=1)
    assert np.all((peak_lag >= 2) & (peak_lag <= 4)), peak_lag
    assert np.all(peak > 0.3), peak
    assert np.all(fir[:, 0] < 0.5 * peak)
    for h, lag in zip(fir, peak_lag, strict=True):
        assert h[lag:].min() < -0.2 * h[lag]


def test_delayed_ridge_reproduces_nitime_fir_numpy(nitime_fir):
    bold, events, fir = nitime_fir
    X, y, types = _indicator_design(bold, events)
    model = _fit(X, y, backend="numpy")
    assert model.backend_ == "numpy"
    _check_against_nitime(model, fir, types)


def test_delayed_ridge_reproduces_nitime_fir_torch(nitime_fir):
    pytest.importorskip("torch")
    bold, events, fir = nitime_fir
    X, y, types = _indicator_design(bold, events)
    model = _fit(X, y, backend="torch")
    _check_against_nitime(model, fir, types)
