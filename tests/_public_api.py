"""The public API as the hardening tests see it: one line per estimator.

``ESTIMATORS`` maps a label to an :class:`EstimatorSpec`: how to build a fast
instance (``make(**params)``) and what the estimator takes (``y``, delays,
feature spaces, a device or backend argument, NaN in ``y``). The bad-input
table (``test_bad_input.py``), the nothing-mutated tests
(``test_inputs_unchanged.py``) and the persistence tests
(``test_persistence.py``) are generated from it, and
:func:`public_estimator_classes` lets them check that no public estimator is
missing. A new estimator joins all three by adding a line here.

This module is on ``sys.path`` through ``pythonpath = ["tests"]`` in
pyproject.toml (the tests run with ``--import-mode=importlib``).
"""

import inspect
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge

import brainenc
from brainenc import (
    DelayedRidge,
    Delayer,
    Residualizer,
    StackedRegressor,
    TargetwiseEnsemble,
)

try:  # the neural encoders need the ``deep`` extra
    from brainenc import neural
except ImportError:  # pragma: no cover - the test extra installs it
    neural = None

N_SAMPLES, N_FEATURES, N_TARGETS, N_RUNS = 80, 4, 3, 4
#: Two spaces of two columns each, as every spec that takes spaces uses them.
SPACES = {"a": 2, "b": 2}
#: Largest delay of every spec that delays (so a run of 2 samples is too short).
MAX_DELAY = 3


