"""Figures of encoding results: scores, noise ceilings, delay profiles, weights,
significance and brain maps.

Every function draws on the ``ax`` (or ``figure``) it is given, or on a new
figure from :mod:`matplotlib.pyplot` when none is, and returns the
:class:`~matplotlib.figure.Figure`. matplotlib is the ``plot`` extra
(``pip install "brainenc[plot]"``); it is imported when a function is called,
never by ``import brainenc``.

The brain maps (:func:`plot_brain_map`, :func:`plot_volume_map`,
:func:`plot_surface_map`, :func:`plot_parcel_map`) draw per-target values in
the responses' space with nilearn's plotting (the ``neuro`` extra,
``pip install "brainenc[neuro]"``): slices or a glass brain for volumes, the
fsaverage5 inflated surface (shipped with nilearn: nothing is downloaded) for
surface data, and parcels painted from a label atlas image.
"""

import numpy as np

__all__ = [
    "plot_brain_map",
    "plot_delay_profile",
    "plot_layer_attention",
    "plot_parcel_map",
    "plot_score_distribution",
    "plot_scores_vs_ceiling",
    "plot_significance",
    "plot_stacking_weights",
    "plot_surface_map",
    "plot_volume_map",
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


def plot_layer_attention(attention, *, ax=None, title=None):
    """Attention over layers of every feature space (the layer profile).

    For every space, the attention of its pooler over its layers averaged
    over heads and queries (the profile, a thick line with markers), and
    each head and query's own attention (thin lines of the same colour).
    Spaces with different numbers of layers are drawn against fractional
    depth, ``(layer + 1) / n_layers``, the others against the layer index.

    .. versionadded:: 0.1

    Parameters
    ----------
    attention : fitted MultimodalTransformerEncoder or dict
        A fitted :class:`~brainenc.neural.MultimodalTransformerEncoder` (its
        ``layer_attention_`` is drawn), or ``{space: array of shape
        (n_heads, n_queries, n_layers)}`` (what
        :meth:`~brainenc.neural.MultimodalTransformerEncoder.layer_attention`
        returns); a 1-D array is one profile.
    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` creates a new figure.
    title : str, default=None
        Title of the axes.

    Returns
    -------
    fig : matplotlib Figure
        The figure holding ``ax``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from brainenc.plotting import plot_layer_attention
    >>> fig = plot_layer_attention({"audio": np.array([[[0.1, 0.7, 0.2]]])})
    >>> fig.axes[0].lines[-1].get_ydata().tolist()
    [0.1, 0.7, 0.2]
    """
    if hasattr(attention, "layer_attention_"):
        attention = attention.layer_attention_
    if not isinstance(attention, dict) or not attention:
        raise ValueError(
            "attention must be a fitted MultimodalTransformerEncoder or a non-empty "
            "dict of space name to attention weights (n_heads, n_queries, "
            f"n_layers), got {type(attention).__name__}"
            f"{' (empty)' if isinstance(attention, dict) else ''}; a model without "
            "attention-pooled spaces (layer_pooling='mean' or one layer) has none."
        )
    weights = {}
    for name, value in attention.items():
        value = np.asarray(value, dtype=np.float64)
        if value.ndim == 1:
            value = value[None, None]
        if value.ndim != 3 or value.shape[-1] == 0 or not np.all(np.isfinite(value)):
            raise ValueError(
                f"attention[{name!r}] must be finite weights of shape (n_heads, "
                f"n_queries, n_layers), got shape {value.shape}."
            )
        weights[str(name)] = value.reshape(-1, value.shape[-1])
    n_layers = {w.shape[1] for w in weights.values()}
    depth = len(n_layers) > 1
    fig, ax = _figure_and_axes(ax, (6.5, 4.0))
    colors = _space_colors(len(weights))
    for color, (name, w) in zip(colors, weights.items(), strict=True):
        x = (np.arange(w.shape[1]) + 1) / w.shape[1] if depth else np.arange(w.shape[1])
        for row in w:
            ax.plot(x, row, color=color, linewidth=0.8, alpha=0.35)
        ax.plot(x, w.mean(axis=0), color=color, linewidth=2.2, marker="o", label=name)
    ax.set_xlabel("fractional depth" if depth else "layer")
    ax.set_ylabel("attention (sums to 1 over layers)")
    if not depth:
        ax.set_xticks(np.arange(next(iter(n_layers))))
    ax.set_ylim(bottom=0.0)
    ax.legend(title="feature space")
    ax.set_title(title if title is not None else "attention over layers")
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
    # permutation_test of a 1-D y gives floats: one target
    r = _check_scores(np.atleast_1d(result["r"]), "result.r")
    rejected, _ = fdr_correction(
        np.atleast_1d(result["p_values"]), alpha=alpha, method=fdr_method
    )
    alternative = result["settings"]["alternative"]
    fwe = _fwe_threshold(np.asarray(result["null_max"]), alpha)
    null = result.get("null")
    fig, ax = _figure_and_axes(ax, (6.5, 4.0))
    mean = np.atleast_1d(np.asarray(result["null_mean"], dtype=np.float64))
    std = np.atleast_1d(np.asarray(result["null_std"], dtype=np.float64))
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


def plot_brain_map(values, like, **kwargs):
    """Per-target values as a brain map: volume slices or a surface.

    Dispatches on the space of ``like``: :func:`plot_volume_map` for NIfTI
    responses (a mask or a masker), :func:`plot_surface_map` for GIFTI and
    CIFTI responses.

    .. versionadded:: 0.1

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        One value per target (e.g. the held-out Pearson r), in the order of
        the columns of ``y``.
    like : Bunch, ResponseSpace, path-like, image or masker
        The space of the targets, as for :func:`brainenc.io.save_map`.
    **kwargs
        Passed to the function drawing the map.

    Returns
    -------
    fig : matplotlib Figure

    Raises
    ------
    ValueError
        For spaces without a brain figure (plain arrays; MEG/EEG channels,
        for which ``mne.Evoked.plot_topomap`` on
        ``space.to_image(values)`` draws a topography).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import nibabel as nib
    >>> import numpy as np
    >>> from brainenc.plotting import plot_brain_map
    >>> inside = np.zeros((8, 8, 6), dtype=np.uint8)
    >>> inside[2:6, 2:6, 2:4] = 1  # 32 voxels
    >>> mask = nib.Nifti1Image(inside, np.diag([4.0, 4.0, 4.0, 1.0]))
    >>> fig = plot_brain_map(np.linspace(-0.2, 0.6, 32), mask, title="r")
    >>> len(fig.axes) >= 3  # three slices and the colorbar
    True
    """
    from ._neuro import space_from_like

    space = space_from_like(like)
    if space.kind == "volume":
        return plot_volume_map(values, space, **kwargs)
    if space.kind in ("surface", "cifti"):
        return plot_surface_map(values, space, **kwargs)
    if space.kind == "sensors":
        raise ValueError(
            "no brain-map figure for MEG/EEG channels; draw a topography with "
            "space.to_image(values).plot_topomap(times=0) (mne)."
        )
    raise ValueError(
        "like describes plain array targets, which have no place in a brain; "
        "give the mask, masker or surface of the responses."
    )


def plot_volume_map(
    values,
    like,
    *,
    kind="slices",
    bg_img="mask",
    cut_coords=None,
    threshold=None,
    vmax=None,
    cmap="cold_hot",
    title=None,
    colorbar=True,
    figure=None,
):
    """Per-voxel values of a volume as orthogonal slices or a glass brain.

    The values are put back into the mask's grid (as
    :func:`brainenc.io.save_map` does, 0 outside the mask) and drawn with
    nilearn's :func:`~nilearn.plotting.plot_stat_map` (``kind="slices"``) or
    :func:`~nilearn.plotting.plot_glass_brain` (``kind="glass"``), on a
    colour scale symmetric around 0.

    .. versionadded:: 0.1

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        One value per in-mask voxel, in mask order (the columns of ``y``).
    like : Bunch, ResponseSpace, path-like, image or masker
        The volume space of the targets: the data returned by
        :func:`brainenc.io.load_runs`, a mask image or a fitted nilearn
        masker (see :func:`brainenc.io.save_map`).
    kind : {"slices", "glass"}, default="slices"
        Three orthogonal slices, or maximum-intensity projections on a glass
        brain (meaningful for data in MNI space).
    bg_img : "mask", "MNI152", None, path-like or image, default="mask"
        Background of the slices: the mask itself in grey (always on the
        data's grid), nilearn's MNI152 template (for data in MNI space), no
        background, or an anatomical image. Not used by ``kind="glass"``.
    cut_coords : sequence of 3 float, default=None
        World coordinates (mm) of the slices; ``None`` cuts through the voxel
        of largest absolute value.
    threshold : float, default=None
        Values whose absolute value is at most ``threshold`` are not drawn;
        ``None`` hides only the zeros (the voxels outside the mask).
    vmax : float, default=None
        End of the colour scale (it runs from ``-vmax`` to ``vmax``);
        ``None`` takes the largest absolute value.
    cmap : str or matplotlib colormap, default="cold_hot"
        Colour map.
    title : str, default=None
        Title drawn on the figure.
    colorbar : bool, default=True
        Draw a colour bar.
    figure : matplotlib Figure, default=None
        Figure to draw on; ``None`` creates one with :mod:`matplotlib.pyplot`.

    Returns
    -------
    fig : matplotlib Figure

    See Also
    --------
    plot_brain_map : The same for any space.
    brainenc.io.save_map : Write the map as a NIfTI file.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import nibabel as nib
    >>> import numpy as np
    >>> from brainenc.plotting import plot_volume_map
    >>> inside = np.zeros((8, 8, 6), dtype=np.uint8)
    >>> inside[2:6, 2:6, 2:4] = 1  # 32 voxels
    >>> mask = nib.Nifti1Image(inside, np.diag([4.0, 4.0, 4.0, 1.0]))
    >>> fig = plot_volume_map(np.linspace(0.0, 0.5, 32), mask, kind="glass")
    >>> [float(v) for v in fig.axes[-1].get_ylim()]  # colour bar around 0
    [-0.5, 0.5]
    """
    from ._neuro import space_from_like

    space = space_from_like(like)
    if space.kind != "volume":
        raise ValueError(
            f"like must describe a volume (a mask image or a masker), got "
            f"{space.kind} responses; use plot_brain_map."
        )
    values = _check_map_values(values, space.n_targets)
    if kind not in ("slices", "glass"):
        raise ValueError(f"kind must be 'slices' or 'glass', got {kind!r}.")
    image = space.to_image(values, dtype="float32")
    if isinstance(bg_img, str) and bg_img == "mask":
        bg_img = _mask_image(space)
    plotting = _neuro_module("nilearn.plotting")
    vmax = _symmetric_vmax(values, vmax)
    threshold = 1e-6 if threshold is None else float(threshold)
    if figure is None:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(9.0, 3.2))
    if cut_coords is None and kind == "slices":
        data = np.nan_to_num(np.asarray(image.get_fdata()))
        peak = np.unravel_index(np.argmax(np.abs(data)), data.shape)
        cut_coords = (image.affine @ [*peak, 1.0])[:3].tolist()
    common = {
        "figure": figure,
        "cut_coords": cut_coords,
        "threshold": threshold,
        "vmin": -vmax,
        "vmax": vmax,
        "cmap": cmap,
        "colorbar": colorbar,
        "symmetric_cbar": True,
        "title": title,
    }
    if kind == "glass":
        plotting.plot_glass_brain(image, plot_abs=False, **common)
    else:
        if isinstance(bg_img, str) and bg_img == "MNI152":
            from nilearn.datasets import load_mni152_template

            bg_img = load_mni152_template()
        plotting.plot_stat_map(
            image,
            bg_img=bg_img,
            resampling_interpolation="nearest",
            black_bg=True,
            **common,
        )
    return figure


