"""Scaled dot-product attention for the transformer blocks.

``dot_product_attention`` is what the model runs: the reference's arithmetic in ``keras.ops`` (scores, the additive
mask and the softmax in float32 whatever the compute dtype). ``fused_dot_product_attention`` computes the same through
``keras.ops.dot_product_attention``, which the JAX backend sends to cuDNN's fused kernel on NVIDIA GPUs (Ampere or
newer, half precision). It is not used by default: it waits for ``benchmarks/gpu_forward.py`` to show it faster.
"""

import math

from keras import backend, ops


def dot_product_attention(query, key, value, attention_bias, dropout=None):
    """Attention over ``query``/``key``/``value`` of shape [batch, seq, heads, head_size] (compute dtype) with an
    additive float32 ``attention_bias`` [batch, 1, 1, seq] (0 attended, -10000 masked); returns
    [batch, seq, heads, head_size]. ``dropout``: a dropout layer applied to the probabilities (training only)."""
    head_size = ops.shape(query)[-1]
    q = ops.transpose(query, (0, 2, 1, 3))
    k = ops.transpose(key, (0, 2, 3, 1))
    v = ops.transpose(value, (0, 2, 1, 3))
    scores = ops.cast(ops.matmul(q, k), "float32") / math.sqrt(head_size) + ops.cast(attention_bias, "float32")
    probs = ops.cast(ops.softmax(scores, axis=-1), backend.standardize_dtype(value.dtype))
    if dropout is not None:
        probs = dropout(probs)
    return ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3))


def fused_dot_product_attention(query, key, value, attention_bias, dropout=None):
    """``dot_product_attention`` through ``keras.ops.dot_product_attention``. The padding mask is broadcast to
    [batch, 1, seq, seq]: with a [batch, 1, 1, seq] mask the JAX backend stays off the fused kernel. For inference:
    the fused op has no dropout, so ``dropout`` is not applied."""
    batch, seq, head_size = ops.shape(query)[0], ops.shape(query)[1], ops.shape(query)[-1]
    mask = ops.broadcast_to(ops.equal(attention_bias, 0.0), (batch, 1, seq, seq))
    return ops.dot_product_attention(query, key, value, mask=mask, scale=1.0 / math.sqrt(head_size))
