"""The one progress reporter: a tqdm bar on stderr when verbose, else silent."""

import numpy as np

from brainenc import DelayedRidge, make_encoding_data
from brainenc._progress import progress_bar


def test_silent_bar_does_nothing(capsys):
    with progress_bar("work", 3, verbose=0) as bar:
        assert not bar.enabled
        bar.update()
        bar(2, 3)
        bar.set_postfix_str("r=0.5")
        bar.write("a line")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_verbose_bar_counts_on_stderr(capsys):
    with progress_bar("work", 4, verbose=1, unit="fold") as bar:
        assert bar.enabled
        bar(1)
        bar(3, 4)
        bar.update()
        assert bar._tqdm.n == 4
        bar(5, 6)  # the callable form may grow the total
        assert bar._tqdm.total == 6
    err = capsys.readouterr().err
    assert "work" in err
    assert "5/6" in err


def test_delayed_ridge_reports_folds_only_when_verbose(capsys):
    X, y, groups, _ = make_encoding_data(
        n_samples=200, n_features=3, n_targets=2, n_runs=4, random_state=0
    )
    quiet = DelayedRidge(delays=2, cv=2, backend="numpy").fit(X, y, groups=groups)
    assert capsys.readouterr().err == ""
    loud = DelayedRidge(delays=2, cv=2, backend="numpy", verbose=1)
    loud.fit(X, y, groups=groups)
    err = capsys.readouterr().err
    # 2 folds and the refit
    assert "DelayedRidge folds" in err
    assert "3/3" in err
    np.testing.assert_array_equal(loud.coef_, quiet.coef_)
