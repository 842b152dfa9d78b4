"""electra_qa: extractive question answering with ELECTRA (Keras 3), exact to NVIDIA's NGC SQuAD reference."""

from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError, ConfigError, ElectraQAError, InputError
from electra_qa.checkpoints import load_ngc_checkpoint
from electra_qa.models import ElectraDiscriminator, ElectraEncoder, ElectraForQuestionAnswering
from electra_qa.pipeline import QuestionAnswerer, answer, predict_squad
from electra_qa.postprocess import Answer
from electra_qa.tokenization import load_tokenizer

__version__ = "0.1.0"

__all__ = ["answer", "QuestionAnswerer", "Answer", "predict_squad", "load_tokenizer", "ElectraConfig", "ElectraForQuestionAnswering", "ElectraDiscriminator", "ElectraEncoder",
           "load_ngc_checkpoint", "ElectraQAError", "CheckpointError", "ConfigError", "InputError"]
