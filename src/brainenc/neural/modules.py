"""The torch modules of the neural encoders (module level, so they pickle)."""

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "MLP",
    "ConvTemporalModule",
    "LateInteractionMLP",
    "LayerAttentionPooler",
    "LayerMeanPooler",
    "MaskedMSELoss",
    "MultimodalTransformerModule",
    "RotarySelfAttention",
    "SubjectHeads",
    "TransformerBlock",
    "apply_rotary",
    "conv_context",
    "depthwise_conv1d",
    "layer_groups_of_depth",
    "rotary_angles",
]

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class MLP(nn.Module):
    """Multilayer perceptron: (Linear, BatchNorm, activation, Dropout)* + Linear.

    Parameters
    ----------
    n_inputs : int
        Input features.
    n_outputs : int
        Outputs of the final linear layer.
    hidden_units : tuple of int
        Width of each hidden layer; ``()`` gives a linear model.
    activation : {"tanh", "relu", "gelu"}
        Non-linearity after each hidden layer.
    batch_norm : bool
        Batch normalisation after each hidden linear layer.
    dropout : float
        Dropout probability after each hidden activation.
    """

    def __init__(
        self,
        n_inputs,
        n_outputs,
        hidden_units=(256,),
        activation="tanh",
        batch_norm=True,
        dropout=0.2,
    ):
        super().__init__()
        layers = []
        width = n_inputs
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = units
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class LateInteractionMLP(nn.Module):
    """One MLP per feature space; their outputs are summed.

    Each space's network sees only that space's columns, so the model is
    non-linear within a space but additive across spaces (no cross-space
    interaction): the DIMLP ablation of Mind the Gap.

    Parameters
    ----------
    columns : list of sequence of int
        Input columns of each space.
    n_outputs : int
        Outputs of every branch (summed).
    **mlp_kwargs
        ``hidden_units``, ``activation``, ``batch_norm``, ``dropout`` of each
        branch (see :class:`MLP`).
    """

    def __init__(self, columns, n_outputs, **mlp_kwargs):
        super().__init__()
        self.n_spaces = len(columns)
        for i, cols in enumerate(columns):
            self.register_buffer(f"columns_{i}", torch.as_tensor(cols).long())
        self.branches = nn.ModuleList(
            MLP(len(cols), n_outputs, **mlp_kwargs) for cols in columns
        )

    def forward(self, x):
        out = 0
        for i, branch in enumerate(self.branches):
            out = out + branch(x[:, getattr(self, f"columns_{i}")])
        return out


class ConvTemporalModule(nn.Module):
    """Per-space projection and depthwise temporal convolution, subject heads.

    Maps ``X`` of shape ``(batch, time, n_features)`` to
    ``(batch, time, n_subjects * n_targets)``. For each space ``s``, the
    columns ``space_columns[s]`` are projected (``Linear``, no bias) to
    ``embed_dim`` channels and filtered by a depthwise ``Conv1d`` (no bias)
    over time with zero padding; the embeddings are summed, go through
    dropout, then through a shared head plus a residual head per subject.

    Parameters
    ----------
    space_columns : list of sequence of int
        Input columns of each feature space.
    embed_dim : int
        Channels of the embeddings.
    kernel_size : int
        Length of the temporal filters.
    n_targets : int
        Targets per subject.
    n_subjects : int, default=1
        Number of residual heads.
    causal : bool, default=False
        Pad only on the left, so the output at ``t`` sees inputs up to ``t``.
    dropout : float, default=0.0
        Dropout on the summed embedding.
    """

    def __init__(
        self,
        space_columns,
        embed_dim,
        kernel_size,
        n_targets,
        n_subjects=1,
        causal=False,
        dropout=0.0,
    ):
        super().__init__()
        self.n_spaces = len(space_columns)
        self.context = conv_context(kernel_size, causal)
        for i, columns in enumerate(space_columns):
            self.register_buffer(
                f"columns_{i}", torch.as_tensor(np.asarray(columns), dtype=torch.long)
            )
        # No bias before the convolution: zero features give a zero embedding,
        # so zeros in X outside a run are the convolution's zero padding.
        self.projections = nn.ModuleList(
            nn.Linear(len(columns), embed_dim, bias=False) for columns in space_columns
        )
        self.convs = nn.ModuleList(
            nn.Conv1d(embed_dim, embed_dim, kernel_size, groups=embed_dim, bias=False)
            for _ in space_columns
        )
        self.dropout = nn.Dropout(dropout)
        self.shared_head = nn.Linear(embed_dim, n_targets)
        self.subject_weight = nn.Parameter(
            torch.zeros(n_subjects, embed_dim, n_targets)
        )
        self.subject_bias = nn.Parameter(torch.zeros(n_subjects, n_targets))

    def forward(self, X):
        past, future = self.context
        embedding = 0
        for i in range(self.n_spaces):
            x = X.index_select(-1, getattr(self, f"columns_{i}"))
            h = self.projections[i](x).transpose(1, 2)
            conv = self.convs[i]
            embedding = embedding + depthwise_conv1d(
                F.pad(h, (past, future)), conv.weight
            )
        h = self.dropout(embedding.transpose(1, 2))
        shared = self.shared_head(h).unsqueeze(2)
        residual = torch.einsum("bte,sen->btsn", h, self.subject_weight)
        out = shared + residual + self.subject_bias
        return out.reshape(out.shape[0], out.shape[1], -1)


