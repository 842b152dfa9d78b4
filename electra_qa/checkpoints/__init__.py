"""Checkpoint readers, loaders and writers for every supported ELECTRA format."""

from electra_qa.checkpoints.huggingface import export_huggingface
from electra_qa.checkpoints.keras_native import save_model
from electra_qa.checkpoints.loader import CheckpointInfo, inspect_checkpoint, load_model
from electra_qa.checkpoints.ngc import load_ngc_checkpoint
from electra_qa.checkpoints.tf_bundle import TensorBundle

__all__ = ["load_model", "inspect_checkpoint", "CheckpointInfo", "save_model", "export_huggingface",
           "load_ngc_checkpoint", "TensorBundle"]
