"""Significance and uncertainty of encoding scores, on held-out predictions.

Every function here takes the recorded responses of held-out runs, the
predictions of any model for them and the run labels (``groups``), and asks
how far the per-target Pearson r could be from what it is by chance:

- :func:`permutation_test`: is a target predicted above chance? The null
  breaks the pairing of prediction and response while keeping each run's
  autocorrelation: circular shifts within runs (the default), permutations of
  whole blocks, or phase randomisation. Runs are never mixed unless asked.
- :func:`fdr_correction`: Benjamini-Hochberg (or -Yekutieli) q-values over
  targets; :func:`permutation_test` also gives the family-wise (max-statistic)
  p-value from the same permutations.
- :func:`bootstrap_ci`: block-bootstrap confidence intervals of per-target r
  and of the mean over targets.
- :func:`compare_models`: where does model A beat model B? A paired test that
  swaps the two models' predictions by block within runs.

Why not shuffle samples: responses and predictions are autocorrelated (BOLD
is smoothed over seconds, features change slowly), so a sample shuffle
produces a null far narrower than the chance correlation of two smooth
series. On AR(1) series with coefficient 0.95 (4 runs of 300 samples, no
signal) it declares about a third of the targets significant at p < 0.05;
a circular shift within each run keeps the autocorrelation and holds the
5% (``tests/test_stats.py``).

Speed: a circular shift of a run changes only the cross-product of response
and prediction (the run's mean and variance stay), and the cross-products of
all shifts are the run's circular cross-correlation, computed once by FFT.
Each permutation is then one lookup per run and target. Block permutations
look up the products of all pairs of blocks, phase randomisation is a matrix
product with the cross-spectrum (Parseval), and a bootstrap or a set of
model swaps is a matrix product of resampling counts or swap patterns with
per-sample or per-block sums. Targets are processed in batches of bounded
memory, in parallel through joblib.
"""

import numbers
import warnings

import numpy as np
import scipy.fft
from joblib import Parallel, delayed
from sklearn.utils import Bunch, check_random_state

from ._progress import progress_bar
from ._validation import (
    Y_AXES,
    check_finite,
    check_groups,
    check_int,
    check_numeric,
    run_slices,
    user_stacklevel,
)
from .metrics import _as_numeric, _batches, _centred, pearson_r

__all__ = [
    "bootstrap_ci",
    "compare_models",
    "fdr_correction",
    "permutation_test",
]

_METHODS = ("circular", "block", "phase")
_ALTERNATIVES = ("greater", "less", "two-sided")
_FDR_METHODS = ("bh", "by")
# Permutations drawn and evaluated together; every chunk has its own seed, so
# the draws depend on random_state only, never on batches or n_jobs.
_CHUNK = 256
# Default block lengths: a block of b samples loses about
# sum_h |h| rho(h) / (b sum_h rho(h)) of the variance of the sum of
# y_true * y_pred. A test's null keeps ~97.5% of it (measured on AR(1) data:
# keeping 95% leaves compare_models at 5.4-5.7% false positives at 0.05, 97.5%
# at 5.1-5.3%); a bootstrap keeps ~95%, since longer blocks, fewer of them,
# make its intervals narrower again.
_BLOCK_FACTOR = {"test": 40, "comparisons": 40, "intervals": 20}
# Targets on which the default block length is estimated.
_BLOCK_TARGETS = 1000


