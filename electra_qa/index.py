"""``DocumentIndex``: a persistent, embedded BM25 index of documents (SQLite FTS5), one implementation of the
``Retriever`` protocol (``documents.py``) that ``QuestionAnswerer.ask`` reads passages from.

SQLite comes from ``apsw``, which carries its own SQLite with FTS5 built in: Python's ``sqlite3`` module binds to
whichever SQLite the process loaded first, and TensorFlow loads one without FTS5, so after ``import tensorflow`` a
``sqlite3`` connection cannot use FTS5 at all. The file is an ordinary SQLite database.

One file on disk (or memory). Documents are added, replaced (same id) and removed in place: no rebuild. The file
is in WAL mode, so several processes may read it while one writes. A question is searched as plain words: quotes,
``AND``/``OR``/``NOT``/``NEAR(``, ``*``, ``^``, ``:`` and parentheses are words like any other, never FTS5 syntax.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable

import apsw

from electra_qa.documents import (  # noqa: F401 (Retriever: re-exported, the protocol DocumentIndex implements)
    PASSAGE_OVERLAP,
    PASSAGE_WORDS,
    Document,
    Passage,
    Retriever,
    check_passage_settings,
    read_documents,
    split_passages,
)
from electra_qa.errors import InputError
from electra_qa.validate import positive_int

SCHEMA_VERSION = 1
TOKENIZE = "porter unicode61 remove_diacritics 2"
_TERM = re.compile(r"\w+", re.UNICODE)


def fts_query(question: str) -> str | None:
    """The FTS5 query for ``question``: its words, each quoted (so no word is an operator), joined by OR; None
    when it has no word."""
    terms = list(dict.fromkeys(t.lower() for t in _TERM.findall(question)))
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms) or None


class DocumentIndex:
    """An embedded BM25 index of documents, split into passages (``documents.split_passages``).

    >>> index = DocumentIndex()                      # in memory; DocumentIndex("docs.db") for a file
    >>> index.add([("tesla", "Nikola Tesla was born in Smiljan in 1856."), ("paris", "Paris is in France.")])
    2
    >>> [p.doc_id for p in index.search("Where was Tesla born?", k=1)]
    ['tesla']
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        passage_words: int | None = None,
        passage_overlap: int | None = None,
        read_only: bool = False,
    ):
        self.path = None if path is None else os.fspath(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        if self.path is not None and os.path.isdir(self.path):
            raise InputError(f"the index {self.path!r} is a folder; name a file (e.g. docs.db)")
        if read_only and (self.path is None or not os.path.isfile(self.path)):
            raise InputError(f"no index file {self.path!r} to open read-only")
        try:
            if read_only:
                self._db = apsw.Connection(self.path, flags=apsw.SQLITE_OPEN_READONLY)
            else:
                self._db = apsw.Connection(self.path or ":memory:")
            self._db.set_busy_timeout(30_000)  # a writer holding the file: wait, then fail
            self._setup(passage_words, passage_overlap)
        except apsw.Error as e:
            raise InputError(f"{self.path or 'the in-memory index'} is not a usable document index ({e})") from None

    def _rows(self, sql: str, params=()) -> list[tuple]:
        return self._db.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ set-up

    def _setup(self, words, overlap) -> None:
        db = self._db
        tables = {r[0] for r in self._rows("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        if "electra_qa_index" in tables:
            settings = dict(self._rows("SELECT key, value FROM electra_qa_index"))
            if int(settings.get("schema", 0)) > SCHEMA_VERSION:
                raise InputError(f"{self.path} was written by a newer electra_qa; upgrade electra-qa")
            stored = int(settings["passage_words"]), int(settings["passage_overlap"])
            asked = (words, overlap)
            if any(a is not None and a != s for a, s in zip(asked, stored)):
                raise InputError(
                    f"{self.path} splits documents into passages of {stored[0]} words overlapping by {stored[1]}; "
                    f"it cannot be opened with passage_words={words}, passage_overlap={overlap}"
                )
            self.passage_words, self.passage_overlap = stored
            return
        if tables:
            raise InputError(f"{self.path} is an SQLite file but not an electra_qa document index")
        if self.read_only:
            raise InputError(f"{self.path} is empty, not a document index")
        self.passage_words, self.passage_overlap = check_passage_settings(
            PASSAGE_WORDS if words is None else words, PASSAGE_OVERLAP if overlap is None else overlap
        )
        if self.path is not None:
            self._rows("PRAGMA journal_mode=WAL")  # readers in other processes while one process writes
        with db:
            db.execute("CREATE TABLE electra_qa_index (key TEXT PRIMARY KEY, value TEXT)")
            db.executemany(
                "INSERT INTO electra_qa_index VALUES (?, ?)",
                [
                    ("schema", str(SCHEMA_VERSION)),
                    ("passage_words", str(self.passage_words)),
                    ("passage_overlap", str(self.passage_overlap)),
                    ("tokenize", TOKENIZE),
                ],
            )
            db.execute("CREATE TABLE documents (id TEXT PRIMARY KEY, text TEXT NOT NULL, metadata TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE passages (rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, number INTEGER NOT NULL,"
                " start INTEGER NOT NULL)"
            )
            db.execute("CREATE INDEX passages_doc ON passages (doc_id)")
            db.execute(f"CREATE VIRTUAL TABLE passage_text USING fts5(text, tokenize='{TOKENIZE}')")

    # ------------------------------------------------------------------ writing

    def add(self, documents) -> int:
        """Add documents (see ``documents.read_documents`` for the forms); a document whose id is already in the
        index replaces it. All of a call's documents are added in one transaction: all or none. Returns how many
        were added."""
        self._writable()
        count = 0
        with self._lock, self._db:
            seen = set()
            for document in read_documents(documents):
                if document.id in seen:
                    raise InputError(f"document id {document.id!r} is given twice in one add(); ids must be unique")
                seen.add(document.id)
                self._remove_one(document.id)
                self._insert(document)
                count += 1
        return count

    def _insert(self, document: Document) -> None:
        try:
            metadata = json.dumps(document.metadata, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise InputError(f"document {document.id!r}: its metadata is not JSON-serialisable ({e})") from None
        db = self._db
        db.execute("INSERT INTO documents VALUES (?, ?, ?)", (document.id, document.text, metadata))
        for p in split_passages(document, self.passage_words, self.passage_overlap):
            db.execute("INSERT INTO passages (doc_id, number, start) VALUES (?, ?, ?)", (p.doc_id, p.number, p.start))
            db.execute("INSERT INTO passage_text (rowid, text) VALUES (?, ?)", (db.last_insert_rowid(), p.text))

    def _remove_one(self, doc_id: str) -> bool:
        db = self._db
        rowids = [r[0] for r in self._rows("SELECT rowid FROM passages WHERE doc_id = ?", (doc_id,))]
        if rowids:
            db.executemany("DELETE FROM passage_text WHERE rowid = ?", [(r,) for r in rowids])
        db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return db.changes() > 0

    def remove(self, ids: str | Iterable[str]) -> int:
        """Remove documents by id (ids not in the index are ignored); returns how many were removed."""
        self._writable()
        ids = [ids] if isinstance(ids, str) else list(ids)
        with self._lock, self._db:
            return sum(self._remove_one(str(i)) for i in ids)

    def _writable(self) -> None:
        if self.read_only:
            raise InputError(f"{self.path} was opened read-only")

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        with self._lock:
            return self._rows("SELECT COUNT(*) FROM documents")[0][0]

    def __contains__(self, doc_id) -> bool:
        with self._lock:
            return bool(self._rows("SELECT 1 FROM documents WHERE id = ?", (doc_id,)))

    def get(self, doc_id: str) -> Document | None:
        """The document with ``doc_id``, or None."""
        with self._lock:
            rows = self._rows("SELECT id, text, metadata FROM documents WHERE id = ?", (doc_id,))
        return Document(rows[0][0], rows[0][1], json.loads(rows[0][2])) if rows else None

    def ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._rows("SELECT id FROM documents ORDER BY id")]

    def search(self, question: str, k: int = 20) -> list[Passage]:
        """The ``k`` passages that match ``question`` best by BM25 (as FTS5 computes it), best first; ties go to the
        smaller document id, then the earlier passage, so the result never depends on the order documents were
        added. ``Passage.score`` is the BM25 score (higher is better)."""
        if not isinstance(question, str):
            raise InputError(f"question must be a string, got {type(question).__name__}")
        k = positive_int("k", k)
        query = fts_query(question)
        if query is None:
            return []
        with self._lock:
            rows = self._rows(
                "SELECT p.doc_id, p.number, p.start, t.text, -bm25(passage_text), d.metadata"
                " FROM passage_text AS t JOIN passages AS p ON p.rowid = t.rowid"
                " JOIN documents AS d ON d.id = p.doc_id"
                " WHERE passage_text MATCH ? ORDER BY bm25(passage_text), p.doc_id, p.number LIMIT ?",
                (query, k),
            )
        return [Passage(d, n, s, text, float(score), json.loads(meta)) for d, n, s, text, score, meta in rows]

    retrieve = search  # the Retriever protocol

    def info(self) -> dict:
        """Counts and settings: documents, passages, characters, passage size, file size."""
        with self._lock:
            documents, characters = self._rows("SELECT COUNT(*), COALESCE(SUM(LENGTH(text)), 0) FROM documents")[0]
            passages = self._rows("SELECT COUNT(*) FROM passages")[0][0]
        return {
            "path": self.path or ":memory:",
            "documents": documents,
            "passages": passages,
            "characters": characters,
            "passage_words": self.passage_words,
            "passage_overlap": self.passage_overlap,
            "bytes": os.path.getsize(self.path) if self.path else None,
        }

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> DocumentIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DocumentIndex({self.path or ':memory:'!r}, {len(self)} documents)"

    def __reduce__(self):
        """Pickled as its path (a Ray or Spark worker reopens the file read-only); an in-memory index cannot be."""
        if self.path is None:
            raise InputError("an in-memory DocumentIndex cannot be sent to another process; give it a file path")
        return _reopen, (self.path,)


def _reopen(path: str) -> DocumentIndex:
    return DocumentIndex(path, read_only=True)
