"""All scoring: from a question's window outputs to its answers.

``question_answers`` is the entry point: NVIDIA's/SQuAD's n-best spans pooled over windows (as the reference's
``get_answers``) with the SQuAD 2.0 null-answer decision, or the Hugging Face pipeline's scoring.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from electra_qa import display
from electra_qa.features import Feature
from electra_qa.heads import Candidate, Head
from electra_qa.settings import QASettings

NO_SPAN = "no span passed the filters (a window token start with its most context, end >= start, length limit)"
NULL_ANSWER = "the model's null score says the context holds no answer (SQuAD 2.0)"


@dataclasses.dataclass(frozen=True)
class Answer:
    """An answer span: ``text == context[start:end]`` of the string that was passed.

    ``score``: with the default SQuAD scoring, the probability of this span among the question's n-best spans (softmax
    over their summed start and end scores); with ``scoring="hf_pipeline"``, the Hugging Face pipeline's score
    (p_start * p_end within a window, added up over equal answers). An empty answer (``text == ""``,
    ``start == end == 0``) carries a ``reason``. ``start_logit``/``end_logit``: the span's start and end scores as
    NVIDIA's n-best file reports them (log-probabilities for the joint head, logits for the simple head; None with
    the Hugging Face scoring and for empty answers).
    """

    text: str
    start: int
    end: int
    score: float
    reason: str | None = None
    start_logit: float | None = None
    end_logit: float | None = None
    context: str | None = dataclasses.field(default=None, repr=False, compare=False)  # for display only

    @property
    def is_empty(self) -> bool:
        return self.reason is not None

    def __bool__(self) -> bool:
        """An empty answer is falsy: ``if answer:`` means "the model found a span"."""
        return not self.is_empty

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (what ``electra-qa answer --json`` prints); the context is left out."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "context"}

    def _repr_html_(self) -> str:
        """In a notebook: the answer highlighted in its context, trimmed around it, with its score."""
        return display.answer_html(self.text, self.start, self.end, self.score, self.reason, self.context)


class Answers(list):
    """The ``top_k`` answers to one question, best first: a plain list, shown as a table in a notebook."""

    def _repr_html_(self) -> str:
        rows = [
            [rank, a.text if not a.is_empty else f"(no answer: {a.reason})", f"{a.score:.4f}", a.start, a.end]
            for rank, a in enumerate(self, 1)
        ]
        return display.table_html(["rank", "answer", "score", "start", "end"], rows)


def best_answers(context: str, candidates: list[Candidate], n_best_size: int) -> list[Answer]:
    """Unique texts by descending score, at most ``n_best_size``, scored by softmax over the kept ones."""
    kept, seen = [], set()
    for c in sorted(candidates, key=lambda c: c.score, reverse=True):
        text = context[c.char_start : c.char_end]
        if text in seen:
            continue
        seen.add(text)
        kept.append(c)
        if len(kept) == n_best_size:
            break
    if not kept:
        return [Answer("", 0, 0, 0.0, NO_SPAN, context=context)]
    top = kept[0].score
    weights = [math.exp(c.score - top) for c in kept]
    total = sum(weights)
    return [
        Answer(
            context[c.char_start : c.char_end],
            c.char_start,
            c.char_end,
            w / total,
            start_logit=c.start_score,
            end_logit=c.end_score,
            context=context,
        )
        for c, w in zip(kept, weights)
    ]


@dataclasses.dataclass
class Scored:
    """One question's answers, best first, and (SQuAD 2.0 scoring) the quantity its null decision compares with
    ``null_score_diff_threshold``: the joint head's null score, or the simple head's null score minus its best
    span's (what ``evaluate-v2.0.py`` reads as the no-answer probability file)."""

    answers: list[Answer]
    null_odds: float | None = None
    windows: int = 0  # how many windows of the context the question was answered over


