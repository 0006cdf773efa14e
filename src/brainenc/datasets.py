"""Synthetic encoding data with a known ground truth.

The generator draws smooth stimulus features, splits them into runs, and builds
responses from an HRF-shaped finite impulse response over delayed copies of the
features, with Gaussian noise at a chosen signal-to-noise ratio. Because the
noise-free responses are known, so is the noise ceiling: the best Pearson r any
model can reach. :func:`make_multispace_data` drives targets by known feature
spaces, :func:`make_layered_data` by a known layer of each space's layer stack.
"""

import numbers
import warnings

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.signal import lfilter
from scipy.stats import gamma
from sklearn.utils import Bunch, check_random_state

from ._validation import check_delays, check_int
from .delays import delay_features
from .metrics import pearson_r

__all__ = [
    "make_encoding_data",
    "make_layered_data",
    "make_multispace_data",
    "spm_hrf",
]


def make_encoding_data(
    n_samples=1200,
    n_features=20,
    n_targets=50,
    *,
    n_runs=4,
    delays=4,
    tr=2.0,
    snr=1.0,
    feature_autocorrelation=0.5,
    hrf_jitter=0.5,
    random_state=None,
):
    """Generate stimulus features and responses from a known delayed linear model.

    The features ``X`` are, within every run, independent first-order
    autoregressive (AR(1)) Gaussian processes with lag-one autocorrelation
    ``feature_autocorrelation`` (smooth in time, as real stimulus embeddings
    are), standardised to zero mean and unit variance over all samples. Runs are
    contiguous blocks of near-equal length (they differ by at most one sample)
    and are drawn independently of each other.

    The true weight of feature ``f`` at delay ``delays[k]`` for target ``t`` is
    ``amplitude[t, f] * hrf[t, k]``: a Gaussian amplitude per target and feature
    times a delay profile shared by the features of a target. The profile is the
    canonical double-gamma HRF (see :func:`spm_hrf`, peak near 5 s, undershoot
    near 15.7 s, scaled to a peak of 1), stretched in time per target so that its
    peak latency is ``5 s + N(0, hrf_jitter**2)`` (clipped to about [2.5, 10] s,
    half and twice the canonical peak; the onset stays at 0 s), evaluated at
    ``delays * tr`` seconds. It is causal: 0 at zero and negative times.

    The noise-free responses are ``delay_features(X, delays, groups) @ W`` with
    ``W = coef.reshape(n_targets, -1).T``, so a :class:`~brainenc.DelayedRidge`
    with the same ``delays`` can represent them exactly, and no value crosses a
    run boundary. Gaussian noise is added and rescaled per target so that, in
    sample, ``var(y_clean) / var(noise) == snr`` exactly.

    .. versionadded:: 0.1

    Parameters
    ----------
    n_samples : int, default=1200
        Number of time samples (TRs for fMRI), all runs together.
    n_features : int, default=20
        Number of stimulus features.
    n_targets : int, default=50
        Number of response targets (voxels, parcels or channels).
    n_runs : int, default=4
        Number of runs. Must not exceed ``n_samples``, and every run must be
        longer than the largest absolute delay.
    delays : int or array-like of int, default=4
        Delays in samples. An int ``n`` means ``1, ..., n``; a sequence is taken
        as given (negative delays are allowed and get a weight of 0, as the HRF
        is causal).
    tr : float, default=2.0
        Sampling interval in seconds (the repetition time for fMRI); sets where
        the HRF is sampled.
    snr : float, default=1.0
        Signal-to-noise variance ratio per target, > 0. ``np.inf`` gives
        noise-free responses.
    feature_autocorrelation : float, default=0.5
        Lag-one autocorrelation of the features, in [0, 1).
    hrf_jitter : float, default=0.5
        Standard deviation in seconds of the per-target peak latency of the HRF
        around the canonical ~5 s (the HRF is stretched in time, its onset stays
        at 0 s); 0 gives every target the canonical HRF.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw. The same seed gives the same output; numpy's
        global random state is never used.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Stimulus features, float64.
    y : ndarray of shape (n_samples, n_targets)
        Noisy responses, float64.
    groups : ndarray of shape (n_samples,)
        Run labels ``0, ..., n_runs - 1``, in contiguous blocks.
    truth : :class:`~sklearn.utils.Bunch`
        The ground truth, with attributes:

        - ``coef``: ndarray of shape (n_targets, n_features, n_delays), the
          true weights (``amplitude[:, :, None] * hrf[:, None, :]``);
        - ``amplitude``: ndarray of shape (n_targets, n_features);
        - ``hrf``: ndarray of shape (n_targets, n_delays), the delay profile of
          every target;
        - ``hrf_peak_time``: ndarray of shape (n_targets,), the time in seconds
          where each target's continuous HRF peaks (its latency);
        - ``delays``: ndarray of int, the delays in samples;
        - ``tr``, ``snr``: the arguments;
        - ``y_clean``: ndarray of shape (n_samples, n_targets), the noise-free
          responses;
        - ``noise``: ndarray of shape (n_samples, n_targets), ``y - y_clean``;
        - ``noise_ceiling``: ndarray of shape (n_targets,), the Pearson r
          between ``y`` and ``y_clean`` per target, the best score any model
          can reach on these samples;
        - ``expected_noise_ceiling``: float, ``sqrt(snr / (1 + snr))``, the
          value ``noise_ceiling`` approaches as ``n_samples`` grows.

    Raises
    ------
    ValueError
        If an argument is out of range (the message names it), or if no delay
        reaches the HRF (for example ``delays=[0]``), which would give constant
        responses.

    See Also
    --------
    spm_hrf : The canonical HRF used for the delay profile.
    brainenc.delays.delay_features : The run-aware delay expansion.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.datasets import make_encoding_data
    >>> X, y, groups, truth = make_encoding_data(
    ...     n_samples=400, n_features=5, n_targets=3, n_runs=2, random_state=0
    ... )
    >>> X.shape, y.shape, groups.shape
    ((400, 5), (400, 3), (400,))
    >>> np.unique(groups).tolist()
    [0, 1]
    >>> truth.coef.shape
    (3, 5, 4)
    >>> snr = truth.y_clean.var(axis=0) / truth.noise.var(axis=0)
    >>> np.round(snr, 6).tolist()
    [1.0, 1.0, 1.0]
    >>> round(truth.expected_noise_ceiling, 3)
    0.707
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_features = check_int(n_features, "n_features", minimum=1)
    n_targets = check_int(n_targets, "n_targets", minimum=1)
    n_runs = check_int(n_runs, "n_runs", minimum=1)
    if n_runs > n_samples:
        raise ValueError(
            f"n_runs must not exceed n_samples (every run needs samples), got "
            f"n_runs={n_runs} and n_samples={n_samples}."
        )
    delays = check_delays(delays)
    tr = _check_real(tr, "tr", "> 0", lambda v: 0 < v < np.inf)
    snr = _check_real(snr, "snr", "> 0 (np.inf for no noise)", lambda v: v > 0)
    rho = _check_real(
        feature_autocorrelation,
        "feature_autocorrelation",
        "in [0, 1)",
        lambda v: 0 <= v < 1,
    )
    hrf_jitter = _check_real(
        hrf_jitter, "hrf_jitter", ">= 0 (seconds)", lambda v: 0 <= v < np.inf
    )
    min_run = n_samples // n_runs
    max_lag = int(np.max(np.abs(delays)))
    if min_run <= max_lag:
        raise ValueError(
            f"every run must be longer than the largest delay: n_samples="
            f"{n_samples} split into n_runs={n_runs} gives runs of {min_run} "
            f"samples, but delays reach {max_lag} samples. Use fewer runs, more "
            f"samples or shorter delays."
        )
    rng = check_random_state(random_state)

    lengths, groups = _runs(n_samples, n_runs)

    # Features: independent stationary AR(1) processes per run and column.
    X = _ar1_features(rng, lengths, n_features, rho)

    # Delay profile: canonical HRF, shifted per target, at delays * tr seconds.
    # Per-target jitter stretches the time axis, so the onset stays at 0 s and
    # the peak moves to peak_time (the undershoot moves with it).
    canonical_peak = _spm_hrf_peak_time()
    peak_time = np.clip(
        canonical_peak + rng.normal(0.0, hrf_jitter, size=n_targets),
        canonical_peak / 2,
        canonical_peak * 2,
    )
    stretch = canonical_peak / peak_time
    hrf = spm_hrf(delays[None, :] * tr * stretch[:, None], normalize=True)
    if np.any(np.max(np.abs(hrf), axis=1) < 1e-3):
        raise ValueError(
            f"the delays (in seconds: {(delays * tr).tolist()}) miss the HRF, "
            f"which is near 0 before 0.5 s and after 30 s, so some targets "
            f"would get no signal. Use positive delays covering about 2-10 s "
            f"(tr={tr})."
        )
    amplitude = rng.standard_normal((n_targets, n_features))
    coef = amplitude[:, :, None] * hrf[:, None, :]

    y_clean = delay_features(X, delays, groups) @ coef.reshape(n_targets, -1).T

    noise = _scaled_noise(rng.standard_normal((n_samples, n_targets)), y_clean, snr)
    y = y_clean + noise

    truth = Bunch(
        coef=coef,
        amplitude=amplitude,
        hrf=hrf,
        hrf_peak_time=peak_time,
        delays=delays,
        tr=tr,
        snr=snr,
        y_clean=y_clean,
        noise=noise,
        noise_ceiling=_noise_ceiling(y, y_clean),
        expected_noise_ceiling=float(np.sqrt(1.0 / (1.0 + 1.0 / snr))),
    )
    return X, y, groups, truth


def make_multispace_data(
    n_samples=1200,
    space_sizes=(10, 10, 10),
    n_targets=60,
    *,
    shares=None,
    n_runs=4,
    delays=4,
    tr=2.0,
    snr=1.0,
    feature_autocorrelation=0.5,
    random_state=None,
):
    """Generate data whose targets are driven by known feature spaces.

    Each feature space is an independent draw of :func:`make_encoding_data`
    (smooth features, HRF-shaped delay profiles, noise-free responses) over
    the same runs. A target's noise-free response mixes the spaces' responses
    with known variance shares, and Gaussian noise is added at ``snr``. This
    is the ground truth for banded ridge, stacking, variance partitioning and
    ablations.

    .. versionadded:: 0.1

    Parameters
    ----------
    n_samples : int, default=1200
        Number of time samples, all runs together.
    space_sizes : sequence of int, default=(10, 10, 10)
        Number of features of each space; the spaces are consecutive column
        blocks of ``X`` named ``"space0"``, ``"space1"``, ...
    n_targets : int, default=60
        Number of response targets.
    shares : array-like of shape (n_spaces, n_targets), default=None
        Share of each space in each target's signal variance (non-negative,
        each column sums to 1; a space whose row is all zero is pure noise
        for every target). ``None`` drives each target by exactly one space,
        in turn: target ``t`` by space ``t % n_spaces``.
    n_runs : int, default=4
        Number of runs.
    delays : int or array-like of int, default=4
        Delays in samples (an int ``n`` means ``1, ..., n``).
    tr : float, default=2.0
        Sampling interval in seconds.
    snr : float, default=1.0
        Signal-to-noise variance ratio per target (exact in sample);
        ``np.inf`` for noise-free responses.
    feature_autocorrelation : float, default=0.5
        Lag-one autocorrelation of the features, in [0, 1).
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw.

    Returns
    -------
    X : ndarray of shape (n_samples, sum(space_sizes))
        Features of all spaces, side by side.
    y : ndarray of shape (n_samples, n_targets)
        Noisy responses.
    groups : ndarray of shape (n_samples,)
        Run labels ``0, ..., n_runs - 1``.
    truth : :class:`~sklearn.utils.Bunch`
        ``feature_spaces`` (dict of name to slice, usable as the
        ``feature_spaces`` parameter of brainenc estimators), ``shares``
        (n_spaces, n_targets), ``driving_space`` (n_targets,) index of the
        largest share, ``y_clean`` (n_samples, n_targets), ``y_clean_spaces``
        (n_spaces, n_samples, n_targets) each space's unit-variance noise-free
        response, ``noise``, ``noise_ceiling`` (n_targets,), ``delays``.

    Examples
    --------
    >>> from brainenc.datasets import make_multispace_data
    >>> X, y, groups, truth = make_multispace_data(
    ...     n_samples=400, space_sizes=(3, 5), n_targets=4, n_runs=2, random_state=0)
    >>> X.shape, y.shape
    ((400, 8), (400, 4))
    >>> truth.feature_spaces
    {'space0': slice(0, 3, None), 'space1': slice(3, 8, None)}
    >>> truth.driving_space.tolist()
    [0, 1, 0, 1]
    """
    sizes = [
        check_int(size, "space_sizes", minimum=1) for size in np.atleast_1d(space_sizes)
    ]
    if not sizes:
        raise ValueError(
            "space_sizes must give the number of columns of at least one feature "
            f"space, got {space_sizes!r}."
        )
    n_targets = check_int(n_targets, "n_targets", minimum=1)
    n_spaces = len(sizes)
    if shares is None:
        shares = np.zeros((n_spaces, n_targets))
        shares[np.arange(n_targets) % n_spaces, np.arange(n_targets)] = 1.0
    shares = np.asarray(shares, dtype=np.float64)
    if shares.shape != (n_spaces, n_targets):
        raise ValueError(
            f"shares must have shape (n_spaces, n_targets) = ({n_spaces}, "
            f"{n_targets}), got {shares.shape}."
        )
    if np.any(shares < 0) or not np.allclose(shares.sum(0), 1.0):
        raise ValueError(
            "shares must be non-negative and each column must sum to 1 (the "
            "share of each space in a target's signal variance)."
        )
    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_spaces + 1)
    blocks, responses = [], []
    for size, seed in zip(sizes, seeds[:-1], strict=True):
        X_space, y_space, groups, truth_space = make_encoding_data(
            n_samples,
            size,
            n_targets,
            n_runs=n_runs,
            delays=delays,
            tr=tr,
            snr=np.inf,
            feature_autocorrelation=feature_autocorrelation,
            random_state=seed,
        )
        blocks.append(X_space)
        responses.append(_standardize_columns(y_space))
    y_clean_spaces = np.stack(responses)
    y_clean = np.einsum("st,snt->nt", np.sqrt(shares), y_clean_spaces)
    snr = _check_real(snr, "snr", "> 0 (np.inf for no noise)", lambda v: v > 0)
    noise = np.random.RandomState(seeds[-1]).standard_normal(y_clean.shape)
    noise = _scaled_noise(noise, y_clean, snr)
    y = y_clean + noise
    stops = np.cumsum(sizes)
    feature_spaces = {
        f"space{i}": slice(int(stop - size), int(stop))
        for i, (size, stop) in enumerate(zip(sizes, stops, strict=True))
    }
    truth = Bunch(
        feature_spaces=feature_spaces,
        shares=shares,
        driving_space=np.argmax(shares, axis=0),
        y_clean=y_clean,
        y_clean_spaces=y_clean_spaces,
        noise=noise,
        noise_ceiling=_noise_ceiling(y, y_clean),
        delays=truth_space.delays,
        snr=snr,
    )
    return np.hstack(blocks), y, groups, truth


_NONLINEARITIES = {
    "relu": lambda z: np.maximum(z, 0.0),
    "abs": np.abs,
    "tanh": np.tanh,
    "linear": lambda z: z,
}


def make_layered_data(
    n_samples=1200,
    n_spaces=2,
    n_layers=6,
    layer_dim=8,
    n_targets=20,
    *,
    driving_layers=None,
    context=3,
    nonlinearity="relu",
    layer_correlation=0.5,
    n_runs=4,
    snr=1.0,
    feature_autocorrelation=0.5,
    random_state=None,
):
    """Generate layer-resolved feature spaces whose signal comes from known layers.

    Every feature space is the layer stack of a pretend backbone: ``n_layers``
    layers of ``layer_dim`` columns side by side, layer-major (the layout of
    ``n_layers`` in :class:`~brainenc.neural.MultimodalTransformerEncoder`).
    Layer 0 of a space is smooth features (independent AR(1) processes within
    each run, lag-one autocorrelation ``feature_autocorrelation``); layer
    ``l`` is ``c * layer[l - 1] + sqrt(1 - c**2) * new`` with ``c =
    layer_correlation`` and ``new`` independent smooth features, so
    neighbouring layers share information and every column has unit
    variance.

    Only the layer ``driving_layers[s]`` of space ``s`` drives the responses,
    through a non-linearity and a few samples of context: with ``x`` that
    layer, ``u = nonlinearity(x @ W_s / sqrt(layer_dim))`` (``layer_dim``
    units, ``W_s`` standard normal) and ``signal_s[t] = mean(u[t - context +
    1], ..., u[t])`` within each run (zero before the run starts). The
    noise-free responses are ``sum_s standardised(signal_s) @ B_s``
    (``B_s`` of shape ``(layer_dim, n_targets)``, standard normal: every
    target mixes every space), standardised per target, and Gaussian noise
    is added at ``snr`` (exact in sample).

    .. versionadded:: 0.1

    Parameters
    ----------
    n_samples : int, default=1200
        Number of time samples, all runs together.
    n_spaces : int, default=2
        Number of feature spaces, named ``"space0"``, ``"space1"``, ...
    n_layers : int, default=6
        Layers of every space.
    layer_dim : int, default=8
        Columns of one layer.
    n_targets : int, default=20
        Number of response targets.
    driving_layers : array-like of int of shape (n_spaces,), default=None
        The layer (from 0) that drives each space's signal. ``None`` spreads
        them over the depth: space ``s`` is driven by layer
        ``floor((s + 0.5) / n_spaces * n_layers)``.
    context : int, default=3
        Samples of context of the signal (the current one and the
        ``context - 1`` before it).
    nonlinearity : {"relu", "abs", "tanh", "linear"}, default="relu"
        Applied to the driving layer's projections. ``"abs"`` is even, so
        the signal has no linear part; ``"relu"`` has a linear and an even
        part; ``"linear"`` gives a linear truth.
    layer_correlation : float, default=0.5
        Correlation of a layer's columns with the same columns of the layer
        below it, in [0, 1).
    n_runs : int, default=4
        Number of runs (contiguous, near-equal lengths).
    snr : float, default=1.0
        Signal-to-noise variance ratio per target; ``np.inf`` for noise-free
        responses.
    feature_autocorrelation : float, default=0.5
        Lag-one autocorrelation of the features in time, in [0, 1).
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw.

    Returns
    -------
    X : ndarray of shape (n_samples, n_spaces * n_layers * layer_dim)
        The spaces side by side, each its layers side by side.
    y : ndarray of shape (n_samples, n_targets)
        Noisy responses.
    groups : ndarray of shape (n_samples,)
        Run labels ``0, ..., n_runs - 1``.
    truth : :class:`~sklearn.utils.Bunch`
        ``feature_spaces`` (dict of name to slice of ``X``), ``n_layers``
        (dict of name to int, the ``n_layers`` parameter of the
        transformer), ``driving_layers`` (ndarray of int, per space),
        ``shares`` (n_spaces, n_targets), each space's share of the variance
        of a target's noise-free response (of the sum of the spaces'
        variances; the spaces are independent, so nearly of the total),
        ``layer_means`` (ndarray of shape (n_samples, n_spaces * layer_dim),
        every space's mean over its layers: the input of the linear
        baseline), ``layer_mean_spaces`` (dict of name to slice of
        ``layer_means``), ``y_clean``, ``noise``, ``noise_ceiling``
        (n_targets,), ``context``, ``nonlinearity``, ``snr``.

    Raises
    ------
    ValueError
        If an argument is out of range (the message names it).

    See Also
    --------
    make_multispace_data : Targets driven by known feature spaces.

    Examples
    --------
    >>> from brainenc.datasets import make_layered_data
    >>> X, y, groups, truth = make_layered_data(
    ...     n_samples=300, n_spaces=2, n_layers=4, layer_dim=3, n_targets=5,
    ...     random_state=0)
    >>> X.shape, y.shape, truth.layer_means.shape
    ((300, 24), (300, 5), (300, 6))
    >>> truth.feature_spaces
    {'space0': slice(0, 12, None), 'space1': slice(12, 24, None)}
    >>> truth.n_layers, truth.driving_layers.tolist()
    ({'space0': 4, 'space1': 4}, [1, 3])
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_spaces = check_int(n_spaces, "n_spaces", minimum=1)
    n_layers = check_int(n_layers, "n_layers", minimum=1)
    layer_dim = check_int(layer_dim, "layer_dim", minimum=1)
    n_targets = check_int(n_targets, "n_targets", minimum=1)
    context = check_int(context, "context", minimum=1)
    n_runs = check_int(n_runs, "n_runs", minimum=1)
    if n_samples // n_runs < context:
        raise ValueError(
            f"every run must hold at least context={context} samples, but "
            f"n_samples={n_samples} split into n_runs={n_runs} gives runs of "
            f"{n_samples // n_runs}."
        )
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(
            f"nonlinearity must be one of {sorted(_NONLINEARITIES)}, got "
            f"{nonlinearity!r}."
        )
    correlation = _check_real(
        layer_correlation, "layer_correlation", "in [0, 1)", lambda v: 0 <= v < 1
    )
    rho = _check_real(
        feature_autocorrelation,
        "feature_autocorrelation",
        "in [0, 1)",
        lambda v: 0 <= v < 1,
    )
    snr = _check_real(snr, "snr", "> 0 (np.inf for no noise)", lambda v: v > 0)
    if driving_layers is None:
        driving = np.floor((np.arange(n_spaces) + 0.5) / n_spaces * n_layers)
        driving = driving.astype(int)
    else:
        driving = np.asarray(driving_layers)
        if (
            driving.shape != (n_spaces,)
            or not np.issubdtype(driving.dtype, np.integer)
            or np.any(driving < 0)
            or np.any(driving >= n_layers)
        ):
            raise ValueError(
                f"driving_layers must hold one layer index in [0, {n_layers - 1}] "
                f"per space ({n_spaces} ints), got {driving_layers!r}."
            )
    rng = check_random_state(random_state)
    lengths, groups = _runs(n_samples, n_runs)

    blocks, means, signals = [], [], []
    for s in range(n_spaces):
        layer = _ar1_features(rng, lengths, layer_dim, rho)
        layers = [layer]
        for _ in range(n_layers - 1):
            new = _ar1_features(rng, lengths, layer_dim, rho)
            layer = correlation * layer + np.sqrt(1.0 - correlation**2) * new
            layers.append(layer)
        stack = np.hstack(layers)
        blocks.append(stack)
        means.append(stack.reshape(n_samples, n_layers, layer_dim).mean(axis=1))
        weights = rng.standard_normal((layer_dim, layer_dim)) / np.sqrt(layer_dim)
        units = _NONLINEARITIES[nonlinearity](layers[driving[s]] @ weights)
        signal = delay_features(units, np.arange(context), groups)
        # delayed columns are feature-major: each unit's context side by side
        signal = signal.reshape(n_samples, layer_dim, context).mean(axis=2)
        signals.append(_standardize_columns(signal))
    mixing = rng.standard_normal((n_spaces, layer_dim, n_targets))
    parts = np.stack([signal @ m for signal, m in zip(signals, mixing, strict=True)])
    shares = parts.var(axis=1)
    shares /= shares.sum(axis=0)
    y_clean = _standardize_columns(parts.sum(axis=0))
    noise = _scaled_noise(rng.standard_normal((n_samples, n_targets)), y_clean, snr)
    y = y_clean + noise
    size = n_layers * layer_dim
    truth = Bunch(
        feature_spaces={
            f"space{s}": slice(s * size, (s + 1) * size) for s in range(n_spaces)
        },
        n_layers={f"space{s}": n_layers for s in range(n_spaces)},
        driving_layers=driving,
        shares=shares,
        layer_means=np.hstack(means),
        layer_mean_spaces={
            f"space{s}": slice(s * layer_dim, (s + 1) * layer_dim)
            for s in range(n_spaces)
        },
        y_clean=y_clean,
        noise=noise,
        noise_ceiling=_noise_ceiling(y, y_clean),
        context=context,
        nonlinearity=nonlinearity,
        snr=snr,
    )
    return np.hstack(blocks), y, groups, truth


