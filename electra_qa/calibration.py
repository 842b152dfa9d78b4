"""Answer scores that mean the same in every document: the probability that a span is a right answer, from the span's
own logits and its passage's null score alone.

``QuestionAnswerer``'s plain ``score`` is a softmax over the n-best spans of one context, so the best span of an
unrelated passage can score 0.99. ``Calibration`` instead maps a span's ``Evidence`` (its logit sum, its passage's
null score, its probability among its passage's spans, and how many of the question's words its passage and its
neighbourhood hold) through a logistic function: the result depends on the question, the passage and the model
only, never on what else was retrieved. The weights are fitted per model by logistic regression on SQuAD-style
questions (``electra_qa.calibrate``) and saved with the model; ``expected_calibration_error`` and
``reliability_table`` check the fit on held-out questions.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

from electra_qa.errors import InputError
from electra_qa.validate import finite_number

STOPWORDS = frozenset(
    "a an and are as at be by did do does for from how in is it its of on or that the their this to was were what"
    " when where which who whom whose why with".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
NEAR_CHARS = 150  # the span's neighbourhood for ``span_overlap``: this many characters either side
FEATURES = ("span", "margin", "local", "passage_overlap", "span_overlap")


def question_words(question: str) -> frozenset[str]:
    """The question's words, lower-cased, without the commonest English function words."""
    words = {w.lower() for w in _WORD.findall(question)}
    return frozenset(words - STOPWORDS or words)


def coverage(words: frozenset[str], text: str) -> float:
    """The share of ``words`` that occur in ``text`` (0 without words)."""
    if not words:
        return 0.0
    return len(words & {w.lower() for w in _WORD.findall(text)}) / len(words)


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What a span's score is computed from, all of it from the question, the span's own passage and the model:
    ``span_score`` (start + end logit), ``null_score`` (the passage's [CLS] logit sum; 0 for heads without one),
    ``local_log_probability`` (the span's log-probability among its passage's n-best spans), ``passage_overlap``
    and ``span_overlap`` (the share of the question's words in the passage, and within ``NEAR_CHARS`` of the span)."""

    span_score: float
    null_score: float
    local_log_probability: float
    passage_overlap: float
    span_overlap: float

    def vector(self) -> tuple[float, ...]:
        """The values of ``FEATURES``, in order."""
        s = self.span_score
        return (s, s - self.null_score, self.local_log_probability, self.passage_overlap, self.span_overlap)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """``p = sigmoid(bias + span * s + margin * (s - null) + local * log p_local + passage_overlap * o_passage +
    span_overlap * o_span)`` for a span's ``Evidence``. ``fitted_on``: what the weights were fitted on (None: the
    default)."""

    bias: float
    span: float = 0.0
    margin: float = 0.0
    local: float = 0.0
    passage_overlap: float = 0.0
    span_overlap: float = 0.0
    fitted_on: str | None = None

    def __post_init__(self):
        for name in ("bias", *FEATURES):
            finite_number(f"Calibration.{name}", getattr(self, name))

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(getattr(self, name) for name in FEATURES)

    def logit(self, evidence: Evidence) -> float:
        return self.bias + sum(w * x for w, x in zip(self.weights, evidence.vector()))

    def probability(self, evidence: Evidence) -> float:
        z = self.logit(evidence)
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data) -> Calibration:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or "bias" not in data or not set(data) <= names:
            raise InputError(f"a calibration is a dict of {sorted(names)}, got {data!r}")
        return cls(**data)


# Before a model is calibrated: ``calibrate`` of the MiniLM SQuAD model of ../shared/models on 155 questions of
# articles 30-33 of the SQuAD v1.1 dev data, each asked against every paragraph of both shared SQuAD files
# (benchmarks/open_domain.py; BENCHMARKS.md "Asking a collection"). Its scale suits models fine-tuned on SQuAD with
# a simple head; call ``electra_qa.calibrate`` for any other model.
DEFAULT = Calibration(bias=-6.42, span=0.153, margin=0.149, local=0.602, passage_overlap=3.095, span_overlap=1.486)


def fit(evidence, correct, *, l2: float = 1e-3, fitted_on: str | None = None) -> Calibration:
    """Logistic regression of ``correct`` (0/1) on the ``Evidence`` features (Newton's method, a small L2 term on
    the weights, which keeps the fit defined when features coincide, as span and margin do for heads without a
    null score)."""
    x = np.array([(1.0, *e.vector()) for e in evidence], np.float64).reshape(-1, 1 + len(FEATURES))
    y = np.asarray(correct, np.float64)
    if len(x) != len(y):
        raise InputError("evidence and correct must have the same length")
    if len(y) < 10 or y.min() == y.max():
        raise InputError(
            f"calibration needs at least 10 answers, right and wrong ones; got {len(y)} answers, {int(y.sum())} right"
        )
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2 * len(y)
    penalty[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -500, 500)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return Calibration(*map(float, w), fitted_on=fitted_on)


def reliability_table(probabilities, correct, bins: int = 10) -> list[dict]:
    """Per probability bin (equal width): how many answers, their mean score, and how many of them were right."""
    p = np.asarray(probabilities, np.float64)
    y = np.asarray(correct, np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        rows.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": int(mask.sum()),
                "mean_score": float(p[mask].mean()) if mask.any() else None,
                "accuracy": float(y[mask].mean()) if mask.any() else None,
            }
        )
    return rows


def expected_calibration_error(probabilities, correct, bins: int = 10) -> float:
    """The count-weighted mean gap between mean score and accuracy over the bins (0 is perfect)."""
    rows = reliability_table(probabilities, correct, bins)
    total = sum(r["count"] for r in rows)
    if not total:
        raise InputError("no answers to measure calibration on")
    return sum(r["count"] * abs(r["mean_score"] - r["accuracy"]) for r in rows if r["count"]) / total
