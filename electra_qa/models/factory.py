"""``build_model``: the task model for a head, on a new backbone built from a config (``task_model`` on a given
backbone); ``head_of``: a model's head name. The head names its task model class (``Head.model_class``)."""

from __future__ import annotations

import keras

from electra_qa.config import ElectraConfig
from electra_qa.errors import InputError
from electra_qa.heads import Head, as_head
from electra_qa.models.backbone import ElectraBackbone
from electra_qa.models.discriminator import ElectraDiscriminator
from electra_qa.models.electra_model import ElectraModel
from electra_qa.models.question_answering import ElectraForQuestionAnswering

__all__ = ["build_model", "task_model", "head_of"]

TASK_MODELS = {cls.__name__: cls for cls in (ElectraForQuestionAnswering, ElectraDiscriminator, ElectraModel)}


def task_model(backbone: ElectraBackbone, head: Head, *, dtype=None) -> keras.Model:
    """The task model of ``head`` (its ``model_class``) on ``backbone`` (shared, not copied)."""
    cls = TASK_MODELS.get(head.model_class)
    if cls is None:
        raise InputError(f"{head.title} names the model class {head.model_class!r}; known: {tuple(TASK_MODELS)}")
    if head.answers_questions:
        return cls(backbone, head, dtype=dtype)
    return cls(backbone, dtype=dtype)


def build_model(config: ElectraConfig, head: str | Head, *, dtype=None, **options) -> keras.Model:
    """The model for ``head`` (a ``Head`` or a registered name; ``options`` such as ``beam_size``, ``version_2``,
    ``end_mask_value`` go to a named head) on a new ``ElectraBackbone`` of ``config``."""
    head = as_head(head, **options)
    policy = keras.dtype_policies.get(dtype) if dtype is not None else None
    backbone = ElectraBackbone(config, name="electra", dtype=policy)
    return task_model(backbone, head, dtype=policy)


def head_of(model) -> str:
    """The name of the head of an ELECTRA model built by this library."""
    head = getattr(model, "head", None)
    if not isinstance(head, Head):
        raise InputError(f"not an electra_qa ELECTRA model: {type(model).__name__}")
    return head.name
