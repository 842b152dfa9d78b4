"""Open a checkpoint file of any supported format as a ``Source``: stored keys and shapes, and a tensor reader.

Formats: NVIDIA NGC and google-research TF checkpoints (``.index`` + ``.data``), Hugging Face ``model.safetensors``
(PyTorch layout) and ``tf_model.h5`` (TF2 layout). Keys are normalised so that one naming table per format
(``layout.FORMATS``) fits every model class of that family: a bare ``ElectraModel``/``BertModel`` checkpoint gets the
``electra`` prefix that ``ElectraForQuestionAnswering`` files carry. Keys that are not model weights (optimizer
state, generator tower, pooler, step counters) are set aside as ``ignored`` and never read.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

import numpy as np

from electra_qa.checkpoints.tf_bundle import TensorBundle
from electra_qa.errors import CheckpointError

NGC_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


@dataclasses.dataclass
class Source:
    """The model-weight tensors of one checkpoint, in one format's naming (see ``layout.FORMATS``)."""

    format: str
    path: str                                   # the weights file (or TF checkpoint prefix)
    shapes: dict[str, tuple[int, ...]]          # key -> stored shape, model weights only
    read: Callable[[str], np.ndarray]
    ignored: list[str]                          # stored keys that are not model weights (never read)
    close: Callable[[], None] = lambda: None
    check_readable: Callable[[list[str]], None] = lambda keys: None  # fail early on missing/truncated data


# ------------------------------------------------------------------------------------------ TF checkpoints


_GOOGLE_IGNORED = re.compile(r"(^global_step$|/adam_[mv]$|^generator/|^generator_predictions/|^_CHECKPOINTABLE)")


def open_tf_checkpoint(prefix: str) -> Source:
    """NGC (object-based, ``.../.ATTRIBUTES/VARIABLE_VALUE``) or google-research (TF1 variable names) checkpoint."""
    bundle = TensorBundle(prefix)
    keys = bundle.keys()
    if any(k.endswith(NGC_VALUE_SUFFIX) for k in keys):
        shapes, ignored = {}, []
        for key in keys:
            path = key[:-len(NGC_VALUE_SUFFIX)] if key.endswith(NGC_VALUE_SUFFIX) else None
            if path is None or ".OPTIMIZER_SLOT" in key or path.startswith("optimizer/") or path == "save_counter":
                ignored.append(key)
            else:
                shapes[path] = bundle.entries[key].shape
        return Source("ngc", prefix, shapes, lambda k: bundle.read(k + NGC_VALUE_SUFFIX), ignored, close=bundle.close,
                      check_readable=lambda ks: bundle.check_readable([k + NGC_VALUE_SUFFIX for k in ks]))
    shapes, ignored = {}, []
    for key in keys:
        if _GOOGLE_IGNORED.search(key) or bundle.entries[key].dtype is None:
            ignored.append(key)
        else:
            shapes[key] = bundle.entries[key].shape
    return Source("google", prefix, shapes, bundle.read, ignored, close=bundle.close,
                  check_readable=bundle.check_readable)


# ------------------------------------------------------------------------------------------ Hugging Face


_HF_PT_IGNORED = re.compile(r"(^electra\.embeddings\.position_ids$|^electra\.pooler\.|^cls\.|^generator|"
                            r"^electra\.embeddings\.token_type_ids$)")


def _normalise_hf_pt(key: str) -> str:
    if key.startswith("bert."):
        key = "electra." + key[len("bert."):]
    elif key.startswith(("embeddings.", "encoder.", "embeddings_project.", "pooler.")):
        key = "electra." + key
    return key


def open_safetensors(file: str) -> Source:
    from electra_qa.checkpoints.safetensors_file import SafetensorsFile

    f = SafetensorsFile(file)
    shapes, ignored, stored_key = {}, [], {}
    for key in f.keys():
        name = _normalise_hf_pt(key)
        if _HF_PT_IGNORED.search(name):
            ignored.append(key)
            continue
        stored_key[name] = key
        shapes[name] = f.shape(key)
    return Source("hf_pt", file, shapes, lambda name: f.read(stored_key[name]), ignored, close=f.close)


_HF_TF_IGNORED = re.compile(r"(^electra/pooler/|^generator|^mlm___cls/|^nsp___cls/|^cls/)")


def open_hf_h5(file: str) -> Source:
    """A Keras-2 HDF5 weights file as written by transformers' TF classes (``tf_model.h5``)."""
    import h5py

    try:
        f = h5py.File(file, "r")
    except OSError as e:
        raise CheckpointError(f"cannot read {file!r} as HDF5: {e}") from None
    if "layer_names" not in f.attrs:
        f.close()
        raise CheckpointError(f"{file!r} is not a Keras-2 weights file (no 'layer_names' attribute); a Keras 3 "
                              "'.weights.h5' belongs in a folder saved by QuestionAnswerer.save")
    shapes, ignored, dataset = {}, [], {}
    for layer in f.attrs["layer_names"]:
        layer = layer.decode() if isinstance(layer, bytes) else str(layer)
        group = f[layer]
        for weight in group.attrs.get("weight_names", []):
            weight = weight.decode() if isinstance(weight, bytes) else str(weight)
            name = weight.split("/", 1)[1] if "/" in weight else weight  # drop the model-name component
            if name.startswith("bert/"):
                name = "electra/" + name[len("bert/"):]
            if _HF_TF_IGNORED.search(name):
                ignored.append(weight)
                continue
            dataset[name] = group[weight]
            shapes[name] = tuple(group[weight].shape)
    return Source("hf_tf", file, shapes, lambda k: dataset[k][()], ignored, close=f.close)


# ------------------------------------------------------------------------------------------ electra_qa folders


def open_keras_weights(file: str, index: dict[str, str]) -> Source:
    """A Keras 3 ``.weights.h5`` written by ``save_model``, keyed by canonical weight name through ``index``
    (canonical name -> dataset path, stored in the folder's config.json). Contiguous datasets are read as views of
    the memory-mapped file."""
    import h5py

    try:
        f = h5py.File(file, "r")
    except OSError as e:
        raise CheckpointError(f"cannot read {file!r} as HDF5: {e}") from None
    try:
        stored = []
        f.visititems(lambda path, obj: stored.append(path) if isinstance(obj, h5py.Dataset) else None)
        lacking = sorted(set(index.values()) - set(stored))
        extra = sorted(set(stored) - set(index.values()))
        if lacking or extra:
            raise CheckpointError(f"{file!r} does not match the weights index in its config.json (datasets "
                                  f"missing: {lacking[:5]}, not indexed: {extra[:5]}); the folder's files do not "
                                  "belong together")
        datasets = {name: f[path] for name, path in index.items()}
        shapes = {name: tuple(d.shape) for name, d in datasets.items()}
        mapped = np.memmap(file, dtype=np.uint8, mode="r")
    except BaseException:
        f.close()
        raise

    def read(name: str) -> np.ndarray:
        d = datasets[name]
        offset = d.id.get_offset()
        if offset is None or d.chunks is not None or d.compression is not None or d.dtype.kind not in "fiub":
            return d[()]
        return mapped[offset:offset + d.dtype.itemsize * d.size].view(d.dtype).reshape(d.shape)

    return Source("keras", file, shapes, read, [], close=f.close)
