"""The SQuAD training loss of both heads, as NVIDIA's (and Hugging Face's) fine-tuning computes it.

Simple head: the mean of the start and end cross-entropies. Joint head: the same two cross-entropies, the end logits
coming from the end head conditioned on the gold start (teacher forcing); a SQuAD 2.0 joint head adds half the binary
cross-entropy of its answer-class logit against ``is_impossible``. Every term is a mean over the batch.
"""

ANSWER_CLASS_WEIGHT = 0.5


def cross_entropy(logits, positions):
    """Mean over the batch of ``-log softmax(logits)[position]``; logits [batch, seq], positions [batch]."""
    from keras import ops

    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    picked = ops.take_along_axis(log_probs, ops.reshape(ops.cast(positions, "int32"), (-1, 1)), axis=-1)
    return -ops.mean(picked)


def span_loss(outputs: dict, start_positions, end_positions, is_impossible=None):
    """The loss of a batch from the head's training outputs (``start_logits``, ``end_logits``, ``cls_logits`` for a
    SQuAD 2.0 joint head) and the labels."""
    from keras import ops

    loss = (
        cross_entropy(outputs["start_logits"], start_positions) + cross_entropy(outputs["end_logits"], end_positions)
    ) / 2.0
    if "cls_logits" in outputs and is_impossible is not None:
        target = ops.cast(ops.reshape(is_impossible, (-1,)), "float32")
        bce = ops.binary_crossentropy(target, ops.cast(outputs["cls_logits"], "float32"), from_logits=True)
        loss = loss + ANSWER_CLASS_WEIGHT * ops.mean(bce)
    return loss
