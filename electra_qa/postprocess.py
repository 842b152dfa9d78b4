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
        rows = [[rank, a.text if not a.is_empty else f"(no answer: {a.reason})", f"{a.score:.4f}", a.start, a.end]
                for rank, a in enumerate(self, 1)]
        return display.table_html(["rank", "answer", "score", "start", "end"], rows)


@dataclasses.dataclass
class Candidate:
    score: float
    start_score: float
    end_score: float
    char_start: int
    char_end: int


def _valid(feature: Feature, s: int, e: int, max_answer_length: int) -> bool:
    cs, n = feature.context_start, feature.window_length
    if not (cs <= s < cs + n and cs <= e < cs + n):
        return False
    if not feature.is_max_context[s - cs] or feature.p_mask[s] or feature.p_mask[e]:
        return False
    return s <= e and e - s + 1 <= max_answer_length


def _candidate(feature: Feature, s: int, e: int, start_score: float, end_score: float) -> Candidate:
    cs = feature.context_start
    return Candidate(start_score + end_score, start_score, end_score, int(feature.char_spans[s - cs, 0]),
                     int(feature.char_spans[e - cs, 1]))


def joint_candidates(feature: Feature, out: dict, max_answer_length: int) -> list[Candidate]:
    """Pairs of the joint head's start beam i and its end beam j (``end_top_*[i * k + j]``)."""
    starts, start_lp = out["start_top_index"], out["start_top_log_probs"]
    ends, end_lp = out["end_top_index"], out["end_top_log_probs"]
    k = len(starts)
    k_end = len(ends) // k
    result = []
    for i in range(k):
        for j in range(i * k_end, (i + 1) * k_end):
            s, e = int(starts[i]), int(ends[j])
            if _valid(feature, s, e, max_answer_length):
                result.append(_candidate(feature, s, e, float(start_lp[i]), float(end_lp[j])))
    return result


def simple_candidates(feature: Feature, out: dict, n_best_size: int, max_answer_length: int) -> list[Candidate]:
    """All pairs of the ``n_best_size`` best start and end logits of the sequence's real tokens."""
    n = feature.length
    start_logits, end_logits = out["start_logits"][:n], out["end_logits"][:n]
    best_starts = np.argsort(-start_logits, kind="stable")[:n_best_size]
    best_ends = np.argsort(-end_logits, kind="stable")[:n_best_size]
    return [_candidate(feature, int(s), int(e), float(start_logits[s]), float(end_logits[e]))
            for s in best_starts for e in best_ends if _valid(feature, int(s), int(e), max_answer_length)]


def null_score(features_out: list[dict], head: str) -> float:
    """The question's SQuAD 2.0 null score: smallest cls_logits (joint) or [CLS] start+end logit (simple)."""
    if head == "joint":
        return min(float(o["cls_logits"]) for o in features_out)
    return min(float(o["start_logits"][0] + o["end_logits"][0]) for o in features_out)


def best_answers(context: str, candidates: list[Candidate], n_best_size: int) -> list[Answer]:
    """Unique texts by descending score, at most ``n_best_size``, scored by softmax over the kept ones."""
    kept, seen = [], set()
    for c in sorted(candidates, key=lambda c: c.score, reverse=True):
        text = context[c.char_start:c.char_end]
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
    return [Answer(context[c.char_start:c.char_end], c.char_start, c.char_end, w / total,
                   start_logit=c.start_score, end_logit=c.end_score, context=context) for c, w in zip(kept, weights)]


def null_odds(null: float, candidates: list[Candidate], head: str) -> float:
    """What the SQuAD 2.0 decision compares with the threshold: the joint head's answer-class score ``null``, or
    for the simple head ``null`` minus the best span's summed start and end logits (inf when no span survives)."""
    if head == "joint":
        return null
    return null - max((c.score for c in candidates), default=-np.inf)


def null_answer_wins(null: float, candidates: list[Candidate], answers: list[Answer], head: str,
                     threshold: float) -> bool:
    """The SQuAD 2.0 decision, as the reference makes it: the joint head abstains when its answer-class score
    ``null`` exceeds ``threshold``; the simple head when no span survives or ``null`` beats the best span's summed
    start and end logits by more than ``threshold``."""
    return (head != "joint" and answers[0].is_empty) or null_odds(null, candidates, head) > threshold


