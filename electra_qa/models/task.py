"""``TaskModel``: what every ELECTRA task model shares: a backbone taken as an argument (or built from a config), the
head object, and ``get_config``/``from_config`` in those terms."""

from __future__ import annotations

import keras

from electra_qa.config import ElectraConfig
from electra_qa.errors import InputError
from electra_qa.models.backbone import ElectraBackbone


def backbone_for(backbone, dtype_policy) -> ElectraBackbone:
    """``backbone`` itself, or a new ``ElectraBackbone`` named ``electra`` when given an ``ElectraConfig`` (or its
    dict)."""
    if isinstance(backbone, ElectraBackbone):
        return backbone
    if isinstance(backbone, dict):
        backbone = ElectraConfig.from_dict(backbone)
    if not isinstance(backbone, ElectraConfig):
        raise InputError(f"a task model takes an ElectraBackbone or an ElectraConfig, got {type(backbone).__name__}")
    return ElectraBackbone(backbone, name="electra", dtype=dtype_policy)


def task_config(model) -> dict:
    """The arguments a task model is rebuilt from: name, dtype policy, the serialized backbone, the head's options."""
    return {
        "name": model.name,
        "dtype": keras.dtype_policies.serialize(model.dtype_policy),
        "backbone": keras.saving.serialize_keras_object(model.electra),
        **model.head.options,
    }


def task_arguments(config: dict) -> dict:
    """``task_config`` output turned back into constructor arguments (also reads the round-2 form with ``config``)."""
    config = dict(config)
    if "config" in config:
        config["backbone"] = ElectraConfig.from_dict(config.pop("config"))
    elif isinstance(config.get("backbone"), dict):
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
    return config


class TaskModel(keras.Model):
    """Base of the task models: ``electra`` (the backbone) and ``head`` (an ``electra_qa.heads.Head``)."""

    @property
    def backbone(self) -> ElectraBackbone:
        return self.electra

    @property
    def config(self) -> ElectraConfig:
        return self.electra.config

    def get_config(self):
        return task_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**task_arguments(config))
