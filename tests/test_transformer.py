"""Tests of MultimodalTransformerEncoder, its torch modules and layered data."""

import pickle
import warnings

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brainenc import (
    DelayedRidge,
    TargetwiseEnsemble,
    ablate_feature_spaces,
    pearson_r,
)
from brainenc.datasets import make_layered_data

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from brainenc.neural import (  # noqa: E402
    MIRAGE_SETTINGS,
    ConvTemporalEncoder,
    MultimodalTransformerEncoder,
)
from brainenc.neural.modules import (  # noqa: E402
    LayerAttentionPooler,
    LayerMeanPooler,
    MaskedMSELoss,
    MultimodalTransformerModule,
    RotarySelfAttention,
    SubjectHeads,
    apply_rotary,
    layer_groups_of_depth,
    rotary_angles,
)


def small_module(**params):
    """Two spaces: 3 layers of 4 columns, and 1 layer of 2 columns."""
    defaults = {
        "space_columns": [list(range(12)), [12, 13]],
        "n_layers": [3, 1],
        "space_dims": [4, 4],
        "n_targets": 2,
        "n_subjects": 2,
        "n_queries": 2,
        "pooler_heads": 2,
        "max_frames": 32,
        "depth": 2,
        "heads": 2,
        "ff_mult": 2,
    }
    torch.manual_seed(0)
    return MultimodalTransformerModule(**{**defaults, **params}).double().eval()


def fast_model(**params):
    defaults = {
        "hidden_dim": 16,
        "depth": 1,
        "heads": 2,
        "window_len": 16,
        "windows_per_epoch": 64,
        "batch_size": 16,
        "max_epochs": 2,
        "min_steps": 0,
        "lr": 3e-3,
        "device": "cpu",
        "random_state": 0,
    }
    return MultimodalTransformerEncoder(**{**defaults, **params})


# ------------------------------------------------------ rotary positions
def _rotation(position, head_dim, base=10000.0):
    """The rotary rotation at ``position`` as an explicit matrix."""
    R = np.zeros((head_dim, head_dim))
    half = head_dim // 2
    for i in range(half):
        angle = position * base ** (-2 * i / head_dim)
        c, s = np.cos(angle), np.sin(angle)
        R[i, i], R[i, i + half] = c, -s
        R[i + half, i], R[i + half, i + half] = s, c
    return R


@pytest.mark.parametrize("head_dim", [2, 6, 16])
def test_rotary_is_a_rotation_of_coordinate_pairs(head_dim):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, head_dim))
    cos, sin = rotary_angles(9, head_dim)
    out = apply_rotary(torch.from_numpy(x), cos.double(), sin.double()).numpy()
    expected = np.stack([_rotation(p, head_dim) @ x[p] for p in range(9)])
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        np.linalg.norm(out, axis=1), np.linalg.norm(x, axis=1), rtol=1e-6
    )


