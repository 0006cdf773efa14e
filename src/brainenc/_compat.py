"""The one place that imports scikit-learn's private helpers.

scikit-learn's parameter-validation machinery (``Interval``, ``StrOptions``,
``_fit_context``) and its composition base for estimators made of estimators
(``_BaseComposition``: nested ``<name>__<param>`` parameters) are private API.
Importing them only here keeps a future scikit-learn change to a one-file fix.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Integral,
    Interval,
    Real,
    StrOptions,
)
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import _check_feature_names_in

__all__ = [
    "HasMethods",
    "Integral",
    "Interval",
    "Real",
    "StrOptions",
    "_BaseComposition",
    "_check_feature_names_in",
    "_fit_context",
]
