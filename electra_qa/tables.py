"""Rows of a JSON Lines, CSV or Parquet file, streamed as dicts: the input reader of ``answer_file`` and of
``DocumentIndex.add``. An unreadable file or row is an ``InputError`` naming the file and the line."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from electra_qa.errors import InputError
from electra_qa.files import os_error

TABLE_SUFFIXES = (".jsonl", ".jsonlines", ".ndjson", ".csv", ".parquet")


def pyarrow_module(doing: str = "writing"):
    """pyarrow with its Parquet module, or an InputError naming what needs it."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401 (pyarrow.parquet is reached as an attribute)
    except ImportError:
        raise InputError(f"{doing} Parquet needs pyarrow (pip install pyarrow)") from None
    return pyarrow


def read_rows(path: str) -> Iterator[dict]:
    """The input's rows as dicts, streamed; an unreadable file or row is an InputError naming it."""
    lower = path.lower()
    try:
        if lower.endswith((".jsonl", ".jsonlines", ".ndjson")):
            yield from _json_lines(path)
        elif lower.endswith(".csv"):
            yield from _csv_rows(path)
        elif lower.endswith(".parquet"):
            pa = pyarrow_module("reading")
            try:
                for batch in pa.parquet.ParquetFile(path).iter_batches(batch_size=1024):
                    yield from batch.to_pylist()
            except pa.ArrowException as e:
                raise InputError(f"{path}: not a readable Parquet file ({e})") from None
        else:
            raise InputError(f"{path}: the input must be .jsonl, .csv or .parquet")
    except OSError as e:
        raise os_error(e, "read", path) from None


def _json_lines(path: str) -> Iterator[dict]:
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"{path}: line {n} is not UTF-8 text (byte {e.start} of the line)") from None
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}: line {n} is not JSON ({e.msg})") from None
                except RecursionError:
                    raise InputError(f"{path}: line {n} is JSON nested too deeply to read") from None
                yield row if isinstance(row, dict) else {"__not_an_object__": row}


def _csv_rows(path: str) -> Iterator[dict]:
    # utf-8-sig: Excel writes a byte-order mark before the first column's name
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        try:
            names = reader.fieldnames or []
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise InputError(f"{path}: the header names {', '.join(map(repr, repeated))} more than once")
            yield from reader
        except UnicodeDecodeError as e:
            raise InputError(
                f"{path}: not UTF-8 text near line {reader.line_num + 1} ({e.reason}); save the CSV as UTF-8"
            ) from None
        except csv.Error as e:
            raise InputError(
                f"{path}: line {reader.line_num}: {e} (a field over csv.field_size_limit() = "
                f"{csv.field_size_limit():,} characters needs JSON Lines or Parquet input)"
            ) from None
