"""From model outputs to answers: n-best spans per window, pooled per question, as NVIDIA's ``get_answers`` does."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from electra_qa.features import Feature

NO_SPAN = "no span passed the filters (a window token start with its most context, end >= start, length limit)"
NULL_ANSWER = "the model's null score says the context holds no answer (SQuAD 2.0)"


@dataclasses.dataclass(frozen=True)
class Answer:
    """An answer span: ``text == context[start:end]`` of the string that was passed.

    ``score`` is the probability of this span among the question's n-best spans (softmax over their summed start and
    end scores). An empty answer (``text == ""``, ``start == end == 0``) carries a ``reason``.
    """

    text: str
    start: int
    end: int
    score: float
    reason: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.reason is not None


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
    if not feature.is_max_context[s - cs]:
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
        return [Answer("", 0, 0, 0.0, NO_SPAN)]
    top = kept[0].score
    weights = [math.exp(c.score - top) for c in kept]
    total = sum(weights)
    return [Answer(context[c.char_start:c.char_end], c.char_start, c.char_end, w / total)
            for c, w in zip(kept, weights)]
