"""The backbone alone as a Keras model: hidden states for plain ``ElectraModel``/BERT-style checkpoints."""

from __future__ import annotations

import keras
from keras import ops

from electra_qa.heads import EncoderOnly
from electra_qa.models.initializers import build_in_constructor
from electra_qa.models.task import TaskModel, backbone_for


@keras.saving.register_keras_serializable(package="electra_qa")
class ElectraModel(TaskModel):
    """The backbone (``electra``) with no head: returns ``{"sequence_output": [batch, seq, hidden]}`` in float32.

    Call it on a dict ``{input_ids, attention_mask (optional), token_type_ids (optional)}`` of [batch, seq] arrays.
    ``backbone``: an ``ElectraBackbone`` or an ``ElectraConfig``.
    """

    def __init__(self, backbone, **kwargs):
        kwargs.setdefault("name", "electra_model")
        super().__init__(**kwargs)
        self.head = EncoderOnly()
        self.electra = backbone_for(backbone, self.dtype_policy)
        if build_in_constructor():
            self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        self.electra.build()
        self.built = True

    def call(self, inputs, training=None):
        hidden = self.electra(inputs["input_ids"], inputs.get("attention_mask"), inputs.get("token_type_ids"))
        return {"sequence_output": ops.cast(hidden, "float32")}
