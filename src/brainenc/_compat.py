"""The one place that imports scikit-learn's private helpers.

scikit-learn's parameter-validation machinery (``Interval``, ``StrOptions``,
``_fit_context``) is private API. Importing it only here keeps a future
scikit-learn change to a one-file fix.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Integral,
    Interval,
    Real,
    StrOptions,
)
from sklearn.utils.validation import _check_feature_names_in

__all__ = [
    "HasMethods",
    "Integral",
    "Interval",
    "Real",
    "StrOptions",
    "_check_feature_names_in",
    "_fit_context",
]