class MaskedMSELoss(nn.Module):
    """Mean squared error over the entries where the target is not NaN.

    ``sum((y_pred - y_true)**2 over non-NaN entries) / (number of non-NaN
    entries)``; 0 when every entry is NaN. Masked entries get a zero gradient
    (NaN never reaches the backward pass).
    """

    def forward(self, y_pred, y_true):
        mask = ~torch.isnan(y_true)
        diff = (y_pred - torch.where(mask, y_true, 0.0)) * mask
        return diff.square().sum() / mask.sum().clamp(min=1)


def depthwise_conv1d(x, weight):
    """Depthwise 1-D convolution (no padding) with a fast backward pass on CPU.

    Equal to ``F.conv1d(x, weight, groups=weight.shape[0])``; the gradients
    are computed by two forward convolutions (the input's with the flipped
    kernel, the kernel's with the batch folded into the groups), which on
    the CPU is several times faster than torch's depthwise backward.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, channels, length)
        Input, already padded.
    weight : torch.Tensor of shape (channels, 1, kernel_size)
        One filter per channel.

    Returns
    -------
    torch.Tensor of shape (batch, channels, length - kernel_size + 1)
    """
    return _DepthwiseConv1d.apply(x, weight)


class _DepthwiseConv1d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return F.conv1d(x, weight, groups=weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        # Under autocast (mixed precision) the forward ran in bfloat16 but the
        # backward runs outside it: compute in the gradient's dtype (autograd
        # casts the returned gradients back to the inputs' dtypes).
        x, weight = x.to(grad.dtype), weight.to(grad.dtype)
        channels, _, size = weight.shape
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            padded = F.pad(grad, (size - 1, size - 1))
            grad_x = F.conv1d(padded, weight.flip(-1), groups=channels)
        if ctx.needs_input_grad[1]:
            batch, _, length = x.shape
            folded = F.conv1d(
                x.reshape(1, batch * channels, length),
                grad.reshape(batch * channels, 1, grad.shape[-1]),
                groups=batch * channels,
            )
            grad_weight = folded.reshape(batch, channels, size).sum(0).unsqueeze(1)
        return grad_x, grad_weight


def conv_context(kernel_size, causal):
    """Samples before and after ``t`` that the output at ``t`` depends on.

    Returns ``(past, future)``: ``(kernel_size - 1, 0)`` when causal, else
    ``((kernel_size - 1) // 2, kernel_size // 2)``.
    """
    if causal:
        return kernel_size - 1, 0
    return (kernel_size - 1) // 2, kernel_size // 2


# ------------------------------------------------ multimodal transformer
def rotary_angles(n_positions, head_dim, *, base=10000.0, device=None):
    """Cosines and sines of rotary position embeddings (RoFormer's).

    Position ``p`` rotates the pair of coordinates ``(i, i + head_dim / 2)``
    of a query or key by the angle ``p * base ** (-2 i / head_dim)``, for
    ``i < head_dim / 2``; the dot product of a rotated query at ``m`` and a
    rotated key at ``n`` then depends on ``m - n`` only.

    Parameters
    ----------
    n_positions : int
        Positions 0 to ``n_positions - 1``.
    head_dim : int
        Dimension of a head; must be even.
    base : float, default=10000.0
        Base of the geometric sequence of frequencies.
    device : torch.device or str, default=None
        Device of the outputs.

    Returns
    -------
    cos, sin : torch.Tensor of shape (n_positions, head_dim // 2)
        Float32 cosines and sines of the angles (computed in float64).
    """
    if head_dim % 2:
        raise ValueError(
            f"rotary position embeddings need an even head dimension, got "
            f"head_dim={head_dim}."
        )
    exponent = torch.arange(0, head_dim, 2, dtype=torch.float64, device=device)
    inv_freq = base ** (-exponent / head_dim)
    positions = torch.arange(n_positions, dtype=torch.float64, device=device)
    angles = positions[:, None] * inv_freq[None, :]
    return angles.cos().float(), angles.sin().float()


def apply_rotary(x, cos, sin):
    """Rotate the coordinate pairs ``(i, i + d / 2)`` of ``x`` by position.

    Parameters
    ----------
    x : torch.Tensor of shape (..., n_positions, head_dim)
        Queries or keys, position along the second-last axis.
    cos, sin : torch.Tensor of shape (n_positions, head_dim // 2)
        From :func:`rotary_angles`.

    Returns
    -------
    torch.Tensor of the shape of ``x``
    """
    half = x.shape[-1] // 2
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class LayerAttentionPooler(nn.Module):
    """Learned queries cross-attend over the layer tokens of one frame.

    The tokens ``(n_frames, n_layers, dim)`` are layer-normalised and
    attended by ``n_queries`` learned queries with ``heads`` heads: the query
    of head ``h`` is projected (``Linear``), the keys of head ``h`` are its
    rows of a key projection (``Linear``, no bias) of the normalised tokens
    plus a learned embedding of their layer (optional; it starts as
    ``N(0, 1)`` draws, the scale of a normalised token, so that the scores
    can tell layers apart from the first step), the scores are scaled by
    ``1 / sqrt(dim / heads)`` and normalised over the layers (softmax), and
    head ``h`` returns the attention-weighted mean of its slice of the
    normalised tokens (values without projection: the linear projection of
    the feature space that follows maps them). The query outputs are
    layer-normalised and concatenated: ``(n_frames, n_queries * dim)``.

    Parameters
    ----------
    dim : int
        Dimension of a layer token; a multiple of ``heads``.
    n_layers : int
        Number of layers.
    n_queries : int
        Learned queries.
    heads : int
        Attention heads.
    dropout : float, default=0.0
        Dropout on the attention weights (training only).
    layer_embedding : bool, default=True
        Add a learned embedding of each layer to its keys.
    """

    def __init__(
        self, dim, n_layers, n_queries, heads, dropout=0.0, layer_embedding=True
    ):
        super().__init__()
        if dim % heads:
            raise ValueError(
                f"the layer tokens' dimension ({dim}) must be a multiple of the "
                f"pooler's heads ({heads})."
            )
        self.heads = heads
        self.n_queries = n_queries
        self.input_norm = nn.LayerNorm(dim)
        self.output_norm = nn.LayerNorm(dim)
        self.queries = nn.Parameter(0.02 * torch.randn(n_queries, dim))
        self.layer_embedding = (
            nn.Parameter(torch.randn(n_layers, dim)) if layer_embedding else None
        )
        self.query_proj = nn.Linear(dim, dim)
        # A key bias adds the same score to every layer: it cannot change the
        # softmax, so there is none.
        self.key_proj = nn.Linear(dim, dim, bias=False)
        self.dropout = nn.Dropout(dropout)

    def no_weight_decay(self):
        names = ["queries"]
        if self.layer_embedding is not None:
            names.append("layer_embedding")
        return names

    def forward(self, tokens, return_weights=False):
        """Pool ``(n_frames, n_layers, dim)`` to ``(n_frames, n_queries * dim)``.

        With ``return_weights=True`` also returns the attention weights,
        ``(n_frames, heads, n_queries, n_layers)``, each row summing to 1.
        """
        n, n_layers, dim = tokens.shape
        head_dim = dim // self.heads
        h = self.input_norm(tokens)
        keys = h if self.layer_embedding is None else h + self.layer_embedding
        q = self.query_proj(self.queries).view(self.n_queries, self.heads, head_dim)
        # score(h, q, l) = q_hq . (W_k k_l)_h = (W_k,h^T q_hq) . k_l: fold the
        # key projection into the queries rather than projecting every token.
        key_weight = self.key_proj.weight.view(self.heads, head_dim, dim)
        folded = torch.einsum("qhe,hed->hqd", q, key_weight) / math.sqrt(head_dim)
        scores = torch.einsum("nld,hqd->nhql", keys, folded)
        weights = scores.softmax(dim=-1)
        values = h.view(n, n_layers, self.heads, head_dim)
        pooled = torch.einsum("nhql,nlhe->nqhe", self.dropout(weights), values)
        out = self.output_norm(pooled.reshape(n, self.n_queries, dim))
        out = out.reshape(n, self.n_queries * dim)
        return (out, weights) if return_weights else out


class LayerMeanPooler(nn.Module):
    """Means of groups of layers, concatenated (no parameters).

    Parameters
    ----------
    groups : list of sequence of int
        Layers of each group; ``[range(n_layers)]`` is the mean over all
        layers.
    n_layers : int
        Number of layers of the tokens.
    """

    def __init__(self, groups, n_layers):
        super().__init__()
        weights = torch.zeros(len(groups), n_layers)
        for g, layers in enumerate(groups):
            weights[g, list(layers)] = 1.0 / len(layers)
        self.register_buffer("weights", weights)

    def forward(self, tokens):
        """Pool ``(n_frames, n_layers, dim)`` to ``(n_frames, n_groups * dim)``."""
        pooled = torch.einsum("gl,nld->ngd", self.weights.to(tokens.dtype), tokens)
        return pooled.reshape(tokens.shape[0], -1)


def layer_groups_of_depth(n_layers, bounds):
    """Layers of each fractional-depth range, empty ranges left out.

    Layer ``i`` (from 0) of ``n_layers`` has fractional depth
    ``(i + 1) / n_layers``; range ``g`` holds the layers whose depth is in
    ``(bounds[g - 1], bounds[g]]`` (``bounds[-1]`` taken as 0).

    Parameters
    ----------
    n_layers : int
        Number of layers.
    bounds : sequence of float
        Increasing upper bounds in (0, 1], the last one 1.

    Returns
    -------
    list of list of int

    Examples
    --------
    >>> from brainenc.neural.modules import layer_groups_of_depth
    >>> layer_groups_of_depth(12, (0.5, 0.75, 1.0))
    [[0, 1, 2, 3, 4, 5], [6, 7, 8], [9, 10, 11]]
    >>> layer_groups_of_depth(2, (0.5, 0.75, 1.0))
    [[0], [1]]
    """
    depth = (np.arange(n_layers) + 1) / n_layers
    groups, lower = [], 0.0
    for upper in bounds:
        # A small tolerance: (i + 1) / n_layers is inexact in floating point.
        layers = np.flatnonzero((depth > lower + 1e-9) & (depth <= upper + 1e-9))
        if layers.size:
            groups.append(layers.tolist())
        lower = upper
    return groups


class RotarySelfAttention(nn.Module):
    """Multi-head self-attention with rotary positions and a key-padding mask.

    Parameters
    ----------
    dim : int
        Model dimension, a multiple of ``heads`` with an even quotient.
    heads : int
        Attention heads.
    dropout : float, default=0.0
        Dropout on the attention weights (training only).
    """

    def __init__(self, dim, heads, dropout=0.0):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, cos, sin, key_mask=None):
        """``x`` (batch, time, dim); ``key_mask`` (batch, time), True = valid."""
        batch, n_time, dim = x.shape
        qkv = self.qkv(x).view(batch, n_time, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(out.transpose(1, 2).reshape(batch, n_time, dim))


class TransformerBlock(nn.Module):
    """Pre-norm transformer encoder block (attention, then feed-forward).

    ``x + Dropout(Attention(LayerNorm(x)))``, then
    ``x + Dropout(FeedForward(LayerNorm(x)))`` with a GELU feed-forward of
    ``ff_mult * dim`` hidden units.

    Parameters
    ----------
    dim : int
        Model dimension.
    heads : int
        Attention heads.
    ff_mult : int
        Width factor of the feed-forward network.
    dropout : float, default=0.0
        Dropout on the attention weights and on both residual branches.
    """

    def __init__(self, dim, heads, ff_mult, dropout=0.0):
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = RotarySelfAttention(dim, heads, dropout)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_mult * dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(ff_mult * dim, dim),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, cos, sin, key_mask=None):
        x = x + self.dropout(self.attention(self.attention_norm(x), cos, sin, key_mask))
        return x + self.dropout(self.ff(self.ff_norm(x)))


