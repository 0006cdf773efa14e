"""
Which feature space explains what? Variance partitioning and ablation
=====================================================================

When several feature spaces predict a response, their held-out scores alone
do not say what each one brings: two correlated spaces can each score well
because they carry the same information. Two tools of :mod:`brainenc.analysis`
answer that question:

- :func:`brainenc.variance_partitioning` refits the model on every subset of
  the spaces and splits the held-out explained variance (R^2) of each target
  into the variance unique to each space and the variance they share.
- :func:`brainenc.ablate_feature_spaces` takes one fitted model and measures
  how much its held-out r drops when one space is removed.

Here ``space0`` drives the first targets, ``space1`` the last ones, with a
smooth transition in between, and a third space, ``copy0``, is a noisy copy of
``space0``: it predicts the same targets, but brings nothing new.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from brainenc import (
    DelayedRidge,
    ablate_feature_spaces,
    make_multispace_data,
    variance_partitioning,
)

n_targets = 30
share0 = np.linspace(1, 0, n_targets)  # share of space0 in each target's signal
X, y, groups, truth = make_multispace_data(
    n_samples=800,
    space_sizes=(8, 8),
    n_targets=n_targets,
    shares=np.vstack([share0, 1 - share0]),
    n_runs=4,
    snr=2.0,
    random_state=0,
)
rng = np.random.default_rng(0)
copy0 = X[:, :8] + 0.5 * rng.standard_normal((X.shape[0], 8))
X = np.hstack([X, copy0])
feature_spaces = {"space0": 8, "space1": 8, "copy0": 8}  # consecutive blocks

# %%
# Variance partitioning: 7 subsets of 3 spaces, each fitted and scored over
# 4 folds of whole runs (leave-one-run-out).
result = variance_partitioning(
    DelayedRidge(backend="numpy"),
    X,
    y,
    feature_spaces,
    groups=groups,
    cv=4,
)
for name in result.space_names:
    print(f"unique to {name:>6}: mean R^2 = {result.unique[name].mean():+.3f}")
shared = result.regions[("space0", "copy0")]
print(f"shared by space0 and copy0: mean R^2 = {shared.mean():+.3f}")

# %%
# The variance unique to ``space1`` shrinks as the share of ``space0``
# grows. ``copy0`` has almost no unique variance: what it explains is shared
# with ``space0``, which is why the variance unique to ``space0`` stays much
# smaller than the R^2 of ``space0`` alone.
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(share0, result.scores[("space0",)], "C0:", label="R$^2$ of space0 alone")
ax.plot(share0, result.unique["space0"], "C0-", label="unique space0")
ax.plot(share0, result.unique["space1"], "C1-", label="unique space1")
ax.plot(share0, result.unique["copy0"], "C2-", label="unique copy0")
ax.plot(share0, shared, "C4--", label="shared space0 & copy0")
ax.plot(share0, result.total, "k-", lw=2, label="total (all spaces)")
ax.axhline(0, color="grey", lw=0.5)
ax.set(xlabel="true share of space0 in the signal", ylabel="held-out R$^2$")
ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
fig.tight_layout()

# %%
# Ablation needs only one fitted model: fit on three runs, then replace each
# space of the held-out run by zeros in turn and see how much r drops. The
# drop for ``space0`` stays small: the model can lean on ``copy0`` instead,
# the same redundancy that variance partitioning showed.
train, test = groups < 3, groups == 3
model = DelayedRidge(backend="numpy").fit(X[train], y[train], groups=groups[train])
ablation = ablate_feature_spaces(
    model, X[test], y[test], feature_spaces, groups=groups[test]
)
fig, ax = plt.subplots(figsize=(7, 3))
for k, name in enumerate(ablation.space_names):
    ax.plot(share0, ablation.drop[name], f"C{k}-o", ms=3, label=name)
ax.axhline(0, color="grey", lw=0.5)
ax.set(xlabel="true share of space0 in the signal", ylabel="drop in held-out r")
ax.legend(title="space removed", fontsize="small")
fig.tight_layout()
plt.show()
