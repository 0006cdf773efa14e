"""brainenc: brain encoding models with a scikit-learn API.

Importing brainenc never imports torch: the neural estimators load it lazily.
"""

__version__ = "0.1.0.dev0"

from .analysis import (
    Residualizer,
    ablate_feature_spaces,
    structured_variance_partitioning,
    variance_partitioning,
)
from .datasets import make_encoding_data, make_layered_data, make_multispace_data
from .delays import Delayer, delay_features, delays_from_times
from .ensemble import TargetwiseEnsemble, targetwise_weights
from .linear import DelayedRidge
from .metrics import (
    correlation_score,
    correlation_scorer,
    noise_ceiling_cross_subject,
    noise_ceiling_repeats,
    normalized_correlation,
    pearson_r,
    r2_per_target,
)
from .model_selection import BlockedKFold
from .stacking import StackedRegressor, solve_simplex_qp

__all__ = [
    "BlockedKFold",
    "DelayedRidge",
    "Delayer",
    "Residualizer",
    "StackedRegressor",
    "TargetwiseEnsemble",
    "ablate_feature_spaces",
    "make_layered_data",
    "make_multispace_data",
    "noise_ceiling_cross_subject",
    "noise_ceiling_repeats",
    "normalized_correlation",
    "targetwise_weights",
    "variance_partitioning",
    "__version__",
    "correlation_score",
    "correlation_scorer",
    "delay_features",
    "delays_from_times",
    "make_encoding_data",
    "pearson_r",
    "r2_per_target",
    "solve_simplex_qp",
    "structured_variance_partitioning",
]

# Neural encoders need torch and skorch (the ``deep`` extra): they are loaded on
# first access, so ``import brainenc`` never imports torch. They are left out of
# ``__all__`` so that ``from brainenc import *`` works without torch.
_NEURAL = ("PCAMLPEncoder", "ConvTemporalEncoder", "MultimodalTransformerEncoder")


def __getattr__(name):
    if name in _NEURAL:
        from . import neural

        return getattr(neural, name)
    raise AttributeError(f"module 'brainenc' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_NEURAL))