def plot_parcel_map(
    values,
    atlas,
    *,
    labels=None,
    kind="slices",
    bg_img="atlas",
    cut_coords=None,
    threshold=None,
    vmax=None,
    cmap="cold_hot",
    title=None,
    colorbar=True,
    figure=None,
):
    """Per-parcel values painted on a label atlas image.

    Every voxel of parcel ``labels[k]`` of the atlas takes ``values[k]``;
    the volume is drawn as by :func:`plot_volume_map`.

    .. versionadded:: 0.1

    Parameters
    ----------
    values : array-like of shape (n_parcels,)
        One value per parcel (e.g. the r of parcel-averaged responses).
    atlas : path-like or nibabel image
        A 3-D label image: an integer label per voxel, 0 for the background.
    labels : sequence of int, default=None
        The atlas label of each value; ``None`` takes the atlas's non-zero
        labels in increasing order (the order of nilearn's
        ``NiftiLabelsMasker``).
    kind, cut_coords, threshold, vmax, cmap, title, colorbar, figure
        As for :func:`plot_volume_map`.
    bg_img : "atlas", "MNI152", None, path-like or image, default="atlas"
        Background of the slices: the atlas's extent in grey, nilearn's
        MNI152 template, none, or an anatomical image.

    Returns
    -------
    fig : matplotlib Figure

    Raises
    ------
    ValueError
        If ``values`` and ``labels`` differ in length, a label is not in the
        atlas, or the atlas is not a 3-D image.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import nibabel as nib
    >>> import numpy as np
    >>> from brainenc.plotting import plot_parcel_map
    >>> atlas = np.zeros((8, 8, 6), dtype=np.int16)
    >>> atlas[1:4, 2:6, 2:4], atlas[4:7, 2:6, 2:4] = 1, 2  # two parcels
    >>> image = nib.Nifti1Image(atlas, np.diag([4.0, 4.0, 4.0, 1.0]))
    >>> fig = plot_parcel_map([0.3, -0.1], image, title="r per parcel")
    >>> len(fig.axes) >= 3
    True
    """
    nib = _neuro_module("nibabel")
    if not hasattr(atlas, "dataobj"):
        atlas = nib.load(str(atlas))
    label_data = np.asanyarray(atlas.dataobj)
    if label_data.ndim == 4 and label_data.shape[3] == 1:
        label_data = label_data[..., 0]
    if label_data.ndim != 3:
        raise ValueError(
            f"atlas must be a 3-D label image, got shape {label_data.shape}."
        )
    present = np.unique(label_data[np.isfinite(label_data) & (label_data != 0)])
    if labels is None:
        labels = present
    labels = np.asarray(labels)
    values = _check_map_values(values, labels.size, what="parcel (label)")
    missing = np.setdiff1d(labels, present)
    if missing.size:
        raise ValueError(
            f"labels {missing[:5].tolist()} are not in the atlas, whose labels are "
            f"{present[:10].tolist()}{' ...' if present.size > 10 else ''}."
        )
    from ._neuro import volume_space

    volume = np.zeros(label_data.shape, dtype=np.float32)
    for label, value in zip(labels, values, strict=True):
        volume[label_data == label] = value
    # the atlas's extent is the mask; its voxels take their parcel's value
    extent = volume_space(
        nib.Nifti1Image((label_data != 0).astype(np.uint8), atlas.affine)
    )
    if isinstance(bg_img, str) and bg_img == "atlas":
        bg_img = "mask"
    return plot_volume_map(
        volume[extent.inside],
        extent,
        kind=kind,
        bg_img=bg_img,
        cut_coords=cut_coords,
        threshold=threshold,
        vmax=vmax,
        cmap=cmap,
        title=title,
        colorbar=colorbar,
        figure=figure,
    )


