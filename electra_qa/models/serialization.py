"""``get_config``/``from_config`` pieces shared by the ELECTRA Keras models."""

from __future__ import annotations

import keras

from electra_qa.config import ElectraConfig


def model_config(model) -> dict:
    """The arguments every ELECTRA model is rebuilt from: name, ElectraConfig fields, dtype policy."""
    return {"name": model.name, "config": model.config.to_dict(),
            "dtype": keras.dtype_policies.serialize(model.dtype_policy)}


def constructor_args(config: dict) -> dict:
    """``get_config()`` output turned back into constructor arguments."""
    config = dict(config)
    config["config"] = ElectraConfig.from_dict(config["config"])
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
    return config
