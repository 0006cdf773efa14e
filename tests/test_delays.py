import numpy as np
import pytest
import sklearn
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from brainenc import Delayer, delay_features, delays_from_times
from brainenc._validation import check_delays, check_groups


def _reference_delays(X, delays, groups):
    """Explicit double loop over samples: the definition of a run-aware delay."""
    n_samples, n_features = X.shape
    out = np.zeros((n_samples, n_features, len(delays)))
    for t in range(n_samples):
        for k, d in enumerate(delays):
            source = t - d
            if 0 <= source < n_samples and groups[source] == groups[t]:
                out[t, :, k] = X[source]
    return out.reshape(n_samples, -1)


@pytest.mark.parametrize("delays", [[1, 2, 3], [0], [-2, -1, 0, 1, 2], [3, -1], [-3]])
def test_delay_features_matches_definition(delays):
    rng = np.random.default_rng(0)
    groups = np.repeat([5, 1, 7], [9, 6, 11])
    X = rng.standard_normal((groups.size, 3))
    np.testing.assert_array_equal(
        delay_features(X, delays, groups), _reference_delays(X, delays, groups)
    )


def test_int_delays_mean_one_to_n():
    np.testing.assert_array_equal(check_delays(4), [1, 2, 3, 4])
    X = np.arange(10.0)[:, None]
    np.testing.assert_array_equal(delay_features(X, 2), delay_features(X, [1, 2]))


def test_no_value_crosses_a_run_boundary_in_either_direction():
    groups = np.repeat([0, 1, 2], 10)
    X = np.zeros((30, 2))
    X[10:20] = 1.0  # only run 1 is non-zero
    out = delay_features(X, [-3, -1, 0, 2, 4], groups)
    assert np.all(out[:10] == 0)
    assert np.all(out[20:] == 0)
    # inside run 1, each delayed copy is the run's own values with zero padding
    per_delay = out[10:20].reshape(10, 2, 5)[:, 0, :]
    np.testing.assert_array_equal(per_delay.sum(0), [7, 9, 10, 8, 6])


def test_layout_is_feature_major():
    X = np.column_stack([np.arange(6.0), 100 + np.arange(6.0)])
    out = delay_features(X, [0, 1]).reshape(6, 2, 2)
    np.testing.assert_array_equal(out[:, 0, 0], X[:, 0])
    np.testing.assert_array_equal(out[:, 1, 1], [0, 100, 101, 102, 103, 104])


def test_float32_kept_and_ints_promoted():
    X = np.ones((6, 2), dtype=np.float32)
    assert delay_features(X, 1).dtype == np.float32
    assert delay_features(X.astype(int), 1).dtype == np.float64


def test_input_not_modified():
    X = np.random.default_rng(1).standard_normal((8, 2))
    before = X.copy()
    delay_features(X, [-1, 1], np.repeat([0, 1], 4))
    np.testing.assert_array_equal(X, before)


def test_run_shorter_than_largest_delay_is_an_error():
    groups = np.repeat(["a", "b"], [10, 3])
    with pytest.raises(ValueError, match="run 'b' has 3 samples but delays reach 4"):
        delay_features(np.ones((13, 1)), 4, groups)
    with pytest.raises(ValueError, match="has 1 sample but delays reach 2"):
        delay_features(np.ones((1, 1)), [-2])


def test_groups_errors():
    with pytest.raises(ValueError, match="X has 5 samples but groups has 4"):
        check_groups([0, 0, 1, 1], 5)
    with pytest.raises(ValueError, match="run 0 appears in 2 separate pieces"):
        check_groups([0, 0, 1, 1, 0], 5)
    with pytest.raises(ValueError, match="NaN"):
        check_groups([0.0, np.nan], 2)


