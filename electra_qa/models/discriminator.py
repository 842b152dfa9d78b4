"""ELECTRA discriminator: the backbone plus the replaced-token-detection head."""

from __future__ import annotations

import keras
from keras import ops

from electra_qa.heads import DiscriminatorHead
from electra_qa.models.initializers import build_in_constructor, kernel_initializer
from electra_qa.models.task import TaskModel, backbone_for
from electra_qa.models.transformer_layer import activation_fn


@keras.saving.register_keras_serializable(package="electra_qa")
class ElectraDiscriminator(TaskModel):
    """Backbone (``electra``) + ``dense`` (H->H, config activation) + ``dense_prediction`` (H->1).

    Returns ``{"logits": [batch, seq], "sequence_output": [batch, seq, hidden]}``: one replaced-token logit per
    position, as in the pre-trained ELECTRA discriminators. ``backbone``: an ``ElectraBackbone`` or an
    ``ElectraConfig``.
    """

    def __init__(self, backbone, **kwargs):
        kwargs.setdefault("name", "electra_discriminator")
        super().__init__(**kwargs)
        self.head = DiscriminatorHead()
        self.electra = backbone_for(backbone, self.dtype_policy)
        init = kernel_initializer(self.config.initializer_range)
        self.dense = keras.layers.Dense(
            self.config.hidden_size, name="dense", dtype=self.dtype_policy, kernel_initializer=init
        )
        self.dense_prediction = keras.layers.Dense(
            1, name="dense_prediction", dtype=self.dtype_policy, kernel_initializer=init
        )
        self._activation = activation_fn(self.config.hidden_act)
        if build_in_constructor():
            self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        self.electra.build()
        self.dense.build((None, None, self.config.hidden_size))
        self.dense_prediction.build((None, None, self.config.hidden_size))
        self.built = True

    def call(self, inputs, training=None):
        hidden = self.electra(inputs["input_ids"], inputs.get("attention_mask"), inputs.get("token_type_ids"))
        logits = self.dense_prediction(self._activation(self.dense(hidden)))
        return {"logits": ops.cast(ops.squeeze(logits, -1), "float32"), "sequence_output": ops.cast(hidden, "float32")}
