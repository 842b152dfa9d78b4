"""SQuAD span heads: the simple ``qa_outputs`` head and NVIDIA's joint beam-search head."""

import keras
from keras import ops

from electra_qa.config import AMP_END_MASK_VALUE
from electra_qa.models.initializers import kernel_initializer

START_MASK_VALUE = 1e30


def _dense(units, name, dtype, initializer_range, use_bias=True):
    return keras.layers.Dense(
        units, name=name, dtype=dtype, use_bias=use_bias, kernel_initializer=kernel_initializer(initializer_range)
    )


def _apply_p_mask(logits, p_mask, value):
    """``logits * (1 - p_mask) - value * p_mask``: the reference's masking (p_mask 1 = not an answer token)."""
    return logits * (1.0 - p_mask) - value * p_mask


@keras.saving.register_keras_serializable(package="electra_qa")
class SimpleQAHead(keras.layers.Layer):
    """One Dense hidden -> 2 (``qa_outputs``): channel 0 start logits, channel 1 end logits, both [batch, seq]."""

    def __init__(self, *, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        self.qa_outputs = _dense(2, "qa_outputs", self.dtype_policy, initializer_range)

    def build(self, input_shape=None):
        self.qa_outputs.build((None, None, self.hidden_size))
        self.built = True

    def call(self, hidden, p_mask=None, start_positions=None):
        """Start and end logits; ``p_mask`` and ``start_positions`` are not used by this head."""
        logits = ops.cast(self.qa_outputs(hidden), "float32")
        return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, initializer_range=self.initializer_range)
        return config


