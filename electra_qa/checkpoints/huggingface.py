"""Hugging Face ELECTRA checkpoints: a folder with config.json and model.safetensors (PyTorch layout).

Linear weights are stored [out, in] and are transposed into Keras kernels [in, out]. Needs the optional
``safetensors`` package (``pip install electra-qa[safetensors]``).
"""

from __future__ import annotations

import os

import numpy as np

from electra_qa.checkpoints.assign import assign_strict
from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError

_LAYER_PARTS = {
    "attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
    "attention.output.dense": "attention_output", "attention.output.LayerNorm": "attention_layer_norm",
    "intermediate.dense": "intermediate", "output.dense": "output_dense", "output.LayerNorm": "output_layer_norm",
}
IGNORED = ("electra.embeddings.position_ids",)


def _linear(prefix, layer, transposed):
    transposed.add(prefix + ".weight")
    return {prefix + ".weight": layer.kernel, prefix + ".bias": layer.bias}


def _norm(prefix, layer):
    return {prefix + ".weight": layer.gamma, prefix + ".bias": layer.beta}


def variable_map(model) -> tuple[dict, set]:
    """HF state-dict key -> our variable, and the keys whose arrays are transposed Linear weights."""
    transposed: set = set()
    enc = model.electra
    emb = enc.embeddings
    out = {"electra.embeddings.word_embeddings.weight": emb.word_embeddings,
           "electra.embeddings.position_embeddings.weight": emb.position_embeddings,
           "electra.embeddings.token_type_embeddings.weight": emb.token_type_embeddings,
           **_norm("electra.embeddings.LayerNorm", emb.layer_norm)}
    if enc.embeddings_project is not None:
        out.update(_linear("electra.embeddings_project", enc.embeddings_project, transposed))
    for i, layer in enumerate(enc.transformer_layers):
        for part, attr in _LAYER_PARTS.items():
            key = f"electra.encoder.layer.{i}.{part}"
            sub = getattr(layer, attr)
            out.update(_norm(key, sub) if part.endswith("LayerNorm") else _linear(key, sub, transposed))
    out.update(_linear("qa_outputs", model.qa_head.qa_outputs, transposed))
    return out, transposed


def load_hf_safetensors(path: str | os.PathLike, config=None, dtype=None):
    """An ``ElectraForQuestionAnswering`` (simple head) from a Hugging Face folder or its model.safetensors."""
    from electra_qa.models import ElectraForQuestionAnswering
    from electra_qa.models.initializers import weights_to_be_loaded

    path = os.fspath(path)
    file = os.path.join(path, "model.safetensors") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise CheckpointError(f"no model.safetensors at {path!r}")
    try:
        from safetensors import safe_open
    except ImportError:
        raise CheckpointError("reading .safetensors needs the safetensors package: "
                              "pip install 'electra-qa[safetensors]'") from None
    if config is None:
        config_path = os.path.join(os.path.dirname(file), "config.json")
        if not os.path.isfile(config_path):
            raise CheckpointError(f"no config.json beside {file!r}; pass config=")
        config = ElectraConfig.from_file(config_path)
    else:
        config = ElectraConfig.coerce(config)
    try:
        handle = safe_open(file, framework="numpy")
    except Exception as e:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"cannot read {file!r}: {e}") from None
    with handle as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys() if k not in IGNORED}
        if "qa_outputs.weight" not in shapes:
            raise CheckpointError(f"{file!r} has no qa_outputs head: it is not an ElectraForQuestionAnswering model")
        with weights_to_be_loaded():
            model = ElectraForQuestionAnswering(config, head="simple", dtype=dtype, name="electra_qa")
        variables, transposed = variable_map(model)
        transforms = {k: np.transpose for k in transposed}
        assign_strict(variables, shapes, f.get_tensor, source=f"safetensors file {file!r}", transforms=transforms)
    return model
