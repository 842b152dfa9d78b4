"""``TrainingRecipe``: NVIDIA's fine-tuning hyper-parameters, the one home of their defaults.

``training.fine_tune``'s signature, the ``electra-qa train`` options and the ``training.json`` log all read them
from here.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

from electra_qa import precision as precision_lib
from electra_qa.errors import InputError
from electra_qa.heads import qa_head_names
from electra_qa.validate import non_negative_int, positive_int, strict_bool


@dataclasses.dataclass(frozen=True)
class TrainingRecipe:
    """How ``fine_tune`` trains (see its docstring for each field). NVIDIA's 1-GPU ELECTRA-base SQuAD recipe."""

    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-4
    layerwise_lr_decay: float = 0.8
    warmup_proportion: float = 0.05
    weight_decay: float = 0.01
    adam_epsilon: float = 1e-6
    bias_corrected_epsilon: bool = False
    precision: str = "auto"
    seed: int = 0
    head: str = "simple"  # the head put on an encoder or discriminator start

    def __post_init__(self):
        object.__setattr__(self, "epochs", positive_int("epochs", self.epochs))
        object.__setattr__(self, "batch_size", positive_int("batch_size", self.batch_size))
        for name, low, high, open_low in (
            ("learning_rate", 0, math.inf, True),
            ("layerwise_lr_decay", 0, 1, True),
            ("warmup_proportion", 0, 1, False),
            ("weight_decay", 0, math.inf, False),
            ("adam_epsilon", 0, math.inf, True),
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not math.isfinite(value)
                or not low <= value <= high
                or (open_low and value == low)
            ):
                interval = f"{'(' if open_low else '['}{low}, {high}{']' if math.isfinite(high) else ')'}"
                raise InputError(f"{name} must be a finite number in {interval}, got {value!r}")
            object.__setattr__(self, name, float(value))
        object.__setattr__(
            self, "bias_corrected_epsilon", strict_bool("bias_corrected_epsilon", self.bias_corrected_epsilon)
        )
        object.__setattr__(self, "seed", non_negative_int("seed", self.seed))
        precision_lib.check_precision(self.precision)
        if self.head not in qa_head_names():
            raise InputError(f"head must be one of {qa_head_names()}, got {self.head!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


RECIPE = TrainingRecipe()  # the defaults
