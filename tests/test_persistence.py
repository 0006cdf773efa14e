"""Every fitted estimator round-trips through pickle, joblib and model files.

The estimators come from ``_public_api.ESTIMATORS``. A round trip must give
bit-identical predictions (or transformed features), and a model file written
by :func:`brainenc.io.save_model` records the versions that wrote it. Models
trained on CUDA that load on a CPU are tested in ``test_neural_base.py`` (on a
machine with a GPU).
"""

import io
import pickle

import joblib
import numpy as np
import pytest

import brainenc
from _public_api import ESTIMATORS, fit, make_data, outputs
from brainenc.io import load_model, save_model

X, Y, GROUPS = make_data()
X_NEW, _, GROUPS_NEW = make_data(seed=1)


@pytest.fixture(scope="module", params=list(ESTIMATORS))
def fitted(request):
    spec = ESTIMATORS[request.param]
    return spec, fit(spec, spec.make(), X, Y, GROUPS)


def _same_outputs(spec, a, b):
    np.testing.assert_array_equal(
        outputs(spec, a, X_NEW, GROUPS_NEW), outputs(spec, b, X_NEW, GROUPS_NEW)
    )


def test_pickle_round_trip(fitted):
    spec, model = fitted
    loaded = pickle.loads(pickle.dumps(model))
    assert type(loaded) is type(model)
    _same_outputs(spec, model, loaded)


def test_joblib_round_trip(fitted, tmp_path):
    spec, model = fitted
    path = tmp_path / "model.joblib"
    joblib.dump(model, path, compress=3)
    _same_outputs(spec, model, joblib.load(path))
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    _same_outputs(spec, model, joblib.load(buffer))


def test_model_file_round_trip_records_the_version(fitted, tmp_path):
    spec, model = fitted
    path = save_model(tmp_path / "model.pkl", model, subject="sub-01")
    loaded, header = load_model(path)
    assert header["brainenc_version"] == brainenc.__version__
    assert header["metadata"] == {"subject": "sub-01"}
    _same_outputs(spec, model, loaded)


def test_a_loaded_model_refits_like_a_new_one(fitted):
    # the unpickled estimator is a full estimator, not a frozen shell
    spec, model = fitted
    loaded = pickle.loads(pickle.dumps(model))
    refit = fit(spec, loaded, X, Y, GROUPS)
    _same_outputs(spec, model, refit)
