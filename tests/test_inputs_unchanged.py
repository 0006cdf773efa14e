"""Nothing a user passes in is modified: every estimator and public function.

The inputs are hashed (bytes, shape, dtype and strides) before and after
``fit``, ``predict``/``transform`` and ``score``, in float64 and in float32 (the
precision the solvers and networks compute in, where a missing copy would
write into the caller's array), and passed read-only, so an in-place write
fails loudly even where it would restore the values. The estimators come from
``_public_api.ESTIMATORS``; the functions are listed below.
"""

import copy
import hashlib

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from _public_api import ESTIMATORS, SPACES, fit, make_data, outputs
from brainenc import (
    DelayedRidge,
    StackedRegressor,
    ablate_feature_spaces,
    correlation_score,
    delay_features,
    noise_ceiling_cross_subject,
    noise_ceiling_repeats,
    normalized_correlation,
    pearson_r,
    r2_per_target,
    solve_simplex_qp,
    structured_variance_partitioning,
    targetwise_weights,
    variance_partitioning,
)
from brainenc.io import zscore_runs


def _digest(array):
    array = np.asarray(array)
    h = hashlib.sha256(np.ascontiguousarray(array).tobytes())
    h.update(repr((array.shape, array.dtype.str, array.strides)).encode())
    return h.hexdigest()


def _frozen(*arrays):
    """Read-only copies of the arrays and their digests."""
    out = []
    for array in arrays:
        array = np.array(array)
        array.setflags(write=False)
        out.append(array)
    return out, [_digest(a) for a in out]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("label", list(ESTIMATORS))
def test_estimators_leave_their_inputs_unchanged(label, dtype):
    spec = ESTIMATORS[label]
    X, y, groups = make_data(dtype=dtype)
    (X, y, groups), before = _frozen(X, y, groups)
    estimator = spec.make()
    params = copy.deepcopy(estimator.get_params(deep=False))
    fit(spec, estimator, X, y, groups)
    outputs(spec, estimator, X, groups)
    if spec.supervised:
        estimator.score(X, y, groups=groups)
    else:
        estimator.fit_transform(X, groups=groups)
    assert [_digest(a) for a in (X, y, groups)] == before
    # the constructor's parameters (feature_spaces dicts, member lists) too
    assert repr(estimator.get_params(deep=False)) == repr(params)


def test_estimator_with_nan_targets_leaves_them_unchanged():
    # the multi-subject path masks NaN in the loss and the score: on a copy
    pytest.importorskip("torch")
    spec = ESTIMATORS["ConvTemporalEncoder"]
    X, y, groups = make_data(dtype=np.float32)
    y[5:9, 1] = np.nan
    (X, y, groups), before = _frozen(X, y, groups)
    model = fit(spec, spec.make(), X, y, groups)
    model.score(X, y, groups=groups)
    assert [_digest(a) for a in (X, y, groups)] == before


def _ridge():
    return DelayedRidge(delays=[0, 1], backend="numpy", cv=2)


def _function_calls():
    X, y, groups = make_data()
    rng = np.random.default_rng(3)
    repeats = rng.standard_normal((3, 40, 4))
    scores = rng.uniform(-0.2, 0.8, (3, 5))
    Q = np.einsum("tns,tnr->tsr", *(2 * [rng.standard_normal((4, 20, 3))]))
    b = rng.standard_normal((4, 3))
    fitted = _ridge().fit(X, y, groups=groups)
    pred = fitted.predict(X, groups=groups)
    stacked = StackedRegressor(
        [("a", _ridge(), slice(0, 2)), ("b", _ridge(), slice(2, 4))], cv=2
    )
    y_nan = y.copy()
    y_nan[3, 0] = np.nan
    return {
        "delay_features": ((X, [0, 1], groups), {}, delay_features),
        "pearson_r": ((y, pred), {}, pearson_r),
        "pearson_r(omit)": ((y_nan, pred), {"nan_policy": "omit"}, pearson_r),
        "correlation_score": ((y, pred), {}, correlation_score),
        "r2_per_target": ((y, pred), {}, r2_per_target),
        "noise_ceiling_repeats": ((repeats,), {}, noise_ceiling_repeats),
        "noise_ceiling_cross_subject": (
            (np.hstack([y, y_nan]), 2),
            {},
            noise_ceiling_cross_subject,
        ),
        "normalized_correlation": (
            (scores[0], np.abs(scores[1])),
            {},
            normalized_correlation,
        ),
        "variance_partitioning": (
            (_ridge(), X, y, SPACES),
            {"groups": groups, "cv": 2},
            variance_partitioning,
        ),
        "ablate_feature_spaces": (
            (fitted, X, y, SPACES),
            {"groups": groups, "replace": "mean", "X_train": X},
            ablate_feature_spaces,
        ),
        "structured_variance_partitioning": (
            (stacked, X, y, groups),
            {"cv": 2},
            structured_variance_partitioning,
        ),
        "solve_simplex_qp": ((Q, b), {}, solve_simplex_qp),
        "targetwise_weights": ((scores,), {"method": "softmax"}, targetwise_weights),
        "zscore_runs": ((y_nan, groups), {}, zscore_runs),
    }


_CALLS = _function_calls()


@pytest.mark.parametrize("name", list(_CALLS))
def test_functions_leave_their_inputs_unchanged(name):
    args, kwargs, function = _CALLS[name]
    arrays = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    frozen, before = _frozen(*(args[i] for i in arrays))
    args = list(args)
    for i, array in zip(arrays, frozen, strict=True):
        args[i] = array
    kwargs_before = repr(kwargs)
    estimators_before = [repr(a.get_params()) for a in args if hasattr(a, "get_params")]
    function(*args, **kwargs)
    assert [_digest(a) for a in frozen] == before
    assert repr(kwargs) == kwargs_before
    assert [
        repr(a.get_params()) for a in args if hasattr(a, "get_params")
    ] == estimators_before


def test_prefit_members_are_used_not_refitted():
    # prefit=True must neither clone nor refit the members it was given
    from brainenc import TargetwiseEnsemble

    X, y, groups = make_data()
    member = Ridge().fit(X, y)
    coef = member.coef_.copy()
    TargetwiseEnsemble([("m", member)], prefit=True).fit(X, y, groups=groups)
    np.testing.assert_array_equal(member.coef_, coef)


def test_the_harness_catches_a_mutation():
    (X,), before = _frozen(np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match="read-only"):
        X[0, 0] = 1.0
    changed = np.array(X)
    changed[0, 0] = 1.0
    assert [_digest(changed)] != before
    assert [_digest(X.T.copy().T)] != before  # same values, other layout
