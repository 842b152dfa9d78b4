"""Checkpoint readers, loaders and writers for every supported ELECTRA format.

- ``loader``: the public surface (``load_model``, ``inspect_checkpoint``, ``load_ngc_checkpoint``).
- ``find``: which checkpoint a path names (``locate``), decided once.
- ``formats/``: one module per format (naming, what is skipped, opening; saving and export where they exist).
- ``readers/``: file readers with no format knowledge (TensorFlow tensor bundles, safetensors).
- ``slots``: the one walk over a model's weights; ``build``: strict loading into a new model; ``prefetch``: reading
  the arrays ahead of the build.
"""

from electra_qa.checkpoints.find import Located, locate
from electra_qa.checkpoints.formats.huggingface import export_huggingface
from electra_qa.checkpoints.formats.keras_folder import save_model
from electra_qa.checkpoints.info import CheckpointInfo
from electra_qa.checkpoints.loader import inspect_checkpoint, load_model, load_ngc_checkpoint
from electra_qa.checkpoints.readers.tf_bundle import TensorBundle

__all__ = [
    "load_model",
    "inspect_checkpoint",
    "CheckpointInfo",
    "save_model",
    "export_huggingface",
    "load_ngc_checkpoint",
    "TensorBundle",
    "Located",
    "locate",
]
