"""Every checkpoint format, one module each, and ``open_weights``: a located checkpoint opened in its format.

| module           | format                                                   |
| ---------------- | -------------------------------------------------------- |
| ``ngc``          | NVIDIA NGC TF2 object checkpoints (naming, optimizer filter) |
| ``google``       | google-research/electra TF1 checkpoints                  |
| ``huggingface``  | ``model.safetensors`` and ``tf_model.h5``; export back   |
| ``keras_folder`` | folders this library writes: save, weights index, load   |
"""

from __future__ import annotations

from electra_qa.checkpoints.find import Located
from electra_qa.checkpoints.formats import google, huggingface, ngc
from electra_qa.checkpoints.readers.tf_bundle import TensorBundle
from electra_qa.checkpoints.source import Source


def open_tf_checkpoint(prefix: str) -> Source:
    """An NGC (object-based) or google-research (TF1 names) checkpoint, told apart by its keys."""
    bundle = TensorBundle(prefix)
    return (ngc if ngc.is_ngc(bundle) else google).source(prefix, bundle)


def open_weights(located: Located) -> Source:
    """The model weights of a checkpoint that is not an electra_qa folder (those carry their own index:
    ``keras_folder.load_keras_folder``)."""
    if located.kind == "tf":
        return open_tf_checkpoint(located.file)
    if located.kind == "safetensors":
        return huggingface.open_safetensors(located.file)
    if located.kind == "h5":
        return huggingface.open_h5(located.file)
    raise ValueError(f"internal error: no Source for a {located.kind!r} checkpoint")
