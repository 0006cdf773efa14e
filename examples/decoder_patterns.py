"""
Decoding a stimulus from EEG: weights and patterns
==================================================

A backward model (a decoder) maps the recorded channels back to the
stimulus: here, the envelope of a sound from 32 simulated EEG channels.
:class:`brainenc.DelayedRidge` fits it like any encoding model, with the
roles of ``X`` and ``y`` swapped and *negative* delays (the envelope at time
``t`` is read from the EEG at ``t`` to ``t + 250 ms``, after the brain
responded to it).

A decoder's weights are not a map of where the signal is: they also cancel
the noise that the channels share, so channels that carry no signal get
large weights. ``patterns=True`` turns them into activation patterns (Haufe
et al., 2014, ``patterns_``): the covariance of the delayed channels times
the weights times the inverse covariance of the decoded stimulus. Patterns
are the forward map, and they show the topography of the responding source.
"""

# %%
# Simulate 4 trials of EEG at 64 Hz: one neural source follows the envelope
# with a response peaking 100 ms later and projects to the channels through
# a smooth topography; 20 noise sources project through their own, and each
# channel adds sensor noise.
import matplotlib.pyplot as plt
import numpy as np

from brainenc import DelayedRidge, pearson_r

rng = np.random.default_rng(0)
sfreq, n_per_trial, n_trials, n_channels = 64, 3000, 4, 32
n = n_per_trial * n_trials
trials = np.repeat(np.arange(n_trials), n_per_trial)


def smooth_noise(n_series, width):
    kernel = np.hanning(4 * width + 1)
    white = rng.standard_normal((n + kernel.size, n_series))
    out = np.stack([np.convolve(w, kernel, "valid")[:n] for w in white.T], axis=1)
    return out / out.std(axis=0)


def topography(centre):
    angle = np.linspace(0, 2 * np.pi, n_channels, endpoint=False)
    return np.exp(-(np.angle(np.exp(1j * (angle - centre))) ** 2) / 0.3)


envelope = np.abs(smooth_noise(1, 4))[:, 0]
envelope = (envelope - envelope.mean()) / envelope.std()
lags = np.arange(16)  # 0-250 ms
response = np.exp(-0.5 * ((lags - 6.4) / 2.0) ** 2)  # peak at 100 ms
source = np.concatenate(
    [np.convolve(envelope[trials == k], response)[:n_per_trial] for k in range(4)]
)
true_topography = topography(1.0)
noise = smooth_noise(20, 2) @ np.stack([topography(c) for c in rng.uniform(0, 7, 20)])
eeg = 0.1 * source[:, None] * true_topography + noise
eeg += 0.5 * rng.standard_normal(eeg.shape)

# %%
# Fit the decoder on three trials and decode the fourth. Delays ``-15..0``
# read the EEG up to 15 samples (234 ms) after each envelope sample.
train, test = trials < 3, trials == 3
decoder = DelayedRidge(delays=np.arange(-15, 1), patterns=True, backend="numpy")
decoder.fit(eeg[train], envelope[train], groups=trials[train])
decoded = decoder.predict(eeg[test], groups=trials[test])
print(
    f"decoding r on the held-out trial: {float(pearson_r(envelope[test], decoded)):.2f}"
)

# %%
# Weights and patterns at the delay of the response peak (``-6``: the EEG
# 6 samples after the envelope), over the 32 channels. The weights are
# spread over every channel, signs mixed, to subtract the shared noise; the
# patterns follow the topography of the source.
peak = int(np.flatnonzero(decoder.delays_ == -6)[0])
weights = decoder.coef_delays_[0][:, peak]
patterns = decoder.patterns_.reshape(n_channels, -1)[:, peak]
print(
    "correlation with the true topography: "
    f"weights {np.corrcoef(weights, true_topography)[0, 1]:.2f}, "
    f"patterns {np.corrcoef(patterns, true_topography)[0, 1]:.2f}"
)

fig, axes = plt.subplots(1, 3, figsize=(10, 2.6), sharex=True)
for ax, values, title in zip(
    axes,
    (true_topography, weights, patterns),
    ("true topography", "decoder weights", "patterns (Haufe)"),
    strict=True,
):
    ax.bar(np.arange(n_channels), values, color="C0")
    ax.set(title=title, xlabel="channel")
fig.tight_layout()

# %%
# Over delays, the patterns of the peak channel trace the response of the
# source (read backwards, since the delays are negative).
channel = int(np.argmax(true_topography))
fig, ax = plt.subplots(figsize=(5, 2.6))
ax.plot(
    -decoder.delays_ / sfreq * 1000, decoder.patterns_.reshape(n_channels, -1)[channel]
)
ax.set(
    xlabel="EEG lag after the envelope (ms)",
    ylabel="pattern",
    title=f"channel {channel}",
)
fig.tight_layout()
plt.show()
