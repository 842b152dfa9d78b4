"""electra_qa: extractive question answering with ELECTRA (Keras 3), exact to NVIDIA's NGC SQuAD reference."""

from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError, ConfigError, ElectraQAError, InputError
from electra_qa.checkpoints import (export_huggingface, inspect_checkpoint, load_model, load_ngc_checkpoint,
                                      save_model)
from electra_qa.models import ElectraDiscriminator, ElectraEncoder, ElectraForQuestionAnswering, ElectraModel
from electra_qa.pipeline import QuestionAnswerer, answer, predict_squad
from electra_qa.postprocess import Answer
from electra_qa.tokenization import load_tokenizer

__version__ = "0.1.0"

__all__ = ["answer", "QuestionAnswerer", "Answer", "predict_squad", "load_tokenizer", "ElectraConfig",
           "ElectraForQuestionAnswering", "ElectraDiscriminator", "ElectraModel", "ElectraEncoder", "load_model",
           "inspect_checkpoint", "save_model", "export_huggingface", "load_ngc_checkpoint", "ElectraQAError",
           "CheckpointError", "ConfigError", "InputError"]
