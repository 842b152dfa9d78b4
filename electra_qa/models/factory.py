"""The head vocabulary and the one place that maps a head to its model class.

A checkpoint holds one of four heads: "simple" (SQuAD ``qa_outputs``), "joint" (NVIDIA's beam-search head),
"discriminator" (ELECTRA's replaced-token head) or "encoder" (none). ``build_model`` makes the model for a head,
``head_of`` reads the head back from a model.
"""

from __future__ import annotations

import keras

from electra_qa.config import HEADS, QA_HEADS, ElectraConfig, Head
from electra_qa.errors import InputError
from electra_qa.models.discriminator import ElectraDiscriminator
from electra_qa.models.electra_model import ElectraModel
from electra_qa.models.qa_heads import AMP_END_MASK_VALUE
from electra_qa.models.question_answering import ElectraForQuestionAnswering

__all__ = ["Head", "HEADS", "QA_HEADS", "build_model", "head_of"]

# The names loaders give each model class (Keras names its weights' paths after them).
_NAMES = {ElectraForQuestionAnswering: "electra_qa", ElectraDiscriminator: "electra_discriminator",
          ElectraModel: "electra_model"}


def build_model(config: ElectraConfig, head: Head, *, version_2: bool = False, beam_size: int = 4,
                end_mask_value: float = AMP_END_MASK_VALUE, dtype=None) -> keras.Model:
    """The model for ``head``: ``ElectraForQuestionAnswering`` (simple, joint), ``ElectraDiscriminator`` or
    ``ElectraModel`` (encoder). ``version_2``, ``beam_size`` and ``end_mask_value`` apply to the joint head."""
    if head in QA_HEADS:
        return ElectraForQuestionAnswering(config, head=head, beam_size=beam_size, version_2=version_2,
                                           end_mask_value=end_mask_value, dtype=dtype,
                                           name=_NAMES[ElectraForQuestionAnswering])
    if head == "discriminator":
        return ElectraDiscriminator(config, dtype=dtype, name=_NAMES[ElectraDiscriminator])
    if head == "encoder":
        return ElectraModel(config, dtype=dtype, name=_NAMES[ElectraModel])
    raise InputError(f"head must be one of {HEADS}, got {head!r}")


def head_of(model) -> Head:
    """The head of an ELECTRA model built by this library."""
    if isinstance(model, ElectraForQuestionAnswering):
        return model.head_type
    if isinstance(model, ElectraDiscriminator):
        return "discriminator"
    if isinstance(model, ElectraModel):
        return "encoder"
    raise InputError(f"not an electra_qa ELECTRA model: {type(model).__name__}")
