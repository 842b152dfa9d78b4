"""``answer_file``: answer every row of a JSON Lines, CSV or Parquet file into a JSON Lines file, streaming and
resumable.

Rows are read, answered and written in chunks, so memory stays flat whatever the file's size. Each chunk's output
lines reach the file in one ``write`` (then ``fsync``): a crash or Ctrl-C loses at most the chunk in flight, and a
line is never half written (a torn tail left by a power cut is cut off on the next run). Running the same command
again skips the rows already answered or already reported as bad, and gives the same file as one uninterrupted
run. Bad rows (a missing field, an empty question, a non-string) go to ``<output>.errors.jsonl`` with their row
number, id and reason, once; duplicate ids in the input are an error naming them, before any work.

One job writes an output at a time (``<output>.lock``, an OS lock released when the process ends). The job's fields
and a fingerprint of its input are kept in ``<output>.job.json``: a rerun after rows were appended answers the new
rows; a rerun after rows were edited or removed is refused rather than keep stale answers.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time

from electra_qa.errors import InputError
from electra_qa.files import check_output_file, json_line, os_error, output_lock, prefix_sha256, write_files
from electra_qa.pipeline import QuestionAnswerer, check_text, load_answerer
from electra_qa.progress import progress_bar
from electra_qa.settings import CHUNK_SIZE, RETRIEVE_K, positive_int
from electra_qa.tables import pyarrow_module as _pyarrow
from electra_qa.tables import read_rows as _rows


@dataclasses.dataclass
class BulkSummary:
    """What ``answer_file`` did: rows answered now, bad rows reported now, rows skipped as already done."""

    answered: int = 0
    errors: int = 0
    already_done: int = 0
    seconds: float = 0.0
    output: str = ""
    errors_file: str = ""

    @property
    def rows_per_second(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        return (
            f"{self.answered} rows answered ({self.rows_per_second:.1f} rows/s), {self.errors} bad rows "
            f"(see {self.errors_file}), {self.already_done} done by an earlier run; output: {self.output}"
        )


def _errors_path(output: str) -> str:
    stem = output
    for suffix in (".jsonl", ".parquet"):
        if output.endswith(suffix):
            stem = output[: -len(suffix)]
    return stem + ".errors.jsonl"


_PARQUET_TYPES = {"answer": "string", "start": "int64", "end": "int64", "score": "float64"}


def _parquet_to_journal(output: str, journal: str) -> None:
    """A finished Parquet output of an earlier run, back into the JSON Lines journal that a run appends to."""
    pa = _pyarrow()
    try:
        rows = pa.parquet.read_table(output).to_pylist()
    except pa.ArrowException as e:
        raise InputError(f"{output} exists and is not a Parquet file ({e}); it was left untouched") from None
    if rows and not all(isinstance(r, dict) and "answer" in r and "id" in r for r in rows[:1]):
        raise InputError(f"{output} exists and is not an answers file of answer_file; it was left untouched")
    _append(journal, [json_line(r) for r in rows])


def _journal_to_parquet(journal: str, output: str) -> None:
    """The journal's rows as one Parquet file, written beside it and renamed into place."""
    pa = _pyarrow()
    rows = []
    if os.path.exists(journal):
        with open(journal, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    table = (
        pa.Table.from_pylist(rows)
        if rows
        else pa.table({"id": pa.array([], pa.string()), **{k: pa.array([], t) for k, t in _PARQUET_TYPES.items()}})
    )
    tmp = output + ".tmp"
    try:
        pa.parquet.write_table(table, tmp)
    except pa.ArrowException as e:
        raise InputError(f"cannot write {output} as Parquet: {e}") from None
    os.replace(tmp, output)


def _earlier_lines(path: str, key: str, what: str) -> list[dict]:
    """The records of an earlier run's output or errors file (each must hold ``key``); a torn last line is cut off
    first. A file that is not ours is an InputError, never overwritten."""
    if not os.path.exists(path):
        return []
    try:
        with open(path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)  # a power cut mid-write: drop the partial line
                data = data[: data.rfind(b"\n") + 1]
    except OSError as e:
        raise os_error(e, "read the earlier output", path) from None
    records = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            record = None
        if not isinstance(record, dict) or key not in record:
            raise InputError(
                f"{path} exists and is not {what} of answer_file (line {n}); it was left untouched: choose "
                "another output, or delete it"
            )
        records.append(record)
    return records


def _append(path: str, lines: list[str]) -> None:
    """Append whole lines in one write, then flush them to disk."""
    if not lines:
        return
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, data)
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise os_error(e, "write", path) from None


