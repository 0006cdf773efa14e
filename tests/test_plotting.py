import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle, StepPatch  # noqa: E402

import brainenc  # noqa: E402
from brainenc import (  # noqa: E402
    DelayedRidge,
    StackedRegressor,
    make_encoding_data,
    make_multispace_data,
    pearson_r,
)
from brainenc.plotting import (  # noqa: E402
    plot_delay_profile,
    plot_layer_attention,
    plot_score_distribution,
    plot_scores_vs_ceiling,
    plot_significance,
    plot_stacking_weights,
)
from brainenc.stats import fdr_correction, permutation_test  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ridge_fit():
    """A real held-out evaluation with a known ground truth (TR 1 s)."""
    X, y, groups, truth = make_encoding_data(
        n_samples=800,
        n_features=6,
        n_targets=40,
        n_runs=4,
        delays=8,
        tr=1.0,
        snr=2.0,
        random_state=0,
    )
    train, test = groups < 3, groups == 3
    model = DelayedRidge(delays=8, backend="numpy").fit(
        X[train], y[train], groups=groups[train]
    )
    r = pearson_r(y[test], model.predict(X[test], groups=groups[test]))
    ceiling = pearson_r(y[test], truth.y_clean[test])
    return model, r, ceiling, truth


@pytest.fixture(scope="module")
def stacked_fit():
    X, y, groups, truth = make_multispace_data(
        n_samples=600, space_sizes=(5, 5, 4), n_targets=9, n_runs=4, random_state=0
    )
    base = DelayedRidge(delays=4, backend="numpy")
    model = StackedRegressor(
        [
            ("audio", base, slice(0, 5)),
            ("video", base, slice(5, 10)),
            ("text", base, slice(10, 14)),
        ],
        cv=3,
    ).fit(X, y, groups=groups)
    return model, truth


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_score_histogram(ridge_fit):
    _, r, _, _ = ridge_fit
    fig = plot_score_distribution(r, kind="hist")
    (ax,) = fig.axes
    bars = _bars(ax)
    assert sum(b.get_height() for b in bars) == r.size
    left = min(b.get_x() for b in bars)
    right = max(b.get_x() + b.get_width() for b in bars)
    assert left == pytest.approx(r.min())
    assert right == pytest.approx(r.max())
    assert ax.get_xlabel() == "Pearson r"
    assert ax.get_ylabel() == "number of targets"
    assert ax.get_title() == "40 targets"
    mean_line = ax.get_lines()[0]
    assert mean_line.get_xdata()[0] == pytest.approx(r.mean())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"mean r = {r.mean():.3f}"]
    # the model predicts: most of the mass is well above 0
    assert r.mean() > 0.4


def test_sorted_scores_on_given_axes(ridge_fit):
    _, r, _, _ = ridge_fit
    fig, (ax0, ax1) = plt.subplots(1, 2)
    returned = plot_score_distribution(r, kind="sorted", ax=ax1)
    assert returned is fig
    assert not ax0.has_data()
    line = ax1.get_lines()[0]
    np.testing.assert_array_equal(line.get_ydata(), np.sort(r)[::-1])
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, r.size + 1))
    assert ax1.get_xlabel() == "target rank (best first)"


def test_scores_vs_ceiling(ridge_fit):
    _, r, ceiling, _ = ridge_fit
    fig = plot_scores_vs_ceiling(r, ceiling)
    (ax,) = fig.axes
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], ceiling)
    np.testing.assert_allclose(points[:, 1], r)
    low, high = ax.get_xlim()
    assert low <= 0
    assert high >= max(r.max(), ceiling.max())
    assert ax.get_ylim() == ax.get_xlim()
    diagonal = ax.get_lines()[0]
    np.testing.assert_array_equal(diagonal.get_xdata(), diagonal.get_ydata())
    ratio = r.mean() / ceiling.mean()
    assert ax.get_title().endswith(f"= {ratio:.2f}")
    assert ax.get_xlabel() == "noise ceiling (Pearson r)"
    # a well-specified ridge is close to the ceiling, never far above it
    assert 0.85 < ratio < 1.05


def test_delay_profile_lines_are_the_weights(ridge_fit):
    model, _, _, _ = ridge_fit
    fig = plot_delay_profile(model, targets=[3, 7], features=[0, 5], tr=1.5)
    (ax,) = fig.axes
    lines = ax.get_lines()[:4]
    expected = [(3, 0), (3, 5), (7, 0), (7, 5)]
    for line, (t, f) in zip(lines, expected, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), model.coef_delays_[t, f])
        np.testing.assert_allclose(line.get_xdata(), 1.5 * np.arange(1, 9))
        assert line.get_label() == f"target {t}, feature {f}"
    assert ax.get_xlabel() == "delay (s)"
    assert ax.get_ylabel() == "weight"