@pytest.mark.parametrize("head_dim", [2, 8, 14])
def test_rotary_scores_depend_only_on_relative_position(head_dim):
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal((2, head_dim))
    n = 40
    cos, sin = rotary_angles(n, head_dim)
    cos, sin = cos.double(), sin.double()
    Q = apply_rotary(torch.from_numpy(np.tile(q, (n, 1))), cos, sin).numpy()
    K = apply_rotary(torch.from_numpy(np.tile(k, (n, 1))), cos, sin).numpy()
    scores = Q @ K.T  # scores[m, n]: query at m, key at n
    for offset in range(-5, 6):
        diagonal = np.diagonal(scores, offset=offset)
        np.testing.assert_allclose(diagonal, diagonal[0], rtol=1e-5, atol=1e-5)
        # and it is q . R(n - m) k
        expected = q @ _rotation(offset, head_dim) @ k
        np.testing.assert_allclose(diagonal[0], expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(np.diagonal(scores, 1)[0], np.diagonal(scores, 2)[0])


def test_rotary_needs_an_even_head_dimension():
    with pytest.raises(ValueError, match="even head dimension, got head_dim=5"):
        rotary_angles(4, 5)


def test_self_attention_scores_shift_invariant_with_rotary():
    # A sequence shifted in time (the same tokens at later positions) gives
    # the same outputs: with rotary positions alone, attention is relative.
    torch.manual_seed(0)
    attention = RotarySelfAttention(8, 2).double()
    x = torch.randn(1, 6, 8, dtype=torch.float64)
    cos, sin = rotary_angles(20, 4)
    out = attention(x, cos[:6], sin[:6])
    shifted = attention(x, cos[7:13], sin[7:13])
    torch.testing.assert_close(out, shifted, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------- layer poolers
def _pooler_by_hand(pooler, tokens):
    """The attention pooler in NumPy, with explicit key projections."""
    heads, dim = pooler.heads, tokens.shape[-1]
    head_dim = dim // heads
    mu = tokens.mean(-1, keepdims=True)
    var = tokens.var(-1, keepdims=True)
    ln = pooler.input_norm
    h = (tokens - mu) / np.sqrt(var + ln.eps) * ln.weight.detach().numpy()
    h = h + ln.bias.detach().numpy()
    keys = h + pooler.layer_embedding.detach().numpy()
    keys = keys @ pooler.key_proj.weight.detach().numpy().T  # (n, L, dim)
    q = pooler.queries.detach().numpy() @ pooler.query_proj.weight.detach().numpy().T
    q = q + pooler.query_proj.bias.detach().numpy()  # (Q, dim)
    n, n_layers, _ = tokens.shape
    weights = np.zeros((n, heads, len(q), n_layers))
    out = np.zeros((n, len(q), dim))
    for head in range(heads):
        cols = slice(head * head_dim, (head + 1) * head_dim)
        scores = np.einsum("qe,nle->nql", q[:, cols], keys[:, :, cols])
        scores /= np.sqrt(head_dim)
        w = np.exp(scores - scores.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        weights[:, head] = w
        out[:, :, cols] = np.einsum("nql,nle->nqe", w, h[:, :, cols])
    lo = pooler.output_norm
    mu, var = out.mean(-1, keepdims=True), out.var(-1, keepdims=True)
    out = (out - mu) / np.sqrt(var + lo.eps) * lo.weight.detach().numpy()
    out = out + lo.bias.detach().numpy()
    return out.reshape(n, -1), weights


def test_attention_pooler_matches_numpy_multi_head_attention():
    torch.manual_seed(0)
    pooler = LayerAttentionPooler(6, 5, n_queries=3, heads=3).double().eval()
    with torch.no_grad():  # non-trivial norms, so that they are tested
        for norm in (pooler.input_norm, pooler.output_norm):
            norm.weight.normal_()
            norm.bias.normal_()
    tokens = np.random.default_rng(0).standard_normal((7, 5, 6)) * 3 + 1
    out, weights = pooler(torch.from_numpy(tokens), return_weights=True)
    expected_out, expected_weights = _pooler_by_hand(pooler, tokens)
    assert out.shape == (7, 18)
    assert weights.shape == (7, 3, 3, 5)
    np.testing.assert_allclose(weights.detach().numpy(), expected_weights, rtol=1e-8)
    np.testing.assert_allclose(out.detach().numpy(), expected_out, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(weights.sum(-1).detach().numpy(), 1.0, rtol=1e-12)


def test_attention_pooler_heads_must_divide_the_layer_dimension():
    with pytest.raises(ValueError, match=r"\(6\) must be a multiple of the pooler's"):
        LayerAttentionPooler(6, 3, n_queries=1, heads=4)


def test_mean_and_group_poolers():
    tokens = np.random.default_rng(0).standard_normal((4, 12, 3))
    mean = LayerMeanPooler([list(range(12))], 12)(torch.from_numpy(tokens))
    np.testing.assert_allclose(mean.numpy(), tokens.mean(1), rtol=1e-6)
    groups = layer_groups_of_depth(12, (0.5, 0.75, 1.0))
    assert groups == [list(range(6)), [6, 7, 8], [9, 10, 11]]
    pooled = LayerMeanPooler(groups, 12)(torch.from_numpy(tokens)).numpy()
    expected = np.hstack([tokens[:, g].mean(1) for g in groups])
    np.testing.assert_allclose(pooled, expected, rtol=1e-6)
    assert layer_groups_of_depth(3, (0.5, 0.75, 1.0)) == [[0], [1], [2]]
    assert layer_groups_of_depth(2, (0.5, 0.75, 1.0)) == [[0], [1]]
    assert layer_groups_of_depth(4, (0.25, 0.5, 1.0)) == [[0], [1], [2, 3]]


def test_subject_heads_start_independent_of_the_number_of_subjects():
    torch.manual_seed(3)
    one = SubjectHeads(5, 2, 1)
    torch.manual_seed(3)
    three = SubjectHeads(5, 2, 3)
    torch.testing.assert_close(three.weight[0], one.weight[0])
    h = torch.randn(2, 4, 5)
    out = three(h)
    assert out.shape == (2, 4, 6)
    expected = torch.einsum("btd,dn->btn", h, three.weight[1]) + three.bias[1]
    torch.testing.assert_close(out[..., 2:4], expected)
    shared = SubjectHeads(5, 2, 3, shared=True)
    assert torch.count_nonzero(shared.weight) == 0
    torch.testing.assert_close(shared(h)[..., 4:6], shared.shared(h))


# ---------------------------------------------------------- whole module
def test_padded_frames_change_nothing():
    # Extra padded samples (garbage features, mask False) at the end of a
    # sequence leave the outputs of the real samples unchanged, and a batch
    # mixing a short padded sequence with a full one gives each the outputs
    # it gets alone.
    module = small_module()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((1, 9, 14)))
    alone = module(x)
    garbage = torch.from_numpy(1e3 * rng.standard_normal((1, 7, 14)))
    padded = torch.cat([x, garbage], dim=1)
    mask = torch.arange(16)[None] < 9
    out = module(padded, mask=mask)
    torch.testing.assert_close(out[:, :9], alone, rtol=1e-9, atol=1e-10)
    other = torch.from_numpy(rng.standard_normal((1, 16, 14)))
    batch = module(torch.cat([padded, other]), mask=torch.cat([mask, mask | True]))
    torch.testing.assert_close(batch[:1, :9], alone, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(batch[1:], module(other), rtol=1e-9, atol=1e-10)
    # Without the mask, the garbage does reach the real samples.
    assert not torch.allclose(module(padded)[:, :9], alone)


def test_frames_are_pooled_framewise_and_averaged_after_the_head():
    # depth=0 and no positions: each frame goes through pooling, projection,
    # norm and head on its own; a row's prediction is the mean over frames.
    module = small_module(
        space_columns=[list(range(24)), [24, 25, 26, 27]],
        frames_per_sample=2,
        depth=0,
    )
    with torch.no_grad():
        module.positions.zero_()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 5, 28)))
    out = module(x)
    frames = []
    for f in range(2):
        tokens = x[..., 12 * f : 12 * f + 12].reshape(-1, 3, 4)
        parts = [
            module.projections[0](module.poolers[0](tokens)).view(2, 5, -1),
            module.projections[1](x[..., 24 + 2 * f : 26 + 2 * f]),
        ]
        frames.append(module.head(module.norm(torch.cat(parts, dim=-1))))
    torch.testing.assert_close(out, (frames[0] + frames[1]) / 2)


def test_dropped_space_is_replaced_by_its_null_embedding():
    module = small_module(depth=1)
    with torch.no_grad():
        module.null[0].normal_()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((2, 6, 14)))
    changed = x.clone()
    changed[..., :12] = torch.from_numpy(rng.standard_normal((2, 6, 12)))
    drop = torch.tensor([[True, False], [False, False]])
    a, b = module(x, drop=drop), module(changed, drop=drop)
    # Sample 0 drops space 0: its features no longer matter; sample 1 keeps it.
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(a[1], b[1])