def _problem(row: dict, fields: tuple[str, str, str]) -> tuple[object, str | None]:
    """(the row's id or None, the reason it cannot be answered or None)."""
    if "__not_an_object__" in row:
        return None, "the row is not a JSON object"
    id_field, question_field, context_field = fields
    rid = row.get(id_field)
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        return None, f"no {id_field!r}"
    if not isinstance(rid, (str, int)) or isinstance(rid, bool):
        return None, f"{id_field!r} is {type(rid).__name__}, not a string or integer"
    if isinstance(rid, str):
        try:
            check_text(id_field, rid)
        except InputError as e:
            return None, str(e)
    for field in (question_field, context_field) if context_field else (question_field,):
        if field not in row:
            return rid, f"no {field!r} field"
        try:
            check_text(field, row[field])
        except InputError as e:
            return rid, str(e)
    return rid, None


def check_input(path: str, id_field: str = "id", *, parquet_output: bool = False) -> None:
    """InputError unless ``path`` is a readable input with unique ids (checked before any work). For Parquet output
    the ids must also make one Parquet column: all strings, or all integers that fit in 64 bits."""
    if not os.path.isfile(path):
        raise InputError(f"no input file {path!r}")
    seen, duplicates, kinds = set(), [], set()
    for row in _rows(path):
        rid = row.get(id_field)
        if isinstance(rid, (str, int)) and not isinstance(rid, bool):
            if rid in seen:
                duplicates.append(rid)
            seen.add(rid)
            kinds.add(type(rid))
            if parquet_output and isinstance(rid, int) and not -(2**63) <= rid < 2**63:
                raise InputError(f"{path}: id {rid} does not fit a Parquet int64 column; make the ids strings")
    if duplicates:
        shown = ", ".join(repr(d) for d in list(dict.fromkeys(duplicates))[:10])
        raise InputError(f"{path}: {len(duplicates)} duplicate ids ({shown}); ids must be unique to resume safely")
    if parquet_output and len(kinds) > 1:
        raise InputError(
            f"{path}: the ids mix strings and integers, which one Parquet column cannot hold; make them all strings"
        )


def _job_file(output: str) -> str:
    return output + ".job.json"


