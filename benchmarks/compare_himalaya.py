"""brainenc DelayedRidge vs himalaya RidgeCV on a hand-delayed matrix (numpy, torch).

``python benchmarks/compare_himalaya.py --size fmri_small``
"""

from _common import main

if __name__ == "__main__":
    main(
        ["reference", "brainenc", "brainenc_numpy", "himalaya_numpy", "himalaya_torch"],
        "brainenc DelayedRidge vs himalaya RidgeCV (numpy and torch backends)",
    )
