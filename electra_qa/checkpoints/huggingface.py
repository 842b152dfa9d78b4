"""Export to the Hugging Face layout: ``config.json`` + ``model.safetensors`` (PyTorch key names and layout).

Loading Hugging Face folders is ``load_model`` (``electra_qa.checkpoints.loader``); this is the way back, so a model
moves both ways. NVIDIA's joint head has no Hugging Face counterpart and is not exported.
"""

from __future__ import annotations

import json
import os

import numpy as np

from electra_qa.checkpoints.layout import keyed_weights
from electra_qa.checkpoints.safetensors_file import write_safetensors
from electra_qa.errors import CheckpointError

_ARCHITECTURES = {"simple": "ElectraForQuestionAnswering", "discriminator": "ElectraForPreTraining",
                  "encoder": "ElectraModel"}


def _head(model) -> str:
    if hasattr(model, "head_type"):
        return model.head_type
    return "discriminator" if hasattr(model, "dense_prediction") else "encoder"


def export_huggingface(model, folder: str | os.PathLike) -> str:
    """Write ``model`` (simple-head QA, discriminator or encoder) as a Hugging Face ELECTRA folder.

    ``transformers.ElectraForQuestionAnswering.from_pretrained(folder)`` (or the matching class) reads it. Returns the
    folder.
    """
    head = _head(model)
    if head not in _ARCHITECTURES:
        raise CheckpointError("NVIDIA's joint beam-search head has no Hugging Face counterpart; only simple-head "
                              "(qa_outputs) models, discriminators and encoders can be exported")
    variables, transposed = keyed_weights(model, "hf_pt")
    tensors = {}
    for key, var in variables.items():
        value = np.asarray(var.numpy() if hasattr(var, "numpy") else var, dtype=np.float32)
        if key in transposed:
            value = value.T
        if head == "encoder":
            key = key[len("electra."):]  # ElectraModel's state dict has no "electra." prefix
        tensors[key] = np.ascontiguousarray(value)
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, "model.safetensors"), tensors, metadata={"format": "pt"})
    config = {"architectures": [_ARCHITECTURES[head]], "model_type": "electra", **model.config.to_dict(),
              "position_embedding_type": "absolute", "pad_token_id": 0}
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    return folder
