"""Neural encoding models on PyTorch and skorch (the ``deep`` extra).

This package imports torch and skorch; ``import brainenc`` never imports it.
Without them, importing it raises an ImportError that says how to install
them (``pip install brainenc[deep]``).
"""

try:
    import skorch  # noqa: F401
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "The neural encoders of brainenc need PyTorch and skorch, which are not "
        f"installed ({exc}). Install them with: pip install brainenc[deep]"
    ) from exc

from .conv import ConvTemporalEncoder
from .mlp import PCAMLPEncoder
from .transformer import MIRAGE_SETTINGS, MultimodalTransformerEncoder

__all__ = [
    "MIRAGE_SETTINGS",
    "ConvTemporalEncoder",
    "MultimodalTransformerEncoder",
    "PCAMLPEncoder",
]
