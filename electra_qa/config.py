"""ELECTRA encoder configuration."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from typing import Any

from electra_qa.errors import ConfigError
from electra_qa.files import read_text

# The activations a config may name, and what each computes (``models.transformer_layer.activation_fn``): GELU in
# its exact erf form or its tanh approximation, or ReLU.
ACTIVATIONS = {"gelu": "gelu_erf", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}

# NVIDIA's joint head masks end logits with 65500 when the reference runs under AMP (as the NGC checkpoint was trained
# and evaluated), with 1e30 in float32. The joint head's default is the NGC checkpoint's.
# The largest sizes a config may ask for: far above every published ELECTRA/BERT (ELECTRA-large: 1024 hidden, 24 layers,
# 335M parameters), far below what would exhaust memory before a checkpoint's shapes could be compared. A config.json
# past them is refused before anything is allocated.
SIZE_LIMITS = {
    "vocab_size": 1_000_000,
    "embedding_size": 16_384,
    "hidden_size": 16_384,
    "num_hidden_layers": 256,
    "num_attention_heads": 1_024,
    "intermediate_size": 65_536,
    "max_position_embeddings": 131_072,
    "type_vocab_size": 1_024,
}
MAX_PARAMETERS = 4_000_000_000  # 16 GB of float32 weights

AMP_END_MASK_VALUE = 65500.0
FLOAT32_END_MASK_VALUE = 1e30


@dataclasses.dataclass
class ElectraConfig:
    """Sizes of an ELECTRA encoder.

    Field names and defaults follow the ``config.json`` that NVIDIA's and Hugging Face's ELECTRA code write, so a
    file missing a field means what it meant there. Use :meth:`base`, :meth:`small` or :meth:`large` for the standard
    discriminators (the NGC SQuAD checkpoint is :meth:`base`).
    """

    vocab_size: int = 30522
    embedding_size: int = 128
    hidden_size: int = 256
    num_hidden_layers: int = 12
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "embedding_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"ElectraConfig.{name} must be a positive integer, got {value!r}")
            if value > SIZE_LIMITS[name]:
                raise ConfigError(
                    f"ElectraConfig.{name} = {value:,} is over the limit of {SIZE_LIMITS[name]:,} "
                    "(electra_qa.config.SIZE_LIMITS); is the config.json damaged?"
                )
        parameters = self.parameter_count()
        if parameters > MAX_PARAMETERS:
            raise ConfigError(
                f"this config describes {parameters:,} parameters, over the limit of {MAX_PARAMETERS:,} "
                "(electra_qa.config.MAX_PARAMETERS); is the config.json damaged?"
            )
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) is not a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        for name in ("layer_norm_eps", "initializer_range", "hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ConfigError(f"ElectraConfig.{name} must be a finite number, got {value!r}")
        if not isinstance(self.hidden_act, str) or self.hidden_act not in ACTIVATIONS:
            raise ConfigError(f"hidden_act {self.hidden_act!r} is not supported; use one of {tuple(ACTIVATIONS)}")
        if not self.layer_norm_eps > 0:
            raise ConfigError(f"layer_norm_eps must be positive, got {self.layer_norm_eps!r}")

    def parameter_count(self) -> int:
        """The encoder's number of weights (embeddings, projection, layers), computed from the sizes alone."""
        e, h, i = self.embedding_size, self.hidden_size, self.intermediate_size
        embeddings = (self.vocab_size + self.max_position_embeddings + self.type_vocab_size + 2) * e
        project = (e * h + h) if e != h else 0
        layer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h
        return embeddings + project + self.num_hidden_layers * layer

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def base(cls, **overrides: Any) -> ElectraConfig:
        """ELECTRA-base discriminator (google/electra-base-discriminator; the NGC SQuAD checkpoint)."""
        fields = dict(
            embedding_size=768, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072
        )
        return cls(**{**fields, **overrides})

    @classmethod
    def small(cls, **overrides: Any) -> ElectraConfig:
        """ELECTRA-small discriminator (embedding 128 projected to hidden 256)."""
        fields = dict(
            embedding_size=128, hidden_size=256, num_hidden_layers=12, num_attention_heads=4, intermediate_size=1024
        )
        return cls(**{**fields, **overrides})

    @classmethod
    def large(cls, **overrides: Any) -> ElectraConfig:
        """ELECTRA-large discriminator."""
        fields = dict(
            embedding_size=1024, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096
        )
        return cls(**{**fields, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ElectraConfig:
        """Build from a dict such as NVIDIA's or Hugging Face's config.json; unknown keys are ignored."""
        if not isinstance(data, dict):
            raise ConfigError(f"an ElectraConfig needs a dict, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names}
        if "embedding_size" not in data and data.get("model_type") == "bert" and "hidden_size" in data:
            fields["embedding_size"] = data["hidden_size"]  # BERT has no separate embedding size
        return cls(**fields)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ElectraConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        except RecursionError:
            raise ConfigError("config is JSON nested too deeply to read") from None
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> ElectraConfig:
        """Read a config.json (NVIDIA's, Hugging Face's or our own)."""
        text = read_text(path, "config file", ConfigError)
        try:
            return cls.from_json(text)
        except ConfigError as e:
            raise ConfigError(f"{os.fspath(path)!r}: {e}") from None

    @classmethod
    def coerce(cls, value: ElectraConfig | dict | str | os.PathLike) -> ElectraConfig:
        """An ElectraConfig from an ElectraConfig, a dict, or a config.json path."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls.from_dict(value)
        return cls.from_file(value)

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json() + "\n")
