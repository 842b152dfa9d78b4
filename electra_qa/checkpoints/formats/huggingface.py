"""Hugging Face ELECTRA/BERT folders: ``model.safetensors`` (PyTorch names and layout) or ``tf_model.h5`` (TF2
names), with ``config.json``; read without transformers. ``export_huggingface`` writes the safetensors layout back.

Keys are normalised so that one naming fits every model class of the family: a bare ``ElectraModel``/``BertModel``
file gets the ``electra`` prefix that ``ElectraForQuestionAnswering`` files carry. Poolers, generator towers, MLM
heads and position-id buffers are set aside and never read.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from electra_qa import filenames
from electra_qa.checkpoints.readers.safetensors_file import SafetensorsFile, write_safetensors
from electra_qa.checkpoints.slots import keyed_weights
from electra_qa.checkpoints.source import Format, Source, reader_errors_named
from electra_qa.errors import CheckpointError
from electra_qa.files import make_folder
from electra_qa.heads import Head


def _common(name: str) -> str:
    return name.replace("discriminator_predictions/dense_1/", "discriminator_predictions/dense_prediction/")


def tf_key(name: str) -> str:
    """Hugging Face TF2 (``tf_model.h5``) variable names with the model-name component dropped, ``:0`` kept."""
    name = _common(name)
    if name == "electra/embeddings/word_embeddings":
        name += "/weight"
    elif name.endswith("_embeddings"):
        name += "/embeddings"
    name = re.sub(r"/layer_(\d+)/", r"/layer_._\1/", name)
    return name + ":0"


def pt_key(name: str) -> str:
    """Hugging Face PyTorch state-dict keys (``model.safetensors``)."""
    name = _common(name)
    if name.endswith("_embeddings"):
        name += "/weight"
    name = re.sub(r"/(kernel|gamma)$", "/weight", name)
    name = re.sub(r"/beta$", "/bias", name)
    name = re.sub(r"/layer_(\d+)/", r"/layer/\1/", name)
    return name.replace("/", ".")


TF_FORMAT = Format("hf_tf", "Hugging Face TF2 weights (tf_model.h5)", tf_key, False, "electra/")
PT_FORMAT = Format("hf_pt", "Hugging Face PyTorch weights (model.safetensors)", pt_key, True, "electra.")

# ---------------------------------------------------------------------------------------------- reading

_PT_IGNORED = re.compile(
    r"(^electra\.embeddings\.position_ids$|^electra\.pooler\.|^cls\.|^generator|"
    r"^electra\.embeddings\.token_type_ids$)"
)
_TF_IGNORED = re.compile(r"(^electra/pooler/|^generator|^mlm___cls/|^nsp___cls/|^cls/)")


def _normalise_pt(key: str) -> str:
    if key.startswith("bert."):
        key = "electra." + key[len("bert.") :]
    elif key.startswith(("embeddings.", "encoder.", "embeddings_project.", "pooler.")):
        key = "electra." + key
    return key


def open_safetensors(file: str) -> Source:
    f = SafetensorsFile(file)
    shapes, ignored, stored_key = {}, [], {}
    for key in f.keys():
        name = _normalise_pt(key)
        if _PT_IGNORED.search(name):
            ignored.append(key)
            continue
        stored_key[name] = key
        shapes[name] = f.shape(key)
    return Source(
        PT_FORMAT, file, shapes, lambda name: f.read(stored_key[name]), ignored, close=f.close, new_arrays=True
    )


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def open_h5(file: str) -> Source:
    """A Keras-2 HDF5 weights file as written by transformers' TF classes (``tf_model.h5``)."""
    return reader_errors_named(file)(_open_h5)(file)


def _open_h5(file: str) -> Source:
    import h5py

    try:
        f = h5py.File(file, "r")
    except OSError as e:
        raise CheckpointError(f"cannot read {file!r} as HDF5: {e}") from None
    if "layer_names" not in f.attrs:
        f.close()
        raise CheckpointError(
            f"{file!r} is not a Keras-2 weights file (no 'layer_names' attribute); a Keras 3 "
            "'.weights.h5' belongs in a folder saved by QuestionAnswerer.save"
        )
    shapes, ignored, dataset = {}, [], {}
    try:
        for layer in f.attrs["layer_names"]:
            group = f[_text(layer)]
            for weight in group.attrs.get("weight_names", []):
                weight = _text(weight)
                name = weight.split("/", 1)[1] if "/" in weight else weight  # drop the model-name component
                if name.startswith("bert/"):
                    name = "electra/" + name[len("bert/") :]
                if _TF_IGNORED.search(name):
                    ignored.append(weight)
                    continue
                dataset[name] = group[weight]
                shapes[name] = tuple(group[weight].shape)
    except BaseException:
        f.close()
        raise
    return Source(TF_FORMAT, file, shapes, reader_errors_named(file)(lambda k: dataset[k][()]), ignored, close=f.close)


# ---------------------------------------------------------------------------------------------- writing


def export_huggingface(model, folder: str | os.PathLike) -> str:
    """Write ``model`` (simple-head QA, discriminator or encoder) as a Hugging Face ELECTRA folder.

    ``transformers.ElectraForQuestionAnswering.from_pretrained(folder)`` (or the matching class) reads it. Returns the
    folder.

    >>> import tempfile
    >>> from electra_qa import ElectraConfig, build_model, load_model
    >>> model = build_model(ElectraConfig(hidden_size=32, embedding_size=32, num_hidden_layers=1,
    ...                                   num_attention_heads=2, intermediate_size=64), "simple")
    >>> folder = export_huggingface(model, tempfile.mkdtemp())
    >>> sorted(os.listdir(folder))
    ['config.json', 'model.safetensors']
    >>> type(load_model(folder)).__name__
    'ElectraForQuestionAnswering'
    """
    head = getattr(model, "head", None)
    if not isinstance(head, Head):
        raise CheckpointError(f"cannot export a {type(model).__name__}: not an electra_qa ELECTRA model")
    if head.hf_architecture is None:
        raise CheckpointError(
            f"{head.title} has no Hugging Face counterpart; only simple-head (qa_outputs) "
            "models, discriminators and encoders can be exported"
        )
    variables, transposed = keyed_weights(model, PT_FORMAT)
    tensors = {}
    for key, var in variables.items():
        value = np.asarray(var.numpy() if hasattr(var, "numpy") else var, dtype=np.float32)
        if key in transposed:
            value = value.T
        if head.encoder_only:
            key = key[len("electra.") :]  # ElectraModel's state dict has no "electra." prefix
        tensors[key] = np.ascontiguousarray(value)
    folder = make_folder(folder)
    write_safetensors(os.path.join(folder, filenames.SAFETENSORS), tensors, metadata={"format": "pt"})
    config = {
        "architectures": [head.hf_architecture],
        "model_type": "electra",
        **model.config.to_dict(),
        "position_embedding_type": "absolute",
        "pad_token_id": 0,
    }
    with open(os.path.join(folder, filenames.CONFIG), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    return folder
