"""``evaluate_squad``: EM/F1 exactly as the official SQuAD scripts compute them, to the last digit.

The same text normalisation (lower case, punctuation and the articles a/an/the removed, whitespace collapsed), the
same per-question maximum over reference answers, and the same order of additions, so the floats are identical:
``evaluate-v1.1.py`` gives ``{exact_match, f1}``; ``evaluate-v2.0.py`` gives ``exact``, ``f1``, ``total``, the
``HasAns_*``/``NoAns_*`` splits and, with no-answer probabilities, ``best_exact``/``best_f1`` and their thresholds.
"""

from __future__ import annotations

import collections
import json
import os
import re
import string

from electra_qa.errors import InputError
from electra_qa.squad.data import SquadDataset, load_squad

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (the official scripts' normalisation)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _f1(prediction_tokens: list[str], reference_tokens: list[str]) -> float:
    same = sum((collections.Counter(prediction_tokens) & collections.Counter(reference_tokens)).values())
    if same == 0:
        return 0
    precision = 1.0 * same / len(prediction_tokens)
    recall = 1.0 * same / len(reference_tokens)
    return (2 * precision * recall) / (precision + recall)


def _evaluate_v1(references, predictions: dict) -> dict:
    exact = f1 = total = 0
    for qid, answers in references:
        total += 1
        if qid not in predictions:
            continue  # scored 0, as the official script does (it prints a warning)
        if not answers:  # evaluate-v1.1.py stops here (max() of nothing)
            raise InputError(f"question {qid!r} has no reference answers; a SQuAD v1.1 file needs them")
        prediction = normalize_answer(predictions[qid])
        exact += max(prediction == normalize_answer(a) for a in answers)
        f1 += max(_f1(prediction.split(), normalize_answer(a).split()) for a in answers)
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total}


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def _f1_v2(reference: str, prediction: str) -> float:
    reference_tokens, prediction_tokens = _tokens(reference), _tokens(prediction)
    if not reference_tokens or not prediction_tokens:
        return int(reference_tokens == prediction_tokens)
    return _f1(prediction_tokens, reference_tokens)


def _scores(values: dict, qids=None) -> tuple[float, float, int]:
    exact, f1 = values
    if not qids:
        return 100.0 * sum(exact.values()) / len(exact), 100.0 * sum(f1.values()) / len(exact), len(exact)
    return (100.0 * sum(exact[k] for k in qids) / len(qids), 100.0 * sum(f1[k] for k in qids) / len(qids), len(qids))


def _best_threshold(predictions: dict, scores: dict, na_probs: dict, has_answer: dict) -> tuple[float, float]:
    score = best = sum(1 for k in has_answer if not has_answer[k])
    threshold = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        score += scores[qid] if has_answer[qid] else (-1 if predictions[qid] else 0)
        if score > best:
            best, threshold = score, na_probs[qid]
    return 100.0 * best / len(scores), threshold


def _evaluate_v2(references, predictions: dict, na_probs: dict | None, na_prob_thresh: float) -> dict:
    has_answer = {qid: bool(answers) for qid, answers in references}
    missing = [qid for qid in has_answer if qid not in predictions]
    if missing:  # evaluate-v2.0.py stops with a KeyError here
        raise InputError(
            f"the predictions lack {len(missing)} question ids ({', '.join(missing[:5])}"
            f"{', ...' if len(missing) > 5 else ''}); SQuAD 2.0 scoring needs one per question"
        )
    probs = na_probs if na_probs is not None else {k: 0.0 for k in predictions}
    lacking = [qid for qid in has_answer if qid not in probs]
    if lacking:
        raise InputError(f"the no-answer probabilities lack {len(lacking)} question ids ({', '.join(lacking[:5])})")
    exact_raw, f1_raw = {}, {}
    for qid, answers in references:
        golds = [a for a in answers if normalize_answer(a)] or [""]
        prediction = predictions[qid]
        exact_raw[qid] = max(int(normalize_answer(a) == normalize_answer(prediction)) for a in golds)
        f1_raw[qid] = max(_f1_v2(a, prediction) for a in golds)

    def thresholded(raw):
        return {qid: float(not has_answer[qid]) if probs[qid] > na_prob_thresh else s for qid, s in raw.items()}

    values = (thresholded(exact_raw), thresholded(f1_raw))
    out = dict(zip(("exact", "f1", "total"), _scores(values)))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [k for k, v in has_answer.items() if v == wanted]
        if qids:
            out.update(zip((f"{prefix}_exact", f"{prefix}_f1", f"{prefix}_total"), _scores(values, qids)))
    if na_probs is not None:
        out["best_exact"], out["best_exact_thresh"] = _best_threshold(predictions, exact_raw, na_probs, has_answer)
        out["best_f1"], out["best_f1_thresh"] = _best_threshold(predictions, f1_raw, na_probs, has_answer)
    return out


