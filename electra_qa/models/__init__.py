"""Keras 3 ELECTRA layers and models (written with ``keras.ops``: TensorFlow, JAX and PyTorch backends).

``ElectraBackbone`` is the encoder; the task models take it as their first argument: ``ElectraForQuestionAnswering``
(a question-answering head from ``electra_qa.heads``), ``ElectraDiscriminator`` and ``ElectraModel`` (none).
"""

from electra_qa.models.backbone import ElectraBackbone, ElectraEncoder
from electra_qa.models.discriminator import ElectraDiscriminator
from electra_qa.models.electra_model import ElectraModel
from electra_qa.models.embeddings import ElectraEmbeddings
from electra_qa.models.factory import build_model, head_of
from electra_qa.models.qa_heads import JointQAHead, SimpleQAHead
from electra_qa.models.question_answering import ElectraForQuestionAnswering
from electra_qa.models.transformer_layer import ElectraTransformerLayer

__all__ = [
    "ElectraEmbeddings",
    "ElectraTransformerLayer",
    "ElectraBackbone",
    "ElectraEncoder",
    "JointQAHead",
    "SimpleQAHead",
    "ElectraForQuestionAnswering",
    "ElectraDiscriminator",
    "ElectraModel",
    "build_model",
    "head_of",
]
