"""Property-based tests (hypothesis) of the invariants the library rests on.

Example counts are bounded so that the file runs in well under a minute.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from brainenc import (
    DelayedRidge,
    TargetwiseEnsemble,
    delay_features,
    pearson_r,
    solve_simplex_qp,
)

FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def runs_and_delays(draw):
    lengths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=5))
    max_lag = min(lengths)
    delays = draw(
        st.lists(st.integers(-max_lag, max_lag), min_size=1, max_size=4, unique=True)
    )
    return np.repeat(np.arange(len(lengths)), lengths), delays


@FAST
@given(runs_and_delays(), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_delays_never_cross_runs(runs, n_features, seed):
    groups, delays = runs
    X = np.random.default_rng(seed).standard_normal((groups.size, n_features))
    out = delay_features(X, delays, groups).reshape(groups.size, n_features, -1)
    for k, d in enumerate(delays):
        for t in range(groups.size):
            source = t - d
            inside = 0 <= source < groups.size and groups[source] == groups[t]
            expected = X[source] if inside else np.zeros(n_features)
            np.testing.assert_array_equal(out[t, :, k], expected)


@FAST
@given(
    st.integers(3, 40),
    st.integers(1, 4),
    st.floats(0.01, 100),
    st.floats(-1e3, 1e3),
    st.integers(0, 2**31 - 1),
)
def test_pearson_r_bounded_and_affine_invariant(n, n_targets, scale, shift, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n_targets))
    b = a * rng.uniform(-1, 1) + rng.standard_normal((n, n_targets))
    r = pearson_r(a, b)
    assert np.all(np.abs(r) <= 1)
    np.testing.assert_allclose(pearson_r(a * scale + shift, b), r, atol=1e-9)
    np.testing.assert_allclose(pearson_r(a, -b), -r, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(st.permutations(list(range(5))))
def test_delayed_ridge_invariant_to_permuting_whole_runs(order):
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(5), 40)
    X = rng.standard_normal((200, 3))
    y = delay_features(X, 2, groups) @ rng.standard_normal(
        (6, 4)
    ) + rng.standard_normal((200, 4))
    # Leave-one-run-out folds are the same set of folds in any run order.
    model = DelayedRidge(cv=5, backend="numpy", dtype="float64")
    ref = model.fit(X, y, groups=groups)
    ref_coef, ref_alphas = ref.coef_.copy(), ref.best_alphas_.copy()
    rows = np.concatenate([np.flatnonzero(groups == run) for run in order])
    permuted = DelayedRidge(cv=5, backend="numpy", dtype="float64").fit(
        X[rows], y[rows], groups=groups[rows]
    )
    np.testing.assert_allclose(permuted.coef_, ref_coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(permuted.best_alphas_, ref_alphas)


@FAST
@given(st.integers(2, 7), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_stacking_weights_stay_on_the_simplex(n_spaces, n_targets, seed):
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((n_targets, 30, n_spaces))
    P[:, :, 0] = P[:, :, -1]  # collinear predictions: a degenerate problem
    y = rng.standard_normal((n_targets, 30))
    Q = np.einsum("tns,tnr->tsr", P, P)
    b = np.einsum("tns,tn->ts", P, y)
    w = solve_simplex_qp(Q, b)  # (n_problems, n_spaces)
    assert np.all(w >= -1e-12)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-9)


@pytest.mark.parametrize("method", ["topk", "softmax", "mean"])
@settings(max_examples=8, deadline=None)
@given(alpha=st.floats(0.01, 100), seed=st.integers(0, 2**31 - 1))
def test_ensemble_of_one_member_equals_that_member(method, alpha, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 3))
    y = X @ rng.standard_normal((3, 2)) + rng.standard_normal((60, 2))
    groups = np.repeat(np.arange(4), 15)
    member = Ridge(alpha=alpha).fit(X, y)
    ensemble = TargetwiseEnsemble([("only", member)], method=method, prefit=True)
    ensemble.fit(X, y, groups=groups)
    np.testing.assert_allclose(ensemble.weights_, 1.0)
    np.testing.assert_allclose(ensemble.predict(X), member.predict(X), rtol=1e-12)


@FAST
@given(
    st.integers(1, 30),
    st.integers(1, 6),
    st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["nan", "inf"]))),
    st.sampled_from(["float32", "float64"]),
)
def test_bad_values_are_counted_and_the_first_is_located(n, p, bad, dtype):
    from brainenc._validation import check_finite

    X = np.zeros((n, p), dtype=dtype)
    for index, kind in bad:
        X.flat[index % X.size] = np.nan if kind == "nan" else -np.inf
    n_nan, n_inf = int(np.isnan(X).sum()), int(np.isinf(X).sum())
    if n_nan + n_inf == 0:
        check_finite(X, "X")  # nothing to report
        return
    with pytest.raises(ValueError) as error:
        check_finite(X, "X")
    message = str(error.value)
    row, col = np.argwhere(~np.isfinite(X))[0]
    assert f"the first at sample {row}, feature {col}:" in message
    for what, count in (("NaN", n_nan), ("inf", n_inf)):
        if count:
            assert f"{what} ({count} value{'s' if count > 1 else ''})" in message
        else:
            assert f"{what} (" not in message
