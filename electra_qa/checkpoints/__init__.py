"""Checkpoint readers and loaders."""

from electra_qa.checkpoints.ngc import load_ngc_checkpoint
from electra_qa.checkpoints.tf_bundle import TensorBundle

__all__ = ["load_ngc_checkpoint", "TensorBundle"]
