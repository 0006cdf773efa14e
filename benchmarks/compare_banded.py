"""Banded ridge: brainenc DelayedRidge(banded=True) vs himalaya's BandedRidgeCV.

``python benchmarks/compare_banded.py --size banded``

The same delayed design, folds, alpha grid and draws of space weights
(``N_ITER`` Dirichlet draws from the same seed) for both; ``same alpha`` of
the brainenc row is the fraction of (space, target) penalties equal to
himalaya's, and ``agree r`` the correlation of its held-out predictions with
himalaya's. The reference row is plain ridge on the same data.
"""

from _common import main

if __name__ == "__main__":
    main(
        ["reference", "himalaya_banded", "brainenc_banded"],
        "brainenc banded ridge vs himalaya BandedRidgeCV (random search)",
    )
