"""``fused_dot_product_attention``: ``electra_qa.models.attention.dot_product_attention`` computed through
``keras.ops.dot_product_attention``, which the JAX backend sends to cuDNN's fused kernel on NVIDIA GPUs (Ampere or
newer, half precision). Not in the library until ``gpu_forward.py`` shows it faster; ``tests/test_attention.py``
checks that it computes the same."""

import math

from keras import ops


def fused_dot_product_attention(query, key, value, attention_bias, dropout=None):
    """``dot_product_attention`` through ``keras.ops.dot_product_attention``. The padding mask is broadcast to
    [batch, 1, seq, seq]: with a [batch, 1, 1, seq] mask the JAX backend stays off the fused kernel. For inference:
    the fused op has no dropout, so ``dropout`` is not applied."""
    batch, seq, head_size = ops.shape(query)[0], ops.shape(query)[1], ops.shape(query)[-1]
    mask = ops.broadcast_to(ops.equal(attention_bias, 0.0), (batch, 1, seq, seq))
    return ops.dot_product_attention(query, key, value, mask=mask, scale=1.0 / math.sqrt(head_size))