def plot_surface_map(
    values,
    like,
    *,
    mesh=None,
    views=("lateral", "medial"),
    threshold=None,
    vmax=None,
    cmap="cold_hot",
    title=None,
    colorbar=True,
    figure=None,
):
    """Per-vertex values on an inflated cortical surface.

    One 3-D view per hemisphere and view, drawn with nilearn's
    :func:`~nilearn.plotting.plot_surf_stat_map` on the sulcal depth, on a
    colour scale symmetric around 0. Each face takes the mean of its
    vertices' values.

    .. versionadded:: 0.1

    Parameters
    ----------
    values : array-like of shape (n_targets,)
        One value per target vertex (or CIFTI grayordinate), in the order of
        the columns of ``y``; CIFTI grayordinates outside the cortex are not
        drawn.
    like : Bunch, ResponseSpace, path-like or image
        The surface space of the targets: the data returned by
        :func:`brainenc.io.load_runs` for GIFTI or CIFTI responses, or such a
        file.
    mesh : None, "fsaverage5", path-like, nilearn mesh or dict, default=None
        The mesh to draw on. ``None`` takes nilearn's fsaverage5 (shipped,
        never downloaded) when the data have its 10242 vertices per
        hemisphere; other meshes must be given: a ``.surf.gii`` file, a
        nilearn mesh, or ``{"left": ..., "right": ...}`` for CIFTI data with
        both hemispheres.
    views : sequence of str, default=("lateral", "medial")
        nilearn views to draw, side by side.
    threshold : float, default=None
        Faces whose mean value has an absolute value at most ``threshold``
        show the background only; ``None`` hides only exact zeros (vertices
        outside a mask).
    vmax : float, default=None
        End of the colour scale (from ``-vmax`` to ``vmax``); ``None`` takes
        the largest absolute value.
    cmap : str or matplotlib colormap, default="cold_hot"
        Colour map.
    title : str, default=None
        Figure title.
    colorbar : bool, default=True
        Draw a colour bar.
    figure : matplotlib Figure, default=None
        Figure to draw on; ``None`` creates one with :mod:`matplotlib.pyplot`.

    Returns
    -------
    fig : matplotlib Figure
        Its 3-D axes hold one ``Poly3DCollection`` each, whose face colours
        are the map's.

    Raises
    ------
    ValueError
        If the data are not on fsaverage5 and no ``mesh`` is given, or the
        mesh has another number of vertices than the data.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import nibabel as nib
    >>> import numpy as np
    >>> from brainenc.plotting import plot_surface_map
    >>> rng = np.random.default_rng(0)
    >>> values = rng.uniform(-0.3, 0.6, 10242).astype(np.float32)  # fsaverage5
    >>> like = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(values)])
    >>> fig = plot_surface_map(values, like, views=["lateral"])
    >>> [ax.name for ax in fig.axes]  # the surface and the colour bar
    ['3d', 'rectilinear']
    """
    from ._neuro import space_from_like

    space = space_from_like(like)
    if space.kind not in ("surface", "cifti"):
        raise ValueError(
            f"like must describe surface (GIFTI or CIFTI) responses, got "
            f"{space.kind} responses; use plot_brain_map."
        )
    values = _check_map_values(values, space.n_targets)
    parts = _surface_parts(space, values)
    meshes = _surface_meshes(parts, mesh)
    if isinstance(views, str):
        views = [views]
    views = list(views)
    vmax = _symmetric_vmax(values, vmax)
    threshold = 1e-6 if threshold is None else float(threshold)
    plotting = _neuro_module("nilearn.plotting")
    bg_maps = _sulcal_depth(meshes)
    if figure is None:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(3.2 * len(views) * len(parts) + 1.0, 3.2))
    n_columns = len(views) * len(parts)
    position = 0
    for hemi, data in parts.items():
        for view in views:
            position += 1
            axes = figure.add_subplot(1, n_columns, position, projection="3d")
            last = position == n_columns
            plotting.plot_surf_stat_map(
                meshes[hemi],
                data,
                bg_map=bg_maps.get(hemi),
                hemi=hemi,
                view=view,
                engine="matplotlib",
                cmap=cmap,
                colorbar=bool(colorbar) and last,
                threshold=threshold,
                vmin=-vmax,
                vmax=vmax,
                symmetric_cbar=True,
                axes=axes,
                figure=figure,
            )
            axes.set_title(f"{hemi}, {view}", fontsize="small")
    if title is not None:
        figure.suptitle(title)
    return figure


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