def test_nan_masked_subjects_have_no_influence_on_gradients():
    module = small_module()  # in eval mode: no dropout between the passes
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.standard_normal((2, 10, 14)))
    y = rng.standard_normal((2, 10, 4))
    missing = np.zeros(y.shape, dtype=bool)
    missing[:, 3:8, 2:4] = True  # subject 1 missing for a stretch of time
    missing[1, :, 0] = True
    y_nan = np.where(missing, np.nan, y)

    def grads(loss_fn):
        module.zero_grad()
        loss_fn(module(X)).backward()
        return [
            torch.zeros_like(p) if p.grad is None else p.grad.clone()
            for p in module.parameters()
        ]

    masked = grads(lambda out: MaskedMSELoss()(out, torch.from_numpy(y_nan)))
    keep = torch.from_numpy(~missing)
    for fill in (0.0, 1e4):
        y_fill = torch.from_numpy(np.where(missing, fill, y))
        explicit = grads(lambda out, y_fill=y_fill: ((out - y_fill)[keep] ** 2).mean())
        for a, b in zip(masked, explicit, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_no_weight_decay_names_queries_embeddings_and_nulls():
    module = small_module()
    names = set(module.no_weight_decay())
    assert names == {
        "positions",
        "null.0",
        "null.1",
        "poolers.0.queries",
        "poolers.0.layer_embedding",
    }
    model = fast_model()
    no_decay = model._no_weight_decay(module)
    assert names <= no_decay
    assert "blocks.0.attention.qkv.weight" not in no_decay
    assert "poolers.0.key_proj.weight" not in no_decay


def test_sequence_longer_than_the_positions_is_an_error():
    module = small_module(max_frames=8)
    with pytest.raises(ValueError, match="9 frames is longer than the 8 learned"):
        module(torch.zeros(1, 9, 14, dtype=torch.float64))


# -------------------------------------------------------------- estimator
def layered(n_samples=480, n_runs=4, n_targets=4, seed=0, **params):
    kwargs = {"n_spaces": 2, "n_layers": 3, "layer_dim": 4, "snr": 2.0}
    return make_layered_data(
        n_samples=n_samples,
        n_targets=n_targets,
        n_runs=n_runs,
        random_state=seed,
        **{**kwargs, **params},
    )


@pytest.fixture(scope="module")
def fitted():
    """A fast model on 4 runs of 120 samples: 2 spaces of 3 layers x 4."""
    X, y, groups, truth = layered()
    model = fast_model(
        feature_spaces=truth.feature_spaces, n_layers=3, modality_dropout=0.3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs: it may learn little
        model.fit(X, y, groups=groups)
    return model, X, y, groups, truth


def test_fitted_attributes_and_layer_attention(fitted):
    model, X, y, groups, truth = fitted
    assert model.n_layers_ == {"space0": 3, "space1": 3}
    assert model.layer_dims_ == {"space0": 4, "space1": 4}
    assert model.space_dims_ == {"space0": 8, "space1": 8}
    assert model.n_subjects_ == 1
    assert model.n_targets_per_subject_ == 4
    np.testing.assert_array_equal(model.validation_mask_, groups == 3)
    assert set(model.layer_attention_) == {"space0", "space1"}
    for space, attention in model.layer_attention_.items():
        assert attention.shape == (1, 2, 3)  # pooler_heads, n_queries, n_layers
        np.testing.assert_allclose(attention.sum(axis=-1), 1.0, rtol=1e-6)
        # The mean over the validation run's frames of the eval-mode weights.
        valid = X[groups == 3]
        profile = model.layer_attention(valid, groups=groups[groups == 3])
        np.testing.assert_allclose(profile[space], attention, rtol=1e-10)
        per_sample = model.layer_attention(valid, per_sample=True)[space]
        assert per_sample.shape == (120, 1, 2, 3)
        np.testing.assert_allclose(per_sample.mean(axis=0), attention, rtol=1e-10)
        np.testing.assert_allclose(per_sample.sum(axis=-1), 1.0, rtol=1e-6)
        assert per_sample.std(axis=0).max() > 0  # it depends on the frame


def test_prediction_averages_overlapping_windows(fitted):
    model, X, y, groups, truth = fitted
    pred = model.predict(X, groups=groups)
    assert pred.shape == (480, 4)
    Xs = torch.from_numpy(((X - model.x_mean_) / model.x_scale_).astype(np.float32))
    module = model.module_
    for run in range(4):
        rows = np.flatnonzero(groups == run)
        # windows of 16 every 8 samples, the last one ending at the run's end
        # (here 104 = 13 * 8 already does)
        total, count = np.zeros((120, 4)), np.zeros((120, 1))
        for start in range(0, 105, 8):
            with torch.no_grad():
                out = module(Xs[rows[start : start + 16]][None])[0].numpy()
            total[start : start + 16] += out
            count[start : start + 16] += 1
        expected = total / count * model.y_scale_ + model.y_mean_
        np.testing.assert_allclose(pred[rows], expected, rtol=1e-4, atol=1e-5)
    # A run shorter than a window is one unpadded sequence.
    short = model.predict(X[:10])
    with torch.no_grad():
        out = module(Xs[:10][None])[0].numpy()
    np.testing.assert_allclose(
        short, out * model.y_scale_ + model.y_mean_, rtol=1e-4, atol=1e-5
    )


def test_prediction_of_a_run_depends_on_that_run_only(fitted):
    model, X, y, groups, truth = fitted
    before = model.predict(X, groups=groups)
    changed = X.copy()
    changed[groups == 1] = np.random.default_rng(0).standard_normal((120, X.shape[1]))
    after = model.predict(changed, groups=groups)
    np.testing.assert_array_equal(after[groups != 1], before[groups != 1])
    assert np.abs(after[groups == 1] - before[groups == 1]).min() > 0


def test_training_windows_pad_short_runs_and_drop_spaces_per_window():
    from brainenc.neural.transformer import _RandomWindows, _TiledWindows

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 6)) + 10.0  # no zero feature by chance
    Y = rng.standard_normal((30, 2))
    groups = np.repeat([0, 1], [24, 6])
    tiles = _TiledWindows(X, Y, groups, 8, n_spaces=3)
    assert len(tiles) == 3 + 1
    x, y = tiles[3]  # run 1: 6 samples padded to 8
    np.testing.assert_array_equal(x["mask"].numpy(), [True] * 6 + [False] * 2)
    np.testing.assert_allclose(x["X"].numpy()[:6], X[24:], rtol=1e-6)
    assert np.all(x["X"].numpy()[6:] == 0)
    assert np.all(np.isnan(y.numpy()[6:]))
    assert not x["drop"].any()
    for p, expected in ((0.5, 0.5 - 1 / 24), (0.99, 2 / 3)):
        windows = _RandomWindows(
            X,
            Y,
            groups,
            8,
            3000,
            torch.Generator().manual_seed(0),
            n_spaces=3,
            modality_dropout=p,
        )
        items = [windows[i] for i in range(len(windows))]
        drops = np.array([x["drop"].numpy() for x, _ in items])
        assert drops.shape == (3000, 3)
        assert not drops.all(axis=1).any()  # one space is always kept
        # p=0.5: a space is dropped when drawn and not rescued (1/8 of the
        # time all three are drawn, then one of the three is kept).
        assert abs(drops.mean() - expected) < 0.02
        for x, y in items:
            valid = x["mask"].numpy()
            assert valid.sum() in (6, 8)
            assert np.all(np.isnan(y.numpy()[~valid]))