def _check_job(input: str, output: str, journal: str, errors_file: str, job: dict) -> dict:
    """The job record to keep beside the output, after checking that an earlier run's output still fits this job:
    the same fields and ``top_k``, and an input whose first bytes are unchanged (rows may be appended, never edited
    or removed: that would leave stale answers)."""
    size = os.path.getsize(input)
    started = any(os.path.exists(p) and os.path.getsize(p) for p in (journal, errors_file))
    if not started or not os.path.exists(_job_file(output)):  # a fresh job, or one written before jobs were recorded
        return {**job, "input_bytes": size, "input_sha256": prefix_sha256(input, size)[size]}
    try:
        with open(_job_file(output), encoding="utf-8") as f:
            earlier = json.load(f)
        earlier_size, earlier_sha = int(earlier["input_bytes"]), earlier["input_sha256"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        raise InputError(
            f"{_job_file(output)} is damaged, so whether {output} still fits the input is unknown; delete the "
            "output files to start over"
        ) from None
    changed = [k for k in job if earlier.get(k) != job[k]]
    if changed:
        raise InputError(
            f"{output} was written with other settings ({', '.join(f'{k}={earlier.get(k)!r}' for k in changed)}); "
            "write to another output, or delete it to start over"
        )
    digests = prefix_sha256(input, earlier_size, size)  # one read of the input for both
    if size < earlier_size or digests[earlier_size] != earlier_sha:
        raise InputError(
            f"{input} changed since the earlier run that wrote {output} (rows were edited or removed, not only "
            "appended): its answers would be stale. Delete the output files to start over, or write to another output"
        )
    return {**job, "input_bytes": size, "input_sha256": digests[size]}


# Longer than ~60 lines: most of it is the documented example; the loop's steps are the helpers around it.
def answer_file(
    input: str | os.PathLike,
    output: str | os.PathLike,
    checkpoint=None,
    *,
    question_field: str = "question",
    context_field: str = "context",
    id_field: str = "id",
    top_k: int | None = None,
    batch_size: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: bool = True,
    index=None,
    retrieve_k: int = RETRIEVE_K,
    **qa_settings,
) -> BulkSummary:
    """Answer every row of ``input`` (JSON Lines, CSV, or Parquet with pyarrow) into ``output``: JSON Lines, or
    Parquet when its name ends in ``.parquet`` (needs pyarrow; the rows are journaled to ``<output>.partial.jsonl``
    while the job runs, resumable as JSON Lines output is, and written as one Parquet file at the end).

    Each output line: ``{"id", "answer", "start", "end", "score"}`` (and ``"top_k"``, a list of answers, when
    ``top_k`` is given). ``checkpoint``: a path of any supported format, a ``QuestionAnswerer``, or None for the
    pretrained model; ``qa_settings`` go to ``QuestionAnswerer.from_checkpoint``. ``index``: a ``DocumentIndex`` or
    its ``.db`` path: the rows need no context, each question is asked against the collection (``qa.ask``) and its
    line adds ``doc_id`` and ``retrieval_score``, ``start``/``end`` pointing into that document. ``chunk_size``: rows
    read, answered and written together. Run it again after an interruption: it continues where the output ends.

    >>> import json, tempfile
    >>> rows = tempfile.mktemp(suffix=".jsonl")
    >>> with open(rows, "w") as f:
    ...     for i, q in enumerate(["Who lives here?", "", "What does Harry love?"]):
    ...         row = {"id": i, "question": q, "context": "Harry lives here. He loves apples."}
    ...         _ = f.write(json.dumps(row) + "\\n")
    >>> summary = answer_file(rows, rows + ".out.jsonl", folder, progress=False)
    >>> (summary.answered, summary.errors)
    (2, 1)
    """
    input, output = os.fspath(input), os.fspath(output)
    chunk_size = positive_int("chunk_size", chunk_size)
    top_k = None if top_k is None else positive_int("top_k", top_k)
    parquet = output.endswith(".parquet")
    journal = output + ".partial.jsonl" if parquet else output
    errors_file = _errors_path(output)
    for path in dict.fromkeys((output, journal, errors_file, _job_file(output))):
        check_output_file(path, inputs=(input,))
    check_input(input, id_field, parquet_output=parquet)
    if parquet:
        _pyarrow()  # before any work
    retriever = None if index is None else _opened_index(index)
    with output_lock(output):
        if parquet and os.path.exists(output) and not os.path.exists(journal):
            _parquet_to_journal(output, journal)
        fields = (id_field, question_field, None if retriever is not None else context_field)
        where = None if index is None else getattr(retriever, "path", repr(retriever))
        job = _check_job(input, output, journal, errors_file, {"fields": list(fields), "top_k": top_k, "index": where})
        done = {r["id"] for r in _earlier_lines(journal, "answer", "an answers file")}
        done_rows = {r.get("row") for r in _earlier_lines(errors_file, "reason", "an errors file")}
        write_files({_job_file(output): json.dumps(job, indent=2) + "\n"})
        qa = checkpoint if isinstance(checkpoint, QuestionAnswerer) else load_answerer(checkpoint, **qa_settings)
        qa.warm_up()  # one compiled graph from the first row: the same numbers however the job is split
        if retriever is None:
            answer = functools.partial(_context_records, qa, top_k=top_k, batch_size=batch_size)
        else:
            answer = functools.partial(
                _index_records, qa, retriever, top_k=top_k, batch_size=batch_size, retrieve_k=retrieve_k
            )
        summary = BulkSummary(output=output, errors_file=errors_file)
        bar = progress_bar("Answering", unit="row", enabled=progress)
        start = time.perf_counter()
        try:
            chunk: list[tuple[int, dict]] = []
            for number, row in enumerate(_rows(input), 1):
                chunk.append((number, row))
                if len(chunk) == chunk_size:
                    _answer_chunk(answer, chunk, fields, (done, done_rows), journal, errors_file, summary)
                    bar.update(len(chunk))
                    chunk = []
            _answer_chunk(answer, chunk, fields, (done, done_rows), journal, errors_file, summary)
            bar.update(len(chunk))
            if parquet:
                _journal_to_parquet(journal, output)
                os.remove(journal)
        finally:
            bar.close()
            summary.seconds = time.perf_counter() - start
    return summary


def _opened_index(index):
    from electra_qa.documents import Retriever
    from electra_qa.index import DocumentIndex

    if isinstance(index, Retriever):
        return index
    if isinstance(index, (str, os.PathLike)):
        return DocumentIndex(index, read_only=True)
    raise InputError(f"index must be a DocumentIndex, a Retriever or an index file path, got {type(index).__name__}")


def _context_records(qa, todo, *, top_k, batch_size) -> list[dict]:
    records = []
    scored = qa.score_batch([(row[0], row[1]) for _, row in todo], batch_size, top_k or 1)
    for (rid, _), s in zip(todo, scored):
        best = s.answers[0]
        record = {"id": rid, "answer": best.text, "start": best.start, "end": best.end, "score": best.score}
        if top_k is not None:
            record["top_k"] = [
                {"answer": a.text, "start": a.start, "end": a.end, "score": a.score} for a in s.answers[:top_k]
            ]
        records.append(record)
    return records


def _index_records(qa, retriever, todo, *, top_k, batch_size, retrieve_k) -> list[dict]:
    results = qa.ask_batch(
        [row[0] for _, row in todo], retriever, top_k=top_k or 1, retrieve_k=retrieve_k, batch_size=batch_size
    )

    def fields(a):
        return {
            "answer": a.text,
            "doc_id": a.doc_id,
            "start": a.start,
            "end": a.end,
            "score": a.score,
            "retrieval_score": a.retrieval_score,
        }

    records = []
    for (rid, _), result in zip(todo, results):
        best = (
            fields(result[0])
            if result
            else {"answer": "", "doc_id": None, "start": 0, "end": 0, "score": 0.0, "retrieval_score": 0.0}
        )
        record = {"id": rid, **best, "no_answer_score": result.no_answer_score}
        if top_k is not None:
            record["top_k"] = [fields(a) for a in result]
        records.append(record)
    return records


def _answer_chunk(answer, chunk, fields, done, output, errors_file, summary) -> None:
    done_ids, done_rows = done
    todo, bad = [], []
    for number, row in chunk:
        rid, problem = _problem(row, fields)
        if (problem is None and rid in done_ids) or (problem is not None and number in done_rows):
            summary.already_done += 1
        elif problem:
            bad.append(json_line({"row": number, "id": rid, "reason": problem}))
        else:
            todo.append((rid, (row[fields[1]], row[fields[2]] if fields[2] else None)))
    lines = [json_line(record) for record in answer(todo)] if todo else []
    _append(errors_file, bad)  # bad rows first: a crash in between leaves them to be reported again, never lost
    _append(output, lines)
    summary.answered += len(lines)
    summary.errors += len(bad)