def _neuro_module(name):
    from ._neuro import needs

    return needs(name, "brain-map figures")


def _check_map_values(values, n, *, what="target"):
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size != n:
        raise ValueError(
            f"values must have shape ({n},), one value per {what}, got shape "
            f"{arr.shape}."
        )
    return arr


def _symmetric_vmax(values, vmax):
    if vmax is not None:
        vmax = float(vmax)
        if not (np.isfinite(vmax) and vmax > 0):
            raise ValueError(f"vmax must be a positive number, got {vmax!r}.")
        return vmax
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    return top if top > 0 else 1.0


def _mask_image(space):
    """The mask of a volume space as a 0/1 image (a background for slices)."""
    nib = _neuro_module("nibabel")
    inside = getattr(space, "inside", None)
    if inside is not None:
        return nib.Nifti1Image(inside.astype(np.uint8), space.affine)
    ones = space.to_image(np.ones(space.n_targets), dtype="float32")
    covered = (np.asanyarray(ones.dataobj) != 0).astype(np.uint8)
    return nib.Nifti1Image(covered, ones.affine)


_FSAVERAGE5_VERTICES = 10242


def _surface_parts(space, values):
    """``{hemisphere: per-vertex values}`` (0 where there is no target)."""
    if space.kind == "surface":
        full = np.zeros(space.n_vertices)
        full[space.inside] = values
        return {space.hemisphere or "left": full}
    parts = {}
    for name, indices, axis in space.axis.iter_structures():
        hemi = {"CIFTI_STRUCTURE_CORTEX_LEFT": "left"}.get(name)
        hemi = hemi or {"CIFTI_STRUCTURE_CORTEX_RIGHT": "right"}.get(name)
        if hemi is None:
            continue
        full = np.zeros(axis.nvertices[name])
        full[axis.vertex] = values[indices]
        parts[hemi] = full
    if not parts:
        raise ValueError(
            "the CIFTI responses hold no cortical surface (CORTEX_LEFT or "
            "CORTEX_RIGHT); plot their volume part with plot_volume_map."
        )
    return parts


