"""One walk over a model's weights, and how each checkpoint format names them.

``model_slots(model)`` names every weight of an ``ElectraForQuestionAnswering``, ``ElectraDiscriminator`` or
``ElectraModel`` with google-research/electra's TF1 names (``electra/encoder/layer_3/attention/self/query/kernel``);
the SQuAD heads keep the names of the format that defined them (``qa_outputs/...`` from Hugging Face,
``start_logits/...``, ``end_logits/...``, ``answer_class/...`` from NVIDIA). Each ``FORMATS`` entry turns such a name
into the key a format stores, and says whether the stored array is the transposed kernel.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

# Our layer attribute -> google-research name inside ``electra/encoder/layer_{i}/``.
LAYER_PARTS = {
    "query": "attention/self/query",
    "key": "attention/self/key",
    "value": "attention/self/value",
    "attention_output": "attention/output/dense",
    "attention_layer_norm": "attention/output/LayerNorm",
    "intermediate": "intermediate/dense",
    "output_dense": "output/dense",
    "output_layer_norm": "output/LayerNorm",
}


def _dense(prefix, layer, bias=True):
    out = {f"{prefix}/kernel": (layer, "kernel")}
    if bias:
        out[f"{prefix}/bias"] = (layer, "bias")
    return out


def _norm(prefix, layer):
    return {f"{prefix}/gamma": (layer, "gamma"), f"{prefix}/beta": (layer, "beta")}


def _encoder_slots(encoder) -> dict:
    emb = encoder.embeddings
    out = {f"electra/embeddings/{attr}": (emb, attr)
           for attr in ("word_embeddings", "position_embeddings", "token_type_embeddings")}
    out.update(_norm("electra/embeddings/LayerNorm", emb.layer_norm))
    if encoder.embeddings_project is not None:
        out.update(_dense("electra/embeddings_project", encoder.embeddings_project))
    for i, layer in enumerate(encoder.transformer_layers):
        for attr, part in LAYER_PARTS.items():
            sub = getattr(layer, attr)
            key = f"electra/encoder/layer_{i}/{part}"
            out.update(_norm(key, sub) if part.endswith("LayerNorm") else _dense(key, sub))
    return out


def model_slots(model) -> dict:
    """Canonical (google-research style) name -> (layer, attribute) of every weight of ``model``.

    Works before the model is built: ``getattr(layer, attribute)`` is the variable once it is, and
    ``attribute + "_initializer"`` is the layer attribute its ``build`` takes the initial value from.
    """
    out = _encoder_slots(model.electra)
    head_type = getattr(model, "head_type", None)
    if head_type == "simple":
        out.update(_dense("qa_outputs", model.qa_head.qa_outputs))
    elif head_type == "joint":
        head = model.qa_head
        out.update(_dense("start_logits/dense", head.start_dense))
        out.update(_dense("end_logits/dense_0", head.end_dense_0))
        out.update(_norm("end_logits/LayerNorm", head.end_layer_norm))
        out.update(_dense("end_logits/dense_1", head.end_dense_1))
        if head.version_2:
            out.update(_dense("answer_class/dense_0", head.answer_class_dense_0))
            out.update(_dense("answer_class/dense_1", head.answer_class_dense_1, bias=False))
    elif hasattr(model, "dense_prediction"):
        out.update(_dense("discriminator_predictions/dense", model.dense))
        out.update(_dense("discriminator_predictions/dense_1", model.dense_prediction))
    return out


def model_weights(model) -> dict:
    """Canonical (google-research style) name -> Keras variable, for every weight of a built ``model``."""
    return {name: getattr(layer, attr) for name, (layer, attr) in model_slots(model).items()}


# ----------------------------------------------------------------------------------------------- format naming


def _google(name: str) -> str:
    return name


_NGC_LAYER = {"attention/self/": "attention/self_attention/", "attention/output/": "attention/dense_output/",
              "output/": "bert_output/"}


def _ngc(name: str) -> str:
    """NVIDIA DeepLearningExamples TF2 object paths (without ``/.ATTRIBUTES/VARIABLE_VALUE``)."""
    if name == "electra/embeddings/word_embeddings":
        return "electra/embeddings/weight"
    if name.endswith("_embeddings"):
        return name + "/embeddings"
    match = re.match(r"electra/encoder/layer_(\d+)/(.*)", name)
    if match:
        rest = match.group(2)
        for old, new in _NGC_LAYER.items():
            if rest.startswith(old):
                rest = new + rest[len(old):]
                break
        return f"electra/encoder/layer/{match.group(1)}/{rest}"
    return name


def _hf_common(name: str) -> str:
    name = name.replace("discriminator_predictions/dense_1/", "discriminator_predictions/dense_prediction/")
    return name


def _hf_tf(name: str) -> str:
    """Hugging Face TF2 (``tf_model.h5``) variable names with the model-name component dropped, ``:0`` kept."""
    name = _hf_common(name)
    if name == "electra/embeddings/word_embeddings":
        name += "/weight"
    elif name.endswith("_embeddings"):
        name += "/embeddings"
    name = re.sub(r"/layer_(\d+)/", r"/layer_._\1/", name)
    return name + ":0"


def _hf_pt(name: str) -> str:
    """Hugging Face PyTorch state-dict keys (``model.safetensors``)."""
    name = _hf_common(name)
    if name.endswith("_embeddings"):
        name += "/weight"
    name = re.sub(r"/(kernel|gamma)$", "/weight", name)
    name = re.sub(r"/beta$", "/bias", name)
    name = re.sub(r"/layer_(\d+)/", r"/layer/\1/", name)
    return name.replace("/", ".")


class Format(NamedTuple):
    description: str
    key: Callable[[str], str]
    transposed_kernels: bool  # stored [out, in] (PyTorch Linear) instead of Keras' [in, out]
    encoder_prefix: str       # every encoder key starts with it; head keys do not


FORMATS = {
    "ngc": Format("NVIDIA NGC TF2 checkpoint (DeepLearningExamples)", _ngc, False, "electra/"),
    "google": Format("google-research/electra TF1 checkpoint", _google, False, "electra/"),
    "hf_tf": Format("Hugging Face TF2 weights (tf_model.h5)", _hf_tf, False, "electra/"),
    "hf_pt": Format("Hugging Face PyTorch weights (model.safetensors)", _hf_pt, True, "electra."),
    # An electra_qa folder read through the weights index in its config.json (canonical name -> dataset path).
    "keras": Format("electra_qa folder (Keras model.weights.h5)", _google, False, "electra/"),
}


def stored_transposed(fmt: str, key: str, shape: tuple) -> bool:
    """Whether the array stored under ``key`` is a transposed kernel, guessed from the key and shape alone (for
    loading ahead of building the model; ``keyed_slots`` has the final word)."""
    if not FORMATS[fmt].transposed_kernels:
        return False
    return len(shape) == 2 and key.endswith(".weight") and not key.endswith("_embeddings.weight")


def keyed_slots(model, fmt: str) -> tuple[dict, set]:
    """``{stored key: (layer, attribute)}`` of ``model`` in format ``fmt`` (see ``model_slots``), and the keys whose
    arrays are stored transposed."""
    spec = FORMATS[fmt]
    out, transposed = {}, set()
    for name, slot in model_slots(model).items():
        key = spec.key(name)
        out[key] = slot
        if spec.transposed_kernels and name.endswith("/kernel"):
            transposed.add(key)
    return out, transposed


def keyed_weights(model, fmt: str) -> tuple[dict, set]:
    """``{stored key: variable}`` of a built ``model`` in format ``fmt``, and the keys stored transposed."""
    slots, transposed = keyed_slots(model, fmt)
    return {key: getattr(layer, attr) for key, (layer, attr) in slots.items()}, transposed