def test_predict_ablated_uses_the_null_of_the_spaces(fitted):
    model, X, y, groups, truth = fitted
    pred = model.predict(X, groups=groups)
    np.testing.assert_array_equal(model.predict_ablated(X, [], groups=groups), pred)
    ablated = model.predict_ablated(X, "space0", groups=groups)
    assert not np.allclose(ablated, pred)
    # With space0 replaced by its null, space0's features do not matter.
    changed = X.copy()
    changed[:, truth.feature_spaces["space0"]] = 0.0
    np.testing.assert_array_equal(
        model.predict_ablated(changed, ["space0"], groups=groups), ablated
    )
    with pytest.warns(UserWarning, match="training always keeps one space, never"):
        both = model.predict_ablated(X, ["space0", "space1"], groups=groups)
    assert np.ptp(both[groups == 0], axis=0).max() > 0  # positions remain
    with pytest.raises(ValueError, match=r"spaces must name feature spaces of the"):
        model.predict_ablated(X, ["audio"], groups=groups)


def test_ablate_feature_spaces_with_the_trained_null(fitted):
    model, X, y, groups, truth = fitted
    test = groups >= 2
    result = ablate_feature_spaces(
        model,
        X[test],
        y[test],
        truth.feature_spaces,
        groups=groups[test],
        replace="null",
    )
    for name in ("space0", "space1"):
        expected = pearson_r(
            y[test], model.predict_ablated(X[test], [name], groups=groups[test])
        )
        np.testing.assert_allclose(result.ablated[name], expected, rtol=1e-10)
        np.testing.assert_allclose(result.drop[name], result.full - expected)
    drops = np.stack([result.drop["space0"], result.drop["space1"]])
    assert result.dominant_space.tolist() == [f"space{k}" for k in drops.argmax(axis=0)]
    with pytest.raises(ValueError, match=r"feature_spaces must be model.feature_sp"):
        ablate_feature_spaces(
            model, X, y, {"a": 12, "b": 12}, groups=groups, replace="null"
        )