@pytest.mark.parametrize(
    ("delays", "error", "match"),
    [
        (0, ValueError, "must be >= 1, got 0"),
        ([], ValueError, "non-empty"),
        ([1, 1], ValueError, "must not repeat"),
        ([0.5, 1], TypeError, "integer numbers of samples"),
        ("12", TypeError, "got str"),
        (True, TypeError, "got bool"),
    ],
)
def test_bad_delays(delays, error, match):
    with pytest.raises(error, match=match):
        check_delays(delays)


def test_delays_from_times_follows_mne_convention():
    # MNE: smin = round(tmin * sfreq), smax = round(tmax * sfreq), inclusive
    np.testing.assert_array_equal(delays_from_times(-0.2, 0.3, 10.0), np.arange(-2, 4))
    np.testing.assert_array_equal(delays_from_times(0.0, 0.0, 100.0), [0])
    np.testing.assert_array_equal(delays_from_times(1.5, 6.0, 1 / 1.5), [1, 2, 3, 4])
    # a positive lag means the response follows the stimulus
    X = np.zeros((10, 1))
    X[2] = 1
    out = delay_features(X, delays_from_times(0.1, 0.1, 10.0))
    assert out[3, 0] == 1
    assert out.sum() == 1
    with pytest.raises(ValueError, match="tmin must be <= tmax"):
        delays_from_times(1.0, 0.5, 10.0)
    with pytest.raises(ValueError, match="sfreq must be positive"):
        delays_from_times(0.0, 0.5, 0.0)


def test_delayer_transformer_and_feature_names():
    X = np.arange(12.0).reshape(6, 2)
    groups = np.repeat([0, 1], 3)
    delayer = Delayer(delays=[0, 2]).fit(X, groups=groups)
    np.testing.assert_array_equal(delayer.delays_, [0, 2])
    np.testing.assert_array_equal(
        delayer.transform(X, groups=groups), delay_features(X, [0, 2], groups)
    )
    np.testing.assert_array_equal(
        delayer.get_feature_names_out(),
        ["x0_delay0", "x0_delay2", "x1_delay0", "x1_delay2"],
    )
    with pytest.raises(ValueError, match="X has 3 features"):
        delayer.transform(np.ones((6, 3)))


def test_delayer_receives_groups_through_pipeline_routing():
    X = np.arange(20.0)[:, None]
    groups = np.repeat([0, 1], 10)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            FunctionTransformer(),
            Delayer(delays=[1])
            .set_fit_request(groups=True)
            .set_transform_request(groups=True),
        )
        out = pipe.fit(X).transform(X, groups=groups)
    assert out[10, 0] == 0  # zero-padded at the start of run 1
    np.testing.assert_array_equal(out, delay_features(X, [1], groups))


def test_check_feature_spaces_forms_and_errors():
    from brainenc._validation import check_feature_spaces

    spaces = check_feature_spaces({"a": 2, "b": slice(2, 5), "c": [6, 5]}, 7)
    assert list(spaces) == ["a", "b", "c"]
    np.testing.assert_array_equal(spaces["a"], [0, 1])
    np.testing.assert_array_equal(spaces["b"], [2, 3, 4])
    np.testing.assert_array_equal(spaces["c"], [5, 6])
    np.testing.assert_array_equal(
        check_feature_spaces({"a": 3, "b": 2}, 5)["b"], [3, 4]
    )
    cases = [
        ({}, TypeError, "non-empty dict"),
        ({"a": 0}, ValueError, r"feature_spaces\['a'\] must hold at least one"),
        ({"a": [], "b": 5}, ValueError, r"\['a'\] selects no column"),
        ({"a": [0, 9]}, ValueError, "selects columns 0..9, but X has 5 features"),
        ({"a": 3, "b": [2, 3, 4]}, ValueError, "'a' and 'b' share column 2"),
        ({"a": 3}, ValueError, r"2 column\(s\) \(first: 3\) belong to no feature"),
        ({"a": "0:3"}, TypeError, "must be a slice"),
    ]
    for spec, error, match in cases:
        with pytest.raises(error, match=match):
            check_feature_spaces(spec, 5)