def _json_dict(value, what: str) -> dict:
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        try:
            with open(path, encoding="utf-8") as f:
                value = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"cannot read the {what} file {path!r}: {e}") from None
        except RecursionError:
            raise InputError(f"cannot read the {what} file {path!r}: JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise InputError(
            f"the {what} must be a dict {{question id: ...}} or a JSON file of one, got {type(value).__name__}"
        )
    return _string_ids(value, what)


def _string_ids(value: dict, what: str) -> dict:
    """The dict keyed by string ids, as the SQuAD file's ids are read (an integer id 1 is the question "1")."""
    out = {}
    for key, item in value.items():
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise InputError(f"the {what} have a key {key!r} ({type(key).__name__}); question ids are strings")
        name = str(key)
        if name in out:
            raise InputError(f"the {what} hold question id {name!r} twice (as a string and as an integer)")
        out[name] = item
    return out


def _is_number(value) -> bool:
    """A real number, not a bool and not NaN (what the official script's comparisons need)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value == value


def _probabilities(na_probs: dict) -> dict:
    bad = [qid for qid, p in na_probs.items() if not _is_number(p)]
    if bad:
        raise InputError(
            f"no-answer probabilities must be numbers; not for {', '.join(map(repr, bad[:5]))} ({na_probs[bad[0]]!r})"
        )
    return na_probs


def check_scorable(data: SquadDataset, *, every_question_answered: bool = False) -> None:
    """InputError unless ``evaluate_squad`` can score ``data``: reference answers for its questions, every one
    readable, and, when every question will have a prediction (``fine_tune``'s evaluation, checked before it trains),
    at least one reference answer per SQuAD 1.1 question."""
    if not data.references:
        raise InputError(f"{data.source} has no questions with reference answers to score against")
    if data.unscorable:
        shown = ", ".join(f"{s.id!r} ({s.reason})" for s in data.unscorable[:3])
        raise InputError(
            f"{data.source}: {len(data.unscorable)} questions have reference answers that cannot be read: {shown}; "
            "scoring without them would be wrong"
        )
    if every_question_answered and data.version != "2.0":
        empty = [qid for qid, answers in data.references if not answers]
        if empty:  # evaluate-v1.1.py stops at these (max() of nothing)
            raise InputError(
                f"{data.source}: {len(empty)} questions have no reference answers ({', '.join(map(repr, empty[:5]))}); "
                "a SQuAD v1.1 file needs at least one per question"
            )


def evaluate_squad(dataset, predictions, na_probs=None, na_prob_thresh: float = 1.0) -> dict:
    """EM/F1 of ``predictions`` ({question id: answer text}, or a predictions.json path) on ``dataset`` (anything
    ``load_squad`` reads), exactly as the official script of the dataset's version reports them.

    SQuAD 2.0 only: ``na_probs`` ({question id: no-answer score}, or a null_odds.json path) and ``na_prob_thresh``
    as ``evaluate-v2.0.py``'s ``--na-prob-file`` and ``--na-prob-thresh``.

    >>> answers = [{"text": "France", "answer_start": 12}]
    >>> data = {"version": "1.1", "data": [{"paragraphs": [{"context": "Paris is in France.",
    ...     "qas": [{"id": "q1", "question": "Where is Paris?", "answers": answers}]}]}]}
    >>> evaluate_squad(data, {"q1": "in France"})
    {'exact_match': 0.0, 'f1': 66.66666666666666}
    """
    data: SquadDataset = load_squad(dataset)
    predictions = _json_dict(predictions, "predictions")
    not_text = [qid for qid, text in predictions.items() if not isinstance(text, str)]
    if not_text:
        raise InputError(f"predictions must be answer texts; not a string for {', '.join(map(str, not_text[:5]))}")
    check_scorable(data)
    if data.version == "2.0":
        if not _is_number(na_prob_thresh):
            raise InputError(f"na_prob_thresh must be a number, got {na_prob_thresh!r}")
        probs = None if na_probs is None else _probabilities(_json_dict(na_probs, "no-answer probabilities"))
        return _evaluate_v2(data.references, predictions, probs, na_prob_thresh)
    return _evaluate_v1(data.references, predictions)