def permutation_test(
    y_true,
    y_pred,
    *,
    groups=None,
    n_permutations=1000,
    method="circular",
    block_length=None,
    mix_runs=False,
    alternative="greater",
    return_null=False,
    random_state=None,
    n_jobs=None,
    verbose=0,
):
    """Run-aware permutation test of the per-target Pearson r.

    Tests, for every target, whether the correlation between the held-out
    response and a model's prediction of it is larger than chance. The null
    distribution comes from predictions moved in time against the responses
    in ways that keep their autocorrelation (a shuffle of samples does not,
    and declares far too many targets significant on smooth data). The same
    permutations serve every target, so the max-statistic p-values control
    the family-wise error rate over targets.

    .. versionadded:: 0.1

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        Recorded responses of the held-out runs.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
        Predictions of any model for the same samples.
    groups : array-like of shape (n_samples,), default=None
        Run label of every sample (runs contiguous). Permutations stay inside
        runs. ``None``: one run.
    n_permutations : int, default=1000
        Number of permutations. The smallest p-value is
        ``1 / (n_permutations + 1)``.
    method : {"circular", "block", "phase"}, default="circular"
        How the prediction is moved against the response:

        - ``"circular"``: each run of the prediction is shifted circularly by
          its own random lag (uniform over the run's length), which keeps the
          whole autocorrelation but for one wrap-around point per run.
        - ``"block"``: each run is cut into blocks of ``block_length``
          samples and its blocks are permuted; the last ``L % block_length``
          samples of a run of length ``L``, and runs shorter than two blocks,
          stay in place. Only the autocorrelation inside blocks is kept, so
          blocks must be much longer than the autocorrelation.
        - ``"phase"``: phase randomisation; the Fourier phases of each run of
          the prediction are replaced by random ones (the same for every
          target), which keeps its power spectrum, hence its circular
          autocorrelation and its cross-correlation between targets.

    block_length : int, default=None
        Block length in samples for ``method="block"`` (ignored otherwise).
        ``None`` estimates it from the data: ``40 * sum_h |h| rho(h) /
        sum_h rho(h)``, where ``rho(h)`` is the product of the
        autocorrelations at lag ``h`` of ``y_true`` and ``y_pred`` (within
        runs, averaged over up to 1000 targets, summed up to the first lag at
        which either is not positive). Blocks of ``b`` lose about ``sum_h |h|
        rho(h) / (b sum_h rho(h))`` of the null variance (the products of
        samples split by a block boundary), so this keeps about 97.5% of it.
        At most half the shortest run (a warning says when that bound
        applies).
    mix_runs : bool, default=False
        Let the null mix runs: circular shifts and phase randomisation treat
        the held-out samples as one series, block permutation moves blocks
        between runs. This discards the runs' differences (in mean, in the
        model's quality) from the null; use it only when runs are short and
        exchangeable.
    alternative : {"greater", "less", "two-sided"}, default="greater"
        ``"greater"``: r larger than chance (a model predicts the target);
        ``"less"``: smaller; ``"two-sided"``: larger in absolute value.
    return_null : bool, default=False
        Also return the whole null distribution, ``n_permutations x
        n_targets`` float64 values (400 MB for 1000 permutations of 50 000
        targets).
    random_state : int, RandomState instance or None, default=None
        Seed of the permutations. The same seed gives the same permutations
        whatever ``n_jobs``, and the same p-value for a target whatever the
        other targets.
    n_jobs : int, default=None
        Target batches processed in parallel through joblib (threads unless
        a backend is set with :func:`joblib.parallel_config`); ``None`` means
        1 outside such a context.
    verbose : int or bool, default=0
        Show a progress bar over target batches.

    Returns
    -------
    result : Bunch
        - ``r`` : ndarray of shape (n_targets,), the observed Pearson r
          (:func:`brainenc.pearson_r`).
        - ``p_values`` : ndarray of shape (n_targets,), per-target p-values
          ``(1 + #{null >= observed}) / (1 + n_permutations)`` (the
          statistic is r, -r or \\|r\\| by ``alternative``).
        - ``p_values_fwe`` : ndarray of shape (n_targets,), family-wise
          p-values of the max statistic: the same count against the maximum
          over targets of each permutation's statistic.
        - ``null_mean``, ``null_std`` : ndarray of shape (n_targets,), mean and
          standard deviation (ddof=0) of each target's null r.
        - ``null_max`` : ndarray of shape (n_permutations,), the maximum
          statistic over targets of each permutation.
        - ``null`` : ndarray of shape (n_permutations, n_targets), only with
          ``return_null=True``.
        - ``settings`` : Bunch of what was used: ``method``,
          ``n_permutations``, ``block_length`` (None but for ``"block"``),
          ``mix_runs``, ``alternative``, ``n_runs``, ``random_state``.

        For 1-D inputs the per-target entries are floats and ``null`` has
        shape (n_permutations,).

    Raises
    ------
    ValueError
        If the inputs' shapes differ or they hold NaN or inf, ``groups`` is
        not one label per sample, an option is unknown, or no run is long
        enough for two blocks of ``block_length``.

    See Also
    --------
    fdr_correction : q-values over targets from these p-values.
    compare_models : Paired test of two models' per-target r.
    bootstrap_ci : Confidence intervals of per-target r.

    Notes
    -----
    The test conditions on each run's mean and variance, which no scheme
    changes: only the cross-product of response and prediction varies, and
    its values for all circular shifts of a run are one FFT cross-correlation
    (O(n log n) per target), after which each permutation costs one lookup
    per run and target. p-values follow Phipson and Smyth (2010): the
    observed pairing counts as one permutation, so a p-value is never 0.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.stats import permutation_test
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.standard_normal((400, 1))
    >>> y_true = np.hstack([signal, rng.standard_normal((400, 2))])
    >>> y_pred = signal + rng.standard_normal((400, 3))
    >>> groups = np.repeat([0, 1], 200)
    >>> result = permutation_test(y_true, y_pred, groups=groups,
    ...                           n_permutations=200, random_state=0)
    >>> float(result.p_values[0])  # 1 / 201: no shift does as well
    0.004975...
    >>> bool(result.p_values[1] > 0.05)
    True
    >>> result.settings.method
    'circular'
    """
    y_true, (y_pred,), one_d = _check_responses(y_true, y_pred=y_pred)
    n_samples = y_true.shape[0]
    groups = check_groups(groups, n_samples)
    n_permutations = check_int(n_permutations, "n_permutations", minimum=1)
    _check_option(method, "method", _METHODS)
    _check_option(alternative, "alternative", _ALTERNATIVES)
    mix_runs = _check_bool(mix_runs, "mix_runs")
    return_null = _check_bool(return_null, "return_null")
    runs = run_slices(groups)
    n_runs = len(runs)
    if mix_runs:
        runs = [slice(0, n_samples)]
    if method == "block":
        if block_length is None:
            block_length = _default_block_length(y_true, y_pred, runs)
        else:
            block_length = check_int(block_length, "block_length", minimum=1)
        null = _BlockNull(runs, block_length)
    else:
        block_length = None
        null = _CircularNull(runs) if method == "circular" else _PhaseNull(runs)
    r = pearson_r(y_true, y_pred)
    seeds = _chunk_seeds(random_state, n_permutations)
    stat = _statistic(alternative)

    def batch(cols):
        yt = _centred(y_true[:, cols], None)[0]
        yp = _centred(y_pred[:, cols], None)[0]
        _normalise(yt, yp)
        return _batch_null(null, null.table(yt, yp), seeds, stat, return_null)

    outputs = _run_batches(
        batch,
        y_true.shape[1],
        null.rows,
        n_permutations,
        n_jobs,
        verbose,
        "permutation_test target batches",
    )
    result = _combine(outputs, y_true.shape[1], n_permutations, return_null)
    result.r = r
    result.settings = Bunch(
        method=method,
        n_permutations=n_permutations,
        block_length=block_length,
        mix_runs=mix_runs,
        alternative=alternative,
        n_runs=n_runs,
        random_state=random_state,
    )
    return _squeeze(
        result, one_d, ("r", "p_values", "p_values_fwe", "null_mean", "null_std")
    )


