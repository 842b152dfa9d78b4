"""ELECTRA encoder alone as a Keras model: hidden states for plain ``ElectraModel``/BERT-style checkpoints."""

from __future__ import annotations

import keras
from keras import ops

from electra_qa.config import ElectraConfig
from electra_qa.models.encoder import ElectraEncoder
from electra_qa.models.initializers import build_in_constructor
from electra_qa.models.serialization import constructor_args, model_config


@keras.saving.register_keras_serializable(package="electra_qa")
class ElectraModel(keras.Model):
    """The encoder (``electra``) with no head: returns ``{"sequence_output": [batch, seq, hidden]}`` in float32.

    Call it on a dict ``{input_ids, attention_mask (optional), token_type_ids (optional)}`` of [batch, seq] arrays.
    """

    def __init__(self, config: ElectraConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.electra = ElectraEncoder(config, name="electra", dtype=self.dtype_policy)
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

    def get_config(self):
        return model_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**constructor_args(config))