def question_answers(
    context: str, features: list[Feature], outputs: list[dict], head: Head, settings: QASettings, top_k: int
) -> Scored:
    """One question's answers, best first, from the model outputs of its windows; each answer knows its context.
    ``head`` (an ``electra_qa.heads.Head``) proposes the spans and the null score; the scoring here is the same for
    every head."""
    if settings.scoring == "hf_pipeline":
        return Scored(
            pipeline_answers(
                context,
                features,
                outputs,
                top_k,
                settings.max_answer_length,
                settings.align_to_words,
                settings.version_2_with_negative,
            ),
            windows=len(features),
        )
    candidates = []
    for feature, out in zip(features, outputs):
        candidates += head.candidates(feature, out, settings.n_best_size, settings.max_answer_length)
    answers = best_answers(context, candidates, settings.n_best_size)
    if not settings.version_2_with_negative:
        return Scored(answers, windows=len(features))
    null = head.null_score(outputs)
    if head.abstains(null, candidates, settings.null_score_diff_threshold):
        answers = [Answer("", 0, 0, 1.0, NULL_ANSWER, context=context)] + [a for a in answers if not a.is_empty]
    return Scored(answers, head.null_odds(null, candidates), len(features))


# ------------------------------------------------------------------------------ Hugging Face pipeline scoring


@dataclasses.dataclass
class PipelineSpan:
    score: float
    char_start: int
    char_end: int


def masked_softmax(logits: np.ndarray, allowed: np.ndarray, *, fill: float = -np.inf, dtype=np.float64) -> np.ndarray:
    """Softmax of ``logits`` over the ``allowed`` positions, the others set to ``fill`` first: -inf (probability 0,
    what ``qa.explain`` shows), or -10000 in float32 as the Hugging Face pipeline scores."""
    z = np.where(allowed, logits, fill).astype(dtype)
    z = np.exp(z - z.max())
    return z / z.sum()


def pipeline_spans(
    feature: Feature, out: dict, top_k: int, max_answer_length: int, align_to_words: bool
) -> tuple[list[PipelineSpan], float]:
    """One window scored as the Hugging Face question-answering pipeline does, and its null score.

    Start and end probabilities are softmaxes over the window (non-context tokens other than [CLS] set to -10000);
    a span scores p_start * p_end; spans end at or after their start and within ``max_answer_length`` tokens; the
    best ``top_k * 2 + 10`` (``top_k`` without word alignment) are kept. With ``align_to_words`` a span grows to
    the whole tokenizer words at its ends.
    """
    n = feature.length
    desired = feature.p_mask[:n] == 0
    start = masked_softmax(out["start_logits"][:n], desired, fill=-10000.0, dtype=np.float32)
    end = masked_softmax(out["end_logits"][:n], desired, fill=-10000.0, dtype=np.float32)
    null = float(start[0] * end[0])
    start[0] = end[0] = 0.0
    scores = np.tril(np.triu(np.outer(start, end)), max_answer_length - 1).ravel()
    pool = top_k * 2 + 10 if align_to_words else top_k
    if pool >= len(scores):
        best = np.argsort(-scores, kind="stable")
    else:
        best = np.argpartition(-scores, pool)[:pool]
        best = best[np.argsort(-scores[best], kind="stable")]
    spans = []
    cs = feature.context_start
    char_spans = feature.word_spans if align_to_words and feature.word_spans is not None else feature.char_spans
    for flat in best:
        s, e = divmod(int(flat), n)
        if not (desired[s] and desired[e]) or s < cs or e < cs:
            continue
        spans.append(PipelineSpan(float(scores[flat]), int(char_spans[s - cs, 0]), int(char_spans[e - cs, 1])))
    return spans, null


def pipeline_answers(
    context: str,
    features: list[Feature],
    outputs: list[dict],
    top_k: int,
    max_answer_length: int,
    align_to_words: bool = True,
    handle_impossible_answer: bool = False,
) -> list[Answer]:
    """Answers as the Hugging Face pipeline returns them: candidates of all windows, equal texts (ignoring case)
    merged by adding their scores, the null answer (smallest over windows) added when asked, best ``top_k`` first."""
    merged: list[PipelineSpan] = []
    by_text: dict[str, PipelineSpan] = {}
    null = math.inf
    for feature, out in zip(features, outputs):
        spans, window_null = pipeline_spans(feature, out, top_k, max_answer_length, align_to_words)
        null = min(null, window_null)
        for span in spans:
            key = context[span.char_start : span.char_end].lower()
            if key in by_text:
                by_text[key].score += span.score
            else:
                by_text[key] = span
                merged.append(span)
    answers = [
        Answer(context[s.char_start : s.char_end], s.char_start, s.char_end, s.score, context=context) for s in merged
    ]
    if handle_impossible_answer:
        answers.append(Answer("", 0, 0, null, NULL_ANSWER, context=context))
    answers.sort(key=lambda a: a.score, reverse=True)
    return answers[:top_k] or [Answer("", 0, 0, 0.0, NO_SPAN, context=context)]
