"""brainenc DelayedRidge vs mTRFpy's TRF with its regularisation search (k=5).

``python benchmarks/compare_mtrf.py --size eeg``
"""

from _common import main

if __name__ == "__main__":
    main(
        ["reference", "brainenc", "brainenc_numpy", "mtrf"],
        "brainenc DelayedRidge vs mTRFpy TRF.train (same runs as folds)",
    )
