"""NVIDIA's fine-tuning optimizer: AdamW with layer-wise learning-rate decay, warm-up then linear decay.

Keras has AdamW and global-norm clipping but no per-variable learning rate, so ``LayerwiseAdamW`` is Keras' Adam
update (bias-corrected, epsilon outside the square root, as TF's and NVIDIA's ``AdamWeightDecay``) with each
variable's rate multiplied by its layer's factor, and decoupled weight decay ``w -= lr * weight_decay * w`` at that
same rate, skipped for LayerNorm weights and biases. ``WarmupLinearDecay`` is the schedule.

Where epsilon goes: Keras, TensorFlow and NVIDIA add it to ``sqrt(v)`` and fold the bias correction into the rate,
``w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``; PyTorch's AdamW (so Hugging Face's fine-tuning) adds
it to the bias-corrected root, ``w -= lr * m_hat / (sqrt(v_hat) + eps)``. The first is the second with epsilon
``eps / sqrt(1 - b2^t)``: about 22x larger at step 2 and 1.6x at step 500, so weights whose (clipped) gradients are
small, most kernels, move less in the first few hundred steps. ``bias_corrected_epsilon=True`` gives PyTorch's form.

The layer-wise factors follow google-research/electra and NVIDIA's ``optimization.py``: depth 0 for the embeddings
(and their projection), ``i + 1`` for transformer block ``i``, ``n_layers + 2`` for the task head; a variable at depth
``d`` learns at ``learning_rate * decay ** (n_layers + 2 - d)``. So the head trains at the full rate, the top block
at ``decay ** 2``, each block below it ``decay`` times slower than the one above, the embeddings slowest.
"""

from __future__ import annotations

import keras
from keras import ops

NO_DECAY_NAMES = ("bias", "beta", "gamma")  # biases and LayerNorm weights: no weight decay (NVIDIA's exclusions)


def layer_depths(model) -> dict[str, int]:
    """``variable.path`` -> depth (see the module docstring) for every trainable variable of a QA model."""
    encoder = model.electra
    n = len(encoder.transformer_layers)
    depths = {}
    parts = [(encoder.embeddings, 0), (encoder.embeddings_project, 0)]
    parts += [(layer, i + 1) for i, layer in enumerate(encoder.transformer_layers)]
    parts.append((model.qa_head, n + 2))
    for part, depth in parts:
        if part is not None:
            depths.update({v.path: depth for v in part.trainable_variables})
    unplaced = [v.path for v in model.trainable_variables if v.path not in depths]
    if unplaced:
        raise ValueError(f"no layer-wise learning-rate depth for {unplaced}")
    return depths


def layerwise_multipliers(model, decay: float) -> dict[str, float]:
    """``variable.path`` -> learning-rate factor ``decay ** (n_layers + 2 - depth)`` (1.0 everywhere when decay
    is 1)."""
    top = len(model.electra.transformer_layers) + 2
    return {path: float(decay) ** (top - depth) for path, depth in layer_depths(model).items()}


def decayed_paths(model) -> list[str]:
    """Paths of the trainable variables that get weight decay: all but biases and LayerNorm gamma/beta."""
    return [v.path for v in model.trainable_variables if v.name not in NO_DECAY_NAMES]


@keras.saving.register_keras_serializable(package="electra_qa")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``peak * step / warmup_steps`` during warm-up, then linear decay to 0 at ``total_steps``."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self.peak * step / max(self.warmup_steps, 1)
        decay = self.peak * ops.maximum(self.total_steps - step, 0.0) / max(self.total_steps - self.warmup_steps, 1)
        return ops.where(step < self.warmup_steps, warm, decay)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="electra_qa")
class LayerwiseAdamW(keras.optimizers.Optimizer):
    """AdamW whose learning rate and weight decay are scaled per variable.

    Args:
        learning_rate: a float or a schedule (``WarmupLinearDecay``).
        multipliers: ``variable.path`` -> learning-rate factor (``layerwise_multipliers``); others get 1.0.
        decay_paths: paths of the variables that get weight decay (``decayed_paths``); default: all.
        weight_decay: the decoupled decay rate (0.01 in NVIDIA's recipe).
        beta_1, beta_2, epsilon: Adam's (NVIDIA: 0.9, 0.999, 1e-6).
        bias_corrected_epsilon: add epsilon to the bias-corrected root of v, as PyTorch's AdamW (see the module
            docstring); False (default) is Keras', TensorFlow's and NVIDIA's Adam.
        global_clipnorm: clip the gradients to this global norm first (NVIDIA: 1.0).
    """

    def __init__(
        self,
        learning_rate=1e-4,
        multipliers: dict | None = None,
        decay_paths=None,
        weight_decay: float = 0.01,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-6,
        bias_corrected_epsilon: bool = False,
        global_clipnorm: float | None = 1.0,
        name: str = "layerwise_adamw",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.multipliers = dict(multipliers or {})
        self.decay_paths = None if decay_paths is None else sorted(decay_paths)
        self.adamw_weight_decay = float(weight_decay)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.bias_corrected_epsilon = bool(bias_corrected_epsilon)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        decay = None if self.decay_paths is None else set(self.decay_paths)
        self._factors = [self.multipliers.get(v.path, 1.0) for v in var_list]
        self._decays = [decay is None or v.path in decay for v in var_list]
        self._m, self._v = self.add_optimizer_variables(var_list, ["m", "v"])

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = ops.cast(learning_rate, variable.dtype) * self._factors[index]
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        if self._decays[index] and self.adamw_weight_decay:
            self.assign_sub(variable, variable * (lr * self.adamw_weight_decay))
        root_correction = ops.sqrt(1 - ops.power(self.beta_2, step))
        alpha = lr * root_correction / (1 - ops.power(self.beta_1, step))
        epsilon = self.epsilon * root_correction if self.bias_corrected_epsilon else self.epsilon
        m, v = self._m[index], self._v[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), epsilon)))

    def get_config(self):
        config = super().get_config()
        config.update(
            multipliers=self.multipliers,
            decay_paths=self.decay_paths,
            weight_decay=self.adamw_weight_decay,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            bias_corrected_epsilon=self.bias_corrected_epsilon,
        )
        return config
