"""brainenc: brain encoding models with a scikit-learn API.

Importing brainenc never imports torch: the neural estimators load it lazily.
"""

__version__ = "0.1.0.dev0"

from .datasets import make_encoding_data
from .delays import Delayer, delay_features, delays_from_times
from .linear import DelayedRidge
from .metrics import correlation_score, correlation_scorer, pearson_r, r2_per_target
from .model_selection import BlockedKFold

__all__ = [
    "BlockedKFold",
    "DelayedRidge",
    "Delayer",
    "__version__",
    "correlation_score",
    "correlation_scorer",
    "delay_features",
    "delays_from_times",
    "make_encoding_data",
    "pearson_r",
    "r2_per_target",
]
