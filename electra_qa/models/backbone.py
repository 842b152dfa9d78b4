"""``ElectraBackbone``: the ELECTRA encoder that every task model (question answering, discriminator, encoder
alone) takes as its ``backbone``."""

import keras
from keras import ops

from electra_qa.config import ElectraConfig
from electra_qa.models.embeddings import ElectraEmbeddings
from electra_qa.models.initializers import kernel_initializer
from electra_qa.models.transformer_layer import ElectraTransformerLayer

MASK_BIAS = -10000.0  # the reference adds (1 - mask) * -10000 to the attention scores


@keras.saving.register_keras_serializable(package="electra_qa")
class ElectraBackbone(keras.layers.Layer):
    """ELECTRA discriminator body: token ids in, the last hidden state [batch, seq, hidden] out.

    ``embeddings`` -> ``embeddings_project`` (only when embedding_size != hidden_size; Dense, no activation)
    -> ``layer_0`` ... ``layer_{n-1}``. Dropout (the config's rates) runs in training only, each dropout with a fixed
    seed, so building a backbone draws nothing from global random state.

    A task model takes the backbone as its first argument (``ElectraForQuestionAnswering(backbone, "simple")``); two
    task models built on one backbone object share its weights, which is how fine-tuning puts a new head on a
    pre-trained encoder.
    """

    def __init__(self, config: ElectraConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = c = config
        self.embeddings = ElectraEmbeddings(
            vocab_size=c.vocab_size,
            embedding_size=c.embedding_size,
            max_position_embeddings=c.max_position_embeddings,
            type_vocab_size=c.type_vocab_size,
            layer_norm_eps=c.layer_norm_eps,
            initializer_range=c.initializer_range,
            dropout_rate=c.hidden_dropout_prob,
            dropout_seed=0,
            name="embeddings",
            dtype=self.dtype_policy,
        )
        self.embeddings_project = None
        if c.embedding_size != c.hidden_size:
            self.embeddings_project = keras.layers.Dense(
                c.hidden_size,
                name="embeddings_project",
                dtype=self.dtype_policy,
                kernel_initializer=kernel_initializer(c.initializer_range),
            )
        self.transformer_layers = [
            ElectraTransformerLayer(
                hidden_size=c.hidden_size,
                num_attention_heads=c.num_attention_heads,
                intermediate_size=c.intermediate_size,
                hidden_act=c.hidden_act,
                layer_norm_eps=c.layer_norm_eps,
                initializer_range=c.initializer_range,
                dropout_rate=c.hidden_dropout_prob,
                attention_dropout_rate=c.attention_probs_dropout_prob,
                dropout_seed=3 * i + 1,
                name=f"layer_{i}",
                dtype=self.dtype_policy,
            )
            for i in range(c.num_hidden_layers)
        ]

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings.build()
        if self.embeddings_project is not None:
            self.embeddings_project.build((None, None, self.config.embedding_size))
        for layer in self.transformer_layers:
            layer.build()
        self.built = True

    def call(self, input_ids, attention_mask=None, token_type_ids=None):
        if attention_mask is None:
            attention_mask = ops.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = ops.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        if self.embeddings_project is not None:
            x = self.embeddings_project(x)
        mask = ops.cast(attention_mask, "float32")
        attention_bias = (1.0 - mask[:, None, None, :]) * MASK_BIAS
        for layer in self.transformer_layers:
            x = layer(x, attention_bias)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(config=self.config.to_dict())
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(ElectraConfig.from_dict(config.pop("config")), **config)


ElectraEncoder = ElectraBackbone  # the name of rounds 1-2
