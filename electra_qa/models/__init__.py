"""Keras 3 ELECTRA layers and models (written with ``keras.ops``: TensorFlow, JAX and PyTorch backends)."""

from electra_qa.models.embeddings import ElectraEmbeddings
from electra_qa.models.transformer_layer import ElectraTransformerLayer
from electra_qa.models.encoder import ElectraEncoder
from electra_qa.models.qa_heads import JointQAHead, SimpleQAHead
from electra_qa.models.question_answering import ElectraForQuestionAnswering
from electra_qa.models.discriminator import ElectraDiscriminator
from electra_qa.models.electra_model import ElectraModel
from electra_qa.models.factory import HEADS, QA_HEADS, Head, build_model, head_of

__all__ = ["ElectraEmbeddings", "ElectraTransformerLayer", "ElectraEncoder", "JointQAHead", "SimpleQAHead",
           "ElectraForQuestionAnswering", "ElectraDiscriminator", "ElectraModel", "Head", "HEADS", "QA_HEADS",
           "build_model", "head_of"]
