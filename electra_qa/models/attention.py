"""Scaled dot-product attention for the transformer blocks.

``dot_product_attention`` is what the model runs: the reference's arithmetic in ``keras.ops`` (scores, the additive
mask and the softmax in float32 whatever the compute dtype). A fused variant (cuDNN through
``keras.ops.dot_product_attention``) waits in ``benchmarks/fused_attention.py`` for a GPU run to show it faster.
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
