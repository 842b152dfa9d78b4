"""electra_qa: extractive question answering with ELECTRA (Keras 3), exact to NVIDIA's NGC SQuAD reference.

The public names below are imported on first use, so ``import electra_qa`` (and the command line's start-up) does not
load Keras and its backend until a model is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from electra_qa.config import ElectraConfig
from electra_qa.errors import (
    CheckpointError,
    ChecksumError,
    ConfigError,
    DownloadError,
    ElectraQAError,
    InputError,
    RemoteModelError,
)

__version__ = "0.1.0"

_LAZY = {
    "answer": "electra_qa.pipeline",
    "ask": "electra_qa.pipeline",
    "DocumentIndex": "electra_qa.index",
    "Retriever": "electra_qa.documents",
    "Passage": "electra_qa.documents",
    "Calibration": "electra_qa.calibration",
    "QuestionAnswerer": "electra_qa.pipeline",
    "clear_cache": "electra_qa.pipeline",
    "set_cache_size": "electra_qa.pipeline",
    "answer_file": "electra_qa.bulk",
    "fine_tune": "electra_qa.training",
    "export_saved_model": "electra_qa.serving",
    "predict_squad": "electra_qa.squad",
    "calibrate": "electra_qa.squad",
    "evaluate_squad": "electra_qa.squad",
    "load_squad": "electra_qa.squad",
    "Answer": "electra_qa.postprocess",
    "load_tokenizer": "electra_qa.tokenization",
    "QASettings": "electra_qa.settings",
    "ElectraForQuestionAnswering": "electra_qa.models",
    "ElectraDiscriminator": "electra_qa.models",
    "ElectraModel": "electra_qa.models",
    "ElectraEncoder": "electra_qa.models",
    "build_model": "electra_qa.models",
    "load_model": "electra_qa.checkpoints",
    "inspect_checkpoint": "electra_qa.checkpoints",
    "save_model": "electra_qa.checkpoints",
    "export_huggingface": "electra_qa.checkpoints",
    "load_ngc_checkpoint": "electra_qa.checkpoints",
}

__all__ = [
    "answer",
    "ask",
    "DocumentIndex",
    "Retriever",
    "Passage",
    "Calibration",
    "answer_file",
    "fine_tune",
    "export_saved_model",
    "clear_cache",
    "set_cache_size",
    "QuestionAnswerer",
    "QASettings",
    "Answer",
    "predict_squad",
    "calibrate",
    "evaluate_squad",
    "load_squad",
    "load_tokenizer",
    "ElectraConfig",
    "ElectraForQuestionAnswering",
    "ElectraDiscriminator",
    "ElectraModel",
    "ElectraEncoder",
    "build_model",
    "load_model",
    "inspect_checkpoint",
    "save_model",
    "export_huggingface",
    "load_ngc_checkpoint",
    "ElectraQAError",
    "RemoteModelError",
    "CheckpointError",
    "ConfigError",
    "InputError",
    "DownloadError",
    "ChecksumError",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'electra_qa' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # for type checkers and IDEs
    from electra_qa.bulk import answer_file
    from electra_qa.calibration import Calibration
    from electra_qa.checkpoints import (
        export_huggingface,
        inspect_checkpoint,
        load_model,
        load_ngc_checkpoint,
        save_model,
    )
    from electra_qa.documents import Passage, Retriever
    from electra_qa.index import DocumentIndex
    from electra_qa.models import (
        ElectraDiscriminator,
        ElectraEncoder,
        ElectraForQuestionAnswering,
        ElectraModel,
        build_model,
    )
    from electra_qa.pipeline import QuestionAnswerer, answer, ask, clear_cache, set_cache_size
    from electra_qa.postprocess import Answer
    from electra_qa.serving import export_saved_model
    from electra_qa.settings import QASettings
    from electra_qa.squad import calibrate, evaluate_squad, load_squad, predict_squad
    from electra_qa.tokenization import load_tokenizer
    from electra_qa.training import fine_tune
