"""ELECTRA with a SQuAD span head: the model that answers questions."""

from __future__ import annotations

import keras
from keras import ops

from electra_qa.config import ElectraConfig
from electra_qa.models.encoder import ElectraEncoder
from electra_qa.models.initializers import build_in_constructor
from electra_qa.models.losses import span_loss
from electra_qa.models.serialization import constructor_args, model_config
from electra_qa.models.qa_heads import AMP_END_MASK_VALUE, JointQAHead, SimpleQAHead

HEAD_TYPES = ("joint", "simple")


@keras.saving.register_keras_serializable(package="electra_qa")
class ElectraForQuestionAnswering(keras.Model):
    """ELECTRA encoder (``electra``) plus a span head (``qa_head``).

    Call it on a dict ``{input_ids, attention_mask, token_type_ids, p_mask (optional)}`` of [batch, seq] arrays.
    It returns a dict with ``sequence_output`` and, for ``head="joint"``: ``start_top_log_probs``,
    ``start_top_index``, ``end_top_log_probs``, ``end_top_index``, ``cls_logits``; for ``head="simple"``:
    ``start_logits``, ``end_logits``. Float outputs are float32 whatever the dtype policy.

    Training: add the labels to the inputs (``start_positions``, ``end_positions`` and, for a SQuAD 2.0 joint head,
    ``is_impossible``; ``electra_qa.training.training_features`` makes them). The model then returns the head's
    training outputs (the joint head conditioned on the gold start) and, compiled without a ``loss``, ``fit`` uses
    the SQuAD span loss (``models.losses.span_loss``)::

        model.compile(optimizer=keras.optimizers.AdamW(1e-4))
        model.fit(features_with_labels, batch_size=32, epochs=2)

    Args:
        config: encoder sizes.
        head: "joint" (NVIDIA's beam-search head, the NGC checkpoint's) or "simple" (``qa_outputs``).
        beam_size: start and end candidates kept by the joint head (NGC: 4).
        version_2: SQuAD 2.0 joint head with the answer-class pooler.
        end_mask_value: the joint head's end-logit mask constant: 65500 (default), as the reference run under AMP
            that trained the NGC checkpoint, or 1e30 as a float32 run (see ``JointQAHead``).
        dtype: a Keras dtype policy for this model only ("float32", "mixed_float16", ...).
    """

    def __init__(self, config: ElectraConfig, head: str = "joint", beam_size: int = 4, version_2: bool = False,
                 end_mask_value: float = AMP_END_MASK_VALUE, **kwargs):
        super().__init__(**kwargs)
        if head not in HEAD_TYPES:
            raise ValueError(f"head must be one of {HEAD_TYPES}, got {head!r}")
        if head == "simple" and version_2:
            raise ValueError("version_2 applies to the joint head; the simple head scores null answers itself")
        self.config = config
        self.head_type = head
        self.beam_size = beam_size
        self.version_2 = version_2
        self.end_mask_value = float(end_mask_value)
        self.electra = ElectraEncoder(config, name="electra", dtype=self.dtype_policy)
        if head == "joint":
            self.qa_head = JointQAHead(config.hidden_size, beam_size, version_2, self.end_mask_value,
                                       config.layer_norm_eps, config.initializer_range, name="qa_head",
                                       dtype=self.dtype_policy)
        else:
            self.qa_head = SimpleQAHead(config.hidden_size, config.initializer_range, name="qa_head",
                                        dtype=self.dtype_policy)
        if build_in_constructor():
            self.build()

    def build(self, input_shape=None):
        """Create every weight from the config alone (no tracing); the model is usable straight away."""
        if self.built:
            return
        self.electra.build()
        self.qa_head.build()
        self.built = True

    def call(self, inputs, training=None):
        sequence_output = self.electra(inputs["input_ids"], inputs.get("attention_mask"), inputs.get("token_type_ids"))
        if "start_positions" in inputs:  # labelled: the outputs the training loss reads
            return self.qa_head(sequence_output, inputs.get("p_mask"), inputs["start_positions"])
        outputs = self.qa_head(sequence_output, inputs.get("p_mask"))
        outputs["sequence_output"] = ops.cast(sequence_output, "float32")
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The SQuAD span loss when compiled without a ``loss`` and given labelled inputs; else Keras' own."""
        if self._compile_loss is None and isinstance(x, dict) and "start_positions" in x:
            loss = span_loss(y_pred, x["start_positions"], x["end_positions"], x.get("is_impossible"))
            for extra in self.losses:
                loss = loss + ops.cast(extra, "float32")
            return loss
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def get_config(self):
        return {**model_config(self), "head": self.head_type, "beam_size": self.beam_size,
                "version_2": self.version_2, "end_mask_value": self.end_mask_value}

    @classmethod
    def from_config(cls, config):
        return cls(**constructor_args(config))