def _surface_meshes(parts, mesh):
    if mesh is None or (isinstance(mesh, str) and mesh == "fsaverage5"):
        sizes = {hemi: data.size for hemi, data in parts.items()}
        if any(n != _FSAVERAGE5_VERTICES for n in sizes.values()):
            raise ValueError(
                f"the data have {_sizes_text(sizes)} vertices, not fsaverage5's "
                f"{_FSAVERAGE5_VERTICES} per hemisphere: give mesh= (the "
                ".surf.gii of their mesh), since only fsaverage5 ships with nilearn."
            )
        datasets = _neuro_module("nilearn.datasets")
        inflated = datasets.load_fsaverage("fsaverage5").inflated
        return {hemi: inflated.parts[hemi] for hemi in parts}
    if not isinstance(mesh, dict):
        mesh = dict.fromkeys(parts, mesh)
    surface = _neuro_module("nilearn.surface")
    meshes = {}
    for hemi, data in parts.items():
        if hemi not in mesh:
            raise ValueError(f"mesh has no {hemi!r} hemisphere, which the data have.")
        loaded = surface.load_surf_mesh(mesh[hemi])
        n = np.asarray(loaded.coordinates).shape[0]
        if n != data.size:
            raise ValueError(
                f"the {hemi} mesh has {n} vertices but the data have {data.size}."
            )
        meshes[hemi] = loaded
    return meshes


def _sulcal_depth(meshes):
    """fsaverage5's sulcal depth per hemisphere, for the fsaverage5 mesh only."""
    if not all(
        np.asarray(m.coordinates).shape[0] == _FSAVERAGE5_VERTICES
        for m in meshes.values()
    ):
        return {}
    datasets = _neuro_module("nilearn.datasets")
    sulcal = datasets.load_fsaverage_data(
        mesh="fsaverage5", mesh_type="inflated", data_type="sulcal"
    )
    return {hemi: np.asarray(sulcal.data.parts[hemi]) for hemi in meshes}


def _sizes_text(sizes):
    return ", ".join(f"{n} ({hemi})" for hemi, n in sizes.items())


def _fwe_threshold(null_max, alpha):
    """The statistic above which the max-statistic p-value is <= alpha
    (None when no target can reach it with these permutations)."""
    n = null_max.size
    allowed = int(np.floor(alpha * (n + 1) - 1))  # null maxima >= r allowed
    if allowed < 0:
        return None
    return float(np.sort(null_max)[::-1][min(allowed, n - 1)])