@keras.saving.register_keras_serializable(package="electra_qa")
class JointQAHead(keras.layers.Layer):
    """NVIDIA's joint start/end head with beam search (XLNet style).

    Start: Dense H->1, p_mask, log-softmax, top ``beam_size``. End, for each start candidate s_i and every position t:
    Dense 2H->H on concat(h_t, h_{s_i}) -> tanh -> LayerNorm -> Dense H->1, p_mask, log-softmax over positions, top
    ``beam_size``. ``end_top_*[b, i * beam + j]`` is the j-th best end for the i-th best start. SQuAD 2.0 models
    (``version_2=True``) add the answer-class pooler that gives ``cls_logits``; v1.1 models return zeros.

    Given ``start_positions`` (training, teacher forcing), it returns instead the masked ``start_logits`` [batch,
    seq], the ``end_logits`` [batch, seq] of the end head conditioned on the hidden state at the gold start, and (v2)
    ``cls_logits`` from the answer-class pooler on that start state and [CLS]: what NVIDIA's training loss reads.

    ``end_mask_value`` is the constant masked end logits get: ``AMP_END_MASK_VALUE`` (65500, the reference run under
    AMP, as the NGC checkpoint was) or ``FLOAT32_END_MASK_VALUE`` (1e30, the reference run in float32). Masking and
    log-softmax run in float32 whatever the compute dtype.
    """

    def __init__(
        self,
        *,
        hidden_size,
        beam_size=4,
        version_2=False,
        end_mask_value=AMP_END_MASK_VALUE,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be a positive integer, got {beam_size!r}")
        self.hidden_size = hidden_size
        self.beam_size = beam_size
        self.version_2 = version_2
        self.end_mask_value = float(end_mask_value)
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        dt = self.dtype_policy
        self.start_dense = _dense(1, "start_dense", dt, initializer_range)
        self.end_dense_0 = _dense(hidden_size, "end_dense_0", dt, initializer_range)
        self.end_layer_norm = keras.layers.LayerNormalization(epsilon=layer_norm_eps, name="end_layer_norm", dtype=dt)
        self.end_dense_1 = _dense(1, "end_dense_1", dt, initializer_range)
        if version_2:
            self.answer_class_dense_0 = _dense(hidden_size, "answer_class_dense_0", dt, initializer_range)
            self.answer_class_dense_1 = _dense(1, "answer_class_dense_1", dt, initializer_range, use_bias=False)

    def build(self, input_shape=None):
        h, h2 = (None, None, self.hidden_size), (None, None, 2 * self.hidden_size)
        self.start_dense.build(h)
        self.end_dense_0.build(h2)
        self.end_layer_norm.build(h)
        self.end_dense_1.build(h)
        if self.version_2:
            self.answer_class_dense_0.build(h2)
            self.answer_class_dense_1.build(h)
        self.built = True

    def _start_logits(self, hidden, p_mask):
        start_logits = ops.cast(ops.squeeze(self.start_dense(hidden), -1), "float32")
        if p_mask is not None:
            start_logits = _apply_p_mask(start_logits, p_mask, START_MASK_VALUE)
        return start_logits

    def _answer_class(self, start_state, cls_state):
        pooled = ops.tanh(self.answer_class_dense_0(ops.concatenate([start_state, cls_state], axis=-1)))
        return ops.cast(ops.squeeze(self.answer_class_dense_1(pooled), -1), "float32")

    def teacher_forced(self, hidden, p_mask, start_positions):
        """Training outputs: start logits, end logits given the gold start, and (v2) cls logits (all float32)."""
        p_mask = None if p_mask is None else ops.cast(p_mask, "float32")
        start_logits = self._start_logits(hidden, p_mask)
        start_positions = ops.cast(ops.reshape(start_positions, (-1, 1, 1)), "int32")
        start_state = ops.take_along_axis(hidden, start_positions, axis=1)  # [batch, 1, H]
        start_states = ops.broadcast_to(start_state, ops.shape(hidden))
        x = ops.tanh(self.end_dense_0(ops.concatenate([hidden, start_states], axis=-1)))
        end_logits = ops.cast(ops.squeeze(self.end_dense_1(self.end_layer_norm(x)), -1), "float32")
        if p_mask is not None:
            end_logits = _apply_p_mask(end_logits, p_mask, self.end_mask_value)
        outputs = {"start_logits": start_logits, "end_logits": end_logits}
        if self.version_2:
            outputs["cls_logits"] = self._answer_class(start_state[:, 0], hidden[:, 0])
        return outputs

    def call(self, hidden, p_mask=None, start_positions=None):
        if start_positions is not None:
            return self.teacher_forced(hidden, p_mask, start_positions)
        batch, seq = ops.shape(hidden)[0], ops.shape(hidden)[1]
        static_seq = hidden.shape[1]
        k = self.beam_size if static_seq is None else min(self.beam_size, static_seq)
        H = self.hidden_size

        if p_mask is not None:
            p_mask = ops.cast(p_mask, "float32")
        start_logits = self._start_logits(hidden, p_mask)
        start_log_probs = ops.log_softmax(start_logits, axis=-1)
        start_top_log_probs, start_top_index = ops.top_k(start_log_probs, k)
        start_top_index = ops.cast(start_top_index, "int32")

        # Hidden state of each start candidate: [batch, k, H].
        flat = ops.reshape(hidden, (-1, H))
        offsets = ops.arange(batch, dtype="int32")[:, None] * ops.cast(seq, "int32")
        start_states = ops.take(flat, ops.reshape(start_top_index + offsets, (-1,)), axis=0)
        start_states = ops.reshape(start_states, (batch, k, H))

        # Dense 2H->H on concat(h_t, s_i), computed as h_t·W[:H] + s_i·W[H:] + b without materialising the concat.
        kernel = ops.cast(self.end_dense_0.kernel, self.compute_dtype)
        bias = ops.cast(self.end_dense_0.bias, self.compute_dtype)
        from_tokens = ops.matmul(hidden, kernel[:H])  # [batch, seq, H]
        from_starts = ops.matmul(start_states, kernel[H:]) + bias  # [batch, k, H]
        x = ops.tanh(from_tokens[:, None, :, :] + from_starts[:, :, None, :])  # [batch, k, seq, H]
        x = self.end_layer_norm(x)
        end_logits = ops.cast(ops.squeeze(self.end_dense_1(x), -1), "float32")  # [batch, k, seq]
        if p_mask is not None:
            end_logits = _apply_p_mask(end_logits, p_mask[:, None, :], self.end_mask_value)
        end_log_probs = ops.log_softmax(end_logits, axis=-1)
        end_top_log_probs, end_top_index = ops.top_k(end_log_probs, k)
        end_top_log_probs = ops.reshape(end_top_log_probs, (batch, k * k))
        end_top_index = ops.reshape(ops.cast(end_top_index, "int32"), (batch, k * k))

        if self.version_2:
            start_probs = ops.cast(ops.softmax(start_logits, axis=-1), self.compute_dtype)
            weighted_start = ops.einsum("bl,blh->bh", start_probs, hidden)
            cls_logits = self._answer_class(weighted_start, hidden[:, 0])
        else:
            cls_logits = ops.zeros((batch,), dtype="float32")

        return {
            "start_top_log_probs": start_top_log_probs,
            "start_top_index": start_top_index,
            "end_top_log_probs": end_top_log_probs,
            "end_top_index": end_top_index,
            "cls_logits": cls_logits,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            beam_size=self.beam_size,
            version_2=self.version_2,
            end_mask_value=self.end_mask_value,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
