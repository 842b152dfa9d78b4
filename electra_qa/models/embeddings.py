"""ELECTRA input embeddings: word + position + token type, then LayerNorm and dropout."""

import keras
from keras import ops

from electra_qa.models.initializers import kernel_initializer


@keras.saving.register_keras_serializable(package="electra_qa")
class ElectraEmbeddings(keras.layers.Layer):
    """``LayerNorm(word[ids] + position[0..L-1] + token_type[type_ids])``, width ``embedding_size``, then dropout
    (``dropout_rate``, in training only).

    Weights: ``word_embeddings`` [vocab, E], ``position_embeddings`` [max_position, E],
    ``token_type_embeddings`` [type_vocab, E] and the ``layer_norm`` sublayer (gamma, beta).
    """

    def __init__(
        self,
        *,
        vocab_size,
        embedding_size,
        max_position_embeddings,
        type_vocab_size,
        layer_norm_eps,
        initializer_range=0.02,
        dropout_rate=0.0,
        dropout_seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.dropout_rate = dropout_rate
        self.dropout_seed = dropout_seed
        init = kernel_initializer(initializer_range)
        self.word_embeddings_initializer = init
        self.position_embeddings_initializer = init
        self.token_type_embeddings_initializer = init
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, name="layer_norm", dtype=self.dtype_policy
        )
        self.dropout = keras.layers.Dropout(dropout_rate, seed=dropout_seed, name="dropout", dtype=self.dtype_policy)

    def build(self, input_shape=None):
        self.word_embeddings = self.add_weight(
            shape=(self.vocab_size, self.embedding_size),
            initializer=self.word_embeddings_initializer,
            name="word_embeddings",
        )
        self.position_embeddings = self.add_weight(
            shape=(self.max_position_embeddings, self.embedding_size),
            initializer=self.position_embeddings_initializer,
            name="position_embeddings",
        )
        self.token_type_embeddings = self.add_weight(
            shape=(self.type_vocab_size, self.embedding_size),
            initializer=self.token_type_embeddings_initializer,
            name="token_type_embeddings",
        )
        self.layer_norm.build((None, None, self.embedding_size))
        self.built = True

    def call(self, input_ids, token_type_ids):
        seq_len = ops.shape(input_ids)[1]
        words = ops.take(self.word_embeddings, input_ids, axis=0)
        positions = ops.expand_dims(self.position_embeddings[:seq_len], 0)
        types = ops.take(self.token_type_embeddings, token_type_ids, axis=0)
        return self.dropout(self.layer_norm(words + positions + types))

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_size=self.embedding_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
            dropout_rate=self.dropout_rate,
            dropout_seed=self.dropout_seed,
        )
        return config
