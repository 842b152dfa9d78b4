"""One post-LayerNorm BERT/ELECTRA transformer block."""

import keras
from keras import ops

from electra_qa.config import ACTIVATIONS
from electra_qa.models import attention
from electra_qa.models.initializers import kernel_initializer


def activation_fn(name):
    """The activation named in an ELECTRA config (``config.ACTIVATIONS``): "gelu" is the exact erf form, "gelu_new"
    the tanh form."""
    kind = ACTIVATIONS.get(name)
    if kind == "gelu_erf":
        return lambda x: keras.activations.gelu(x, approximate=False)
    if kind == "gelu_tanh":
        return lambda x: keras.activations.gelu(x, approximate=True)
    if kind == "relu":
        return keras.activations.relu
    raise ValueError(f"unsupported activation {name!r}; use one of {tuple(ACTIVATIONS)}")


@keras.saving.register_keras_serializable(package="electra_qa")
class ElectraTransformerLayer(keras.layers.Layer):
    """Self-attention + feed-forward block, post-LayerNorm, as in BERT and ELECTRA.

    ``a = LN(x + drop(W_o·attention(x)))``; ``y = LN(a + drop(W_2·act(W_1·a)))``, and dropout on the attention
    probabilities (``attention_dropout_rate``); dropout runs in training only, so inference is the reference's
    arithmetic. The attention mask is additive ([batch, 1, 1, seq], 0 where attended, -10000 where masked) and is
    applied to float32 scores. Sublayers: ``query``, ``key``, ``value``, ``attention_output``,
    ``attention_layer_norm``, ``intermediate``, ``output_dense``, ``output_layer_norm``, and the dropouts
    ``attention_dropout``, ``attention_output_dropout``, ``output_dropout``.
    """

    def __init__(
        self,
        *,
        hidden_size,
        num_attention_heads,
        intermediate_size,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        dropout_seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.dropout_seed = dropout_seed
        self.head_size = hidden_size // num_attention_heads
        self._activation = activation_fn(hidden_act)

        def dense(units, name):
            return keras.layers.Dense(
                units, name=name, dtype=self.dtype_policy, kernel_initializer=kernel_initializer(initializer_range)
            )

        def layer_norm(name):
            return keras.layers.LayerNormalization(epsilon=layer_norm_eps, name=name, dtype=self.dtype_policy)

        self.query = dense(hidden_size, "query")
        self.key = dense(hidden_size, "key")
        self.value = dense(hidden_size, "value")
        self.attention_output = dense(hidden_size, "attention_output")
        self.attention_layer_norm = layer_norm("attention_layer_norm")
        self.intermediate = dense(intermediate_size, "intermediate")
        self.output_dense = dense(hidden_size, "output_dense")
        self.output_layer_norm = layer_norm("output_layer_norm")

        def dropout(rate, name, offset):  # fixed seeds: building a model draws nothing from global random state
            return keras.layers.Dropout(rate, seed=dropout_seed + offset, name=name, dtype=self.dtype_policy)

        self.attention_dropout = dropout(attention_dropout_rate, "attention_dropout", 0)
        self.attention_output_dropout = dropout(dropout_rate, "attention_output_dropout", 1)
        self.output_dropout = dropout(dropout_rate, "output_dropout", 2)

    def build(self, input_shape=None):
        h = (None, None, self.hidden_size)
        for layer in (self.query, self.key, self.value, self.attention_output, self.intermediate):
            layer.build(h)
        self.attention_layer_norm.build(h)
        self.output_dense.build((None, None, self.intermediate_size))
        self.output_layer_norm.build(h)
        self.built = True

    def _heads(self, x, batch, seq):
        return ops.reshape(x, (batch, seq, self.num_attention_heads, self.head_size))

    def call(self, x, attention_bias):
        batch, seq = ops.shape(x)[0], ops.shape(x)[1]
        # The dense layers see [batch * seq, hidden]: one plain matmul each instead of a 3-D tensordot (the same
        # arithmetic, fewer backend ops: it matters for eager calls).
        x = ops.reshape(x, (-1, self.hidden_size))
        q = self._heads(self.query(x), batch, seq)
        k = self._heads(self.key(x), batch, seq)
        v = self._heads(self.value(x), batch, seq)
        # Keras autocasts the float bias to the compute dtype; the attention casts it back and scores in float32.
        context = attention.dot_product_attention(q, k, v, attention_bias, dropout=self.attention_dropout)
        context = ops.reshape(context, (-1, self.hidden_size))
        a = self.attention_layer_norm(x + self.attention_output_dropout(self.attention_output(context)))
        m = self._activation(self.intermediate(a))
        y = self.output_layer_norm(a + self.output_dropout(self.output_dense(m)))
        return ops.reshape(y, (batch, seq, self.hidden_size))

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            dropout_seed=self.dropout_seed,
        )
        return config
