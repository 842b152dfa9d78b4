"""``QASettings``: how a ``QuestionAnswerer`` windows, scores and batches, validated in one place and saved with it."""

from __future__ import annotations

import dataclasses
import math
import numbers

from electra_qa.errors import InputError
from electra_qa.validate import non_negative_int, positive_int, strict_bool

SCORINGS = ("squad", "hf_pipeline")
DEFAULT_MAX_SEQ_LENGTH = 384  # the reference's window, or the model's max_position_embeddings when smaller
CHUNK_SIZE = 256  # paragraphs (predict_squad) or rows (answer_file, electra-qa batch) tokenized and answered together
TOP_K = 5  # answers QuestionAnswerer.ask returns
RETRIEVE_K = 20  # passages it reads per question
_POSITIVE = ("doc_stride", "max_query_length", "n_best_size", "max_answer_length", "batch_size")


@dataclasses.dataclass(frozen=True)
class QASettings:
    """Windowing, scoring and batching of a ``QuestionAnswerer`` (see its docstring for each field).

    ``None`` for ``max_seq_length`` and ``version_2_with_negative`` means "from the model" (``for_model``). A
    ``max_query_length`` that could leave no room for context (``max_query_length + 4 > max_seq_length``, e.g. the
    default 64 on a 64-position model) is cut to ``(max_seq_length - 3) // 2`` when the settings meet the model.

    >>> QASettings(n_best_size=5).n_best_size
    5
    >>> QASettings(doc_stride=0)
    Traceback (most recent call last):
    ...
    electra_qa.errors.InputError: doc_stride must be a positive integer, got 0
    """

    max_seq_length: int | None = None
    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    version_2_with_negative: bool | None = None
    null_score_diff_threshold: float = 0.0
    batch_size: int = 32
    scoring: str = "squad"
    align_to_words: bool = True
    doc_overlap: int | None = None

    def __post_init__(self):
        if self.scoring not in SCORINGS:
            raise InputError(f"scoring must be one of {SCORINGS}, got {self.scoring!r}")
        fixed = {name: positive_int(name, getattr(self, name)) for name in _POSITIVE}
        if self.max_seq_length is not None:
            fixed["max_seq_length"] = positive_int("max_seq_length", self.max_seq_length)
        if self.doc_overlap is not None:
            fixed["doc_overlap"] = non_negative_int("doc_overlap", self.doc_overlap)
        threshold = self.null_score_diff_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or math.isnan(threshold):
            raise InputError(f"null_score_diff_threshold must be a number, got {threshold!r}")
        fixed["null_score_diff_threshold"] = float(threshold)
        fixed["align_to_words"] = strict_bool("align_to_words", self.align_to_words)
        if self.version_2_with_negative is not None:
            fixed["version_2_with_negative"] = strict_bool("version_2_with_negative", self.version_2_with_negative)
        for name, value in fixed.items():
            object.__setattr__(self, name, value)

    def replace(self, **changes) -> QASettings:
        """A copy with ``changes`` (validated); unknown names are an InputError."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise InputError(f"unknown question-answering settings: {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def for_model(self, model, tokenizer) -> QASettings:
        """These settings checked against ``model`` and ``tokenizer``, with the model's defaults filled in."""
        config = model.config
        head = model.head
        if self.scoring == "hf_pipeline" and not head.per_token_logits:
            raise InputError(
                f"scoring='hf_pipeline' needs a head with per-token start and end logits (simple, "
                f"qa_outputs); the {head.name} head gives {', '.join(head.outputs)}"
            )
        max_seq_length = self.max_seq_length or min(DEFAULT_MAX_SEQ_LENGTH, config.max_position_embeddings)
        if max_seq_length > config.max_position_embeddings:
            raise InputError(
                f"max_seq_length {max_seq_length} exceeds the model's max_position_embeddings "
                f"{config.max_position_embeddings}"
            )
        if tokenizer.max_id >= config.vocab_size:
            raise InputError(
                f"the vocabulary does not fit the checkpoint: it has ids up to {tokenizer.max_id}, but "
                f"the model's embedding table has {config.vocab_size} rows (the NGC ELECTRA-base model "
                "uses the 30522-line BERT-uncased vocab.txt)"
            )
        if max_seq_length < 8:
            raise InputError(f"max_seq_length {max_seq_length} is too short for a question and a context window")
        max_query_length = self.max_query_length
        if max_query_length + 4 > max_seq_length:
            # A question of max_query_length pieces would leave no room for context: the query budget is cut (the
            # reference's truncation to max_query_length pieces, with a budget that fits), decided here, once.
            max_query_length = (max_seq_length - 3) // 2
        version_2 = self.version_2_with_negative
        if version_2 is None:
            version_2 = head.abstains_by_default
        elif version_2 and not head.can_abstain:
            raise InputError(
                f"version_2_with_negative=True needs a model that can abstain: this model's head "
                f"({head.describe()}) has no null score, so it would answer every question or none. Use "
                "a SQuAD 2.0 checkpoint (joint head with answer_class) or a simple-head model"
            )
        return dataclasses.replace(
            self, max_seq_length=max_seq_length, max_query_length=max_query_length, version_2_with_negative=version_2
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> QASettings:
        """Settings as ``to_dict`` wrote them (saved in a folder's config.json); unknown names are an InputError."""
        if not isinstance(data, dict):
            raise InputError(f"question-answering settings must be a dict, got {type(data).__name__}")
        return cls().replace(**data)
