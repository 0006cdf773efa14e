"""Bad input across the whole public API, as one table.

Every row is a call that must fail, the exception type it must raise and a
regular expression its message must match: the message names the argument,
what was expected and what was given. The rows for estimators are generated
from ``_public_api.ESTIMATORS`` (one line per public estimator, shared with the
nothing-mutated and persistence tests) crossed with the cases of DESIGN.md's
list that apply to it; the rows for functions are written out below.

The table holds 542 rows (``test_table_size_is_documented`` keeps this count
true): NaN and inf in ``X`` and ``y``, strings, objects, complex values and
sparse matrices, 1-D, 3-D and empty arrays, ``X``/``y``/``groups`` length
mismatches, non-contiguous, NaN and 2-D run labels, runs shorter than the
largest delay, empty, overlapping and out-of-range feature spaces, a CUDA GPU
asked for by name on a machine where torch sees none, parameters of the wrong
type or range, the same at predict and score time, and a model file saved by
another version.
A missing file is the one case that raises another type (FileNotFoundError,
as ``open`` does).
"""

import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Ridge

import brainenc
from _public_api import (
    ESTIMATORS,
    SPACES,
    fit,
    make_data,
    outputs,
    public_estimator_classes,
)
from brainenc import (
    BlockedKFold,
    DelayedRidge,
    StackedRegressor,
    ablate_feature_spaces,
    correlation_score,
    delay_features,
    delays_from_times,
    make_encoding_data,
    make_layered_data,
    make_multispace_data,
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
from brainenc.io import load_model, load_runs, save_model, zscore_runs
from brainenc.model_selection import check_run_cv

X0, Y0, G0 = make_data()


# ------------------------------------------------------------------ inputs
def _set(array, value, where=(3, 1)):
    out = array.astype(np.result_type(array.dtype, type(value)), copy=True)
    out[where] = value
    return out


def _noncontiguous_runs():
    return np.repeat([0, 1, 0, 2], 20)


def _short_run():
    # run 1 holds 2 samples, fewer than the largest delay (3)
    return np.repeat([0, 1, 2, 3], [38, 2, 20, 20])


def _objects_with_strings(X):
    out = X.astype(object)
    out[5, 2] = "1.5"
    return out


# Cases of the fit of every estimator: (name, kwargs of fit, exception,
# pattern). ``kwargs`` override X, y and groups.
_FIT_CASES = [
    (
        "X NaN",
        {"X": _set(X0, np.nan)},
        ValueError,
        r"^X contains NaN \(1 value\), the first at sample 3, feature 1: it must "
        r"be finite",
    ),
    (
        "X inf",
        {"X": _set(X0, -np.inf)},
        ValueError,
        r"^X contains inf \(1 value\), the first at sample 3, feature 1",
    ),
    (
        "X strings",
        {"X": X0.astype(str)},
        TypeError,
        r"^X must hold numbers, got strings \(dtype <U\d+\)",
    ),
    (
        "X objects holding strings",
        {"X": _objects_with_strings(X0)},
        TypeError,
        r"^X must hold numbers, got an object array holding strings "
        r"\(first: '1\.5'\)",
    ),
    (
        "X objects holding a dict",
        {"X": _set(X0.astype(object), {"a": 1})},
        TypeError,
        r"^X must hold numbers, got an object array holding a dict \(float\(\) "
        r"argument must be a string or a real number",
    ),
    (
        "X complex",
        {"X": X0 + 1j},
        ValueError,
        r"^X must hold real numbers, got complex values \(dtype complex128\)",
    ),
    (
        "X sparse",
        {"X": sp.csr_matrix(X0)},
        TypeError,
        r"^Sparse data was passed for X, but dense data is required",
    ),
    (
        "X ragged list",
        {"X": [[1.0, 2.0]] * 40 + [[1.0]] * 40},
        ValueError,
        r"^X must be an array-like of numbers of a regular shape, got a list",
    ),
    (
        "X 1-D",
        {"X": X0[:, 0]},
        ValueError,
        r"^X must be a 2-D array \(n_samples, n_features\), got an array of "
        r"shape \(80,\)\. Reshape your data",
    ),
    (
        "X 3-D",
        {"X": X0[:, :, None]},
        ValueError,
        r"^X must be a 2-D array \(n_samples, n_features\), got an array of "
        r"shape \(80, 4, 1\)",
    ),
    (
        "X without samples",
        {"X": X0[:0], "y": Y0[:0], "groups": G0[:0]},
        ValueError,
        r"^X must have at least 1 sample, got 0 sample\(s\) \(shape=\(0, 4\)\) "
        r"while a minimum of 1 is required",
    ),
    (
        "X without features",
        {"X": X0[:, :0]},
        ValueError,
        r"^X must have at least 1 feature, got 0 feature\(s\) \(shape=\(80, 0\)\)",
    ),
    (
        "groups shorter than X",
        {"groups": G0[:-1]},
        ValueError,
        r"^groups must have one run label per sample: X has 80 samples but "
        r"groups has 79",
    ),
    (
        "groups not contiguous",
        {"groups": _noncontiguous_runs()},
        ValueError,
        r"^groups must hold contiguous runs .* but run 0 appears in 2 separate "
        r"pieces",
    ),
    (
        "groups NaN",
        {"groups": _set(G0.astype(float), np.nan, 7)},
        ValueError,
        r"^groups must not contain NaN or inf run labels",
    ),
    (
        "groups 2-D",
        {"groups": G0[:, None]},
        ValueError,
        r"^groups must be a 1-D array of run labels of shape \(n_samples,\), got "
        r"an array of shape \(80, 1\)",
    ),
]

_Y_CASES = [
    (
        "y inf",
        {"y": _set(Y0, np.inf)},
        ValueError,
        r"^y contains inf \(1 value\), the first at sample 3, target 1",
    ),
    (
        "y strings",
        {"y": Y0.astype(str)},
        TypeError,
        r"^y must hold numbers, got strings \(dtype <U\d+\)",
    ),
    (
        "y complex",
        {"y": Y0 - 2j},
        ValueError,
        r"^y must hold real numbers, got complex values \(dtype complex128\)",
    ),
    (
        "y 3-D",
        {"y": Y0[:, :, None]},
        ValueError,
        r"^y must be a 1-D or 2-D array \(n_samples,\) or \(n_samples, "
        r"n_targets\), got an array of shape \(80, 3, 1\)",
    ),
    (
        "y without targets",
        {"y": Y0[:, :0]},
        ValueError,
        r"^y must have at least 1 target, got 0 target\(s\) \(shape=\(80, 0\)\)",
    ),
    (
        "y shorter than X",
        {"y": Y0[:-1]},
        ValueError,
        r"^X and y must have the same number of samples \(rows\), got X with 80 "
        r"and y with 79",
    ),
    (
        "y None",
        {"y": None},
        ValueError,
        r"requires y to be passed, but the target y is None",
    ),
]

_NAN_Y_CASE = (
    "y NaN",
    {"y": _set(Y0, np.nan)},
    ValueError,
    r"^y contains NaN \(1 value\), the first at sample 3, target 1: it must be "
    r"finite\. Responses must be complete",
)


def _delay_case(max_delay):
    return (
        "run shorter than the largest delay",
        {"groups": _short_run()},
        ValueError,
        r"Every run of groups must be at least as long as the largest delay: run "
        rf"1 has 2 samples but delays reach {max_delay} samples",
    )


# Cases of the constructor's feature_spaces: (name, spaces, pattern).
_SPACE_CASES = [
    (
        "feature space without columns",
        {"a": [0, 1, 2, 3], "b": []},
        r"^feature_spaces\['b'\] selects no column of X",
    ),
    (
        "feature spaces overlapping",
        {"a": [0, 1, 2], "b": [2, 3]},
        r"^feature_spaces must not overlap: spaces 'a' and 'b' share column 2",
    ),
    (
        "feature space out of range",
        {"a": [0, 1], "b": [2, 7]},
        r"^feature_spaces\['b'\] selects columns 2\.\.7, but X has 4 features",
    ),
    (
        "feature spaces not a dict",
        [("a", 2), ("b", 2)],
        r"The 'feature_spaces' parameter of \w+ must be an instance of 'dict'"
        r"( or None)?\. Got \[\('a', 2\), \('b', 2\)\] instead",
    ),
]

# A parameter of the wrong type or range, per class: (parameter, value,
# pattern of scikit-learn's parameter validation or our own).
_BAD_PARAMETER = {
    "DelayedRidge": ("alphas", -1.0, r"'alphas' parameter of DelayedRidge must be"),
    "DelayedRidge(banded)": (
        "n_iter",
        0,
        r"'n_iter' parameter of DelayedRidge must be an int in the range \[1, inf\)"
        r"\. Got 0 instead",
    ),
    "Delayer": ("delays", 1.5, r"'delays' parameter of Delayer must be"),
    "Residualizer": (
        "estimator",
        "ridge",
        r"'estimator' parameter of Residualizer must be an object implementing "
        r"'fit' and 'predict' or None\. Got 'ridge' instead",
    ),
    "StackedRegressor": (
        "final",
        "mean",
        r"'final' parameter of StackedRegressor must be a str among .*'convex'"
        r".* Got 'mean' instead",
    ),
    "StackedRegressor(feature_spaces)": (
        "cv",
        "five",
        # the one rule for internal folds (brainenc.model_selection) says it
        r"^cv must be an int, a cross-validation splitter \(with a split method\), "
        r"an iterable of \(train, test\) index arrays or None, got the string "
        r"'five'\.$",
    ),
    "TargetwiseEnsemble": (
        "k",
        0,
        r"'k' parameter of TargetwiseEnsemble must be an int in the range "
        r"\[1, inf\)\. Got 0 instead",
    ),
    "PCAMLPEncoder": (
        "dropout",
        1.5,
        r"'dropout' parameter of PCAMLPEncoder must be a float in the range",
    ),
    "PCAMLPEncoder(late)": (
        "interaction",
        "early",
        r"'interaction' parameter of PCAMLPEncoder must be a str among",
    ),
    "ConvTemporalEncoder": (
        "kernel_size",
        0,
        r"'kernel_size' parameter of ConvTemporalEncoder must be an int in the "
        r"range \[1, inf\)\. Got 0 instead",
    ),
    "MultimodalTransformerEncoder": (
        "layer_pooling",
        "max",
        r"'layer_pooling' parameter of MultimodalTransformerEncoder must be a str "
        r"among .*'attention'.* Got 'max' instead",
    ),
}

# Cases of predict (or transform) after a good fit: the X and groups cases of
# fit that apply to new data, and X with another number of features.
_PREDICT_CASES = [
    case
    for case in _FIT_CASES
    if case[0]
    in {
        "X NaN",
        "X strings",
        "X complex",
        "X 1-D",
        "groups shorter than X",
        "groups not contiguous",
    }
] + [
    (
        "X with fewer features",
        {"X": X0[:, :3]},
        ValueError,
        r"^X has 3 features, but \w+ is expecting 4 features as input",
    ),
]


def _fit_call(spec, X=X0, y=Y0, groups=G0, **params):
    def call():
        fit(spec, spec.make(**params), X, y, groups)

    return call


def _estimator_rows():
    rows = []
    for label, spec in ESTIMATORS.items():
        cases = list(_FIT_CASES)
        if spec.supervised:
            cases += _Y_CASES
            if not spec.nan_y:
                cases.append(_NAN_Y_CASE)
        if spec.delays:
            cases.append(_delay_case(spec.max_delay))
        for case, data, exc, pattern in cases:
            rows.append((f"{label}.fit: {case}", _fit_call(spec, **data), exc, pattern))
        if spec.spaces:
            for case, spaces, pattern in _SPACE_CASES:
                call = _fit_call(spec, feature_spaces=spaces)
                rows.append((f"{label}.fit: {case}", call, ValueError, pattern))
        if spec.device is not None:
            param, value = spec.device
            call = _fit_call(spec, **{param: value})
            pattern = (
                rf"^{param}='{value}' asks for a CUDA GPU, but torch sees none "
                r"\(torch\.cuda\.is_available\(\) is False\)"
            )
            rows.append(
                (f"{label}.fit: absent GPU", ("no_gpu", call), ValueError, pattern)
            )
        param, value, pattern = _BAD_PARAMETER[label]
        call = _fit_call(spec, **{param: value})
        rows.append((f"{label}: bad {param}", call, (ValueError, TypeError), pattern))
        predict_cases = list(_PREDICT_CASES)
        if spec.delays:
            predict_cases.append(_delay_case(spec.max_delay))
        for case, data, exc, pattern in predict_cases:
            rows.append(
                (f"{label}.predict: {case}", ("fitted", spec, data), exc, pattern)
            )
        if spec.supervised:
            score_cases = [c for c in _Y_CASES if c[0] != "y None"]
            if not spec.nan_y:
                score_cases.append(_NAN_Y_CASE)
            for case, data, exc, pattern in score_cases:
                rows.append(
                    (f"{label}.score: {case}", ("scored", spec, data), exc, pattern)
                )
    return rows


_FITTED = {}


def _fitted(spec):
    key = id(spec)
    if key not in _FITTED:
        _FITTED[key] = fit(spec, spec.make(), X0, Y0, G0)
    return _FITTED[key]


# --------------------------------------------------------------- functions
def _model_file_from_another_version():
    import tempfile
    from pathlib import Path

    model = DelayedRidge(delays=[0], backend="numpy", cv=2).fit(X0, Y0)
    path = save_model(Path(tempfile.mkdtemp()) / "model.pkl", model)
    header, _, payload = path.read_bytes().partition(b"\n")
    path.write_bytes(
        header.replace(brainenc.__version__.encode(), b"0.0.1") + b"\n" + payload
    )
    load_model(path)


def _partition(**kwargs):
    args = {
        "estimator": DelayedRidge(delays=[0], backend="numpy", cv=2),
        "X": X0,
        "y": Y0,
        "feature_spaces": SPACES,
        "groups": G0,
        "cv": 2,
        **kwargs,
    }
    variance_partitioning(args.pop("estimator"), args.pop("X"), args.pop("y"), **args)


def _stacked():
    return StackedRegressor(feature_spaces=SPACES, cv=2)


def _ablate(**kwargs):
    model = DelayedRidge(delays=[0], backend="numpy", cv=2).fit(X0, Y0)
    args = {"X": X0, "y": Y0, "feature_spaces": SPACES, **kwargs}
    ablate_feature_spaces(model, args.pop("X"), args.pop("y"), **args)


_R = np.random.default_rng(1).standard_normal((30, 3))

_FUNCTION_ROWS = [
    # delays
    (
        "delay_features: X NaN",
        lambda: delay_features(_set(X0, np.nan), [0, 1]),
        ValueError,
        r"^X contains NaN \(1 value\), the first at sample 3, feature 1",
    ),
    (
        "delay_features: X strings",
        lambda: delay_features(X0.astype(str), [0, 1]),
        TypeError,
        r"^X must hold numbers, got strings",
    ),
    (
        "delay_features: X complex",
        lambda: delay_features(X0 * 1j, [0, 1]),
        ValueError,
        r"^X must hold real numbers",
    ),
    (
        "delay_features: X 1-D",
        lambda: delay_features(X0[:, 0], [0, 1]),
        ValueError,
        r"^X must be a 2-D array \(n_samples, n_features\), got an array of shape "
        r"\(80,\)",
    ),
    (
        "delay_features: groups shorter than X",
        lambda: delay_features(X0, [0, 1], G0[:-1]),
        ValueError,
        r"^groups must have one run label per sample: X has 80 samples but groups "
        r"has 79",
    ),
    (
        "delay_features: groups not contiguous",
        lambda: delay_features(X0, [0, 1], _noncontiguous_runs()),
        ValueError,
        r"^groups must hold contiguous runs",
    ),
    (
        "delay_features: run shorter than the largest delay",
        lambda: delay_features(X0, [0, 3], _short_run()),
        ValueError,
        r"run 1 has 2 samples but delays reach 3 samples",
    ),
    (
        "delay_features: delays a string",
        lambda: delay_features(X0, "4"),
        TypeError,
        r"^delays must be an int or a sequence of ints \(samples\), got str '4'",
    ),
    (
        "delay_features: delays in seconds",
        lambda: delay_features(X0, [0.5, 1.5]),
        TypeError,
        r"^delays must hold integer numbers of samples, got \[0\.5, 1\.5\]",
    ),
    (
        "delay_features: delays 0",
        lambda: delay_features(X0, 0),
        ValueError,
        r"^delays as an int n means the delays 1\.\.n and must be >= 1, got 0",
    ),
    (
        "delay_features: delays repeated",
        lambda: delay_features(X0, [1, 1]),
        ValueError,
        r"^delays must not repeat a delay, got \[1, 1\]",
    ),
    (
        "delays_from_times: tmin a string",
        lambda: delays_from_times("0", 1.0, 10.0),
        TypeError,
        r"^tmin must be a number, got '0'",
    ),
    (
        "delays_from_times: sfreq 0",
        lambda: delays_from_times(0.0, 1.0, 0.0),
        ValueError,
        r"^sfreq must be positive \(Hz\), got 0\.0",
    ),
    (
        "delays_from_times: tmin > tmax",
        lambda: delays_from_times(1.0, 0.0, 10.0),
        ValueError,
        r"^tmin must be <= tmax, got tmin=1\.0 > tmax=0\.0",
    ),
    # metrics
    *[
        row
        for name, metric in (
            ("pearson_r", pearson_r),
            ("correlation_score", correlation_score),
            ("r2_per_target", r2_per_target),
        )
        for row in (
            (
                f"{name}: y_pred NaN",
                lambda metric=metric: metric(_R, _set(_R, np.nan)),
                ValueError,
                r"^y_pred contains NaN \(1 value\), the first at sample 3, target 1",
            ),
            (
                f"{name}: y_true inf",
                lambda metric=metric: metric(_set(_R, np.inf), _R),
                ValueError,
                r"^y_true contains inf \(1 value\), the first at sample 3, target 1",
            ),
            (
                f"{name}: shapes differ",
                lambda metric=metric: metric(_R, _R[:-1]),
                ValueError,
                r"^y_true and y_pred must have the same shape, got y_true of shape "
                r"\(30, 3\) and y_pred of shape \(29, 3\)",
            ),
            (
                f"{name}: y_true strings",
                lambda metric=metric: metric(_R.astype(str), _R),
                TypeError,
                r"^y_true must hold numbers, got strings",
            ),
            (
                f"{name}: y_pred complex",
                lambda metric=metric: metric(_R, _R + 1j),
                ValueError,
                r"^y_pred must hold real numbers, got complex values",
            ),
            (
                f"{name}: y_true 3-D",
                lambda metric=metric: metric(_R[:, :, None], _R[:, :, None]),
                ValueError,
                r"^y_true must be a 1-D or 2-D array .*got an array of shape "
                r"\(30, 3, 1\)",
            ),
            (
                f"{name}: no samples",
                lambda metric=metric: metric(_R[:0], _R[:0]),
                ValueError,
                r"^y_true must have at least 1 sample, got 0 sample\(s\)",
            ),
            (
                f"{name}: one sample",
                lambda metric=metric: metric(_R[:1], _R[:1]),
                ValueError,
                r"needs at least 2 samples, got y_true of shape \(1, 3\)",
            ),
            (
                f"{name}: no targets",
                lambda metric=metric: metric(_R[:, :0], _R[:, :0]),
                ValueError,
                r"^y_true must have at least 1 target, got 0 target\(s\)",
            ),
            (
                f"{name}: nan_policy unknown",
                lambda metric=metric: metric(_R, _R, nan_policy="propagate"),
                ValueError,
                r"^nan_policy must be one of \('raise', 'omit'\), got 'propagate'",
            ),
        )
    ],
    (
        "correlation_score: multioutput weights of the wrong shape",
        lambda: correlation_score(_R, _R, multioutput=[1.0, 2.0]),
        ValueError,
        r"^multioutput weights must have shape \(n_targets,\) = \(3,\), got shape "
        r"\(2,\)",
    ),
    (
        "noise_ceiling_repeats: 4-D responses",
        lambda: noise_ceiling_repeats(np.zeros((2, 3, 4, 5))),
        ValueError,
        r"^responses must be a 2-D or 3-D array \(n_repeats, n_samples, "
        r"n_targets\) or \(n_repeats, n_samples\), got an array of shape "
        r"\(2, 3, 4, 5\)",
    ),
    (
        "noise_ceiling_repeats: NaN",
        lambda: noise_ceiling_repeats(_set(np.ones((3, 5, 2)), np.nan, (1, 2, 0))),
        ValueError,
        r"^responses contains NaN \(1 value\), the first at repeat 1, sample 2, "
        r"target 0",
    ),
    (
        "noise_ceiling_repeats: strings",
        lambda: noise_ceiling_repeats(np.ones((3, 5, 2)).astype(str)),
        TypeError,
        r"^responses must hold numbers, got strings",
    ),
    (
        "noise_ceiling_cross_subject: n_subjects 1",
        lambda: noise_ceiling_cross_subject(_R, 1),
        ValueError,
        r"^n_subjects must be an int >= 2 \(a ceiling needs other subjects\), "
        r"got 1",
    ),
    (
        "noise_ceiling_cross_subject: columns not a multiple of n_subjects",
        lambda: noise_ceiling_cross_subject(_R, 2),
        ValueError,
        r"^y must have n_subjects \* n_targets columns, but its 3 columns are not "
        r"a multiple of n_subjects=2",
    ),
    (
        "noise_ceiling_cross_subject: y complex",
        lambda: noise_ceiling_cross_subject(_R[:, :2] + 1j, 2),
        ValueError,
        r"^y must hold real numbers",
    ),
    (
        "normalized_correlation: shapes differ",
        lambda: normalized_correlation(np.zeros(3), np.ones(4)),
        ValueError,
        r"^r and ceiling must broadcast together, got shapes \(3,\) and \(4,\)",
    ),
    (
        "normalized_correlation: r strings",
        lambda: normalized_correlation(["0.3"], 0.6),
        TypeError,
        r"^r must hold numbers, got strings",
    ),
    # analysis
    (
        "variance_partitioning: X NaN",
        lambda: _partition(X=_set(X0, np.nan)),
        ValueError,
        r"^X contains NaN \(1 value\), the first at sample 3, feature 1",
    ),
    (
        "variance_partitioning: y NaN",
        lambda: _partition(y=_set(Y0, np.nan)),
        ValueError,
        r"^y contains NaN \(1 value\), the first at sample 3, target 1",
    ),
    (
        "variance_partitioning: y shorter than X",
        lambda: _partition(y=Y0[:-1]),
        ValueError,
        r"^X and y must have the same number of samples \(rows\), got X with 80 "
        r"and y with 79",
    ),
    (
        "variance_partitioning: groups shorter than X",
        lambda: _partition(groups=G0[:-1]),
        ValueError,
        r"^groups must have one run label per sample",
    ),
    (
        "variance_partitioning: groups not contiguous",
        lambda: _partition(groups=_noncontiguous_runs()),
        ValueError,
        r"^groups must hold contiguous runs",
    ),
    (
        "variance_partitioning: feature spaces overlapping",
        lambda: _partition(feature_spaces={"a": [0, 1, 2], "b": [2, 3]}),
        ValueError,
        r"^feature_spaces must not overlap: spaces 'a' and 'b' share column 2",
    ),
    (
        "variance_partitioning: feature space without columns",
        lambda: _partition(feature_spaces={"a": [0, 1, 2, 3], "b": []}),
        ValueError,
        r"^feature_spaces\['b'\] selects no column of X",
    ),
    (
        "variance_partitioning: one feature space",
        lambda: _partition(feature_spaces={"a": 4}),
        ValueError,
        r"^feature_spaces must hold at least 2 spaces to partition variance, got 1",
    ),
    (
        "variance_partitioning: estimator without predict",
        lambda: _partition(estimator="ridge"),
        TypeError,
        r"^estimator must be an estimator with fit and predict methods",
    ),
    (
        "ablate_feature_spaces: X strings",
        lambda: _ablate(X=X0.astype(str)),
        TypeError,
        r"^X must hold numbers, got strings",
    ),
    (
        "ablate_feature_spaces: y strings",
        lambda: _ablate(y=Y0.astype(str)),
        TypeError,
        r"^y must hold numbers, got strings",
    ),
    (
        "ablate_feature_spaces: y shorter than X",
        lambda: _ablate(y=Y0[:-1]),
        ValueError,
        r"^X and y must have the same number of samples \(rows\), got X with 80 "
        r"and y with 79",
    ),
    (
        "ablate_feature_spaces: feature spaces overlapping",
        lambda: _ablate(feature_spaces={"a": [0, 1, 2], "b": [2, 3]}),
        ValueError,
        r"^feature_spaces must not overlap",
    ),
    (
        "ablate_feature_spaces: y NaN",
        lambda: _ablate(y=_set(Y0, np.nan)),
        ValueError,
        r"^y contains NaN \(1 value\)\. Use nan_policy='omit' to leave missing",
    ),
    (
        "ablate_feature_spaces: nan_policy unknown",
        lambda: _ablate(nan_policy="ignore"),
        ValueError,
        r"^nan_policy must be 'raise' or 'omit', got 'ignore'",
    ),
    (
        "ablate_feature_spaces: replace unknown",
        lambda: _ablate(replace="noise"),
        ValueError,
        r"^replace must be one of \('zeros', 'mean', 'null'\), got 'noise'",
    ),
    (
        "ablate_feature_spaces: train_mean of the wrong length",
        lambda: _ablate(replace="mean", train_mean=np.zeros(3)),
        ValueError,
        r"^train_mean must have the 4 features of X, got means of shape \(3,\)",
    ),
    (
        "structured_variance_partitioning: not a StackedRegressor",
        lambda: structured_variance_partitioning(Ridge(), X0, Y0, G0),
        TypeError,
        r"^estimator must be a StackedRegressor, got Ridge",
    ),
    (
        "structured_variance_partitioning: y shorter than X",
        lambda: structured_variance_partitioning(_stacked(), X0, Y0[:-1], G0),
        ValueError,
        r"^X and y must have the same number of samples",
    ),
    (
        "structured_variance_partitioning: X complex",
        lambda: structured_variance_partitioning(_stacked(), X0 + 1j, Y0, G0),
        ValueError,
        r"^X must hold real numbers",
    ),
    (
        "structured_variance_partitioning: order not a permutation",
        lambda: structured_variance_partitioning(
            _stacked(), X0, Y0, G0, order=["a", "c"]
        ),
        ValueError,
        r"^order must be a permutation of the space names \['a', 'b'\], got "
        r"\['a', 'c'\]",
    ),
    # stacking and ensembles
    (
        "solve_simplex_qp: Q not square",
        lambda: solve_simplex_qp(np.zeros((2, 3, 2)), np.zeros((2, 3))),
        ValueError,
        r"^Q must have shape \(n_problems, n_spaces, n_spaces\) and b shape "
        r"\(n_problems, n_spaces\), got Q \(2, 3, 2\) and b \(2, 3\)",
    ),
    (
        "solve_simplex_qp: NaN",
        lambda: solve_simplex_qp(
            _set(np.eye(2)[None].repeat(2, 0), np.nan, (0, 0, 1)), np.zeros((2, 2))
        ),
        ValueError,
        r"^Q and b must be finite",
    ),
    (
        "targetwise_weights: NaN score",
        lambda: targetwise_weights([[np.nan, 0.1]]),
        ValueError,
        r"^scores must be finite, got NaN or inf",
    ),
    (
        "targetwise_weights: scores strings",
        lambda: targetwise_weights([["0.3", "0.1"]]),
        TypeError,
        r"^scores must hold numbers, got strings",
    ),
    (
        "targetwise_weights: method unknown",
        lambda: targetwise_weights([[0.2, 0.1]], method="best"),
        ValueError,
        r"^method must be one of \('topk', 'softmax', 'mean'\), got 'best'",
    ),
    # synthetic data
    (
        "make_encoding_data: no samples",
        lambda: make_encoding_data(n_samples=0),
        ValueError,
        r"^n_samples must be an int >= 1, got 0",
    ),
    (
        "make_encoding_data: snr negative",
        lambda: make_encoding_data(snr=-1.0),
        ValueError,
        r"^snr must be > 0 \(np\.inf for no noise\), got -1\.0",
    ),
    (
        "make_multispace_data: no space",
        lambda: make_multispace_data(space_sizes=()),
        ValueError,
        r"^space_sizes must give the number of columns of at least one feature "
        r"space, got \(\)",
    ),
    (
        "make_layered_data: no layer",
        lambda: make_layered_data(n_layers=0),
        ValueError,
        r"^n_layers must be an int >= 1, got 0",
    ),
    (
        "make_layered_data: driving layer out of range",
        lambda: make_layered_data(driving_layers=[99]),
        ValueError,
        r"^driving_layers must hold one layer index in \[0, 5\] per space \(2 ints\), "
        r"got \[99\]",
    ),
    # splitters
    (
        "BlockedKFold: one split",
        lambda: BlockedKFold(n_splits=1),
        ValueError,
        r"^n_splits must be an int >= 2, got 1",
    ),
    (
        "BlockedKFold: more splits than samples",
        lambda: list(BlockedKFold(n_splits=5).split(np.zeros((3, 1)))),
        ValueError,
        r"^Cannot have n_splits=5 greater than the number of samples: n_samples=3",
    ),
    (
        "check_run_cv: cv a string",
        lambda: check_run_cv("five", G0, 80),
        TypeError,
        r"^cv must be an int, a cross-validation splitter .* got the string 'five'",
    ),
    # files
    (
        "load_runs: missing folder",
        lambda: load_runs("/nonexistent/features", "/nonexistent/responses"),
        FileNotFoundError,
        r"^features file not found: '/nonexistent/features'",
    ),
    (
        "zscore_runs: X strings",
        lambda: zscore_runs(X0.astype(str)),
        TypeError,
        r"^X must hold numbers, got strings",
    ),
    (
        "zscore_runs: groups not contiguous",
        lambda: zscore_runs(X0, _noncontiguous_runs()),
        ValueError,
        r"^groups must hold contiguous runs",
    ),
    (
        "load_model: model file from another version",
        _model_file_from_another_version,
        ValueError,
        r"was saved by brainenc 0\.0\.1, which is incompatible with the installed "
        r"brainenc " + re.escape(brainenc.__version__),
    ),
]

TABLE = _estimator_rows() + _FUNCTION_ROWS


def test_table_size_is_documented():
    documented = re.search(r"The table holds (\d+) rows", __doc__)
    assert int(documented.group(1)) == len(TABLE)


def test_every_public_estimator_is_in_the_table():
    covered = {spec.cls for spec in ESTIMATORS.values()}
    assert public_estimator_classes() <= covered
    assert set(_BAD_PARAMETER) == set(ESTIMATORS)


def test_every_public_function_is_in_the_table():
    # every public callable of brainenc.__all__ that is not an estimator class
    functions = {
        name
        for name in brainenc.__all__
        if callable(getattr(brainenc, name))
        and not isinstance(getattr(brainenc, name), type)
    }
    functions -= {"correlation_scorer"}  # a scorer factory: its errors are r's
    tested = {row[0].split(":")[0] for row in _FUNCTION_ROWS}
    assert functions <= tested, sorted(functions - tested)


@pytest.mark.parametrize(
    ("call", "exception", "pattern"),
    [pytest.param(call, exc, pattern, id=name) for name, call, exc, pattern in TABLE],
)
def test_bad_input_is_refused_with_a_message_naming_it(
    call, exception, pattern, monkeypatch
):
    if isinstance(call, tuple) and call[0] == "no_gpu":
        _hide_gpu(monkeypatch)
        call = call[1]
    elif isinstance(call, tuple) and call[0] in ("fitted", "scored"):
        what, spec, data = call
        model = _fitted(spec)
        args = {"X": X0, "y": Y0, "groups": G0, **data}

        def call():
            if what == "fitted":
                outputs(spec, model, args["X"], args["groups"])
            else:
                model.score(args["X"], args["y"], groups=args["groups"])

    with pytest.raises(exception, match=pattern):
        call()


def _hide_gpu(monkeypatch):
    """Make torch see no GPU, as on a machine without one."""
    import brainenc._backend

    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(brainenc._backend, "_cuda_available", lambda: False)


@pytest.mark.parametrize("label", [k for k, s in ESTIMATORS.items() if s.supervised])
def test_valid_edge_cases_are_accepted(label):
    # 1 target (2-D and 1-D y), integer X and y, and objects holding numbers
    # are valid input, not errors; predictions keep y's shape.
    spec = ESTIMATORS[label]
    one = fit(spec, spec.make(), X0, Y0[:, :1], G0)
    assert outputs(spec, one, X0, G0).shape == (80, 1)
    flat = fit(spec, spec.make(), X0, Y0[:, 0], G0)
    assert outputs(spec, flat, X0, G0).shape == (80,)
    integers = fit(spec, spec.make(), np.rint(3 * X0).astype(int), (Y0 > 0) * 1, G0)
    assert outputs(spec, integers, X0, G0).shape == (80, 3)
    objects = fit(spec, spec.make(), X0.astype(object), Y0.astype(object), G0)
    np.testing.assert_allclose(
        outputs(spec, objects, X0, G0),
        outputs(spec, fit(spec, spec.make(), X0, Y0, G0), X0, G0),
        rtol=1e-6,
        atol=1e-6,
    )


def test_missing_values_written_as_none_or_pandas_na_count_as_nan():
    # scikit-learn turns None and pandas.NA into NaN; so does brainenc, and the
    # NaN rule of the caller then applies (not a TypeError about objects).
    pd = pytest.importorskip("pandas")
    y = Y0.copy()
    y[3, 1] = np.nan
    with_none = Y0.astype(object)
    with_none[3, 1] = None
    np.testing.assert_array_equal(
        noise_ceiling_cross_subject(np.hstack([with_none, with_none]), 2),
        noise_ceiling_cross_subject(np.hstack([y, y]), 2),
    )
    with_na = pd.DataFrame(Y0).astype("Float64")
    with_na.iloc[3, 1] = pd.NA
    np.testing.assert_allclose(
        pearson_r(with_na, Y0, nan_policy="omit"),
        pearson_r(y, Y0, nan_policy="omit"),
    )
    flags = pd.Series([True, None, False, True, False, True], dtype="boolean")
    np.testing.assert_allclose(
        pearson_r(flags, np.arange(6.0), nan_policy="omit"),
        pearson_r([1.0, np.nan, 0.0, 1.0, 0.0, 1.0], np.arange(6.0), nan_policy="omit"),
    )
    na_objects = Y0.astype(object)
    na_objects[3, 1] = pd.NA
    for missing in (with_none, na_objects):
        with pytest.raises(ValueError, match=r"^y contains NaN \(1 value\)"):
            ESTIMATORS["DelayedRidge"].make().fit(X0, missing, groups=G0)


def test_pandas_category_and_object_columns_are_checked_by_their_values():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X0.round(1), columns=list("abcd"))
    numbers = frame.astype({"a": "category", "b": object})
    model = ESTIMATORS["DelayedRidge"].make()
    np.testing.assert_allclose(
        model.fit(numbers, Y0, groups=G0).predict(numbers, groups=G0),
        model.fit(frame, Y0, groups=G0).predict(frame, groups=G0),
    )
    words = frame.assign(a=pd.Categorical(["low", "high"] * 40))
    with pytest.raises(TypeError, match=r"^X\['a'\] must hold numbers, got an object"):
        model.fit(words, Y0, groups=G0)


def test_metrics_do_not_copy_integer_responses_to_float64_whole(monkeypatch):
    # int16 is a common storage type of BOLD data: the correlation is computed
    # in float64 column batches (here of 2**18 values), never on a float64
    # copy of the whole array.
    import tracemalloc

    import brainenc.metrics

    monkeypatch.setattr(brainenc.metrics, "_BATCH_ELEMENTS", 2**18)
    rng = np.random.default_rng(0)
    y_true = rng.integers(-1000, 1000, size=(500, 20000), dtype=np.int16)
    y_pred = y_true + rng.integers(-100, 100, size=y_true.shape, dtype=np.int16)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        r = pearson_r(y_true, y_pred)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert peak < 2 * y_true.size  # a quarter of one float64 copy of y_true
    np.testing.assert_allclose(
        r[:5], pearson_r(y_true[:, :5].astype(float), y_pred[:, :5].astype(float))
    )