def make_data(seed=0, dtype=np.float64):
    """X (80, 4), y (80, 3) driven by X, and 4 contiguous runs of 20."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES)).astype(dtype)
    y = (X @ rng.standard_normal((N_FEATURES, N_TARGETS))).astype(dtype)
    y += 0.5 * rng.standard_normal(y.shape).astype(dtype)
    groups = np.repeat(np.arange(N_RUNS), N_SAMPLES // N_RUNS)
    return X, y, groups


def _ridge(**params):
    return DelayedRidge(
        **{
            "delays": [0, MAX_DELAY],
            "alphas": [0.1, 10.0, 1000.0],
            "cv": 2,
            "backend": "numpy",
            **params,
        }
    )


@dataclass
class EstimatorSpec:
    """How to build a fast instance of a public estimator and what it takes.

    Attributes
    ----------
    make : callable
        ``make(**params)`` returns a new instance with fast settings;
        ``params`` override them (the bad-input table passes bad
        ``feature_spaces`` or an absent device this way).
    cls : type
        The public class.
    supervised : bool
        ``fit`` takes ``y`` (else it is a transformer fitted on ``X``).
    delays : bool
        It delays the features by up to :data:`MAX_DELAY` samples, so a run
        shorter than that is an error.
    spaces : bool
        It takes ``feature_spaces`` as a constructor parameter.
    device : tuple or None
        ``(parameter, value)`` that asks for a CUDA GPU.
    nan_y : bool
        NaN in ``y`` is allowed (a subject's missing samples).
    max_delay : int
        Its largest delay, when ``delays``.
    """

    make: object
    cls: type
    supervised: bool = True
    delays: bool = True
    spaces: bool = False
    device: tuple = None
    nan_y: bool = False
    max_delay: int = MAX_DELAY


ESTIMATORS = {
    "DelayedRidge": EstimatorSpec(
        lambda **p: _ridge(**p),
        DelayedRidge,
        spaces=True,
        device=("backend", "torch_cuda"),
    ),
    "DelayedRidge(banded)": EstimatorSpec(
        lambda **p: _ridge(
            **{
                "feature_spaces": SPACES,
                "banded": True,
                "n_iter": 3,
                "random_state": 0,
                **p,
            }
        ),
        DelayedRidge,
        spaces=True,
        device=("backend", "torch_cuda"),
    ),
    "Delayer": EstimatorSpec(
        lambda **p: Delayer(**{"delays": [0, MAX_DELAY], **p}),
        Delayer,
        supervised=False,
    ),
    "Residualizer": EstimatorSpec(
        lambda **p: Residualizer(
            **{
                "feature_spaces": SPACES,
                "target_space": "b",
                "estimator": _ridge(),
                **p,
            }
        ),
        Residualizer,
        supervised=False,
        spaces=True,
    ),
    "StackedRegressor": EstimatorSpec(
        lambda **p: StackedRegressor(
            **{
                "estimators": [
                    ("a", _ridge(), slice(0, 2)),
                    ("b", _ridge(), slice(2, 4)),
                ],
                "cv": 2,
                **p,
            }
        ),
        StackedRegressor,
    ),
    "StackedRegressor(feature_spaces)": EstimatorSpec(
        lambda **p: StackedRegressor(**{"feature_spaces": SPACES, "cv": 2, **p}),
        StackedRegressor,
        spaces=True,
        max_delay=4,  # the default DelayedRidge of every space
    ),
    "TargetwiseEnsemble": EstimatorSpec(
        lambda **p: TargetwiseEnsemble(
            **{"estimators": [("ridge", _ridge()), ("plain", Ridge())], **p}
        ),
        TargetwiseEnsemble,
    ),
}

if neural is not None:

    def _mlp(**params):
        return neural.PCAMLPEncoder(
            **{
                "delays": [0, MAX_DELAY],
                "n_components": 2,
                "hidden_units": 8,
                "batch_size": 16,
                "max_epochs": 2,
                "random_state": 0,
                **params,
            }
        )

    ESTIMATORS["PCAMLPEncoder"] = EstimatorSpec(
        _mlp, neural.PCAMLPEncoder, spaces=True, device=("device", "cuda")
    )
    ESTIMATORS["PCAMLPEncoder(late)"] = EstimatorSpec(
        lambda **p: _mlp(**{"feature_spaces": SPACES, "interaction": "late", **p}),
        neural.PCAMLPEncoder,
        spaces=True,
        device=("device", "cuda"),
    )
    ESTIMATORS["ConvTemporalEncoder"] = EstimatorSpec(
        lambda **p: neural.ConvTemporalEncoder(
            **{
                "feature_spaces": SPACES,
                "embed_dim": 4,
                "kernel_size": 3,
                "window_len": 8,
                "windows_per_epoch": 32,
                "batch_size": 8,
                "max_epochs": 2,
                "device": "cpu",
                "random_state": 0,
                **p,
            }
        ),
        neural.ConvTemporalEncoder,
        delays=False,
        spaces=True,
        device=("device", "cuda"),
        nan_y=True,
    )
    ESTIMATORS["MultimodalTransformerEncoder"] = EstimatorSpec(
        lambda **p: neural.MultimodalTransformerEncoder(
            **{
                "feature_spaces": SPACES,
                "hidden_dim": 4,
                "depth": 1,
                "heads": 2,
                "window_len": 8,
                "windows_per_epoch": 32,
                "batch_size": 8,
                "max_epochs": 2,
                "min_steps": 0,
                "device": "cpu",
                "random_state": 0,
                **p,
            }
        ),
        neural.MultimodalTransformerEncoder,
        delays=False,
        spaces=True,
        device=("device", "cuda"),
        nan_y=True,
    )


def public_estimator_classes():
    """Every estimator class in ``brainenc.__all__`` and ``neural.__all__``."""
    names = [(brainenc, name) for name in brainenc.__all__]
    if neural is not None:
        names += [(neural, name) for name in neural.__all__]
    return {
        obj
        for module, name in names
        if inspect.isclass(obj := getattr(module, name))
        and issubclass(obj, BaseEstimator)
    }


def fit(spec, estimator, X, y, groups):
    """Fit as a user would: with ``y`` when the estimator is supervised."""
    if spec.supervised:
        return estimator.fit(X, y, groups=groups)
    return estimator.fit(X, groups=groups)


def outputs(spec, estimator, X, groups):
    """What a fitted estimator gives back: predictions or transformed X."""
    if spec.supervised:
        return estimator.predict(X, groups=groups)
    return estimator.transform(X, groups=groups)
