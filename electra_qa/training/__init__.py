"""Fine-tuning on SQuAD-style data: ``fine_tune`` (Keras ``fit`` with NVIDIA's recipe), the labelled training
windows, and the optimizer (AdamW with layer-wise learning-rate decay, warm-up then linear decay)."""

from electra_qa.recipe import RECIPE, TrainingRecipe
from electra_qa.training.fine_tune import fine_tune
from electra_qa.training.labels import TrainingFeatures, training_features
from electra_qa.training.optimizer import (
    LayerwiseAdamW,
    WarmupLinearDecay,
    decayed_paths,
    layer_depths,
    layerwise_multipliers,
)

__all__ = [
    "fine_tune",
    "TrainingRecipe",
    "RECIPE",
    "training_features",
    "TrainingFeatures",
    "LayerwiseAdamW",
    "WarmupLinearDecay",
    "layer_depths",
    "layerwise_multipliers",
    "decayed_paths",
]