@dataclasses.dataclass
class Scored:
    """One question's answers, best first, and (SQuAD 2.0 scoring) the quantity its null decision compares with
    ``null_score_diff_threshold``: the joint head's null score, or the simple head's null score minus its best
    span's (what ``evaluate-v2.0.py`` reads as the no-answer probability file)."""

    answers: list[Answer]
    null_odds: float | None = None
    windows: int = 0              # how many windows of the context the question was answered over


def question_answers(context: str, features: list[Feature], outputs: list[dict], head: str, settings: QASettings,
                     top_k: int) -> Scored:
    """One question's answers, best first, from the model outputs of its windows; each answer knows its context."""
    if settings.scoring == "hf_pipeline":
        return Scored(pipeline_answers(context, features, outputs, top_k, settings.max_answer_length,
                                       settings.align_to_words, settings.version_2_with_negative),
                      windows=len(features))
    candidates = []
    for feature, out in zip(features, outputs):
        if head == "joint":
            candidates += joint_candidates(feature, out, settings.max_answer_length)
        else:
            candidates += simple_candidates(feature, out, settings.n_best_size, settings.max_answer_length)
    answers = best_answers(context, candidates, settings.n_best_size)
    if not settings.version_2_with_negative:
        return Scored(answers, windows=len(features))
    null = null_score(outputs, head)
    if null_answer_wins(null, candidates, answers, head, settings.null_score_diff_threshold):
        answers = [Answer("", 0, 0, 1.0, NULL_ANSWER, context=context)] + [a for a in answers if not a.is_empty]
    return Scored(answers, null_odds(null, candidates, head), len(features))


# ------------------------------------------------------------------------------ Hugging Face pipeline scoring


@dataclasses.dataclass
class PipelineSpan:
    score: float
    char_start: int
    char_end: int


def _window_probabilities(logits: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """float32 softmax over a window, tokens that cannot be answers set to -10000 first (as the pipeline does)."""
    z = np.where(desired, logits, -10000.0).astype(np.float32)
    z = np.exp(z - z.max())
    return z / z.sum()


def pipeline_spans(feature: Feature, out: dict, top_k: int, max_answer_length: int,
                   align_to_words: bool) -> tuple[list[PipelineSpan], float]:
    """One window scored as the Hugging Face question-answering pipeline does, and its null score.

    Start and end probabilities are softmaxes over the window (non-context tokens other than [CLS] set to -10000);
    a span scores p_start * p_end; spans end at or after their start and within ``max_answer_length`` tokens; the
    best ``top_k * 2 + 10`` (``top_k`` without word alignment) are kept. With ``align_to_words`` a span grows to
    the whole tokenizer words at its ends.
    """
    n = feature.length
    desired = feature.p_mask[:n] == 0
    start = _window_probabilities(out["start_logits"][:n], desired)
    end = _window_probabilities(out["end_logits"][:n], desired)
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


def pipeline_answers(context: str, features: list[Feature], outputs: list[dict], top_k: int, max_answer_length: int,
                     align_to_words: bool = True, handle_impossible_answer: bool = False) -> list[Answer]:
    """Answers as the Hugging Face pipeline returns them: candidates of all windows, equal texts (ignoring case)
    merged by adding their scores, the null answer (smallest over windows) added when asked, best ``top_k`` first."""
    merged: list[PipelineSpan] = []
    by_text: dict[str, PipelineSpan] = {}
    null = math.inf
    for feature, out in zip(features, outputs):
        spans, window_null = pipeline_spans(feature, out, top_k, max_answer_length, align_to_words)
        null = min(null, window_null)
        for span in spans:
            key = context[span.char_start:span.char_end].lower()
            if key in by_text:
                by_text[key].score += span.score
            else:
                by_text[key] = span
                merged.append(span)
    answers = [Answer(context[s.char_start:s.char_end], s.char_start, s.char_end, s.score, context=context)
               for s in merged]
    if handle_impossible_answer:
        answers.append(Answer("", 0, 0, null, NULL_ANSWER, context=context))
    answers.sort(key=lambda a: a.score, reverse=True)
    return answers[:top_k] or [Answer("", 0, 0, 0.0, NO_SPAN, context=context)]
