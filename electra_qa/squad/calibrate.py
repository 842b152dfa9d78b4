"""``calibrate``: fit a model's ``Calibration`` (what ``QuestionAnswerer.ask`` scores answers with) on SQuAD-style
questions with reference answers."""

from __future__ import annotations

from electra_qa.calibration import Calibration, fit
from electra_qa.collection import as_retriever, ask_many
from electra_qa.errors import InputError
from electra_qa.settings import RETRIEVE_K, TOP_K
from electra_qa.squad.data import load_squad
from electra_qa.squad.metrics import normalize_answer


def calibrate(
    qa, data, source=None, *, retrieve_k: int = RETRIEVE_K, top_k: int = TOP_K, batch_size: int | None = None
) -> Calibration:
    """Fit ``qa.calibration`` on ``data`` (anything ``load_squad`` reads, with reference answers): each question is
    asked against ``source`` (default: every paragraph of ``data`` as a document), and its ``top_k`` answers are
    labelled right or wrong (exact match, as the official script normalises). Sets and returns the new
    ``Calibration``; ``qa.save`` keeps it with the model.

    Fit on questions the model was not trained on, asked the way it will be used (the same kind of collection and
    ``retrieve_k``)."""
    evidence, right, where = labelled_answers(
        qa, data, source, retrieve_k=retrieve_k, top_k=top_k, batch_size=batch_size
    )
    qa.calibration = fit(evidence, right, fitted_on=where)
    return qa.calibration


def labelled_answers(qa, data, source=None, *, retrieve_k: int = RETRIEVE_K, top_k: int = TOP_K, batch_size=None):
    """(``Evidence``, right or wrong, a description) of the ``top_k`` answers of every question of
    ``data`` asked against ``source`` (default: every paragraph of ``data``): what ``Calibration`` is fitted on."""
    squad = load_squad(data)
    golds = {qid: answers for qid, answers in squad.references}
    examples = [e for e in squad.examples if golds.get(e.id)]
    if not examples:
        raise InputError(f"{squad.source} has no questions with reference answers to calibrate on")
    if source is None:
        source = [(f"p{i}", c) for i, c in enumerate(dict.fromkeys(e.context for e in examples))]
    retriever = as_retriever(source)
    evidence, right = [], []
    for begin in range(0, len(examples), 64):
        chunk = examples[begin : begin + 64]
        results = ask_many(
            qa, [e.question for e in chunk], retriever, top_k=top_k, retrieve_k=retrieve_k, batch_size=batch_size
        )
        for example, result in zip(chunk, results):
            wanted = {normalize_answer(a) for a in golds[example.id]}
            for a in result:
                evidence.append(a.evidence)
                right.append(normalize_answer(a.text) in wanted)
    return evidence, right, f"{len(examples)} questions of {squad.source}, top {top_k} of {retrieve_k} passages"
