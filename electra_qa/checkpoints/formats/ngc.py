"""NVIDIA NGC ELECTRA SQuAD checkpoints (DeepLearningExamples TF2, ``model.save_weights`` object checkpoints).

Keys are attribute paths of the reference model plus a value suffix, e.g. ``electra/encoder/layer/3/attention/
self_attention/query/kernel/.ATTRIBUTES/VARIABLE_VALUE``. The NGC file also holds Adam slots (``.OPTIMIZER_SLOT``)
and optimizer scalars; they are set aside and never read. The files are TensorFlow tensor bundles
(``readers.tf_bundle``); ``find.locate`` finds the prefix.
"""

from __future__ import annotations

import re

from electra_qa.checkpoints.readers.tf_bundle import TensorBundle
from electra_qa.checkpoints.source import Format, Source

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"

# google-research layer part -> the reference's attribute path inside ``electra/encoder/layer/{i}/``.
_LAYER = {
    "attention/self/": "attention/self_attention/",
    "attention/output/": "attention/dense_output/",
    "output/": "bert_output/",
}


def key(name: str) -> str:
    """Canonical weight name -> NGC object path (without ``VALUE_SUFFIX``)."""
    if name == "electra/embeddings/word_embeddings":
        return "electra/embeddings/weight"
    if name.endswith("_embeddings"):
        return name + "/embeddings"
    match = re.match(r"electra/encoder/layer_(\d+)/(.*)", name)
    if match:
        rest = match.group(2)
        for old, new in _LAYER.items():
            if rest.startswith(old):
                rest = new + rest[len(old) :]
                break
        return f"electra/encoder/layer/{match.group(1)}/{rest}"
    return name


FORMAT = Format("ngc", "NVIDIA NGC TF2 checkpoint (DeepLearningExamples)", key, False, "electra/")


def _is_model_weight(stored_key: str) -> bool:
    if not stored_key.endswith(VALUE_SUFFIX) or ".OPTIMIZER_SLOT" in stored_key:
        return False
    path = stored_key[: -len(VALUE_SUFFIX)]
    return not (path.startswith("optimizer/") or path == "save_counter")


def is_ngc(bundle: TensorBundle) -> bool:
    """An object-based checkpoint (keys end with the value suffix), as NVIDIA's TF2 code writes."""
    return any(k.endswith(VALUE_SUFFIX) for k in bundle.keys())


def source(prefix: str, bundle: TensorBundle) -> Source:
    """The model weights of an opened NGC bundle, keyed by object path without the value suffix."""
    shapes, ignored = {}, []
    for stored in bundle.keys():
        if _is_model_weight(stored):
            shapes[stored[: -len(VALUE_SUFFIX)]] = bundle.entries[stored].shape
        else:
            ignored.append(stored)
    return Source(
        FORMAT,
        prefix,
        shapes,
        lambda k: bundle.read(k + VALUE_SUFFIX),
        ignored,
        close=bundle.close,
        check_readable=lambda ks: bundle.check_readable([k + VALUE_SUFFIX for k in ks]),
        new_arrays=True,
    )