def test_predict_ablated_warns_when_the_null_was_never_trained():
    X, y, groups, truth = layered(n_samples=160, n_runs=2)
    model = fast_model(
        feature_spaces=truth.feature_spaces,
        n_layers=3,
        modality_dropout=0.0,
        max_epochs=1,
        windows_per_epoch=16,
        validation_runs=0,
    ).fit(X, y, groups=groups)
    assert torch.count_nonzero(model.module_.null[0]) == 0  # never trained
    with pytest.warns(UserWarning, match="trained with modality_dropout=0, so the"):
        model.predict_ablated(X, ["space1"], groups=groups)


def test_predict_ablated_of_a_single_space_model_warns():
    # One space is never dropped in training, so its null stays untrained.
    X, y, groups, _ = layered(n_samples=160, n_runs=2)
    model = fast_model(
        n_layers=6, max_epochs=1, windows_per_epoch=16, validation_runs=0
    ).fit(X, y, groups=groups)
    assert torch.count_nonzero(model.module_.null[0]) == 0
    with pytest.warns(UserWarning, match="the model has one feature space") as record:
        model.predict_ablated(X, "all", groups=groups)
    assert record[0].filename == __file__  # the user's line, not brainenc's


def test_argument_types_of_the_interpretation_methods(fitted):
    model, X, y, groups, truth = fitted
    with pytest.raises(TypeError, match=r"^spaces must be the name of a feature spa"):
        model.predict_ablated(X, 0, groups=groups)
    with pytest.raises(TypeError, match=r"^per_sample must be True or False, got s"):
        model.layer_attention(X, per_sample="yes")
    with pytest.raises(ValueError, match=r"^n_layers must be an int >= 1 or a dict"):
        fast_model(feature_spaces=truth.feature_spaces, n_layers=True).fit(
            X, y, groups=groups
        )