def test_delay_profile_rms_recovers_the_hrf_peak(ridge_fit):
    model, r, _, truth = ridge_fit
    best = np.argsort(-r)[:5]
    fig = plot_delay_profile(model, targets=best)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "delay (samples)"
    assert ax.get_ylabel() == "weight (RMS over features)"
    for line, t in zip(ax.get_lines(), best, strict=False):
        coef = model.coef_delays_[t].astype(np.float64)
        rms = np.sqrt((coef**2).sum(axis=0) / coef.shape[0])
        np.testing.assert_allclose(line.get_ydata(), rms)
        # the fitted delay profile peaks where the true HRF does (+- 1 TR)
        assert abs(int(np.argmax(line.get_ydata())) - int(np.argmax(truth.hrf[t]))) <= 1


def test_delay_profile_default_targets_are_the_strongest(ridge_fit):
    model, _, _, _ = ridge_fit
    fig = plot_delay_profile(model)
    strength = np.sqrt((model.coef_delays_.astype(np.float64) ** 2).mean(axis=(1, 2)))
    expected = np.argsort(-strength)[:5]
    labels = [line.get_label() for line in fig.axes[0].get_lines()[:5]]
    assert labels == [f"target {t}" for t in expected]


def test_stacking_weights_bars(stacked_fit):
    model, truth = stacked_fit
    fig = plot_stacking_weights(model)
    (ax,) = fig.axes
    bars = _bars(ax)
    n_spaces, n_targets = model.weights_.shape
    assert len(bars) == n_spaces * n_targets
    heights = np.array([b.get_height() for b in bars]).reshape(n_spaces, n_targets)
    dominant = model.weights_.argmax(axis=0)
    order = np.lexsort((-model.weights_.max(axis=0), dominant))
    np.testing.assert_allclose(heights, model.weights_[:, order])
    tops = np.array([b.get_y() + b.get_height() for b in bars[-n_targets:]])
    np.testing.assert_allclose(tops, 1.0)  # convex weights stack to 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["audio", "video", "text"]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(t) for t in order]
    assert ax.get_ylabel() == "stacking weight"
    assert ax.get_xlabel() == "target (sorted by dominant space)"
    # the weights find the space that drives each target
    np.testing.assert_array_equal(dominant, truth.driving_space)


def test_stacking_weights_signed_are_lines():
    weights = np.array([[0.5, -0.2, 1.1], [0.4, 0.9, -0.3]])
    fig = plot_stacking_weights(weights, sort=False)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), weights[0])
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), weights[1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "space 0",
        "space 1",
    ]


