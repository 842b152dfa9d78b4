"""``load_squad``: a SQuAD v1.1/v2.0 JSON file, its parsed dict, or JSON Lines records, as a list of examples.

A file that is not SQuAD at all is an ``InputError`` naming the file and the problem. A single bad record (an empty or
non-string question or context, a missing or duplicate id) is reported in ``skipped`` with its reason, and the rest
of the file is kept. Examples keep the file's order and ids; the questions of one paragraph share its context string.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable

from electra_qa.errors import InputError
from electra_qa.files import read_text


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """One question about one context, with its reference answers when the file has them."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...] = ()  # reference answer texts, as in the file
    answer_starts: tuple[int, ...] = ()  # their character offsets in the context, where given
    is_impossible: bool = False  # SQuAD 2.0: the context holds no answer


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A record that was not answered: its position (0-based, in file order), its id if it has one, and why."""

    index: int
    id: str | None
    reason: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class SquadDataset:
    """The examples of a SQuAD file, its version ("1.1" or "2.0"), the skipped records, and the reference answers
    of every record that has an id (what the official scripts score, bad records included)."""

    examples: list[SquadExample]
    version: str
    skipped: list[Skipped]
    references: list[tuple[str, tuple[str, ...]]]
    source: str
    unscorable: list[Skipped] = dataclasses.field(default_factory=list)  # records with an id and unreadable answers

    def __len__(self) -> int:
        return len(self.examples)


def _text_problem(name: str, value) -> str | None:
    if not isinstance(value, str):
        return f"{name} is {type(value).__name__}, not a string" if value is not None else f"no {name}"
    if not value.strip():
        return f"empty {name}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"{name} is not valid Unicode text (a lone surrogate at character {e.start})"
    return None


def _answers(record: dict) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    answers = record.get("answers", [])
    if not isinstance(answers, list):
        return None
    texts, starts = [], []
    for a in answers:
        if isinstance(a, dict) and isinstance(a.get("text"), str):
            texts.append(a["text"])
            if isinstance(a.get("answer_start"), int):
                starts.append(a["answer_start"])
        elif isinstance(a, str):
            texts.append(a)
        else:
            return None
    return tuple(texts), tuple(starts)


class _Builder:
    def __init__(self, source: str):
        self.source = source
        self.examples, self.skipped, self.references, self.unscorable = [], [], [], []
        self.seen: set[str] = set()
        self.count = 0
        self.any_impossible = False

    def add(self, record, context) -> None:
        index = self.count
        self.count += 1
        if not isinstance(record, dict):
            self.skipped.append(Skipped(index, None, f"a record is {type(record).__name__}, not an object"))
            return
        qid = record.get("id")
        if isinstance(qid, int) and not isinstance(qid, bool):
            qid = str(qid)
        if not isinstance(qid, str) or not qid:
            self.skipped.append(Skipped(index, None, "no id"))
            return
        answers = _answers(record)
        if answers is not None:  # the official scripts score every record with an id, duplicates too
            self.references.append((qid, answers[0]))
        else:
            self.unscorable.append(Skipped(index, qid, "answers is not a list of {text, answer_start} objects"))
        if "is_impossible" in record:
            self.any_impossible = True
            if not isinstance(record["is_impossible"], bool):
                self.skipped.append(
                    Skipped(index, qid, f"is_impossible is {record['is_impossible']!r}, not true or false")
                )
                return
        if qid in self.seen:
            self.skipped.append(Skipped(index, qid, "duplicate id"))
            return
        self.seen.add(qid)
        problem = (
            _text_problem("question", record.get("question"))
            or _text_problem("context", context)
            or (None if answers is not None else "answers is not a list of {text, answer_start} objects")
        )
        if problem:
            self.skipped.append(Skipped(index, qid, problem))
            return
        self.examples.append(
            SquadExample(
                qid, record["question"], context, answers[0], answers[1], bool(record.get("is_impossible", False))
            )
        )


def _from_squad_json(data: dict, source: str) -> SquadDataset:
    articles = data.get("data")
    if not isinstance(articles, list):
        raise InputError(f"{source} is not a SQuAD file: no 'data' list of articles")
    builder = _Builder(source)
    for a, article in enumerate(articles):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise InputError(f"{source} is not a SQuAD file: article {a} has no 'paragraphs' list")
        for p, paragraph in enumerate(paragraphs):
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            if not isinstance(qas, list):
                raise InputError(f"{source} is not a SQuAD file: article {a}, paragraph {p} has no 'qas' list")
            for record in qas:
                builder.add(record, paragraph.get("context"))
    version = str(data.get("version", "")).lstrip("v")
    if version not in ("1.1", "2.0"):
        version = "2.0" if builder.any_impossible else "1.1"
    return SquadDataset(builder.examples, version, builder.skipped, builder.references, source, builder.unscorable)


def _from_records(records: Iterable, source: str) -> SquadDataset:
    builder = _Builder(source)
    for record in records:
        builder.add(record, record.get("context") if isinstance(record, dict) else None)
    version = "2.0" if builder.any_impossible else "1.1"
    return SquadDataset(builder.examples, version, builder.skipped, builder.references, source, builder.unscorable)


def _read_json_lines(path: str, text: str) -> list:
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise InputError(f"{path} is not JSON Lines: line {n}: {e.msg}") from None
        except RecursionError:
            raise InputError(f"{path}: line {n} is JSON nested too deeply to read") from None
    return records


def load_squad(source) -> SquadDataset:
    """Read SQuAD questions from a v1.1/v2.0 JSON file (path or parsed dict), a JSON Lines file of records
    ``{"id", "question", "context", "answers"?, "is_impossible"?}``, a list of such records, or a ``SquadDataset``
    (returned as it is).

    >>> data = load_squad({"version": "1.1", "data": [{"paragraphs": [{"context": "Paris is in France.",
    ...     "qas": [{"id": "q1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]},
    ...             {"id": "q2", "question": " ", "answers": []}]}]}]})
    >>> [e.id for e in data.examples], data.version, data.skipped
    (['q1'], '1.1', [Skipped(index=1, id='q2', reason='empty question')])
    """
    if isinstance(source, SquadDataset):
        return source
    if isinstance(source, dict):
        return _from_squad_json(source, "the SQuAD dict")
    if isinstance(source, list):
        return _from_records(source, "the list of records")
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"load_squad needs a path, a SQuAD dict or a list of records, got {type(source).__name__}")
    path = os.fspath(source)
    text = read_text(path, "SQuAD file")
    if path.endswith((".jsonl", ".jsonlines", ".ndjson")):
        return _from_records(_read_json_lines(path, text), repr(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if text.lstrip().startswith("{") and "\n" in text.strip():
            try:
                return _from_records(_read_json_lines(path, text), repr(path))
            except InputError:
                pass
        raise InputError(f"{path!r} is not a SQuAD file: not valid JSON ({e.msg}, line {e.lineno})") from None
    except RecursionError:
        raise InputError(f"{path!r} is not a SQuAD file: JSON nested too deeply to read") from None
    if isinstance(data, list):
        return _from_records(data, repr(path))
    if not isinstance(data, dict):
        raise InputError(f"{path!r} is not a SQuAD file: it holds a JSON {type(data).__name__}")
    return _from_squad_json(data, repr(path))
