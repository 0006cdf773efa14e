"""brainenc DelayedRidge vs scikit-learn's RidgeCV (GCV/LOO) and a cv=5 Ridge loop.

``python benchmarks/compare_sklearn.py --size fmri_small``
"""

from _common import main

if __name__ == "__main__":
    main(
        ["reference", "brainenc", "brainenc_numpy", "sklearn_loo", "sklearn_cv5"],
        "brainenc DelayedRidge vs scikit-learn RidgeCV (LOO) and a cv=5 Ridge loop",
    )