def spm_hrf(t, *, normalize=False):
    """Canonical double-gamma haemodynamic response function (SPM's).

    ``h(t) = g(t; 6) - g(t; 16) / 6`` where ``g(t; a)`` is the gamma density of
    shape ``a`` and unit scale, with ``t`` in seconds: a peak near 5 s and an
    undershoot near 15.7 s. The function is 0 for ``t <= 0``.

    Parameters
    ----------
    t : float or array-like
        Time in seconds.
    normalize : bool, default=False
        If True, divide by the peak value so that the maximum over continuous
        time is 1.

    Returns
    -------
    h : ndarray
        The HRF at ``t``, same shape as ``t``.

    Examples
    --------
    >>> from brainenc.datasets import spm_hrf
    >>> spm_hrf([0.0, 5.0, 15.75], normalize=True).round(3).tolist()
    [0.0, 1.0, -0.089]
    """
    t = np.asarray(t, dtype=np.float64)
    h = gamma.pdf(t, 6.0) - gamma.pdf(t, 16.0) / 6.0
    if normalize:
        h = h / _spm_hrf_peak_value()
    return h


def _spm_hrf_peak_time():
    res = minimize_scalar(
        lambda s: -spm_hrf(s),
        bounds=(2.0, 8.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(res.x)


def _spm_hrf_peak_value():
    return float(spm_hrf(_spm_hrf_peak_time()))


def _ar1_features(rng, lengths, n_features, rho):
    """Stationary unit-variance AR(1) columns per run, standardised overall."""
    innovations = rng.standard_normal((int(np.sum(lengths)), n_features))
    scale = np.sqrt(1.0 - rho**2)
    pieces = []
    start = 0
    for length in lengths:
        e = innovations[start : start + length].copy()
        start += length
        # x[0] = e[0] (stationary start), x[t] = rho x[t-1] + scale e[t].
        e[0] /= scale
        pieces.append(lfilter([scale], [1.0, -rho], e, axis=0))
    return _standardize_columns(np.concatenate(pieces, axis=0))


def _runs(n_samples, n_runs):
    """Run lengths and labels: contiguous runs of near-equal length (the first
    ``n_samples % n_runs`` runs hold one sample more)."""
    lengths = np.full(n_runs, n_samples // n_runs)
    lengths[: n_samples % n_runs] += 1
    return lengths, np.repeat(np.arange(n_runs), lengths)


def _scaled_noise(noise, y_clean, snr):
    """``noise`` scaled in place to the signal-to-noise ratio ``snr`` of each
    target of ``y_clean`` (variance ratio; ``np.inf``: no noise, zeros)."""
    if np.isinf(snr):
        noise[:] = 0.0
        return noise
    noise_var = noise.var(axis=0)
    signal_var = y_clean.var(axis=0)
    if np.any(signal_var <= 0) or np.any(noise_var <= 0):
        raise ValueError(
            "cannot set the snr of a target whose signal or noise is "
            f"constant; use more samples (n_samples={y_clean.shape[0]})."
        )
    noise *= np.sqrt(signal_var / (snr * noise_var))
    return noise


def _standardize_columns(A):
    """Zero mean, unit variance columns (a constant column is left at 0)."""
    A = A - A.mean(axis=0)
    std = A.std(axis=0)
    std[std == 0] = 1.0
    return A / std


def _noise_ceiling(y, y_clean):
    """Pearson r of the noisy responses with their noise-free part, per target
    (0 for a target without signal, silently: the generator made it so)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pearson_r(y, y_clean)


def _check_real(value, name, expected, ok):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be a real number {expected}, got "
            f"{type(value).__name__} {value!r}."
        )
    value = float(value)
    if np.isnan(value) or not ok(value):
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return value
