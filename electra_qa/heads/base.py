"""``Head``: everything about one kind of model head, in one class.

A head class owns what differs between heads: its saved name and options, the Keras task model class it goes in
(``model_class``), its Keras layer (``layer_class``, ``layer_config``), its checkpoint weight names, and, for the heads
that answer questions, its serving inputs, candidate spans, null score, training loss and per-token logits for
``qa.explain``. Everything else (windows, batching, scoring across spans, loading, saving) asks the head and never
compares head names.

This package imports no Keras: scoring, serving clients and runtimes without TensorFlow use the heads' decoding. The
task model (``electra_qa.models``) builds a head's layer from its Keras-registered name; the losses import Keras
when they are called.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from electra_qa.errors import InputError


@dataclasses.dataclass
class Candidate:
    """A span the model proposes: summed and separate start/end scores and its characters in the context."""

    score: float
    start_score: float
    end_score: float
    char_start: int
    char_end: int


def span_allowed(feature, s: int, e: int, max_answer_length: int) -> bool:
    """Whether tokens ``s``..``e`` of a window are an answer SQuAD's post-processing keeps: both in the window's
    context, the start in the window that gives it its most context, ``s <= e`` and at most ``max_answer_length``."""
    cs, n = feature.context_start, feature.window_length
    if not (cs <= s < cs + n and cs <= e < cs + n):
        return False
    if not feature.is_max_context[s - cs] or feature.p_mask[s] or feature.p_mask[e]:
        return False
    return s <= e and e - s + 1 <= max_answer_length


def allowed_spans(feature, starts: np.ndarray, ends: np.ndarray, max_answer_length: int) -> np.ndarray:
    """``span_allowed`` for every pair of ``starts`` x ``ends`` at once: a [len(starts), len(ends)] bool array."""
    cs, n = feature.context_start, feature.window_length
    s, e = np.asarray(starts)[:, None], np.asarray(ends)[None, :]
    in_context = (cs <= s) & (s < cs + n) & (cs <= e) & (e < cs + n)
    max_context = feature.is_max_context[np.clip(s - cs, 0, n - 1)] if n else np.zeros_like(s, bool)
    answerable = ~(np.asarray(feature.p_mask)[s].astype(bool) | np.asarray(feature.p_mask)[e].astype(bool))
    return in_context & max_context & answerable & (s <= e) & (e - s + 1 <= max_answer_length)


def make_candidate(feature, s: int, e: int, start_score: float, end_score: float) -> Candidate:
    cs = feature.context_start
    return Candidate(
        start_score + end_score,
        start_score,
        end_score,
        int(feature.char_spans[s - cs, 0]),
        int(feature.char_spans[e - cs, 1]),
    )


class Head:
    """One kind of head. Subclasses set the class attributes and override what applies to them.

    Instances are small immutable option holders (``JointHead(beam_size=4)``); two heads are equal when their
    class and options are.
    """

    name: ClassVar[str]  # the registry key and the name saved with a model
    title: ClassVar[str]  # what it is, for messages ("NVIDIA's joint beam-search head")
    answers_questions: ClassVar[bool] = True
    encoder_only: ClassVar[bool] = False  # builds the backbone alone (load_model(head="encoder"))
    model_class: ClassVar[str]  # the Keras task model's class name, saved in our folders' config.json
    hf_architecture: ClassVar[str | None] = None  # the Hugging Face architecture it exports as; None: no export
    per_token_logits: ClassVar[bool] = False  # outputs start/end logits for every token (the HF pipeline scoring)
    outputs: ClassVar[tuple[str, ...]] = ()  # the model outputs the head adds (besides sequence_output)
    option_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options):
        unknown = sorted(set(options) - set(self.option_defaults))
        if unknown:
            raise InputError(
                f"the {self.name} head takes no option {', '.join(unknown)}"
                + (f" (its options: {', '.join(self.option_defaults)})" if self.option_defaults else "")
            )
        self._options = {**self.option_defaults, **self.check_options(options)}

    def check_options(self, options: dict) -> dict:
        """``options`` validated (and normalised); subclasses with options override."""
        return options

    @property
    def options(self) -> dict[str, Any]:
        """What this head was built with, saved beside the weights (``from_saved`` reads it back)."""
        return dict(self._options)

    def with_load_options(self, **options) -> Head:
        """A copy with those of ``options`` that this head takes (a loader's ``beam_size=`` means nothing to a head
        without a beam); None values are ignored."""
        known = {k: v for k, v in options.items() if k in self.option_defaults and v is not None}
        return type(self)(**{**self._options, **known}) if known else self

    @classmethod
    def from_saved(cls, section: dict) -> Head:
        """The head described by a saved folder's ``electra_qa`` section."""
        return cls(**{k: section[k] for k in cls.option_defaults if k in section})

    @classmethod
    def detect(cls, has_key) -> Head | None:
        """This head, if ``has_key(canonical weight name)`` shows a checkpoint holds it; else None."""
        return None

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._options == self._options

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self._options.items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._options.items())
        return f"{type(self).__name__}({args})"

    def describe(self) -> str:
        """One line for a summary: the name and what matters about the options."""
        return self.name

    # -------------------------------------------------------------------------------------- the Keras side

    # The Keras layer of a question-answering head, by its Keras-registered name ("electra_qa>SimpleQAHead"): the
    # task model builds it (``layer_config`` gives its arguments), so this package needs no Keras to import.
    layer_class: ClassVar[str | None] = None

    def layer_config(self, config) -> dict:
        """The head layer's constructor arguments for a backbone of ``config``."""
        return {}

    def weight_slots(self, model) -> dict:
        """Canonical (google-research style) name -> (layer, attribute) of each weight the head adds to ``model``."""
        return {}

    # -------------------------------------------------------------------------------------- question answering

    @property
    def can_abstain(self) -> bool:
        """Whether the head has a null score that can say "no answer" (SQuAD 2.0)."""
        return False

    @property
    def abstains_by_default(self) -> bool:
        """Whether SQuAD 2.0 null answers are on by default (a head trained for them); else the user turns them on."""
        return False

    def serving_inputs(self) -> dict[str, tuple[str, str]]:
        """Input name -> (dtype, shape) of the head's serving signature."""
        return {name: ("int32", "[batch, seq]") for name in ("input_ids", "attention_mask", "token_type_ids")}

    def output_shapes(self, batch: int, seq: int) -> dict[str, tuple[int, ...]]:
        """Output name -> shape for ``batch`` windows of ``seq`` tokens (what a served model must return)."""
        raise NotImplementedError

    def candidates(self, feature, out: dict, n_best_size: int, max_answer_length: int) -> list[Candidate]:
        """The spans one window's outputs ``out`` propose (numpy arrays of one row)."""
        raise NotImplementedError

    def null_score(self, outputs: list[dict]) -> float:
        """The question's null score from its windows' outputs."""
        raise NotImplementedError

    def null_odds(self, null: float, candidates: list[Candidate]) -> float:
        """What the SQuAD 2.0 decision compares with ``null_score_diff_threshold``."""
        raise NotImplementedError

    def abstains(self, null: float, candidates: list[Candidate], threshold: float) -> bool:
        """The SQuAD 2.0 decision: True when the question should get the null answer."""
        return self.null_odds(null, candidates) > threshold

    def loss(self, outputs: dict, inputs: dict):
        """The training loss of a batch from the head's training outputs and the labels in ``inputs``."""
        raise NotImplementedError

    def token_logits(self, model, inputs: dict, outputs: dict) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of every token ([windows, seq]) for ``qa.explain``."""
        return np.asarray(outputs["start_logits"]), np.asarray(outputs["end_logits"])


def dense_slots(prefix: str, layer, bias: bool = True) -> dict:
    out = {f"{prefix}/kernel": (layer, "kernel")}
    if bias:
        out[f"{prefix}/bias"] = (layer, "bias")
    return out


def norm_slots(prefix: str, layer) -> dict:
    return {f"{prefix}/gamma": (layer, "gamma"), f"{prefix}/beta": (layer, "beta")}