def test_training_warnings_point_at_the_callers_line():
    X, y, groups, truth = layered(n_samples=240, n_runs=3, n_targets=3)
    y2 = np.hstack([y, np.full_like(y, np.nan)])
    model = fast_model(
        feature_spaces=truth.feature_spaces, n_layers=3, n_subjects=2, max_epochs=1
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.fit(X, y2, groups=groups)
    messages = {type(w.message).__name__: w.filename for w in record}
    assert "UserWarning" in messages  # no observed value of subject 2
    assert set(messages.values()) == {__file__}


def test_ablation_with_the_null_through_a_pipeline_and_with_missing_samples(fitted):
    model, X, y, groups, truth = fitted
    spaces = truth.feature_spaces
    scaler = StandardScaler().fit(X)
    pipe = make_pipeline(scaler, clone(model))
    pipe.fit(X, y, multimodaltransformerencoder__groups=groups)
    result = ablate_feature_spaces(pipe, X, y, spaces, groups=groups, replace="null")
    final = pipe[-1]
    expected = pearson_r(
        y, final.predict_ablated(scaler.transform(X), ["space1"], groups=groups)
    )
    np.testing.assert_allclose(result.ablated["space1"], expected, rtol=1e-10)
    # NaN responses (a subject not recorded in a run) with nan_policy="omit"
    y_gap = y.copy()
    y_gap[groups == 1, 1] = np.nan
    message = r"^y contains NaN \(120 values\)\. Use nan_policy='omit'"
    with pytest.raises(ValueError, match=message):
        ablate_feature_spaces(model, X, y_gap, spaces, groups=groups, replace="null")
    result = ablate_feature_spaces(
        model, X, y_gap, spaces, groups=groups, replace="null", nan_policy="omit"
    )
    pred = model.predict_ablated(X, ["space0"], groups=groups)
    kept = groups != 1
    np.testing.assert_allclose(
        result.ablated["space0"][1], pearsonr(y[kept, 1], pred[kept, 1])[0], rtol=1e-6
    )
    np.testing.assert_allclose(
        result.ablated["space0"][0], pearsonr(y[:, 0], pred[:, 0])[0], rtol=1e-6
    )


def test_frames_per_sample():
    # Two frames per row: each space's columns are 2 frames of 3 layers x 4.
    X, y, groups, truth = layered(n_samples=160, n_runs=2, layer_dim=4, n_layers=6)
    model = fast_model(
        feature_spaces=truth.feature_spaces,
        n_layers=3,
        frames_per_sample=2,
        max_epochs=1,
        windows_per_epoch=16,
        validation_runs=0,
    ).fit(X, y, groups=groups)
    assert model.layer_dims_ == {"space0": 4, "space1": 4}
    assert model.module_.positions.shape == (32, 16)
    assert model.predict(X, groups=groups).shape == (160, 4)
    per_sample = model.layer_attention(X, per_sample=True)["space0"]
    assert per_sample.shape == (160, 1, 2, 3)
    # The profile of a row is the mean of its two frames' profiles.
    module = model.module_
    Xs = torch.from_numpy(((X[:5] - model.x_mean_) / model.x_scale_).astype("f4"))
    with torch.no_grad():
        frames = module.layer_attention(Xs[None])[0].double().numpy()
    np.testing.assert_allclose(
        per_sample[:5], frames.reshape(5, 2, 1, 2, 3).mean(axis=1), rtol=1e-6
    )


def test_pooling_variants_and_single_layer_spaces():
    X, y, groups, truth = layered(n_samples=160, n_runs=2, n_layers=4)
    X = np.hstack([X, y[:, :1] + 1.0])  # a third space of one layer, one column
    spaces = {**truth.feature_spaces, "extra": [32]}
    for pooling, width in (("mean", 4), ("groups", 12), ("attention", 8)):
        model = fast_model(
            feature_spaces=spaces,
            n_layers={"space0": 4, "space1": 4},
            layer_pooling=pooling,
            max_epochs=1,
            windows_per_epoch=16,
            validation_runs=0,
        ).fit(X, y, groups=groups)
        assert [p.in_features for p in model.module_.projections] == [width, width, 1]
        assert model.space_dims_ == {"space0": 6, "space1": 5, "extra": 5}
        expected = {"space0", "space1"} if pooling == "attention" else set()
        assert set(model.layer_attention_) == expected


def test_missing_subject_changes_nothing_for_the_others():
    # A second subject with no observed sample leaves the first one's
    # training exactly as alone: same windows, same trunk, same gradients.
    X, y, groups, truth = layered(n_samples=240, n_runs=3, n_targets=3)
    params = {"feature_spaces": truth.feature_spaces, "n_layers": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        alone = fast_model(**params).fit(X, y, groups=groups)
        y2 = np.hstack([y, np.full_like(y, np.nan)])
        with pytest.warns(UserWarning, match="3 of 6 targets of y have no observed"):
            joint = fast_model(**params, n_subjects=2).fit(X, y2, groups=groups)
    np.testing.assert_allclose(
        joint.predict(X, groups=groups)[:, :3],
        alone.predict(X, groups=groups),
        rtol=1e-4,
        atol=1e-5,
    )
    assert [h["valid_r"] for h in joint.history_] == pytest.approx(
        [h["valid_r"] for h in alone.history_], rel=1e-4
    )


def test_bad_input_messages():
    X, y, groups, truth = layered(n_samples=160, n_runs=2)
    spaces = truth.feature_spaces
    cases = [
        (
            {"n_layers": 5},
            r"^feature space 'space0' has 12 columns, which do not split into "
            r"frames_per_sample=1 x n_layers=5 blocks of equal size: expected a "
            r"multiple of 5",
        ),
        (
            {"n_layers": 3, "frames_per_sample": 8},
            r"expected a multiple of 24 \(its columns are its frames side by",
        ),
        ({"n_layers": {"audio": 3}}, r"^n_layers names 'audio', not among the"),
        ({"n_layers": {"space0": 0}}, r"^n_layers\['space0'\] must be an int >= 1"),
        (
            {"n_layers": 3, "pooler_heads": 3},
            r"^pooler_heads=3 must divide the columns of a layer, but feature "
            r"space 'space0' has 4 columns per layer",
        ),
        (
            {"hidden_dim": 12, "heads": 4},
            r"^hidden_dim=12 must be a multiple of heads=4 with an even quotient",
        ),
        ({"hidden_dim": 1}, r"^hidden_dim=1 must give each of the 2 feature spaces"),
        (
            {"layer_groups": (0.5, 0.4, 1.0)},
            r"^layer_groups must be increasing fractional depths in \(0, 1\]",
        ),
        ({"layer_groups": (0.5, 0.9)}, r"ending at 1.0"),
        ({"n_subjects": 3}, r"y has 4 columns, not a multiple of n_subjects=3"),
        ({"layer_pooling": "max"}, r"layer_pooling"),
    ]
    for params, message in cases:
        model = fast_model(**{"feature_spaces": spaces, "n_layers": 3, **params})
        with pytest.raises(ValueError, match=message):
            model.fit(X, y, groups=groups)


def test_reproducible_pickled_and_global_rng_untouched(fitted):
    model, X, y, groups, truth = fitted
    state = torch.random.get_rng_state()
    again = fast_model(
        feature_spaces=truth.feature_spaces, n_layers=3, modality_dropout=0.3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again.fit(X, y, groups=groups)
    assert torch.equal(torch.random.get_rng_state(), state)
    pred = model.predict(X, groups=groups)
    np.testing.assert_array_equal(again.predict(X, groups=groups), pred)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(X, groups=groups), pred)
    assert loaded.layer_attention_.keys() == model.layer_attention_.keys()


def test_mirage_settings_are_valid_parameters():
    model = MultimodalTransformerEncoder(**MIRAGE_SETTINGS)
    params = model.get_params()
    assert {k: params[k] for k in MIRAGE_SETTINGS} == MIRAGE_SETTINGS
    assert (params["hidden_dim"], params["depth"], params["heads"]) == (3072, 8, 8)
    assert (params["n_queries"], params["pooler_heads"]) == (24, 4)
    model._validate_params()


def test_member_of_a_softmax_ensemble_with_subjects():
    # Two subjects, the second missing run 1: the transformer and a
    # convolutional encoder, weighted per subject and target on run 3.
    X, y, groups, truth = layered(n_samples=320, n_runs=4, n_targets=2)
    y2 = np.hstack([y, y + 0.5 * np.random.default_rng(1).standard_normal(y.shape)])
    y2[groups == 1, 2:] = np.nan
    members = [
        (
            "transformer",
            fast_model(feature_spaces=truth.feature_spaces, n_layers=3, n_subjects=2),
        ),
        (
            "conv",
            ConvTemporalEncoder(
                n_subjects=2,
                embed_dim=4,
                kernel_size=3,
                window_len=16,
                windows_per_epoch=32,
                max_epochs=1,
                min_steps=0,
                device="cpu",
                random_state=0,
            ),
        ),
    ]
    ensemble = TargetwiseEnsemble(
        members, method="softmax", temperature=0.3, n_subjects=2, selection_runs=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny members may learn little
        ensemble.fit(X, y2, groups=groups)
    for member in ensemble.estimators_:
        assert member.n_subjects_ == 2
    transformer = ensemble.named_estimators_["transformer"]
    np.testing.assert_array_equal(transformer.validation_mask_, groups[groups < 3] == 2)
    assert ensemble.weights_.shape == (2, 4)
    np.testing.assert_allclose(ensemble.weights_.sum(axis=0), 1.0)
    selection = groups == 3
    preds = [
        m.predict(X[selection], groups=groups[selection]) for m in ensemble.estimators_
    ]
    for m, pred in enumerate(preds):
        for j in range(4):
            np.testing.assert_allclose(
                ensemble.selection_scores_[m, j],
                pearsonr(y2[selection, j], pred[:, j]).statistic,
                rtol=1e-6,
            )
    np.testing.assert_allclose(
        ensemble.predict(X[selection], groups=groups[selection]),
        sum(ensemble.weights_[m] * preds[m] for m in range(2)),
        rtol=1e-6,
    )


# ------------------------------------------------------ what it is for
@pytest.fixture(scope="module")
def layered_fits():
    """Layer-resolved data: each space driven by one of its 8 layers.

    Two spaces of 8 layers x 8 columns, driven by layers 2 and 6 through a
    rectification and 3 samples of context; 8 runs of 250 samples, the
    last 2 held out. The transformer with attention and with mean pooling,
    and DelayedRidge (delays 0-3) on the layer-mean features.
    """
    X, y, groups, truth = make_layered_data(
        n_samples=2000,
        n_runs=8,
        n_spaces=2,
        n_layers=8,
        layer_dim=8,
        n_targets=20,
        snr=2.0,
        layer_correlation=0.3,
        random_state=0,
    )
    train, test = groups < 6, groups >= 6
    params = {
        "hidden_dim": 32,
        "depth": 1,
        "heads": 2,
        "dropout": 0.1,
        "window_len": 32,
        "windows_per_epoch": 640,
        "max_epochs": 12,
        "min_steps": 0,
        "lr": 3e-3,
        "patience": None,
        "feature_spaces": truth.feature_spaces,
        "n_layers": truth.n_layers,
        "device": "cpu",
        "random_state": 0,
    }
    scores, models = {}, {}
    for pooling in ("attention", "mean"):
        model = MultimodalTransformerEncoder(layer_pooling=pooling, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)  # it learned
            model.fit(X[train], y[train], groups=groups[train])
        models[pooling] = model
        scores[pooling] = model.score(X[test], y[test], groups=groups[test])
    ridge = DelayedRidge(delays=[0, 1, 2, 3], backend="numpy").fit(
        truth.layer_means[train], y[train], groups=groups[train]
    )
    scores["ridge"] = ridge.score(truth.layer_means[test], y[test], groups=groups[test])
    return models, scores, X, y, groups, truth


@pytest.mark.slow
def test_attention_pooling_beats_layer_means_and_finds_the_driving_layers(
    layered_fits,
):
    models, scores, X, y, groups, truth = layered_fits
    # Seeds 0-3 of the data: attention 0.46-0.55, ridge on the layer means
    # 0.26-0.30, mean pooling 0.14-0.20 (noise ceiling 0.82).
    assert scores["attention"] > scores["ridge"] + 0.15
    assert scores["attention"] > scores["mean"] + 0.2
    model = models["attention"]
    for s, space in enumerate(("space0", "space1")):
        profile = model.layer_attention_[space].mean(axis=(0, 1))
        assert profile.argmax() == truth.driving_layers[s]
        assert profile[truth.driving_layers[s]] > 0.6
        # On the held-out runs too, at nearly every time step.
        test = groups >= 6
        per_sample = model.layer_attention(X[test], per_sample=True)[space]
        peaks = per_sample.mean(axis=(1, 2)).argmax(axis=1)
        assert np.mean(peaks == truth.driving_layers[s]) > 0.9


@pytest.mark.slow
def test_leave_one_modality_out_with_the_trained_null(layered_fits):
    models, scores, X, y, groups, truth = layered_fits
    model, test = models["attention"], groups >= 6
    result = ablate_feature_spaces(
        model,
        X[test],
        y[test],
        model.feature_spaces_,
        groups=groups[test],
        replace="null",
    )
    # The dominant modality is the space with the larger share of the
    # target's signal, wherever one space clearly dominates (a share of 2/3
    # or more; at 0.6 the two drops can be within the model's error).
    clear = truth.shares.max(axis=0) > 0.65
    assert clear.sum() >= 8
    expected = np.array(["space0", "space1"])[truth.shares.argmax(axis=0)]
    np.testing.assert_array_equal(result.dominant_space[clear], expected[clear])
    for s, space in enumerate(("space0", "space1")):
        mostly = truth.shares[s] > 0.6
        assert np.all(result.drop[space][mostly] > 0.1)
        assert np.all(result.full[mostly] > 0.3)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_an_error():
    X, y, groups, truth = layered(n_samples=160, n_runs=2)
    with pytest.raises(ValueError, match="device='cuda' asks for a CUDA GPU, but"):
        fast_model(device="cuda").fit(X, y, groups=groups)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("mixed_precision", [False, True])
def test_cuda_trained_model_predicts_on_cpu(mixed_precision):
    X, y, groups, truth = layered()
    model = fast_model(
        feature_spaces=truth.feature_spaces,
        n_layers=3,
        modality_dropout=0.3,
        device="cuda",
        mixed_precision=mixed_precision,
        max_epochs=4,
    )
    model.fit(X, y, groups=groups)
    assert model.device_ == "cuda"
    assert all(p.device.type == "cpu" for p in model.module_.parameters())
    on_gpu = model.predict(X, groups=groups)
    ablated_gpu = model.predict_ablated(X, ["space0"], groups=groups)
    loaded = pickle.loads(pickle.dumps(model)).set_params(device="cpu")
    on_cpu = loaded.predict(X, groups=groups)
    tol = 5e-2 if mixed_precision else 1e-4
    scale = np.abs(on_gpu).max()
    np.testing.assert_allclose(on_cpu, on_gpu, atol=tol * scale)
    np.testing.assert_allclose(
        loaded.predict_ablated(X, ["space0"], groups=groups),
        ablated_gpu,
        atol=tol * scale,
    )
    for space, attention in loaded.layer_attention(X).items():
        np.testing.assert_allclose(attention.sum(axis=-1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(
            attention, model.layer_attention(X)[space], rtol=1e-12
        )
