"""NVIDIA NGC ELECTRA SQuAD checkpoints (DeepLearningExamples TF2, ``model.save_weights`` object checkpoints).

Keys are attribute paths of the reference model, e.g. ``electra/encoder/layer/3/attention/self_attention/query/
kernel/.ATTRIBUTES/VARIABLE_VALUE`` (naming: ``layout.FORMATS["ngc"]``). The NGC file also holds Adam slots
(``.OPTIMIZER_SLOT``) and optimizer scalars; they are never read.
"""

from __future__ import annotations

import os

from electra_qa.checkpoints import loader
from electra_qa.checkpoints.layout import keyed_weights
from electra_qa.checkpoints.sources import NGC_VALUE_SUFFIX as VALUE_SUFFIX
from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError

__all__ = ["VALUE_SUFFIX", "load_ngc_checkpoint", "resolve_prefix", "variable_map"]


def resolve_prefix(path: str | os.PathLike) -> str:
    """Accept a checkpoint folder, its ``checkpoint`` state file, a prefix, or a ``.index``/``.data-*`` file."""
    path = os.fspath(path)
    if os.path.isdir(path) and loader._tf_prefix_in_folder(path) is None:
        raise CheckpointError(f"no TensorFlow checkpoint (.index file or 'checkpoint' state file) in {path!r}")
    kind, prefix = loader.locate(path)
    if kind != "tf":
        raise CheckpointError(f"{path!r} is not a TensorFlow checkpoint (found a {kind} file); use load_model")
    return prefix


def variable_map(model) -> dict:
    """NGC checkpoint key (without the ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix) -> variable of ``model``."""
    return keyed_weights(model, "ngc")[0]


def load_ngc_checkpoint(path: str | os.PathLike, config: ElectraConfig | dict | str | None = None,
                        beam_size: int = 4, amp: bool = True, dtype=None, precision: str | None = None):
    """Load NVIDIA's TF2 ELECTRA SQuAD checkpoint into a ready :class:`ElectraForQuestionAnswering`.

    Args:
        path: the checkpoint folder, its ``checkpoint`` state file, or the prefix (``.../name`` of ``name.index``).
        config: an ElectraConfig, a dict, or a config.json path. Default: a ``config.json`` beside the checkpoint,
            else sizes inferred from the tensor shapes (heads = hidden/64).
        beam_size: joint head start/end candidates (the NGC run used 4).
        amp: reproduce the reference's AMP end-logit mask constant (True for the NGC 20.07.0_amp checkpoint).
        dtype: Keras dtype policy for this model only (default: float32 variables and compute); or
            ``precision=`` ("auto", "mixed_float16", ...; see ``electra_qa.precision``).

    Only model variables are read, one tensor at a time; optimizer slots are skipped. Raises CheckpointError
    naming every missing, unexpected or mis-shaped key, and then no model is returned.
    """
    prefix = resolve_prefix(path)
    return loader.load_model(prefix, config=config, beam_size=beam_size, amp=amp, dtype=dtype, precision=precision,
                             expect=("ngc",),
                             require_qa=True)