def fdr_correction(p_values, alpha=0.05, method="bh"):
    """False discovery rate correction of p-values over targets.

    .. versionadded:: 0.1

    Parameters
    ----------
    p_values : array-like of any shape
        p-values in [0, 1], one family (all entries are corrected together).
    alpha : float, default=0.05
        Level of the false discovery rate.
    method : {"bh", "by"}, default="bh"
        ``"bh"``: Benjamini-Hochberg (independent or positively dependent
        tests, such as neighbouring voxels); ``"by"``: Benjamini-Yekutieli
        (any dependence; more conservative by ``sum_{i<=m} 1/i``).

    Returns
    -------
    rejected : ndarray of bool, of the shape of ``p_values``
        Tests rejected at false discovery rate ``alpha``: the ``k`` smallest
        p-values, for the largest ``k`` with ``p_(k) <= alpha * k / m``
        (divided by ``sum 1/i`` for ``"by"``).
    q_values : ndarray of float, of the shape of ``p_values``
        Adjusted p-values: ``rejected == (q_values <= alpha)``.

    Raises
    ------
    ValueError
        If a p-value is outside [0, 1] or not a number, ``p_values`` is
        empty, ``alpha`` is not in (0, 1) or ``method`` is unknown.

    See Also
    --------
    permutation_test : Per-target p-values, and family-wise ones.
    scipy.stats.false_discovery_control : The same q-values.

    Examples
    --------
    >>> from brainenc.stats import fdr_correction
    >>> rejected, q = fdr_correction([0.001, 0.02, 0.03, 0.5])
    >>> rejected
    array([ True,  True,  True, False])
    >>> q.round(3)
    array([0.004, 0.04 , 0.04 , 0.5  ])
    """
    p = _as_p_values(p_values)
    _check_fraction(alpha, "alpha")
    _check_option(method, "method", _FDR_METHODS)
    flat = p.ravel()
    m = flat.size
    order = np.argsort(flat, kind="stable")
    rank = np.arange(1, m + 1, dtype=np.float64)
    factor = m / rank
    if method == "by":
        factor *= np.sum(1.0 / rank)
    adjusted = np.minimum.accumulate((flat[order] * factor)[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(adjusted, 1.0)
    q = q.reshape(p.shape)
    return q <= alpha, q


def bootstrap_ci(
    y_true,
    y_pred,
    *,
    groups=None,
    block_length=None,
    n_boot=1000,
    ci=0.95,
    random_state=None,
    n_jobs=None,
    verbose=0,
):
    """Block-bootstrap confidence intervals of per-target r and of its mean.

    Each bootstrap sample rebuilds every run from blocks of consecutive
    samples drawn with replacement from that run, each starting anywhere in
    it and wrapping around its end (a circular block bootstrap within runs:
    response and prediction stay paired, runs are never mixed),
    and recomputes the Pearson r of every target. The same resampling serves
    all targets, so the interval of the mean over targets accounts for their
    correlation.

    .. versionadded:: 0.1

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        Recorded responses of the held-out runs.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
        Predictions of any model for the same samples.
    groups : array-like of shape (n_samples,), default=None
        Run label of every sample (runs contiguous). ``None``: one run.
    block_length : int, default=None
        Block length in samples (a run shorter than that is one block, so
        it keeps its samples). ``None`` estimates it from the data by the rule of
        :func:`permutation_test` with half its length (``20 * sum_h |h|
        rho(h) / sum_h rho(h)``, about 95% of the variance kept: longer
        blocks, fewer of them, make the intervals narrower again), at most
        half the shortest run.
    n_boot : int, default=1000
        Number of bootstrap samples.
    ci : float, default=0.95
        Coverage of the percentile intervals.
    random_state : int, RandomState instance or None, default=None
        Seed of the resampling (results independent of ``n_jobs``).
    n_jobs : int, default=None
        Target batches processed in parallel through joblib.
    verbose : int or bool, default=0
        Show a progress bar over target batches.

    Returns
    -------
    result : Bunch
        - ``r`` : ndarray of shape (n_targets,), the observed Pearson r.
        - ``ci_low``, ``ci_high`` : ndarray of shape (n_targets,), the
          percentile interval of each target's r.
        - ``std_err`` : ndarray of shape (n_targets,), the bootstrap standard
          deviation of each target's r.
        - ``mean_r`` : float, the mean of ``r`` over targets.
        - ``mean_ci_low``, ``mean_ci_high``, ``mean_std_err`` : float, the same
          for the mean over targets.
        - ``settings`` : Bunch with ``block_length``, ``n_boot``, ``ci``,
          ``n_runs``, ``random_state``.

        For 1-D inputs the per-target entries are floats.

    Raises
    ------
    ValueError
        If the inputs' shapes differ or they hold NaN or inf, ``groups`` is
        not one label per sample, or ``ci`` is not in (0, 1).

    See Also
    --------
    permutation_test : Whether each target is predicted above chance.

    Notes
    -----
    Each bootstrap r comes from the resampled sums of the response, the
    prediction, their squares and their product: the counts of every sample
    in the bootstrap samples times the per-sample values, five matrix
    products per target batch whatever the block length. A bootstrap that
    ignores autocorrelation (``block_length=1``, the i.i.d. bootstrap) gives
    intervals far too narrow on smooth data (the user guide has the measured
    coverage).

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.stats import bootstrap_ci
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.standard_normal((600, 2))
    >>> y_true = signal + rng.standard_normal((600, 2))
    >>> result = bootstrap_ci(y_true, signal, groups=np.repeat([0, 1, 2], 200),
    ...                       block_length=10, n_boot=200, random_state=0)
    >>> result.r.round(3), result.ci_low.round(3), result.ci_high.round(3)
    (array([0.665, 0.698]), array([0.622, 0.648]), array([0.704, 0.731]))
    >>> round(result.mean_ci_low, 3), round(result.mean_ci_high, 3)
    (0.648, 0.709)
    """
    y_true, (y_pred,), one_d = _check_responses(y_true, y_pred=y_pred)
    n_samples = y_true.shape[0]
    groups = check_groups(groups, n_samples)
    n_boot = check_int(n_boot, "n_boot", minimum=1)
    _check_fraction(ci, "ci")
    runs = run_slices(groups)
    if block_length is None:
        block_length = _default_block_length(y_true, y_pred, runs, "intervals")
    else:
        block_length = check_int(block_length, "block_length", minimum=1)
    boot = _Bootstrap(runs, block_length)
    r = pearson_r(y_true, y_pred)
    seeds = _chunk_seeds(random_state, n_boot)
    quantiles = [(1 - ci) / 2, (1 + ci) / 2]

    def batch(cols):
        yt = _centred(y_true[:, cols], None)[0]
        yp = _centred(y_pred[:, cols], None)[0]
        _normalise(yt, yp)
        table = boot.table(yt, yp)
        draws = np.vstack(
            [boot.null(table, boot.draw(_rng(seed), size)) for seed, size in seeds]
        )
        low, high = np.quantile(draws, quantiles, axis=0)
        spread = draws.std(axis=0, ddof=1) if n_boot > 1 else np.zeros(low.size)
        return Bunch(low=low, high=high, std_err=spread, total=draws.sum(axis=1))

    outputs = _run_batches(
        batch,
        y_true.shape[1],
        max(boot.rows, 2 * n_boot),
        n_boot,
        n_jobs,
        verbose,
        "bootstrap_ci target batches",
    )
    n_targets = y_true.shape[1]
    result = Bunch(
        r=r,
        ci_low=np.empty(n_targets),
        ci_high=np.empty(n_targets),
        std_err=np.empty(n_targets),
    )
    mean_boot = np.zeros(n_boot)
    for cols, out in outputs:
        result.ci_low[cols], result.ci_high[cols] = out.low, out.high
        result.std_err[cols] = out.std_err
        mean_boot += out.total
    mean_boot /= n_targets
    result.mean_r = float(np.mean(r))
    low, high = np.quantile(mean_boot, quantiles)
    result.mean_ci_low, result.mean_ci_high = float(low), float(high)
    result.mean_std_err = float(mean_boot.std(ddof=1)) if n_boot > 1 else 0.0
    result.settings = Bunch(
        block_length=block_length,
        n_boot=n_boot,
        ci=ci,
        n_runs=len(runs),
        random_state=random_state,
    )
    return _squeeze(result, one_d, ("r", "ci_low", "ci_high", "std_err"))


def compare_models(
    y_true,
    pred_a,
    pred_b,
    *,
    groups=None,
    n_permutations=1000,
    block_length=None,
    alternative="two-sided",
    alpha=0.05,
    fdr_method="bh",
    random_state=None,
    n_jobs=None,
    verbose=0,
):
    """Paired, run-aware permutation test of the difference of two models' r.

    For every target, tests whether model A's held-out Pearson r differs from
    model B's. Under the null the two models are exchangeable, so each
    permutation swaps their predictions on a random half of the blocks
    (consecutive samples within a run; the same swaps for every target) and
    recomputes ``r_a - r_b``. The p-values are corrected over targets by FDR
    (q-values) and by the max statistic (family-wise).

    .. versionadded:: 0.1

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        Recorded responses of the held-out runs.
    pred_a, pred_b : array-like of the shape of ``y_true``
        Predictions of the two models (any models) for the same samples.
    groups : array-like of shape (n_samples,), default=None
        Run label of every sample (runs contiguous): blocks never cross a run
        boundary. ``None``: one run.
    n_permutations : int, default=1000
        Number of random swap patterns.
    block_length : int, default=None
        Samples per swapped block (the last block of a run is shorter; a run
        shorter than a block is one block). ``None`` estimates it from the
        data by the rule of :func:`permutation_test` (``40 * sum_h |h|
        rho(h) / sum_h rho(h)``), with the autocorrelations of ``y_true`` and
        of ``pred_a - pred_b``.
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        ``"greater"``: A's r larger than B's; ``"less"``: smaller.
    alpha : float, default=0.05
        Level of the false discovery rate of ``rejected``.
    fdr_method : {"bh", "by"}, default="bh"
        Method of :func:`fdr_correction`.
    random_state : int, RandomState instance or None, default=None
        Seed of the swaps (results independent of ``n_jobs``).
    n_jobs : int, default=None
        Target batches processed in parallel through joblib.
    verbose : int or bool, default=0
        Show a progress bar over target batches.

    Returns
    -------
    result : Bunch
        - ``r_a``, ``r_b`` : ndarray of shape (n_targets,), each model's r.
        - ``difference`` : ndarray of shape (n_targets,), ``r_a - r_b``.
        - ``p_values``, ``p_values_fwe`` : ndarray of shape (n_targets,),
          per-target and family-wise (max-statistic) p-values, with the +1
          correction of :func:`permutation_test`.
        - ``q_values``, ``rejected`` : ndarray of shape (n_targets,), from
          :func:`fdr_correction` at ``alpha``: the FDR-corrected map.
        - ``null_mean``, ``null_std`` : ndarray of shape (n_targets,), of the
          null differences.
        - ``settings`` : Bunch with ``n_permutations``, ``block_length``,
          ``alternative``, ``alpha``, ``fdr_method``, ``n_runs``,
          ``random_state``.

        For 1-D inputs the per-target entries are floats.

    Raises
    ------
    ValueError
        If the inputs' shapes differ or they hold NaN or inf, ``groups`` is
        not one label per sample, or an option is unknown.

    See Also
    --------
    permutation_test : Test of one model against chance.

    Notes
    -----
    Swapping block ``i`` changes each model's sums (of its prediction, of
    its square, of its product with the response) by the block's difference
    between the models, so all permutations of a batch of targets are three
    matrix products of the swap patterns with those differences.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.stats import compare_models
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.standard_normal((600, 4))
    >>> y_true = signal + rng.standard_normal((600, 4))
    >>> good = signal + 0.5 * rng.standard_normal((600, 4))
    >>> poor = signal + 2.0 * rng.standard_normal((600, 4))
    >>> result = compare_models(y_true, good, poor, groups=np.repeat([0, 1], 300),
    ...                         block_length=20, n_permutations=500,
    ...                         random_state=0)
    >>> bool(np.all(result.difference > 0)), bool(np.all(result.rejected))
    (True, True)
    """
    y_true, (pred_a, pred_b), one_d = _check_responses(
        y_true, pred_a=pred_a, pred_b=pred_b
    )
    n_samples = y_true.shape[0]
    groups = check_groups(groups, n_samples)
    n_permutations = check_int(n_permutations, "n_permutations", minimum=1)
    _check_option(alternative, "alternative", _ALTERNATIVES)
    _check_fraction(alpha, "alpha")
    _check_option(fdr_method, "fdr_method", _FDR_METHODS)
    runs = run_slices(groups)
    if block_length is None:
        cols = _sampled_targets(y_true.shape[1])
        difference = pred_a[:, cols].astype(np.float64) - pred_b[:, cols]
        block_length = _default_block_length(
            y_true[:, cols], difference, runs, "comparisons"
        )
    else:
        block_length = check_int(block_length, "block_length", minimum=1)
    swap = _SwapNull(runs, block_length)
    r_a = pearson_r(y_true, pred_a)
    r_b = pearson_r(y_true, pred_b)
    seeds = _chunk_seeds(random_state, n_permutations)
    stat = _statistic(alternative)

    def batch(cols):
        yt = _centred(y_true[:, cols], None)[0]
        # one offset for both models, so that swapped samples keep theirs
        a = pred_a[:, cols].astype(np.float64)
        b = pred_b[:, cols].astype(np.float64)
        offset = (a.mean(axis=0) + b.mean(axis=0)) / 2
        a -= offset
        b -= offset
        return _batch_null(swap, swap.table(yt, a, b), seeds, stat, False)

    outputs = _run_batches(
        batch,
        y_true.shape[1],
        swap.rows,
        n_permutations,
        n_jobs,
        verbose,
        "compare_models target batches",
    )
    result = _combine(outputs, y_true.shape[1], n_permutations, False)
    del result["null_max"]
    result.rejected, result.q_values = fdr_correction(
        result.p_values, alpha=alpha, method=fdr_method
    )
    result.r_a, result.r_b = r_a, r_b
    result.difference = r_a - r_b
    result.settings = Bunch(
        n_permutations=n_permutations,
        block_length=block_length,
        alternative=alternative,
        alpha=alpha,
        fdr_method=fdr_method,
        n_runs=len(runs),
        random_state=random_state,
    )
    return _squeeze(
        result,
        one_d,
        (
            "r_a",
            "r_b",
            "difference",
            "p_values",
            "p_values_fwe",
            "q_values",
            "rejected",
            "null_mean",
            "null_std",
        ),
    )


# --------------------------------------------------------------------------
# null distributions: each draws its permutations from a generator and turns
# a batch's table into the null values of those permutations
#
# Every ``table(...)`` works on columns centred over all samples; the schemes
# keep each run's (or the whole series') mean and sum of squares, so a null r
# is the permuted cross-product divided by the norms (``_normalise``).


class _CircularNull:
    """Circular shifts of each run of the prediction (one lag per run)."""

    def __init__(self, runs):
        self.runs = runs
        self.starts = np.array([run.start for run in runs])
        self.lengths = np.array([run.stop - run.start for run in runs])
        self.rows = int(self.lengths.sum())

    def draw(self, rng, size):
        """Lags, shape (size, n_runs): ``y_pred`` of run k rolled by lag k."""
        return rng.integers(0, self.lengths, size=(size, len(self.runs)))

    def identity(self):
        return np.zeros((1, len(self.runs)), dtype=np.intp)

    def table(self, yt, yp):
        """Cross-products of every lag, run after run: row ``start + lag``."""
        table = np.empty_like(yt)
        for run in self.runs:
            n = run.stop - run.start
            spectrum = scipy.fft.rfft(yt[run], axis=0)
            spectrum *= np.conj(scipy.fft.rfft(yp[run], axis=0))
            table[run] = scipy.fft.irfft(spectrum, n=n, axis=0)
        return table

    def null(self, table, lags):
        rows = lags + self.starts
        out = table[rows[:, 0]]
        for k in range(1, rows.shape[1]):
            out += table[rows[:, k]]
        return out


class _BlockNull:
    """Permutations of whole blocks within runs (``mix_runs``: one run of all
    samples)."""

    def __init__(self, runs, block_length):
        b = block_length
        self.block_length = b
        # units: the groups of blocks permuted among themselves
        units = []
        for run in runs:
            n_blocks = (run.stop - run.start) // b
            units.append(run.start + b * np.arange(n_blocks))
        units = [u for u in units if u.size >= 2]
        if not units:
            longest = max(run.stop - run.start for run in runs)
            raise ValueError(
                f"block_length must leave at least two blocks in a run, got "
                f"block_length={b} with runs of at most {longest} samples."
            )
        self.units = units
        self.block_starts = np.concatenate(units)
        n_total = sum(run.stop - run.start for run in runs)
        moved = (self.block_starts[:, None] + np.arange(b)).ravel()
        self.fixed = np.setdiff1d(np.arange(n_total), moved)
        pairs = sum(u.size**2 for u in units)
        # products of all pairs of blocks when that table is small, else the
        # permuted samples directly
        self.lookup = pairs <= 4 * n_total
        self.rows = pairs if self.lookup else n_total
        offsets, start = [], 0
        for u in units:
            offsets.append(start)
            start += u.size**2
        self.offsets = offsets

    def draw(self, rng, size):
        """Block order, shape (size, n_blocks): slot i gets block order[i]
        (indices into the concatenated units, within the slot's unit)."""
        orders, first = [], 0
        for u in self.units:
            keys = rng.random((size, u.size))
            orders.append(np.argsort(keys, axis=1) + first)
            first += u.size
        return np.hstack(orders)

    def identity(self):
        return np.arange(self.block_starts.size)[None, :]

    def table(self, yt, yp):
        fixed = np.einsum("ij,ij->j", yt[self.fixed], yp[self.fixed])
        b = self.block_length
        if not self.lookup:
            return Bunch(fixed=fixed, yt=yt, yp=yp)
        pairs = []
        for u in self.units:
            idx = (u[:, None] + np.arange(b)).ravel()
            # (targets, blocks, b) for a batched matmul over targets
            t = yt[idx].reshape(u.size, b, -1).transpose(2, 0, 1)
            p = yp[idx].reshape(u.size, b, -1).transpose(2, 0, 1)
            pairs.append((t @ p.transpose(0, 2, 1)).reshape(t.shape[0], -1).T)
        return Bunch(fixed=fixed, pairs=np.vstack(pairs))

    def null(self, table, order):
        out = np.empty((order.shape[0], table.fixed.size))
        out[:] = table.fixed
        if self.lookup:
            first = 0
            for u, offset in zip(self.units, self.offsets, strict=True):
                for i in range(u.size):
                    rows = offset + i * u.size + (order[:, first + i] - first)
                    out += table.pairs[rows]
                first += u.size
            return out
        b = self.block_length
        slots = (self.block_starts[:, None] + np.arange(b)).ravel()
        yt_moved = table.yt[slots]
        for p in range(order.shape[0]):
            source = (self.block_starts[order[p]][:, None] + np.arange(b)).ravel()
            out[p] += np.einsum("ij,ij->j", yt_moved, table.yp[source])
        return out


class _PhaseNull:
    """Random Fourier phases for each run of the prediction (same for all
    targets); DC and Nyquist keep theirs, so the surrogate is real and keeps
    the run's mean and power spectrum."""

    def __init__(self, runs):
        self.runs = runs
        self.lengths = [run.stop - run.start for run in runs]
        self.rows = int(2 * sum(n // 2 + 1 for n in self.lengths))

    def draw(self, rng, size):
        """Phases, one (size, n_frequencies) array per run."""
        phases = []
        for n in self.lengths:
            phi = rng.uniform(0.0, 2 * np.pi, size=(size, n // 2 + 1))
            phi[:, 0] = 0.0
            if n % 2 == 0:
                phi[:, -1] = 0.0
            phases.append(phi)
        return phases

    def identity(self):
        return [np.zeros((1, n // 2 + 1)) for n in self.lengths]

    def table(self, yt, yp):
        """Weighted cross-spectrum of each run: sum_t yt * surrogate =
        sum_f w_f Re(S_f exp(i phi_f)) / n (Parseval)."""
        spectra = []
        for run, n in zip(self.runs, self.lengths, strict=True):
            s = np.conj(scipy.fft.rfft(yt[run], axis=0)) * scipy.fft.rfft(
                yp[run], axis=0
            )
            weight = np.full(n // 2 + 1, 2.0 / n)
            weight[0] = 1.0 / n
            if n % 2 == 0:
                weight[-1] = 1.0 / n
            s *= weight[:, None]
            spectra.append((np.ascontiguousarray(s.real), np.ascontiguousarray(s.imag)))
        return spectra

    def null(self, table, phases):
        out = None
        for (real, imag), phi in zip(table, phases, strict=True):
            part = np.cos(phi) @ real - np.sin(phi) @ imag
            out = part if out is None else out + part
        return out


class _Bootstrap:
    """Circular block bootstrap within runs: each run rebuilt from blocks
    that start anywhere in it and wrap around its end; a bootstrap r from
    the resampled sums, ``counts @ values`` (one matrix product each)."""

    def __init__(self, runs, block_length):
        self.runs = runs
        self.block_length = block_length
        self.n_samples = sum(run.stop - run.start for run in runs)
        self.rows = 5 * self.n_samples

    def draw(self, rng, size):
        """How many times each sample is drawn, shape (size, n_samples)."""
        counts = np.empty((size, self.n_samples))
        for run in self.runs:
            n = run.stop - run.start
            b = min(self.block_length, n)
            n_blocks = -(-n // b)
            lengths = np.full(n_blocks, b)
            lengths[-1] = n - b * (n_blocks - 1)
            starts = rng.integers(0, n, size=(size, n_blocks))
            # +1 at each block's start, -1 after its end, on two laps of the run
            rows = np.arange(size)[:, None] * (2 * n + 1)
            edges = np.bincount((rows + starts).ravel(), minlength=size * (2 * n + 1))
            edges -= np.bincount(
                (rows + starts + lengths).ravel(), minlength=size * (2 * n + 1)
            )
            laps = np.cumsum(edges.reshape(size, 2 * n + 1), axis=1)
            counts[:, run] = laps[:, :n] + laps[:, n : 2 * n]
        return counts

    def table(self, yt, yp):
        """Per-sample values: y_true, y_pred, their squares and product."""
        return np.stack([yt, yp, yt * yt, yp * yp, yt * yp])

    def null(self, table, counts):
        st, sp, stt, spp, stp = (counts @ values for values in table)
        n = self.n_samples
        cov = stp - st * sp / n
        var = (stt - st * st / n) * (spp - sp * sp / n)
        r = np.divide(
            cov, np.sqrt(np.maximum(var, 0.0)), out=np.zeros_like(cov), where=var > 0
        )
        return np.clip(r, -1.0, 1.0)


class _SwapNull:
    """Predictions of two models swapped on random blocks within runs."""

    def __init__(self, runs, block_length):
        bounds = []
        for run in runs:
            edges = np.arange(run.start, run.stop, block_length)
            bounds.append(np.stack([edges, np.append(edges[1:], run.stop)], axis=1))
        self.bounds = np.vstack(bounds)
        self.block_length = block_length
        self.n_samples = int(self.bounds[-1, 1])
        self.rows = 3 * self.bounds.shape[0] + 8

    def draw(self, rng, size):
        """Swaps, shape (size, n_blocks): 1 where the models trade places."""
        return (rng.random((size, self.bounds.shape[0])) < 0.5).astype(np.float64)

    def identity(self):
        return np.zeros((1, self.bounds.shape[0]))

    def table(self, yt, a, b):
        """Per block, B's minus A's sums of prediction, square and product
        with the response; and A's and B's totals."""
        starts = self.bounds[:, 0]
        stats_a = [np.add.reduceat(v, starts, axis=0) for v in (a, a * a, yt * a)]
        stats_b = [np.add.reduceat(v, starts, axis=0) for v in (b, b * b, yt * b)]
        diff = np.stack([sb - sa for sa, sb in zip(stats_a, stats_b, strict=True)])
        total_a = np.stack([s.sum(axis=0) for s in stats_a])
        total_b = np.stack([s.sum(axis=0) for s in stats_b])
        norm_y = np.sqrt(np.einsum("ij,ij->j", yt, yt))
        return Bunch(diff=diff, total_a=total_a, total_b=total_b, norm_y=norm_y)

    def null(self, table, swaps):
        change = np.stack([swaps @ d for d in table.diff])  # (3, size, targets)
        r_a = self._r(table.total_a[:, None, :] + change, table.norm_y)
        r_b = self._r(table.total_b[:, None, :] - change, table.norm_y)
        return r_a - r_b

    def _r(self, sums, norm_y):
        s, ss, cross = sums
        var = np.maximum(ss - s * s / self.n_samples, 0.0)
        denom = np.sqrt(var) * norm_y
        return np.divide(cross, denom, out=np.zeros_like(cross), where=denom > 0)


# --------------------------------------------------------------------------
# shared machinery


def _batch_null(null, table, seeds, stat, keep_null):
    """Counts, summaries and (optionally) the null of one target batch."""
    observed = stat(null.null(table, null.identity())[0])
    count = np.zeros(observed.size)
    total = np.zeros(observed.size)
    total_sq = np.zeros(observed.size)
    maxima, values = [], []
    for seed, size in seeds:
        chunk = null.null(table, null.draw(_rng(seed), size))
        total += chunk.sum(axis=0)
        total_sq += np.einsum("ij,ij->j", chunk, chunk)
        transformed = stat(chunk)
        count += np.count_nonzero(transformed >= observed, axis=0)
        maxima.append(transformed.max(axis=1))
        if keep_null:
            values.append(chunk)
    return Bunch(
        observed=observed,
        count=count,
        total=total,
        total_sq=total_sq,
        maxima=np.concatenate(maxima),
        null=np.vstack(values) if keep_null else None,
    )


def _combine(outputs, n_targets, n_permutations, keep_null):
    """Per-target and family-wise p-values from the batches' outputs."""
    observed = np.empty(n_targets)
    count = np.empty(n_targets)
    mean = np.empty(n_targets)
    std = np.empty(n_targets)
    maxima = np.full(n_permutations, -np.inf)
    null = np.empty((n_permutations, n_targets)) if keep_null else None
    for cols, out in outputs:
        observed[cols] = out.observed
        count[cols] = out.count
        mean[cols] = out.total / n_permutations
        var = out.total_sq / n_permutations - mean[cols] ** 2
        std[cols] = np.sqrt(np.maximum(var, 0.0))
        np.maximum(maxima, out.maxima, out=maxima)
        if keep_null:
            null[:, cols] = out.null
    sorted_max = np.sort(maxima)
    exceed = n_permutations - np.searchsorted(sorted_max, observed, side="left")
    result = Bunch(
        p_values=(1.0 + count) / (1.0 + n_permutations),
        p_values_fwe=(1.0 + exceed) / (1.0 + n_permutations),
        null_mean=mean,
        null_std=std,
        null_max=maxima,
    )
    if keep_null:
        result.null = null
    return result


def _run_batches(batch, n_targets, rows, n_draws, n_jobs, verbose, desc):
    """``[(cols, batch(cols)), ...]`` over target batches, through joblib."""
    # rows: float64 values per target in a batch's tables; a chunk of draws
    # needs a few arrays of (chunk, batch) values. Batches of metrics'
    # budget (32 MiB per work array) keep memory bounded at any target count.
    batches = _batches((max(rows, 4 * min(n_draws, _CHUNK), 1), n_targets))
    parallel = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")
    outputs = []
    with progress_bar(desc, len(batches), verbose=verbose, unit="batch") as bar:
        for cols, out in zip(
            batches, parallel(delayed(batch)(cols) for cols in batches), strict=True
        ):
            outputs.append((cols, out))
            bar.update()
    return outputs


def _chunk_seeds(random_state, n_draws):
    """One (seed, size) per chunk of ``_CHUNK`` draws, from ``random_state``."""
    rng = check_random_state(random_state)
    sizes = [min(_CHUNK, n_draws - i) for i in range(0, n_draws, _CHUNK)]
    seeds = rng.randint(0, 2**31 - 1, size=len(sizes))
    return list(zip(seeds.tolist(), sizes, strict=True))


def _rng(seed):
    return np.random.default_rng(seed)


def _statistic(alternative):
    if alternative == "greater":
        return lambda x: x
    if alternative == "less":
        return np.negative
    return np.abs


def _normalise(yt, yp):
    """Scale centred columns to unit norm, in place; constant columns stay 0."""
    for y in (yt, yp):
        norm = np.sqrt(np.einsum("ij,ij->j", y, y))
        y *= np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)


def _default_block_length(y_true, y_pred, runs, what="test"):
    """Block length from the autocorrelation of ``y_true`` and ``y_pred``.

    ``_BLOCK_FACTOR[what] * sum_h |h| rho(h) / sum_h rho(h)``, ``rho`` the
    product of the mean (over targets and runs) autocorrelations of
    ``y_true`` and ``y_pred``, summed up to the first lag at which either is
    not positive; between 1 and half the shortest run (with a warning).
    """
    cols = _sampled_targets(y_true.shape[1])
    shortest = min(run.stop - run.start for run in runs)
    max_lag = max(1, shortest // 2)
    rho_true = _mean_autocorrelation(y_true[:, cols], runs, max_lag)
    rho_pred = _mean_autocorrelation(y_pred[:, cols], runs, max_lag)
    # up to the first lag where either is not positive: beyond it the
    # estimates are noise (biased negative by the centring of each run)
    positive = (rho_true[1:] > 0) & (rho_pred[1:] > 0)
    stop = 1 + (int(np.argmin(positive)) if not positive.all() else positive.size)
    rho = rho_true * rho_pred
    lags = np.arange(1, stop)
    ratio = np.sum(lags * rho[1:stop]) / (0.5 + np.sum(rho[1:stop]))
    length = max(1, int(np.ceil(_BLOCK_FACTOR[what] * ratio)))
    if length > max_lag:
        advice = {
            "test": "Prefer method='circular', which keeps the autocorrelation "
            "across blocks.",
            "intervals": "Pass a longer block_length only with longer runs.",
            "comparisons": "Runs longer than the autocorrelation make the "
            "comparison exact; pass block_length to swap whole runs.",
        }[what]
        warnings.warn(
            f"The data's autocorrelation asks for blocks of {length} samples, "
            f"more than half the shortest run ({shortest} samples): using "
            f"block_length={max_lag}, with which the {what} may be too "
            f"optimistic. {advice}",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        length = max_lag
    return length


def _sampled_targets(n_targets):
    """Up to ``_BLOCK_TARGETS`` evenly spaced target indices."""
    return np.unique(
        np.linspace(0, n_targets - 1, min(n_targets, _BLOCK_TARGETS)).astype(np.intp)
    )


def _mean_autocorrelation(y, runs, max_lag):
    """Autocorrelation at lags 0..max_lag, averaged over runs (weighted by
    length) and over non-constant targets; within-run centring."""
    acf = np.zeros(max_lag + 1)
    weight = 0
    for run in runs:
        x = y[run].astype(np.float64)
        x -= x.mean(axis=0)
        n = x.shape[0]
        power = np.abs(scipy.fft.rfft(x, n=2 * n, axis=0)) ** 2
        cov = scipy.fft.irfft(power, n=2 * n, axis=0)[: max_lag + 1]
        ok = cov[0] > 0
        if not np.any(ok):
            continue
        lags = min(max_lag + 1, n)
        acf[:lags] += n * np.mean(cov[:lags, ok] / cov[0, ok], axis=1)
        weight += n
    return acf / weight if weight else acf


def _check_option(value, name, options):
    if not isinstance(value, str) or value not in options:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}."
        )


def _check_fraction(value, name):
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Real) and 0 < value < 1
    ):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}.")


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def _as_p_values(p_values):
    """p-values as a float64 array; each must be in [0, 1]."""
    p = np.asarray(check_numeric(p_values, "p_values"), dtype=np.float64)
    if p.size == 0:
        raise ValueError("p_values must hold at least one p-value, got none.")
    bad = ~((p >= 0) & (p <= 1))
    if np.any(bad):
        first = float(p.ravel()[np.flatnonzero(bad.ravel())[0]])
        raise ValueError(
            f"p_values must be in [0, 1], got {np.count_nonzero(bad)} value(s) "
            f"outside it or NaN (first: {first!r})."
        )
    return p


def _check_responses(y_true, **predictions):
    """``y_true`` and the predictions as 2-D float arrays of one shape, finite,
    with at least 2 samples; and whether they were 1-D."""
    y_true = _as_numeric(y_true, "y_true")
    arrays = {}
    for name, pred in predictions.items():
        pred = _as_numeric(pred, name)
        if pred.shape != y_true.shape:
            raise ValueError(
                f"y_true and {name} must have the same shape, got y_true of shape "
                f"{y_true.shape} and {name} of shape {pred.shape}."
            )
        arrays[name] = pred
    if y_true.shape[0] < 2:
        raise ValueError(
            f"A correlation needs at least 2 samples, got y_true of shape "
            f"{y_true.shape}."
        )
    check_finite(y_true, "y_true", axes=Y_AXES)
    for name, pred in arrays.items():
        check_finite(pred, name, axes=Y_AXES)
    one_d = y_true.ndim == 1
    if one_d:
        y_true = y_true[:, np.newaxis]
        arrays = {name: pred[:, np.newaxis] for name, pred in arrays.items()}
    return y_true, list(arrays.values()), one_d


def _squeeze(result, one_d, keys):
    """Floats instead of 1-element arrays for 1-D inputs."""
    if one_d:
        for key in keys:
            value = result[key][0]
            result[key] = value.item() if hasattr(value, "item") else value
        if result.get("null") is not None:
            result.null = result.null[:, 0]
    return result
