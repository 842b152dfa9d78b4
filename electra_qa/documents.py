"""Documents and their passages: what a collection is made of, before any index or model.

``read_documents`` turns what a user has (strings, ``(id, text)`` pairs, dicts, files and folders) into
``Document`` s; ``split_passages`` cuts a document into overlapping word windows that remember where they start in
the document, so an answer found in a passage maps back to the original text exactly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from electra_qa.errors import InputError
from electra_qa.files import read_text
from electra_qa.tables import TABLE_SUFFIXES, read_rows

TEXT_SUFFIXES = (".txt", ".md")
# Passages of 150 words overlapping by 30: the SQuAD paragraphs of the open-domain benchmark (mean 120 words) stay
# whole, and the model's 384-token windows hold a passage and its question (BENCHMARKS.md, "Asking a collection").
PASSAGE_WORDS = 150
PASSAGE_OVERLAP = 30
_WORD = re.compile(r"\S+")


@dataclasses.dataclass(frozen=True)
class Document:
    """One document of a collection: a unique ``id``, its ``text``, and any ``metadata`` (JSON-serialisable)."""

    id: str
    text: str
    metadata: dict = dataclasses.field(default_factory=dict, hash=False, compare=False)


@dataclasses.dataclass(frozen=True)
class Passage:
    """A window of a document: ``text == document.text[start:start + len(text)]``; ``number`` counts the document's
    passages from 0; ``score`` is the retriever's (higher is better; BM25 for ``DocumentIndex``)."""

    doc_id: str
    number: int
    start: int
    text: str
    score: float = 0.0
    metadata: dict = dataclasses.field(default_factory=dict, hash=False, compare=False)


@runtime_checkable
class Retriever(Protocol):
    """Anything that returns the passages most likely to answer a question, best first: Elasticsearch, OpenSearch,
    a vector database, your own search. ``DocumentIndex`` is one. Passages carry their document's id and their
    character offset in it, so answers point into the original document."""

    def retrieve(self, question: str, k: int) -> list[Passage]: ...


def text_id(text: str) -> str:
    """The id a document given as a bare string gets: a digest of its text (the same text, the same id, whatever
    order the documents come in)."""
    return "sha1:" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _document(value, where: str) -> Document:
    if isinstance(value, Document):
        return value
    if isinstance(value, str):
        return _checked(text_id(value), value, {}, where)
    if isinstance(value, tuple) and len(value) == 2:
        return _checked(value[0], value[1], {}, where)
    if isinstance(value, dict):
        if "text" not in value:
            raise InputError(f"{where}: a document dict needs a 'text' (and an 'id'), got keys {sorted(value)[:8]}")
        metadata = {k: v for k, v in value.items() if k not in ("id", "text")}
        return _checked(
            value.get("id", text_id(value["text"]) if isinstance(value["text"], str) else None),
            value["text"],
            metadata,
            where,
        )
    raise InputError(
        f"{where}: a document is a string, an (id, text) pair, a dict with 'id' and 'text', or a path; "
        f"got {type(value).__name__}"
    )


def _checked(doc_id, text, metadata: dict, where: str) -> Document:
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InputError(f"{where}: a document id must be a non-empty string, got {doc_id!r}")
    if not isinstance(text, str):
        raise InputError(f"{where}: document {doc_id!r} has a {type(text).__name__} text, not a string")
    for name, value in (("id", doc_id), ("text", text)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InputError(
                f"{where}: document {doc_id!r} has a {name} that is not valid Unicode (character {e.start})"
            ) from None
    return Document(doc_id, text, metadata)


def _read_text_file(path: str, root: str) -> Document:
    text = read_text(path, "document")
    doc_id = os.path.relpath(path, root) if root else os.path.basename(path)
    return Document(doc_id.replace(os.sep, "/"), text, {"path": doc_id.replace(os.sep, "/")})


def _from_path(path: str) -> Iterator[Document]:
    lower = path.lower()
    if os.path.isdir(path):
        names = []
        for folder, dirs, files in os.walk(path):
            dirs.sort()
            names += [
                os.path.join(folder, f) for f in sorted(files) if f.lower().endswith(TEXT_SUFFIXES + TABLE_SUFFIXES)
            ]
        for name in names:
            if name.lower().endswith(TEXT_SUFFIXES):
                yield _read_text_file(name, path)
            else:
                yield from _from_table(name)
    elif lower.endswith(TEXT_SUFFIXES):
        if not os.path.isfile(path):
            raise InputError(f"no file {path!r}")
        yield _read_text_file(path, "")
    elif lower.endswith(TABLE_SUFFIXES):
        if not os.path.isfile(path):
            raise InputError(f"no file {path!r}")
        yield from _from_table(path)
    else:
        raise InputError(
            f"{path!r}: documents come from .txt/.md files, JSON Lines, CSV or Parquet tables (id, text, ...), or "
            "folders of them"
        )


def _from_table(path: str) -> Iterator[Document]:
    for n, row in enumerate(read_rows(path), 1):
        if "__not_an_object__" in row:
            raise InputError(f"{path}: row {n} is not an object")
        yield _document(row, f"{path}: row {n}")


def read_documents(documents) -> Iterator[Document]:
    """The ``Document`` s of ``documents``: a string, an ``(id, text)`` pair, a dict (``id``, ``text`` and any
    metadata), a ``Document``, a path (a ``.txt``/``.md`` file, a JSON Lines/CSV/Parquet table with ``id`` and
    ``text`` columns, or a folder of them), or an iterable of any of these."""
    if isinstance(documents, (str, os.PathLike)) and _looks_like_path(documents):
        yield from _from_path(os.fspath(documents))
        return
    if isinstance(documents, (str, tuple, dict, Document)):
        documents = [documents]
    if not isinstance(documents, Iterable):
        raise InputError(f"documents must be texts, (id, text) pairs, dicts or paths; got {type(documents).__name__}")
    for i, value in enumerate(documents):
        if isinstance(value, os.PathLike) or (isinstance(value, str) and _looks_like_path(value)):
            yield from _from_path(os.fspath(value))
        else:
            yield _document(value, f"document {i}")


def _looks_like_path(value) -> bool:
    """A PathLike, or a one-line string naming an existing file or folder (any other string is a document's text)."""
    if isinstance(value, os.PathLike):
        return True
    return "\n" not in value and len(value) < 4096 and os.path.exists(value)


def split_passages(document: Document, words: int = PASSAGE_WORDS, overlap: int = PASSAGE_OVERLAP) -> list[Passage]:
    """``document`` as windows of ``words`` words, each starting ``words - overlap`` words after the last; a passage's
    text is the document's own characters from its first word to its last (whitespace kept). A document without
    words has no passage."""
    spans = [m.span() for m in _WORD.finditer(document.text)]
    step = words - overlap
    passages = []
    for number, first in enumerate(range(0, max(len(spans) - overlap, 1), step)):
        if first >= len(spans):
            break
        last = min(first + words, len(spans)) - 1
        start, end = spans[first][0], spans[last][1]
        passages.append(Passage(document.id, number, start, document.text[start:end], metadata=document.metadata))
        if last == len(spans) - 1:
            break
    return passages


def check_passage_settings(words, overlap) -> tuple[int, int]:
    from electra_qa.validate import non_negative_int, positive_int

    words, overlap = positive_int("passage_words", words), non_negative_int("passage_overlap", overlap)
    if overlap >= words:
        raise InputError(f"passage_overlap ({overlap}) must be smaller than passage_words ({words})")
    return words, overlap
