"""
Haemodynamic responses from real event-related fMRI
===================================================

An encoding model on real data: the event-related fMRI recording that ships
with `nitime <https://nipy.org/nitime/>`_ (3360 TRs at a TR of 2 s, the mean
BOLD signal of motion-sensitive voxels near area MT, in percent signal change,
with six trial types). The stimulus features are one onset indicator per
trial type; :class:`brainenc.DelayedRidge` with delays of 0 to 14 TRs is then
a finite impulse response (FIR) model, and its weights over delays are the
estimated haemodynamic response of each trial type.

We fit on the first three quarters of the recording, check the prediction on
the last quarter, which the model never saw, and compare the estimated
responses with nitime's own FIR analysis of the full recording.
"""

# %%
# Load the recording. ``events`` codes the trial type (1-6) at each onset TR,
# 0 elsewhere.
import os

import matplotlib.pyplot as plt
import nitime
import numpy as np

from brainenc import DelayedRidge, pearson_r

path = os.path.join(os.path.dirname(nitime.__file__), "data", "event_related_fmri.csv")
data = np.genfromtxt(path, delimiter=",", names=True)
bold, events = data["bold"], data["events"]
tr = 2.0
print(f"{bold.size} TRs, {np.count_nonzero(events)} trials")

# %%
# The design: one 0/1 onset column per trial type. ``delays=range(15)``
# expands each column into its copies at delays of 0-14 TRs (0-28 s), so the
# weights of a type over the delays trace its response over time.
types = np.unique(events[events != 0]).astype(int)
X = (events[:, None] == types[None, :]).astype(float)

# %%
# Cut the recording into four contiguous blocks used as runs: delays never
# cross a block boundary, the alpha search holds out whole blocks, and the last
# block is kept for the final test.
groups = np.repeat(np.arange(4), bold.size // 4)
train, test = groups < 3, groups == 3
model = DelayedRidge(
    delays=np.arange(15), alphas=np.logspace(-2, 4, 7), backend="numpy"
)
model.fit(X[train], bold[train], groups=groups[train])
prediction = model.predict(X[test], groups=groups[test])
r = pearson_r(bold[test], prediction)
print(f"alpha = {model.best_alphas_[0]:g}, held-out r = {float(r):.2f}")

# %%
# The prediction on the held-out quarter, from the trial onsets alone.
t = np.arange(bold.size)[test][:200] * tr
fig, ax = plt.subplots(figsize=(8, 2.5))
ax.plot(t, bold[test][:200], color="k", lw=1, label="BOLD (held out)")
ax.plot(t, prediction[:200], color="C1", lw=1.5, label="FIR model")
ax.set(xlabel="time (s)", ylabel="% signal change")
ax.legend(loc="upper right", ncols=2)
fig.tight_layout()

# %%
# The estimated haemodynamic response of each trial type: the weights over
# delays (``coef_delays_`` is indexed by target, feature, delay). For
# reference, nitime's FIR estimate (ordinary least squares on the whole
# recording, no intercept) is drawn in grey: the ridge fit on three quarters
# of the data finds the same shapes, peaking 4-8 s after the onset and followed
# by an undershoot.
import nitime.analysis as nta
import nitime.timeseries as ts

nitime_fir = nta.EventRelatedAnalyzer(
    ts.TimeSeries(bold, sampling_interval=tr),
    ts.TimeSeries(events, sampling_interval=tr),
    15,
).FIR.data

lag_seconds = model.delays_ * tr
fig, axes = plt.subplots(2, 3, figsize=(9, 5), sharex=True, sharey=True)
for ax, k, hrf in zip(axes.flat, range(types.size), model.coef_delays_[0], strict=True):
    ax.plot(lag_seconds, nitime_fir[k], color="grey", lw=3, alpha=0.5, label="nitime")
    ax.plot(lag_seconds, hrf, "C0-o", ms=3, label="DelayedRidge")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(f"trial type {types[k]}")
for ax in axes[-1]:
    ax.set_xlabel("time after onset (s)")
for ax in axes[:, 0]:
    ax.set_ylabel("% signal change")
axes[0, 0].legend(fontsize="small")
fig.tight_layout()
plt.show()
