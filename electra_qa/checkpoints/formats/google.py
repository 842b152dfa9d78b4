"""google-research/electra TF1 checkpoints (``model.ckpt-N.index``/``.data``): the canonical names themselves.

Adam slots (``/adam_m``, ``/adam_v``), the generator tower and step counters are set aside and never read.
"""

from __future__ import annotations

import re

from electra_qa.checkpoints.readers.tf_bundle import TensorBundle
from electra_qa.checkpoints.source import Format, Source

_IGNORED = re.compile(r"(^global_step$|/adam_[mv]$|^generator/|^generator_predictions/|^_CHECKPOINTABLE)")


def key(name: str) -> str:
    return name


FORMAT = Format("google", "google-research/electra TF1 checkpoint", key, False, "electra/")


def source(prefix: str, bundle: TensorBundle) -> Source:
    """The model weights of an opened TF1 bundle."""
    shapes, ignored = {}, []
    for stored in bundle.keys():
        if _IGNORED.search(stored) or bundle.entries[stored].dtype is None:
            ignored.append(stored)
        else:
            shapes[stored] = bundle.entries[stored].shape
    return Source(
        FORMAT,
        prefix,
        shapes,
        bundle.read,
        ignored,
        close=bundle.close,
        check_readable=bundle.check_readable,
        new_arrays=True,
    )
