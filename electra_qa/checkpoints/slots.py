"""The one walk over a model's weights: canonical names, and their keys in a checkpoint format.

``model_slots(model)`` names every weight of an ``ElectraForQuestionAnswering``, ``ElectraDiscriminator`` or
``ElectraModel`` with google-research/electra's TF1 names (``electra/encoder/layer_3/attention/self/query/kernel``);
the SQuAD heads keep the names of the format that defined them (``qa_outputs/...`` from Hugging Face,
``start_logits/...``, ``end_logits/...``, ``answer_class/...`` from NVIDIA). A ``Format`` (``formats/``) turns such a
name into the key it stores, and says whether the stored array is the transposed kernel.
"""

from __future__ import annotations

from electra_qa.checkpoints.source import Format

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
    from electra_qa.models.factory import head_of  # imports keras: only once a model exists

    out = _encoder_slots(model.electra)
    head = head_of(model)
    if head == "simple":
        out.update(_dense("qa_outputs", model.qa_head.qa_outputs))
    elif head == "joint":
        joint = model.qa_head
        out.update(_dense("start_logits/dense", joint.start_dense))
        out.update(_dense("end_logits/dense_0", joint.end_dense_0))
        out.update(_norm("end_logits/LayerNorm", joint.end_layer_norm))
        out.update(_dense("end_logits/dense_1", joint.end_dense_1))
        if joint.version_2:
            out.update(_dense("answer_class/dense_0", joint.answer_class_dense_0))
            out.update(_dense("answer_class/dense_1", joint.answer_class_dense_1, bias=False))
    elif head == "discriminator":
        out.update(_dense("discriminator_predictions/dense", model.dense))
        out.update(_dense("discriminator_predictions/dense_1", model.dense_prediction))
    return out


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
