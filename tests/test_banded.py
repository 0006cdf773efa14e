import numpy as np
import pytest

from brainenc import DelayedRidge, delay_features, pearson_r
from brainenc.datasets import make_multispace_data


@pytest.fixture(scope="module")
def noise_space_data():
    # Every target is driven by space0 alone; space1 (three times wider) is
    # pure noise for every target.
    shares = np.zeros((2, 30))
    shares[0] = 1.0
    return make_multispace_data(
        n_samples=1000,
        space_sizes=(8, 24),
        n_targets=30,
        shares=shares,
        n_runs=5,
        snr=0.5,
        random_state=0,
    )


@pytest.mark.slow
def test_banded_penalises_the_noise_space_and_beats_plain_ridge(noise_space_data):
    X, y, groups, truth = noise_space_data
    train, test = groups < 4, groups == 4
    kwargs = {"feature_spaces": truth.feature_spaces, "backend": "numpy", "cv": 4}
    banded = DelayedRidge(banded=True, n_iter=20, random_state=0, **kwargs)
    banded.fit(X[train], y[train], groups=groups[train])
    plain = DelayedRidge(**kwargs).fit(X[train], y[train], groups=groups[train])

    assert banded.space_alphas_.shape == (2, 30)
    assert banded.space_names_ == ["space0", "space1"]
    larger = banded.space_alphas_[1] > banded.space_alphas_[0]
    assert larger.mean() >= 0.9
    r_banded = pearson_r(y[test], banded.predict(X[test], groups=groups[test]))
    r_plain = pearson_r(y[test], plain.predict(X[test], groups=groups[test]))
    assert r_banded.mean() > r_plain.mean()


def test_banded_with_uniform_weights_equals_plain_ridge_with_scaled_alphas(
    noise_space_data,
):
    # The first draw of space weights is uniform (1/n_spaces each): with one
    # draw, banded ridge is plain ridge with every alpha times n_spaces.
    X, y, groups, truth = noise_space_data
    alphas = np.logspace(0, 4, 5)
    banded = DelayedRidge(
        feature_spaces=truth.feature_spaces,
        banded=True,
        n_iter=1,
        alphas=alphas,
        cv=3,
        backend="numpy",
        dtype="float64",
    ).fit(X, y, groups=groups)
    plain = DelayedRidge(alphas=2 * alphas, cv=3, backend="numpy", dtype="float64").fit(
        X, y, groups=groups
    )
    np.testing.assert_allclose(banded.coef_, plain.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(banded.intercept_, plain.intercept_, atol=1e-9)
    np.testing.assert_allclose(banded.space_alphas_[0], plain.best_alphas_)
    np.testing.assert_allclose(banded.space_alphas_[1], plain.best_alphas_)
    np.testing.assert_allclose(banded.best_alphas_, plain.best_alphas_ / 2)


def test_predict_split_adds_up_to_the_prediction(noise_space_data):
    X, y, groups, truth = noise_space_data
    spaces = {"b": truth.feature_spaces["space1"], "a": truth.feature_spaces["space0"]}
    model = DelayedRidge(feature_spaces=spaces, cv=3, backend="numpy")
    model.fit(X, y, groups=groups)
    split = model.predict_split(X, groups=groups)
    assert split.shape == (2, 1000, 30)
    np.testing.assert_allclose(
        split.sum(0) + model.intercept_, model.predict(X, groups=groups), atol=1e-4
    )
    # each part is that space's own delayed features times its coefficients
    Xd = delay_features(X[:, 8:], model.delays_, groups)
    coef_b = model.coef_delays_[:, 8:, :].reshape(30, -1)
    np.testing.assert_allclose(split[0], Xd @ coef_b.T, rtol=1e-5, atol=1e-5)


def test_banded_errors(noise_space_data):
    X, y, groups, truth = noise_space_data
    with pytest.raises(ValueError, match="banded=True needs feature_spaces"):
        DelayedRidge(banded=True).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="standardize=True is not supported"):
        DelayedRidge(
            banded=True, standardize=True, feature_spaces=truth.feature_spaces
        ).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match=r"2 column\(s\) \(first: 30\) belong to no"):
        DelayedRidge(feature_spaces={"a": 10, "b": 20}).fit(X, y, groups=groups)
    model = DelayedRidge(cv=3, backend="numpy").fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="predict_split needs feature_spaces"):
        model.predict_split(X, groups=groups)


def test_banded_leaves_numpy_global_rng_alone(noise_space_data):
    X, y, groups, truth = noise_space_data
    np.random.seed(0)  # noqa: NPY002 - the global state is what is tested
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    DelayedRidge(
        feature_spaces=truth.feature_spaces,
        banded=True,
        n_iter=2,
        cv=3,
        backend="numpy",
    ).fit(X, y, groups=groups)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    a, b = (
        DelayedRidge(
            feature_spaces=truth.feature_spaces,
            banded=True,
            n_iter=3,
            cv=3,
            backend="numpy",
            random_state=7,
        ).fit(X, y, groups=groups)
        for _ in range(2)
    )
    np.testing.assert_array_equal(a.coef_, b.coef_)
