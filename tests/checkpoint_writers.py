"""Test and benchmark helpers (not part of the package): write checkpoints in NVIDIA's NGC key layout with
TensorFlow's own writer.

Needs TensorFlow (``tf.raw_ops.SaveV2``), which writes the same tensor-bundle format as the reference's
``model.save_weights``; our reader (``TensorBundle``) is independent of it.
"""

from __future__ import annotations

import os

import numpy as np

from electra_qa.checkpoints.formats.ngc import FORMAT, VALUE_SUFFIX
from electra_qa.checkpoints.slots import keyed_weights


def ngc_weights(model) -> dict[str, np.ndarray]:
    """A model's weights keyed by NGC checkpoint path (without the value suffix)."""
    return {
        key: np.asarray(var.numpy() if hasattr(var, "numpy") else var)
        for key, var in keyed_weights(model, FORMAT)[0].items()
    }


def write_tf_checkpoint(prefix: str, tensors: dict[str, np.ndarray], state_file: bool = True) -> str:
    """Write ``tensors`` (full key -> array) with TensorFlow's SaveV2; optionally the ``checkpoint`` state file."""
    import tensorflow as tf

    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors[n]) for n in names],
    )
    if state_file:
        folder = os.path.dirname(prefix)
        rel = os.path.basename(prefix)
        with open(os.path.join(folder, "checkpoint"), "w", encoding="utf-8") as f:
            f.write(f'model_checkpoint_path: "{rel}"\nall_model_checkpoint_paths: "{rel}"\n')
    return prefix


def write_ngc_checkpoint(
    prefix: str, weights: dict[str, np.ndarray], optimizer_slots: bool = True, state_file: bool = True
) -> str:
    """Write model weights (NGC paths) as the reference's ``save_weights`` does, with Adam slots and scalars."""
    tensors = {k + VALUE_SUFFIX: v for k, v in weights.items()}
    if optimizer_slots:
        for k, v in weights.items():
            for slot in ("m", "v"):
                tensors[f"{k}/.OPTIMIZER_SLOT/optimizer/base_optimizer/{slot}{VALUE_SUFFIX}"] = v
        for name, value in (
            ("base_optimizer/iter", np.int64(3)),
            ("base_optimizer/beta_1", np.float32(0.9)),
            ("base_optimizer/beta_2", np.float32(0.999)),
            ("base_optimizer/decay", np.float32(0)),
            ("loss_scale/current_loss_scale", np.float32(32768)),
            ("loss_scale/good_steps", np.int64(3)),
        ):
            tensors[f"optimizer/{name}{VALUE_SUFFIX}"] = np.asarray(value)
    tensors["_CHECKPOINTABLE_OBJECT_GRAPH"] = np.asarray(b"not a real object graph", dtype=object)
    return write_tf_checkpoint(prefix, tensors, state_file)
