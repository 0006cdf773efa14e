"""
Which targets are predicted above chance? Permutation tests over runs
=====================================================================

Every encoding map needs an answer to two questions: which targets does the
model predict better than chance, and where does model A beat model B?
:mod:`brainenc.stats` answers both on held-out predictions of any model, with
null distributions that respect time: responses and predictions are smooth,
so shuffling samples makes chance correlations look significant.

Here half of the targets are driven by the stimulus features and half are
responses recorded for another stimulus (as smooth, but unrelated), so we
know which targets a test should find.
"""

# %%
# Six runs of 200 TRs. The first 100 targets respond to ``X``; the other 100
# come from an unrelated draw of the generator. Hold out the last two runs.
import matplotlib.pyplot as plt
import numpy as np

from brainenc import DelayedRidge, make_encoding_data, pearson_r
from brainenc.plotting import plot_significance
from brainenc.stats import (
    bootstrap_ci,
    compare_models,
    fdr_correction,
    permutation_test,
)

options = {"n_samples": 1200, "n_features": 10, "n_runs": 6, "delays": 4}
X, y_driven, groups, _ = make_encoding_data(
    n_targets=100, snr=0.1, random_state=0, **options
)
_, y_unrelated, _, _ = make_encoding_data(n_targets=100, random_state=1, **options)
y = np.hstack([y_driven, y_unrelated])
driven = np.arange(200) < 100
train, test = groups < 4, groups >= 4

model = DelayedRidge(delays=4, backend="numpy").fit(
    X[train], y[train], groups=groups[train]
)
y_pred = model.predict(X[test], groups=groups[test])
r = pearson_r(y[test], y_pred)
print(
    f"held-out mean r: driven {r[driven].mean():.3f}, unrelated "
    f"{r[~driven].mean():.3f}, unrelated max {r[~driven].max():.3f}"
)

# %%
# A permutation test of every target. The default null shifts each held-out
# run of the prediction circularly by a random lag (runs are never mixed),
# which keeps the autocorrelation of both series. The p-values count the
# observed pairing as one permutation, so the smallest is 1 / (1 + 1000).
result = permutation_test(
    y[test], y_pred, groups=groups[test], n_permutations=1000, random_state=0
)
rejected, q = fdr_correction(result.p_values, alpha=0.05)
family = result.p_values_fwe <= 0.05
print(
    f"FDR q <= 0.05: {rejected[driven].sum()} of 100 driven targets, "
    f"{rejected[~driven].sum()} of 100 unrelated"
)
print(
    f"max statistic (family-wise) p <= 0.05: {family[driven].sum()} driven, "
    f"{family[~driven].sum()} unrelated"
)
print("settings:", dict(result.settings))

# %%
# The figure: the held-out r of every target, split by the FDR decision,
# over the null pooled over targets, with both thresholds.
fig = plot_significance(result)

# %%
# Why not shuffle samples? Blocks of one sample mixed over all runs are a
# sample shuffle: its null ignores how smooth the series are, is far too
# narrow, and many unrelated targets pass.
shuffled = permutation_test(
    y[test],
    y_pred,
    groups=groups[test],
    n_permutations=1000,
    random_state=0,
    method="block",
    block_length=1,
    mix_runs=True,
)
print(
    f"unrelated targets at p <= 0.05: circular shift "
    f"{np.mean(result.p_values[~driven] <= 0.05):.0%}, sample shuffle "
    f"{np.mean(shuffled.p_values[~driven] <= 0.05):.0%}"
)

# %%
# How precise is each r? A circular block bootstrap within the held-out runs
# gives intervals of every target's r and of the mean over targets (the same
# resampling for all targets, so their correlation is in the interval of the
# mean).
intervals = bootstrap_ci(
    y[test], y_pred, groups=groups[test], n_boot=500, random_state=0
)
print(
    f"mean r of all targets {intervals.mean_r:.3f}, 95% interval "
    f"[{intervals.mean_ci_low:.3f}, {intervals.mean_ci_high:.3f}] "
    f"(blocks of {intervals.settings.block_length} TRs)"
)

order = np.argsort(-r)[:20]
fig, ax = plt.subplots(figsize=(7, 3))
ax.errorbar(
    np.arange(20),
    r[order],
    yerr=[r[order] - intervals.ci_low[order], intervals.ci_high[order] - r[order]],
    fmt="o",
    capsize=2,
)
ax.axhline(0, color="grey", lw=0.5)
ax.set(xlabel="target (best 20)", ylabel="held-out r", title="95% bootstrap intervals")
fig.tight_layout()

# %%
# Where does the full model beat one with a single delay? ``compare_models``
# swaps the two models' predictions on random blocks within runs (the same
# swaps for every target) and gives a per-target p-value and its FDR map.
short = DelayedRidge(delays=[1], backend="numpy").fit(
    X[train], y[train], groups=groups[train]
)
comparison = compare_models(
    y[test],
    y_pred,
    short.predict(X[test], groups=groups[test]),
    groups=groups[test],
    n_permutations=1000,
    random_state=0,
)
print(
    f"mean r difference (4 delays - 1 delay): driven "
    f"{comparison.difference[driven].mean():.3f}, unrelated "
    f"{comparison.difference[~driven].mean():.3f}"
)
print(
    f"better at FDR q <= 0.05: {comparison.rejected[driven].sum()} driven, "
    f"{comparison.rejected[~driven].sum()} unrelated targets"
)
plt.show()
