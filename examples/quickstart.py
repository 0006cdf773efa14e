"""
Quickstart: a delayed ridge encoding model
==========================================

The smallest complete encoding analysis: fit :class:`brainenc.DelayedRidge`
on training runs, score it on a held-out run with the field's metric (Pearson
r per target), compare that score with the noise ceiling, and look at the
temporal response function it learned.

The data come from :func:`brainenc.make_encoding_data`, which builds fMRI-like
responses from smooth stimulus features through a known haemodynamic delay
profile, so we can check what the model recovers against the truth.
"""

# %%
# Simulate four runs of 300 TRs (TR = 2 s): 10 stimulus features, 30 targets.
import matplotlib.pyplot as plt
import numpy as np

from brainenc import DelayedRidge, make_encoding_data, pearson_r

X, y, groups, truth = make_encoding_data(
    n_samples=1200,
    n_features=10,
    n_targets=30,
    n_runs=4,
    delays=6,
    tr=2.0,
    snr=1.0,
    random_state=0,
)
print(X.shape, y.shape, np.unique(groups))

# %%
# Hold out the last run. The model chooses one alpha per target by
# cross-validation over whole runs of the training set (``groups``), so no
# sample of the held-out run is ever seen during fitting.
train, test = groups < 3, groups == 3
model = DelayedRidge(delays=6, backend="numpy")
model.fit(X[train], y[train], groups=groups[train])
print("alphas chosen:", np.unique(model.best_alphas_))

# %%
# Score on the held-out run, target by target. Pass the run labels to
# ``predict`` too: delayed copies are zero-padded at the start of every run.
r = pearson_r(y[test], model.predict(X[test], groups=groups[test]))
print(f"held-out mean r = {r.mean():.3f}")

# %%
# How good is that? With simulated data we know the noise-free responses, so
# the noise ceiling (the r of the noise-free signal with the recorded
# response, the best any model can do) is known on the held-out run.
ceiling = pearson_r(y[test], truth.y_clean[test])
print(f"noise ceiling   = {ceiling.mean():.3f}")
print(f"fraction of the ceiling reached: {np.mean(r / ceiling):.2f}")

fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(ceiling, r, s=15)
lims = [min(r.min(), ceiling.min()) - 0.05, 1]
ax.plot(lims, lims, "k--", lw=1, label="r = ceiling")
ax.set(xlabel="noise ceiling (r)", ylabel="held-out r", title="Per-target accuracy")
ax.legend(loc="upper left")
fig.tight_layout()

# %%
# The temporal response function: ``coef_delays_`` indexes the weights by
# target, feature and delay. Its profile over delays, for the targets with the
# earliest and the latest true HRF peak, follows the true delay profile.
# Both are scaled to a peak of one (the overall weight scale is shrunk by the
# ridge penalty).
delay_seconds = model.delays_ * truth.tr


def delay_profile(coef):
    """Sign-aligned mean over features of a (n_features, n_delays) block."""
    sign = np.sign(coef.sum(axis=1, keepdims=True))
    profile = (sign * coef).mean(axis=0)
    return profile / np.abs(profile).max()


fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
for ax, t in zip(
    axes, [truth.hrf_peak_time.argmin(), truth.hrf_peak_time.argmax()], strict=True
):
    ax.plot(delay_seconds, delay_profile(truth.coef[t]), "k-o", label="true")
    ax.plot(delay_seconds, delay_profile(model.coef_delays_[t]), "C1-s", label="fit")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(
        xlabel="delay (s)",
        title=f"target {t}: HRF peak {truth.hrf_peak_time[t]:.1f} s",
    )
axes[0].set_ylabel("weight (scaled)")
axes[0].legend()
fig.tight_layout()
plt.show()