@pytest.fixture(scope="module")
def significance():
    """A permutation test of 300 smooth targets, 30 of them predicted."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(0)
    y_pred = lfilter([1], [1, -0.7], rng.standard_normal((600, 300)), axis=0)
    y_true = lfilter([1], [1, -0.7], rng.standard_normal((600, 300)), axis=0)
    y_true[:, :30] += 0.4 * y_pred[:, :30]
    groups = np.repeat([0, 1, 2], 200)
    return permutation_test(
        y_true,
        y_pred,
        groups=groups,
        n_permutations=300,
        random_state=0,
        return_null=True,
    )


def test_significance_figure_is_the_test(significance):
    result = significance
    fig = plot_significance(result)
    (ax,) = fig.axes
    rejected, _ = fdr_correction(result.p_values)
    k = int(rejected.sum())
    assert 25 <= k <= 40  # the 30 predicted targets, and few others
    significant, other = ax.containers
    edges = np.array(
        [b.get_x() for b in significant]
        + [significant[-1].get_x() + significant[-1].get_width()]
    )
    np.testing.assert_array_equal(
        [b.get_height() for b in significant],
        np.histogram(result.r[rejected], edges)[0],
    )
    np.testing.assert_array_equal(
        [b.get_height() for b in other], np.histogram(result.r[~rejected], edges)[0]
    )
    # the null, pooled over targets, scaled to 300 targets
    (stairs,) = [p for p in ax.patches if isinstance(p, StepPatch)]
    values, stair_edges, _ = stairs.get_data()
    np.testing.assert_allclose(stair_edges, edges)
    np.testing.assert_allclose(
        values, np.histogram(result.null.ravel(), edges)[0] * 300 / result.null.size
    )
    assert values.sum() == pytest.approx(300, abs=1)
    # the family-wise threshold separates the targets with p_fwe <= 0.05
    fwe, fdr = ax.get_lines()
    threshold = fwe.get_xdata()[0]
    np.testing.assert_array_equal(result.r > threshold, result.p_values_fwe <= 0.05)
    assert fdr.get_xdata()[0] == result.r[rejected].min()
    assert ax.get_title() == f"{k} of 300 targets significant (FDR q <= 0.05)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        f"FDR q <= 0.05 ({k})",
        f"not significant ({300 - k})",
        "null (300 permutations)",
        f"FWE threshold r = {threshold:.3f}",
        f"smallest FDR-significant r = {result.r[rejected].min():.3f}",
    ]
    assert ax.get_xlabel() == "Pearson r"


def test_significance_figure_without_the_null(significance):
    result = Bunch(**significance)
    del result["null"]
    fig = plot_significance(result, alpha=0.01, fdr_method="by")
    ax = fig.axes[0]
    curve = ax.get_lines()[0]
    assert curve.get_label() == "null (normal approx.)"
    # normal densities of each target's null, scaled to 300 targets per bin
    width = np.diff([b.get_x() for b in ax.containers[0]])[0]
    area = np.trapezoid(curve.get_ydata(), curve.get_xdata()) / width
    assert area == pytest.approx(300, rel=0.01)
    rejected, _ = fdr_correction(result.p_values, alpha=0.01, method="by")
    assert ax.get_title().startswith(f"{int(rejected.sum())} of 300")


def test_significance_figure_two_sided():
    rng = np.random.default_rng(1)
    y_true = rng.standard_normal((300, 100))
    y_pred = rng.standard_normal((300, 100))
    y_pred[:, :10] -= y_true[:, :10]
    result = permutation_test(
        y_true, y_pred, n_permutations=200, alternative="two-sided", random_state=0
    )
    ax = plot_significance(result).axes[0]
    fwe = [line.get_xdata()[0] for line in ax.get_lines()[1:3]]
    assert fwe[0] == pytest.approx(-fwe[1])
    assert np.all(np.abs(result.r[:10]) > fwe[0])


@pytest.mark.parametrize("return_null", [False, True])
def test_significance_figure_of_one_target(return_null):
    # permutation_test of a 1-D y returns floats; the figure is of one target
    rng = np.random.default_rng(2)
    y_true = rng.standard_normal(300)
    y_pred = y_true + rng.standard_normal(300)
    result = permutation_test(
        y_true, y_pred, n_permutations=99, random_state=0, return_null=return_null
    )
    assert np.ndim(result.r) == 0
    ax = plot_significance(result).axes[0]
    assert result.p_values < 0.05
    assert ax.get_title() == "1 of 1 targets significant (FDR q <= 0.05)"


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: plot_score_distribution([0.1, np.nan]), ValueError, "finite"),
        (lambda: plot_score_distribution([0.1], kind="box"), ValueError, "kind"),
        (
            lambda: plot_scores_vs_ceiling([0.1, 0.2], [0.5]),
            ValueError,
            "scores has 2, ceiling has 1",
        ),
        (lambda: plot_delay_profile(object()), TypeError, "coef_delays_"),
        (
            lambda: plot_stacking_weights(np.ones(3)),
            ValueError,
            r"shape \(n_spaces, n_targets\)",
        ),
        (
            lambda: plot_stacking_weights(np.ones((2, 3)), ["a"]),
            ValueError,
            "name the 2 spaces",
        ),
        (
            lambda: plot_significance({"r": [0.1]}),
            TypeError,
            "result must be the Bunch returned by brainenc.stats.permutation_test",
        ),
        (
            lambda: plot_layer_attention({}),
            ValueError,
            r"got dict \(empty\); a model without attention-pooled spaces",
        ),
        (
            lambda: plot_layer_attention({"a": np.ones((2, 3))}),
            ValueError,
            r"attention\['a'\] must be finite weights of shape \(n_heads, n_queries",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_layer_attention_lines_are_the_profiles():
    rng = np.random.default_rng(0)
    audio = rng.dirichlet(np.ones(4), size=(2, 3))  # 2 heads, 3 queries, 4 layers
    video = rng.dirichlet(np.ones(4), size=(1, 2))
    fig = plot_layer_attention({"audio": audio, "video": video}, title="t")
    ax = fig.axes[0]
    # Per space: one thin line per head and query, then the mean profile.
    assert len(ax.lines) == 6 + 1 + 2 + 1
    np.testing.assert_allclose(ax.lines[6].get_ydata(), audio.mean(axis=(0, 1)))
    np.testing.assert_allclose(ax.lines[2].get_ydata(), audio[0, 2])
    np.testing.assert_allclose(ax.lines[9].get_ydata(), video.mean(axis=(0, 1)))
    np.testing.assert_array_equal(ax.lines[9].get_xdata(), [0, 1, 2, 3])
    assert ax.get_xlabel() == "layer"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["audio", "video"]
    # Different numbers of layers: drawn against fractional depth.
    model = Bunch(layer_attention_={"a": audio, "b": np.full((1, 1, 2), 0.5)})
    fig = plot_layer_attention(model)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "fractional depth"
    np.testing.assert_allclose(ax.lines[6].get_xdata(), [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(ax.lines[-1].get_xdata(), [0.5, 1.0])


def test_delay_profile_bad_targets(ridge_fit):
    model, _, _, _ = ridge_fit
    with pytest.raises(ValueError, match=r"targets must be in \[0, 40\)"):
        plot_delay_profile(model, targets=[40])
    with pytest.raises(ValueError, match="tr must be a positive number"):
        plot_delay_profile(model, tr=-1.0)


def test_import_brainenc_does_not_import_matplotlib():
    code = (
        "import sys, brainenc, brainenc.plotting, brainenc.io, brainenc.cli; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; "
        "assert 'h5py' not in sys.modules, 'h5py imported'"
    )
    env = dict(os.environ)
    src = str(Path(brainenc.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
