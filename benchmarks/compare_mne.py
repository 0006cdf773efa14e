"""brainenc DelayedRidge vs MNE ReceptiveField with TimeDelayingRidge.

``mne_tdr`` times ONE fit at one alpha (the reference's most chosen one) on all
training runs; ``mne_tdr_cv`` runs the full 5 folds x 9 alphas search (default
on ``eeg`` only, where one alpha takes seconds; ``--force`` elsewhere).

``python benchmarks/compare_mne.py --size eeg``
"""

from _common import main

if __name__ == "__main__":
    main(
        ["reference", "brainenc", "brainenc_numpy", "mne_tdr", "mne_tdr_cv"],
        "brainenc DelayedRidge vs MNE ReceptiveField(TimeDelayingRidge)",
    )