class SubjectHeads(nn.Module):
    """A linear head per subject, optionally on top of a shared head.

    Maps ``(batch, time, dim)`` to ``(batch, time, n_subjects * n_targets)``
    (subject 0's targets, then subject 1's, ...). Without a shared head,
    subject ``s``'s weights start as ``N(0, 1 / dim)`` draws made for that
    subject alone (so a subject's start does not depend on how many subjects
    there are, and the global RNG is drawn once whatever their number); with
    a shared head, the subjects' weights start at 0 and add to the shared
    head's.

    Parameters
    ----------
    dim : int
        Input dimension.
    n_targets : int
        Targets per subject.
    n_subjects : int
        Number of subjects.
    shared : bool, default=False
        Add a head shared by all subjects.
    """

    def __init__(self, dim, n_targets, n_subjects, shared=False):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_subjects, dim, n_targets))
        self.bias = nn.Parameter(torch.zeros(n_subjects, n_targets))
        self.shared = nn.Linear(dim, n_targets) if shared else None
        if not shared:
            # One seed from the global RNG, then a generator per subject: the
            # draws of a subject (and what the global RNG gives afterwards,
            # e.g. dropout masks) do not depend on the number of subjects.
            seed = int(torch.randint(2**62, (1,)))
            with torch.no_grad():
                for s in range(n_subjects):
                    draws = torch.Generator().manual_seed(seed + s)
                    self.weight[s].normal_(0.0, dim**-0.5, generator=draws)

    def forward(self, h):
        out = torch.einsum("btd,sdn->btsn", h, self.weight) + self.bias
        if self.shared is not None:
            out = out + self.shared(h).unsqueeze(2)
        return out.reshape(out.shape[0], out.shape[1], -1)


