"""Figures of encoding results: scores, noise ceilings, delay profiles, weights,
significance.

Every function draws on the ``ax`` it is given (or on a new figure from
:mod:`matplotlib.pyplot` when ``ax`` is None) and returns the
:class:`~matplotlib.figure.Figure`. matplotlib is the ``plot`` extra
(``pip install "brainenc[plot]"``); it is imported when a function is called,
never by ``import brainenc``.
"""

import numpy as np

__all__ = [
    "plot_delay_profile",
    "plot_score_distribution",
    "plot_scores_vs_ceiling",
    "plot_significance",
    "plot_stacking_weights",
]


def plot_score_distribution(scores, *, kind="hist", bins=None, ax=None, title=None):
    """Distribution of per-target scores: histogram or sorted scores.

    .. versionadded:: 0.1

    Parameters
    ----------
    scores : array-like of shape (n_targets,)
        Per-target Pearson r (e.g. from :func:`brainenc.pearson_r` on
        held-out runs). Must be finite.
    kind : {"hist", "sorted"}, default="hist"
        ``"hist"``: histogram of the scores (bar heights count targets).
        ``"sorted"``: the scores from best to worst against their rank.
        Both mark the mean score and r = 0.
    bins : int or sequence of float, default=None
        Histogram bins; ``None`` takes ``min(50, max(10, n_targets // 5))``
        equal bins over the range of the scores.
    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` creates a new figure.
    title : str, default=None
        Axes title; ``None`` writes the number of targets.

    Returns
    -------
    fig : matplotlib Figure
        The figure holding ``ax``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from brainenc.plotting import plot_score_distribution
    >>> r = np.random.default_rng(0).uniform(-0.1, 0.6, size=200)
    >>> fig = plot_score_distribution(r)
    >>> fig.axes[0].get_xlabel()
    'Pearson r'
    """
    scores = _check_scores(scores, "scores")
    if kind not in ("hist", "sorted"):
        raise ValueError(f"kind must be 'hist' or 'sorted', got {kind!r}.")
    fig, ax = _figure_and_axes(ax, (6.0, 4.0))
    mean = float(scores.mean())
    if kind == "hist":
        if bins is None:
            bins = min(50, max(10, scores.size // 5))
        ax.hist(scores, bins=bins, color="#4c72b0", edgecolor="white", linewidth=0.5)
        ax.axvline(
            mean, color="#c44e52", linewidth=2, label=f"mean r = {mean:.3f}", zorder=3
        )
        ax.axvline(0.0, color="0.4", linestyle=":", linewidth=1)
        ax.set_xlabel("Pearson r")
        ax.set_ylabel("number of targets")
        ax.yaxis.get_major_locator().set_params(integer=True)
    else:
        ordered = np.sort(scores)[::-1]
        rank = np.arange(1, ordered.size + 1)
        ax.plot(rank, ordered, color="#4c72b0", linewidth=1.5, label="per target")
        ax.axhline(mean, color="#c44e52", linewidth=2, label=f"mean r = {mean:.3f}")
        ax.axhline(0.0, color="0.4", linestyle=":", linewidth=1)
        ax.set_xlim(0.5, ordered.size + 0.5)
        ax.set_xlabel("target rank (best first)")
        ax.set_ylabel("Pearson r")
    ax.legend(loc="best", frameon=False)
    ax.set_title(title if title is not None else f"{scores.size} targets")
    return fig


def plot_scores_vs_ceiling(scores, ceiling, *, ax=None, title=None):
    """Per-target score against its noise ceiling.

    One point per target; the diagonal is the ceiling (a perfect model lies
    on it, up to sampling noise). The title gives the mean score over the
    mean ceiling.

    .. versionadded:: 0.1

    Parameters
    ----------
    scores : array-like of shape (n_targets,)
        Per-target Pearson r of the model.
    ceiling : array-like of shape (n_targets,)
        Per-target correlation ceiling, e.g. ``correlation_ceiling_mean``
        of :func:`brainenc.metrics.noise_ceiling_repeats`.
    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` creates a new figure.
    title : str, default=None
        Axes title; ``None`` writes the mean ratio.

    Returns
    -------
    fig : matplotlib Figure
        The figure holding ``ax``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from brainenc.plotting import plot_scores_vs_ceiling
    >>> fig = plot_scores_vs_ceiling([0.2, 0.4, 0.1], [0.5, 0.6, 0.2])
    >>> fig.axes[0].get_ylabel()
    'model Pearson r'
    """
    scores = _check_scores(scores, "scores")
    ceiling = _check_scores(ceiling, "ceiling")
    if ceiling.shape != scores.shape:
        raise ValueError(
            f"ceiling must have one value per target like scores: scores has "
            f"{scores.size}, ceiling has {ceiling.size}."
        )
    fig, ax = _figure_and_axes(ax, (5.0, 5.0))
    ax.scatter(ceiling, scores, s=16, alpha=0.7, color="#4c72b0", linewidths=0)
    low = min(0.0, float(scores.min()), float(ceiling.min()))
    high = max(float(scores.max()), float(ceiling.max()))
    pad = 0.05 * (high - low if high > low else 1.0)
    lims = (low - pad, high + pad)
    ax.plot(lims, lims, color="0.3", linestyle="--", linewidth=1, label="ceiling")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal")
    ax.set_xlabel("noise ceiling (Pearson r)")
    ax.set_ylabel("model Pearson r")
    ax.legend(loc="upper left", frameon=False)
    if title is None:
        mean_ceiling = float(ceiling.mean())
        ratio = scores.mean() / mean_ceiling if mean_ceiling > 0 else float("nan")
        title = (
            f"mean r {scores.mean():.3f} / mean ceiling {mean_ceiling:.3f}"
            f" = {ratio:.2f}"
        )
    ax.set_title(title)
    return fig


def plot_delay_profile(model, targets=None, *, features="rms", tr=None, ax=None):
    """Weights over delays (the temporal response function) of chosen targets.

    .. versionadded:: 0.1

    Parameters
    ----------
    model : fitted estimator
        A model with ``coef_delays_`` of shape (n_targets, n_features, n_delays)
        and ``delays_``, such as a fitted :class:`~brainenc.DelayedRidge`.
    targets : int or sequence of int, default=None
        Targets to draw. ``None`` takes the (up to) 5 targets with the
        largest weights (root mean square over features and delays).
    features : "rms", int or sequence of int, default="rms"
        ``"rms"``: one line per target, the root mean square of its weights
        over features at each delay (how much the target draws on each
        delay, whatever the sign). An int or a sequence of feature indices:
        one line per target and feature, the signed weights.
    tr : float, default=None
        Sampling interval in seconds; the x axis is then in seconds, else in
        samples.
    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` creates a new figure.

    Returns
    -------
    fig : matplotlib Figure
        The figure holding ``ax``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from brainenc import DelayedRidge, make_encoding_data
    >>> from brainenc.plotting import plot_delay_profile
    >>> X, y, groups, _ = make_encoding_data(300, 4, 3, n_runs=3, random_state=0)
    >>> model = DelayedRidge(delays=6, backend="numpy").fit(X, y, groups=groups)
    >>> fig = plot_delay_profile(model, targets=[0, 1], tr=2.0)
    >>> fig.axes[0].get_xlabel()
    'delay (s)'
    """
    coef = getattr(model, "coef_delays_", None)
    delays = getattr(model, "delays_", None)
    if coef is None or delays is None:
        raise TypeError(
            "model must be fitted and have coef_delays_ and delays_ (such as a "
            f"fitted DelayedRidge), got {type(model).__name__}."
        )
    coef = np.asarray(coef, dtype=np.float64)
    delays = np.asarray(delays)
    n_targets, n_features, _ = coef.shape
    if targets is None:
        strength = np.sqrt(np.mean(coef**2, axis=(1, 2)))
        targets = np.argsort(-strength, kind="stable")[: min(5, n_targets)]
    targets = _check_indices(targets, n_targets, "targets")
    if isinstance(features, str):
        if features != "rms":
            raise ValueError(
                f"features must be 'rms', an int or a sequence of ints, got "
                f"{features!r}."
            )
        feature_idx = None
    else:
        feature_idx = _check_indices(features, n_features, "features")
    if tr is not None and not (np.isscalar(tr) and np.isfinite(tr) and tr > 0):
        raise ValueError(f"tr must be a positive number of seconds, got {tr!r}.")

    order = np.argsort(delays, kind="stable")
    x = delays[order] * (1.0 if tr is None else float(tr))
    fig, ax = _figure_and_axes(ax, (6.0, 4.0))
    for t in targets:
        if feature_idx is None:
            ax.plot(
                x,
                np.sqrt(np.mean(coef[t] ** 2, axis=0))[order],
                marker="o",
                label=f"target {t}",
            )
        else:
            for f in feature_idx:
                ax.plot(
                    x, coef[t, f, order], marker="o", label=f"target {t}, feature {f}"
                )
    ax.axhline(0.0, color="0.4", linestyle=":", linewidth=1)
    if tr is None:
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("delay (s)" if tr is not None else "delay (samples)")
    ax.set_ylabel("weight (RMS over features)" if feature_idx is None else "weight")
    ax.set_title("delay profile")
    ax.legend(loc="best", frameon=False, fontsize="small")
    return fig


def plot_stacking_weights(weights, space_names=None, *, sort=True, ax=None):
    """Stacking weight of every feature space for every target.

    Convex weights (non-negative, summing to one per target) are drawn as
    stacked bars, one bar per target; other weights as one line per space.

    .. versionadded:: 0.1

    Parameters
    ----------
    weights : fitted StackedRegressor or array-like of shape (n_spaces, n_targets)
        A fitted :class:`~brainenc.StackedRegressor` (its ``weights_`` and
        ``space_names_`` are used) or the weights themselves.
    space_names : sequence of str, default=None
        Names of the spaces; ``None`` takes the model's ``space_names_`` or
        ``space 0``, ``space 1``, ...
    sort : bool, default=True
        Order the targets by their dominant space, then by its weight
        (largest first), so that targets led by one space form a block.
        ``False`` keeps the targets' order.
    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` creates a new figure.

    Returns
    -------
    fig : matplotlib Figure
        The figure holding ``ax``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from brainenc.plotting import plot_stacking_weights
    >>> fig = plot_stacking_weights([[0.9, 0.2], [0.1, 0.8]], ["audio", "video"])
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['audio', 'video']
    """
    if hasattr(weights, "weights_"):
        if space_names is None:
            space_names = getattr(weights, "space_names_", None)
        weights = weights.weights_
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.size == 0:
        raise ValueError(
            f"weights must have shape (n_spaces, n_targets), got shape {weights.shape}."
        )
    if not np.all(np.isfinite(weights)):
        raise ValueError("weights must be finite.")
    n_spaces, n_targets = weights.shape
    if space_names is None:
        space_names = [f"space {k}" for k in range(n_spaces)]
    space_names = [str(name) for name in space_names]
    if len(space_names) != n_spaces:
        raise ValueError(
            f"space_names must name the {n_spaces} spaces, got {len(space_names)}."
        )
    if sort:
        dominant = weights.argmax(axis=0)
        order = np.lexsort((-weights.max(axis=0), dominant))
    else:
        order = np.arange(n_targets)
    shown = weights[:, order]
    x = np.arange(n_targets)
    fig, ax = _figure_and_axes(ax, (max(6.0, min(14.0, 3.0 + 0.08 * n_targets)), 4.0))
    colors = _space_colors(n_spaces)
    if np.all(weights >= 0):
        bottom = np.zeros(n_targets)
        for k, name in enumerate(space_names):
            ax.bar(
                x,
                shown[k],
                bottom=bottom,
                width=1.0,
                color=colors[k],
                label=name,
                linewidth=0,
            )
            bottom += shown[k]
        ax.set_ylim(0.0, max(1.0, float(bottom.max())) * 1.02)
    else:
        for k, name in enumerate(space_names):
            ax.plot(x, shown[k], color=colors[k], label=name, marker=".")
        ax.axhline(0.0, color="0.4", linestyle=":", linewidth=1)
    ax.set_xlim(-0.5, n_targets - 0.5)
    if n_targets <= 30:
        ax.set_xticks(x, [str(t) for t in order])
    ax.set_xlabel("target (sorted by dominant space)" if sort else "target")
    ax.set_ylabel("stacking weight")
    ax.set_title(f"stacking weights of {n_spaces} feature spaces")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def plot_significance(
    result, *, alpha=0.05, fdr_method="bh", bins=None, ax=None, title=None
):
    """Histogram of per-target r with the permutation null and the thresholds.

    The targets' r are stacked by their FDR decision (significant or not at
    ``alpha``), over the null distribution of r pooled over targets (scaled
    to the same number of targets), with the family-wise threshold of the
    max statistic and the smallest significant r under FDR.

    .. versionadded:: 0.1

    Parameters
    ----------
    result : Bunch
        The result of :func:`brainenc.stats.permutation_test`. With
        ``return_null=True`` the null is the histogram of all its values;
        otherwise each target's null is drawn as a normal distribution of
        its ``null_mean`` and ``null_std`` (labelled "normal approx.").
    alpha : float, default=0.05
        Level of the false discovery rate and of the family-wise error rate.
    fdr_method : {"bh", "by"}, default="bh"
        Method of :func:`brainenc.stats.fdr_correction`.
    bins : int or sequence of float, default=None
        Histogram bins; ``None`` takes ``min(50, max(10, n_targets // 5))``
        equal bins over the range of the scores and of the null.
    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` creates a new figure.
    title : str, default=None
        Axes title; ``None`` writes how many targets are significant.

    Returns
    -------
    fig : matplotlib Figure
        The figure holding ``ax``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from brainenc.plotting import plot_significance
    >>> from brainenc.stats import permutation_test
    >>> rng = np.random.default_rng(0)
    >>> y_true = rng.standard_normal((300, 40))
    >>> y_pred = rng.standard_normal((300, 40))
    >>> y_pred[:, :10] += y_true[:, :10]
    >>> result = permutation_test(y_true, y_pred, n_permutations=200,
    ...                           random_state=0)
    >>> fig = plot_significance(result)
    >>> fig.axes[0].get_title()
    '10 of 40 targets significant (FDR q <= 0.05)'
    """
    from .stats import fdr_correction

    needed = ("r", "p_values", "null_mean", "null_std", "null_max", "settings")
    if not all(key in result for key in needed):
        raise TypeError(
            "result must be the Bunch returned by brainenc.stats.permutation_test "
            f"(with {', '.join(needed)}), got {type(result).__name__}."
        )
    r = _check_scores(result["r"], "result.r")
    rejected, _ = fdr_correction(result["p_values"], alpha=alpha, method=fdr_method)
    alternative = result["settings"]["alternative"]
    fwe = _fwe_threshold(np.asarray(result["null_max"]), alpha)
    null = result.get("null")
    fig, ax = _figure_and_axes(ax, (6.5, 4.0))
    mean = np.asarray(result["null_mean"], dtype=np.float64)
    std = np.asarray(result["null_std"], dtype=np.float64)
    if bins is None:
        bins = min(50, max(10, r.size // 5))
    if np.ndim(bins) == 0:
        if null is not None:
            low, high = min(r.min(), np.min(null)), max(r.max(), np.max(null))
        else:
            low = min(r.min(), float(np.min(mean - 4 * std)))
            high = max(r.max(), float(np.max(mean + 4 * std)))
        bins = np.linspace(low, high, int(bins) + 1)
    bins = np.asarray(bins, dtype=np.float64)
    k = int(np.count_nonzero(rejected))
    ax.hist(
        [r[rejected], r[~rejected]],
        bins=bins,
        stacked=True,
        color=["#c44e52", "#8c8c8c"],
        edgecolor="white",
        linewidth=0.5,
        label=[f"FDR q <= {alpha:g} ({k})", f"not significant ({r.size - k})"],
    )
    if null is not None:
        null = np.asarray(null, dtype=np.float64).ravel()
        counts, _ = np.histogram(null, bins=bins)
        counts = counts * (r.size / null.size)
        n_perm = null.size // r.size
        ax.stairs(
            counts,
            bins,
            color="k",
            linewidth=1.5,
            label=f"null ({n_perm} permutations)",
        )
    else:
        grid = np.linspace(bins[0], bins[-1], 400)
        safe = np.where(std > 0, std, 1.0)
        density = np.exp(-0.5 * ((grid[:, None] - mean) / safe) ** 2) / (
            safe * np.sqrt(2 * np.pi)
        )
        density = density[:, std > 0].sum(axis=1) * np.mean(np.diff(bins))
        ax.plot(grid, density, color="k", linewidth=1.5, label="null (normal approx.)")
    # the statistic of each alternative is sign * r, or |r| (both signs)
    signs = {"greater": (1,), "less": (-1,), "two-sided": (1, -1)}[alternative]
    where = "|r|" if alternative == "two-sided" else "r"
    if fwe is not None:
        for i, sign in enumerate(signs):
            ax.axvline(
                sign * fwe,
                color="#4c72b0",
                linestyle="--",
                linewidth=1.5,
                label=None if i else f"FWE threshold {where} = {fwe:.3f}",
            )
    if k:
        if alternative == "two-sided":
            smallest = float(np.abs(r[rejected]).min())
        else:
            smallest = float((signs[0] * r[rejected]).min())
        for i, sign in enumerate(signs):
            ax.axvline(
                sign * smallest,
                color="#c44e52",
                linestyle=":",
                linewidth=1.5,
                label=None
                if i
                else f"smallest FDR-significant {where} = {smallest:.3f}",
            )
    ax.set_xlabel("Pearson r")
    ax.set_ylabel("number of targets")
    # significant targets lie to the right (alternative="greater")
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    if title is None:
        title = f"{k} of {r.size} targets significant (FDR q <= {alpha:g})"
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------
# private helpers


def _figure_and_axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _check_scores(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D array of per-target values, got shape "
            f"{values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite (no NaN or inf).")
    return values


def _check_indices(indices, n, name):
    arr = np.atleast_1d(np.asarray(indices))
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be an int or a non-empty sequence of ints, got {indices!r}."
        )
    if arr.min() < -n or arr.max() >= n:
        raise ValueError(f"{name} must be in [0, {n}), got {indices!r}.")
    return [int(i) % n for i in arr]


def _space_colors(n):
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n)]


def _fwe_threshold(null_max, alpha):
    """The statistic above which the max-statistic p-value is <= alpha
    (None when no target can reach it with these permutations)."""
    n = null_max.size
    allowed = int(np.floor(alpha * (n + 1) - 1))  # null maxima >= r allowed
    if allowed < 0:
        return None
    return float(np.sort(null_max)[::-1][min(allowed, n - 1)])
