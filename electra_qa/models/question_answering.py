"""ELECTRA with a SQuAD span head: the model that answers questions."""

from __future__ import annotations

import keras
from keras import ops

from electra_qa.errors import InputError
from electra_qa.heads import Head, as_head
from electra_qa.models import qa_heads  # noqa: F401 (registers the built-in head layers with Keras)
from electra_qa.models.initializers import build_in_constructor
from electra_qa.models.task import TaskModel, backbone_for, task_config


@keras.saving.register_keras_serializable(package="electra_qa")
class ElectraForQuestionAnswering(TaskModel):
    """A backbone (``electra``) plus a span head (``qa_head``, the Keras layer of ``head``).

    Call it on a dict ``{input_ids, attention_mask, token_type_ids, p_mask (optional)}`` of [batch, seq] arrays.
    It returns a dict with ``sequence_output`` and the head's outputs (``head.outputs``): for the joint head
    ``start_top_log_probs``, ``start_top_index``, ``end_top_log_probs``, ``end_top_index``, ``cls_logits``; for the
    simple head ``start_logits``, ``end_logits``. Float outputs are float32 whatever the dtype policy.

    Training: add the labels to the inputs (``start_positions``, ``end_positions`` and, for a SQuAD 2.0 joint head,
    ``is_impossible``; ``electra_qa.training.training_features`` makes them). The model then returns the head's
    training outputs (the joint head conditioned on the gold start) and, compiled without a ``loss``, ``fit`` uses
    the head's loss (``head.loss``)::

        model.compile(optimizer=keras.optimizers.AdamW(1e-4))
        model.fit(features_with_labels, batch_size=32, epochs=2)

    Args:
        backbone: an ``ElectraBackbone`` (shared, not copied), or an ``ElectraConfig`` to build a new one from.
        head: a ``Head`` from ``electra_qa.heads``, or the name of a registered one: "joint" (NVIDIA's beam-search
            head, the NGC checkpoint's) or "simple" (``qa_outputs``).
        beam_size, version_2, end_mask_value: the joint head's options, with a head name (see ``heads.JointHead``).
        dtype: a Keras dtype policy for this model only ("float32", "mixed_float16", ...).
    """

    def __init__(
        self, backbone, head: str | Head = "joint", *, beam_size=None, version_2=None, end_mask_value=None, **kwargs
    ):
        kwargs.setdefault("name", "electra_qa")
        super().__init__(**kwargs)
        # version_2=False holds for every head without NVIDIA's answer-class pooler: only True is a joint-head option.
        head = as_head(head, beam_size=beam_size, version_2=version_2 or None, end_mask_value=end_mask_value)
        if not head.answers_questions:
            raise InputError(
                f"{head.title} does not answer questions; build its model with "
                f"electra_qa.build_model(config, {head.name!r})"
            )
        self.head = head
        self.electra = backbone_for(backbone, self.dtype_policy)
        layer_class = keras.saving.get_registered_object(head.layer_class)
        if layer_class is None:
            raise InputError(f"{head.title}: no Keras layer is registered as {head.layer_class!r}")
        self.qa_head = layer_class(**head.layer_config(self.config), name="qa_head", dtype=self.dtype_policy)
        if build_in_constructor():
            self.build()

    @property
    def head_type(self) -> str:
        """The head's registered name (``head.name``)."""
        return self.head.name

    @property
    def beam_size(self):
        """The joint head's beam (None for heads without one)."""
        return self.head.options.get("beam_size")

    @property
    def version_2(self) -> bool:
        """Whether the head has NVIDIA's SQuAD 2.0 answer-class output."""
        return bool(self.head.options.get("version_2", False))

    @property
    def end_mask_value(self):
        return self.head.options.get("end_mask_value")

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
        """The head's loss when compiled without a ``loss`` and given labelled inputs; else Keras' own."""
        if self._compile_loss is None and isinstance(x, dict) and "start_positions" in x:
            loss = self.head.loss(y_pred, x)
            for extra in self.losses:
                loss = loss + ops.cast(extra, "float32")
            return loss
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def get_config(self):
        return {**task_config(self), "head": self.head.name}