class MultimodalTransformerModule(nn.Module):
    """Layer pooling per space, a transformer over frames, subject heads.

    Maps ``X`` of shape ``(batch, time, n_features)`` to
    ``(batch, time, n_subjects * n_targets)``. Each row of ``X`` holds, for
    every feature space ``s``, ``frames_per_sample * n_layers[s]`` tokens of
    ``dim[s]`` columns (frame-major, then layer-major, the columns
    ``space_columns[s]`` in order). Per space and frame, the layer tokens are
    pooled (``pooling``), projected (``Linear``) to ``space_dims[s]``, and,
    where ``drop[b, s]`` is True, replaced by the space's learned null
    embedding. The spaces' embeddings are concatenated (``sum(space_dims)``
    channels), learned absolute positions are added, and ``depth`` pre-norm
    transformer blocks with rotary positions run over the ``time *
    frames_per_sample`` frames (padded samples, ``mask`` False, never enter
    attention), followed by a LayerNorm and :class:`SubjectHeads`; the head
    outputs of a row's frames are averaged.

    Parameters
    ----------
    space_columns : list of sequence of int
        Columns of each feature space.
    n_layers : list of int
        Layers of each space.
    space_dims : list of int
        Dimension of each space's projection.
    n_targets : int
        Targets per subject.
    n_subjects : int, default=1
        Number of subjects.
    pooling : {"attention", "mean", "groups"}, default="attention"
        Layer pooling of spaces with several layers: a
        :class:`LayerAttentionPooler`, the mean over layers, or means over
        the fractional depth ranges ``layer_groups``. A space with one layer
        is not pooled.
    n_queries, pooler_heads : int, default=1
        Queries and heads of the attention pooler.
    pooler_dropout : float, default=0.0
        Dropout on the pooler's attention weights.
    layer_embedding : bool, default=True
        Learned layer embedding in the attention pooler.
    layer_groups : sequence of float, default=(0.5, 0.75, 1.0)
        Upper bounds of the depth ranges of ``pooling="groups"``
        (:func:`layer_groups_of_depth`).
    frames_per_sample : int, default=1
        Frames in each row.
    max_frames : int, default=1024
        Most frames in a sequence (size of the learned position table).
    depth, heads, ff_mult : int, default=2, 4, 2
        Transformer blocks, their heads and feed-forward width factor.
    dropout : float, default=0.0
        Dropout in the transformer blocks.
    shared_head : bool, default=False
        Add a head shared by all subjects.
    """

    def __init__(
        self,
        space_columns,
        n_layers,
        space_dims,
        n_targets,
        n_subjects=1,
        *,
        pooling="attention",
        n_queries=1,
        pooler_heads=1,
        pooler_dropout=0.0,
        layer_embedding=True,
        layer_groups=(0.5, 0.75, 1.0),
        frames_per_sample=1,
        max_frames=1024,
        depth=2,
        heads=4,
        ff_mult=2,
        dropout=0.0,
        shared_head=False,
    ):
        super().__init__()
        self.n_spaces = len(space_columns)
        self.frames = frames_per_sample
        self.n_layers = list(n_layers)
        self.heads = heads
        self.token_dims = []
        poolers, projections = [], []
        for i, (columns, layers) in enumerate(
            zip(space_columns, n_layers, strict=True)
        ):
            self.register_buffer(
                f"columns_{i}", torch.as_tensor(np.asarray(columns), dtype=torch.long)
            )
            dim = len(columns) // (frames_per_sample * layers)
            self.token_dims.append(dim)
            if layers == 1:
                pooler, width = nn.Identity(), dim
            elif pooling == "attention":
                pooler = LayerAttentionPooler(
                    dim,
                    layers,
                    n_queries,
                    pooler_heads,
                    pooler_dropout,
                    layer_embedding,
                )
                width = n_queries * dim
            else:
                groups = (
                    [list(range(layers))]
                    if pooling == "mean"
                    else layer_groups_of_depth(layers, layer_groups)
                )
                pooler, width = LayerMeanPooler(groups, layers), len(groups) * dim
            poolers.append(pooler)
            projections.append(nn.Linear(width, space_dims[i]))
        self.poolers = nn.ModuleList(poolers)
        self.projections = nn.ModuleList(projections)
        self.null = nn.ParameterList(nn.Parameter(torch.zeros(d)) for d in space_dims)
        hidden = int(sum(space_dims))
        self.positions = nn.Parameter(0.02 * torch.randn(max_frames, hidden))
        self.blocks = nn.ModuleList(
            TransformerBlock(hidden, heads, ff_mult, dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(hidden)
        self.head = SubjectHeads(hidden, n_targets, n_subjects, shared=shared_head)

    def no_weight_decay(self):
        names = ["positions"] + [f"null.{i}" for i in range(self.n_spaces)]
        for i, pooler in enumerate(self.poolers):
            if hasattr(pooler, "no_weight_decay"):
                names += [f"poolers.{i}.{name}" for name in pooler.no_weight_decay()]
        return names

    def _tokens(self, X, i):
        """Space ``i``'s layer tokens, ``(batch * frames, n_layers, dim)``."""
        x = X.index_select(-1, getattr(self, f"columns_{i}"))
        return x.reshape(-1, self.n_layers[i], self.token_dims[i])

    def forward(self, X, mask=None, drop=None):
        """Predictions ``(batch, time, n_subjects * n_targets)``.

        ``mask`` (batch, time), True where a sample is real (default: all);
        ``drop`` (batch, n_spaces), True where a space is replaced by its
        null embedding (default: none).
        """
        batch, n_time, _ = X.shape
        n_frames = n_time * self.frames
        if n_frames > self.positions.shape[0]:
            raise ValueError(
                f"a sequence of {n_frames} frames is longer than the "
                f"{self.positions.shape[0]} learned positions."
            )
        embeddings = []
        for i in range(self.n_spaces):
            pooled = self.poolers[i](self._tokens(X, i))
            h = self.projections[i](pooled).view(batch, n_frames, -1)
            if drop is not None:
                h = torch.where(drop[:, i, None, None], self.null[i].to(h.dtype), h)
            embeddings.append(h)
        h = torch.cat(embeddings, dim=-1) + self.positions[:n_frames].to(X.dtype)
        key_mask = None
        if mask is not None:
            key_mask = mask.bool().repeat_interleave(self.frames, dim=1)
        if self.blocks:
            head_dim = h.shape[-1] // self.heads
            cos, sin = rotary_angles(n_frames, head_dim, device=h.device)
            for block in self.blocks:
                h = block(h, cos, sin, key_mask)
        out = self.head(self.norm(h))
        return out.view(batch, n_time, self.frames, -1).mean(dim=2)

    def layer_attention(self, X):
        """Attention weights of the attention poolers on ``X`` (eval use).

        Returns a list with, for each space, the weights ``(batch * time *
        frames, pooler_heads, n_queries, n_layers)``, or None where the
        space is not pooled by attention.
        """
        out = []
        for i, pooler in enumerate(self.poolers):
            if isinstance(pooler, LayerAttentionPooler):
                out.append(pooler(self._tokens(X, i), return_weights=True)[1])
            else:
                out.append(None)
        return out
