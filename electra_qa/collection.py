"""Asking a collection: retrieve passages, read them all with the model, rank the answers across documents.

``ask_many`` is the one implementation (``QuestionAnswerer.ask``, ``electra_qa.ask``, the CLI and the Ray actors
call it): every window of every retrieved passage of every question goes through the model together; each span is
scored by the model's ``Calibration`` from its own passage alone; spans of one document that overlap (from
overlapping windows or passages) are merged; answers point into the original document.
"""

from __future__ import annotations

import dataclasses
import html
import math
import os

from electra_qa import display
from electra_qa.calibration import NEAR_CHARS, Calibration, Evidence, coverage, question_words
from electra_qa.documents import Passage, Retriever
from electra_qa.errors import InputError
from electra_qa.postprocess import best_answers
from electra_qa.settings import RETRIEVE_K, TOP_K
from electra_qa.validate import check_text, positive_int


@dataclasses.dataclass
class CollectionAnswer:
    """An answer found in a collection. ``document_text[start:end] == text`` for the document ``doc_id``;
    ``score``: the calibrated probability that it is right (the same whatever else was retrieved);
    ``retrieval_score``: its passage's (BM25 for ``DocumentIndex``); ``passage``: where it was read."""

    text: str
    doc_id: str
    start: int
    end: int
    score: float
    retrieval_score: float
    passage: Passage
    metadata: dict
    evidence: Evidence  # what the score is computed from (electra_qa.calibration)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "doc_id": self.doc_id,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "retrieval_score": self.retrieval_score,
            "passage": {"number": self.passage.number, "start": self.passage.start, "text": self.passage.text},
            "metadata": self.metadata,
        }


class AskResult(list):
    """The answers to one question, best first (a list of ``CollectionAnswer``), with ``no_answer_score``: the
    probability that none of them is right (1 - the best score, or 1 with no answer). A table in a notebook."""

    def __init__(self, answers, question: str, no_answer_score: float, passages: int):
        super().__init__(answers)
        self.question, self.no_answer_score, self.passages = question, no_answer_score, passages

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answers": [a.to_dict() for a in self],
            "no_answer_score": self.no_answer_score,
            "passages": self.passages,
        }

    def _repr_html_(self) -> str:
        rows = []
        for rank, a in enumerate(self, 1):
            local = a.start - a.passage.start
            passage = a.passage.text
            highlighted = (
                html.escape(passage[:local])
                + "<mark>"
                + html.escape(passage[local : local + len(a.text)])
                + "</mark>"
                + html.escape(passage[local + len(a.text) :])
            )
            rows.append(
                [rank, a.text, a.doc_id, f"{a.score:.3f}", f"{a.retrieval_score:.2f}", display.Raw(highlighted)]
            )
        caption = f"no-answer score {self.no_answer_score:.3f}; {self.passages} passages read"
        return display.table_html(["rank", "answer", "document", "score", "retrieval", "passage"], rows, caption)


def as_retriever(source) -> Retriever:
    """``source`` if it retrieves (a ``DocumentIndex``, or anything with ``retrieve(question, k)``), else an
    in-memory ``DocumentIndex`` of the documents it names (texts, pairs, dicts, paths)."""
    from electra_qa.index import DocumentIndex  # SQLite (apsw) only for those who ask a collection

    if isinstance(source, Retriever):
        return source
    if isinstance(source, (str, os.PathLike)) and os.fspath(source).endswith(".db") and os.path.isfile(source):
        return DocumentIndex(source, read_only=True)
    index = DocumentIndex()
    index.add(source)
    return index


def _passages(retriever: Retriever, question: str, k: int) -> list[Passage]:
    passages = retriever.retrieve(question, k)
    if not isinstance(passages, list) or not all(isinstance(p, Passage) for p in passages):
        raise InputError(f"{type(retriever).__name__}.retrieve must return a list of electra_qa.documents.Passage")
    return [p for p in passages[:k] if p.text.strip()]


def ask_many(
    qa,
    questions: list[str],
    source,
    *,
    top_k: int = TOP_K,
    retrieve_k: int = RETRIEVE_K,
    min_score: float | None = None,
    batch_size: int | None = None,
) -> list[AskResult]:
    """Each question asked against ``source`` (see ``as_retriever``); the windows of all questions' passages run
    through the model together."""
    top_k, retrieve_k = positive_int("top_k", top_k), positive_int("retrieve_k", retrieve_k)
    if min_score is not None and (
        isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not 0 <= min_score <= 1
    ):
        raise InputError(f"min_score must be a probability between 0 and 1, got {min_score!r}")
    questions = [check_text("question", q) for q in questions]
    retriever = as_retriever(source)
    retrieved = [_passages(retriever, q, retrieve_k) for q in questions]
    pairs = [(q, p.text) for q, ps in zip(questions, retrieved) for p in ps]
    per_pair = qa.features(pairs) if pairs else []
    outputs = qa.run_model([f for fs in per_pair for f in fs], batch_size) if pairs else []
    calibration: Calibration = qa.calibration
    head, settings = qa.model.head, qa.settings
    results, pair, window = [], 0, 0
    for question, passages in zip(questions, retrieved):
        found, words = [], question_words(question)
        for passage in passages:
            features = per_pair[pair]
            outs = outputs[window : window + len(features)]
            pair, window = pair + 1, window + len(features)
            found += _passage_answers(words, passage, features, outs, head, settings, calibration)
        results.append(_ranked(question, found, top_k, min_score, len(passages)))
    return results


def _passage_answers(
    question_words, passage: Passage, features, outputs, head, settings, calibration: Calibration
) -> list[CollectionAnswer]:
    candidates = []
    for feature, out in zip(features, outputs):
        candidates += head.candidates(feature, out, settings.n_best_size, settings.max_answer_length)
    null = head.null_score(outputs)
    answers = [a for a in best_answers(passage.text, candidates, settings.n_best_size) if not a.is_empty]
    passage_overlap = coverage(question_words, passage.text)
    found = []
    for a in answers:
        span = a.start_logit + a.end_logit
        near = passage.text[max(0, a.start - NEAR_CHARS) : a.end + NEAR_CHARS]
        evidence = Evidence(span, null, math.log(max(a.score, 1e-300)), passage_overlap, coverage(question_words, near))
        found.append(
            CollectionAnswer(
                a.text,
                passage.doc_id,
                passage.start + a.start,
                passage.start + a.end,
                calibration.probability(evidence),
                passage.score,
                passage,
                passage.metadata,
                evidence,
            )
        )
    return found


def _ranked(question: str, found: list[CollectionAnswer], top_k: int, min_score, passages: int) -> AskResult:
    """Best first (ties: document id, then position); a span overlapping a better one of the same document is the
    same answer found twice and is dropped."""
    found.sort(key=lambda a: (-a.score, a.doc_id, a.start, a.end))
    kept: list[CollectionAnswer] = []
    taken: dict[str, list[tuple[int, int]]] = {}
    for a in found:
        spans = taken.setdefault(a.doc_id, [])
        if any(a.start < e and s < a.end for s, e in spans):
            continue
        spans.append((a.start, a.end))
        kept.append(a)
        if len(kept) == top_k:
            break
    no_answer = 1.0 - kept[0].score if kept else 1.0
    if min_score is not None:
        kept = [a for a in kept if a.score >= min_score]
    return AskResult(kept, question, no_answer, passages)
