"""The one walk over a model's weights: canonical names, and their keys in a checkpoint format.

``model_slots(model)`` names every weight of an ``ElectraForQuestionAnswering``, ``ElectraDiscriminator`` or
``ElectraModel`` with google-research/electra's TF1 names (``electra/encoder/layer_3/attention/self/query/kernel``);
the head's weights are named by the head (``Head.weight_slots``: the SQuAD heads keep the names of the format that
defined them, ``qa_outputs/...`` from Hugging Face, ``start_logits/...``, ``end_logits/...``, ``answer_class/...``
from NVIDIA). A ``Format`` (``formats/``) turns such a
name into the key it stores, and says whether the stored array is the transposed kernel.
"""

from __future__ import annotations

from electra_qa.checkpoints.source import Format
from electra_qa.heads.base import dense_slots, norm_slots

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


def _encoder_slots(encoder) -> dict:
    emb = encoder.embeddings
    out = {
        f"electra/embeddings/{attr}": (emb, attr)
        for attr in ("word_embeddings", "position_embeddings", "token_type_embeddings")
    }
    out.update(norm_slots("electra/embeddings/LayerNorm", emb.layer_norm))
    if encoder.embeddings_project is not None:
        out.update(dense_slots("electra/embeddings_project", encoder.embeddings_project))
    for i, layer in enumerate(encoder.transformer_layers):
        for attr, part in LAYER_PARTS.items():
            sub = getattr(layer, attr)
            key = f"electra/encoder/layer_{i}/{part}"
            out.update(norm_slots(key, sub) if part.endswith("LayerNorm") else dense_slots(key, sub))
    return out


def model_slots(model) -> dict:
    """Canonical (google-research style) name -> (layer, attribute) of every weight of ``model``.

    Works before the model is built: ``getattr(layer, attribute)`` is the variable once it is, and
    ``attribute + "_initializer"`` is the layer attribute its ``build`` takes the initial value from.
    """
    return {**_encoder_slots(model.electra), **model.head.weight_slots(model)}


def model_weights(model) -> dict:
    """Canonical (google-research style) name -> Keras variable, for every weight of a built ``model``."""
    return {name: getattr(layer, attr) for name, (layer, attr) in model_slots(model).items()}


def keyed_slots(model, fmt: Format) -> tuple[dict, set]:
    """``{stored key: (layer, attribute)}`` of ``model`` in format ``fmt`` (see ``model_slots``), and the keys whose
    arrays are stored transposed."""
    out, transposed = {}, set()
    for name, slot in model_slots(model).items():
        key = fmt.key(name)
        out[key] = slot
        if fmt.transposed_kernels and name.endswith("/kernel"):
            transposed.add(key)
    return out, transposed


def keyed_weights(model, fmt: Format) -> tuple[dict, set]:
    """``{stored key: variable}`` of a built ``model`` in format ``fmt``, and the keys stored transposed."""
    slots, transposed = keyed_slots(model, fmt)
    return {key: getattr(layer, attr) for key, (layer, attr) in slots.items()}, transposed
