"""Files the jobs write: complete or absent (atomic sets), one writer at a time (a lock), OS errors that name the path.

Used by ``answer_file``, ``predict_squad``, ``fine_tune`` and the exports; no model code here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator

from electra_qa.errors import InputError

try:  # POSIX; elsewhere the lock is a file created exclusively
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None


def os_error(e: OSError, doing: str, path: str | os.PathLike) -> InputError:
    """An ``OSError`` as our error: what we were doing, the path, and the system's reason."""
    reason = e.strerror or str(e)
    return InputError(f"cannot {doing} {os.fspath(path)!r}: {reason}")


def read_text(path: str | os.PathLike, what: str, error: type[InputError] = InputError) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark dropped), or ``error`` naming ``what`` the file is and why it
    cannot be read."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    except OSError as e:
        raise error(f"cannot read {what} {path!r}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise error(f"{what} {path!r} is not UTF-8 text ({e.reason} at byte {e.start})") from None


def json_line(value) -> str:
    """``value`` as one JSON line; strings that are not valid Unicode (lone surrogates) are written escaped."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value)
    return text


def check_output_file(path: str | os.PathLike, *, inputs: tuple = (), what: str = "output") -> str:
    """``path`` as a string, if a file can be written there: its folder exists, it is not a folder, and it is none of
    ``inputs`` (writing onto the input would destroy it). Checked before any work."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"the {what} folder {folder!r} does not exist (or is not a folder)")
    if os.path.isdir(path):
        raise InputError(f"the {what} {path!r} is a folder; name a file")
    for source in inputs:
        source = os.fspath(source)
        same = os.path.realpath(source) == os.path.realpath(path)
        if not same and os.path.exists(path) and os.path.exists(source):
            same = os.path.samefile(source, path)
        if same:
            raise InputError(f"the {what} {path!r} is the input file; writing it would destroy the input")
    return path


def check_output_folder(path: str | os.PathLike, what: str = "output folder") -> str:
    """``path`` as a string, if it is a folder or can be made one (not an existing file)."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise InputError(f"the {what} {path!r} is a file, not a folder")
    return path


def make_folder(path: str | os.PathLike, what: str = "output folder") -> str:
    path = check_output_folder(path, what)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise os_error(e, f"create the {what}", path) from None
    return path


def write_files(files: dict[str, str | bytes]) -> None:
    """Write every ``{path: content}`` to ``path.part`` first, then rename them all: a failure while writing leaves
    the earlier files as they were, never a new file beside an old one."""
    written = []
    try:
        for path, content in files.items():
            mode, encoding = ("wb", None) if isinstance(content, bytes) else ("w", "utf-8")
            with open(path + ".part", mode, encoding=encoding) as f:
                f.write(content)
            written.append(path)
    except OSError as e:
        for path in written:
            with contextlib.suppress(OSError):
                os.unlink(path + ".part")
        raise os_error(e, "write", path) from None
    for path in written:
        os.replace(path + ".part", path)


def prefix_sha256(path: str, *lengths: int) -> dict[int, str | None]:
    """SHA-256 of the first ``length`` bytes of ``path`` for each of ``lengths``, in one read of the file; None for
    a length past its end."""
    wanted = sorted(set(lengths))
    out: dict[int, str | None] = dict.fromkeys(wanted)
    digest, done = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for length in wanted:
            while done < length:
                chunk = f.read(min(length - done, 1 << 20))
                if not chunk:
                    return out
                digest.update(chunk)
                done += len(chunk)
            out[length] = digest.hexdigest()
    return out


@contextlib.contextmanager
def output_lock(output: str) -> Iterator[None]:
    """Hold ``<output>.lock`` for the block: a second job writing the same output fails at once, naming it.

    The lock is an OS lock on an open file, so a killed job never leaves a stale lock; the file is removed on exit.
    """
    lock = output + ".lock"
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | (0 if fcntl else os.O_EXCL), 0o644)
        except FileExistsError:
            raise _busy(output, lock) from None
        except OSError as e:
            raise os_error(e, "write beside the output", lock) from None
        if fcntl is None:
            break
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise _busy(output, lock) from None
        try:  # the lock file may have been removed by the job that held it just before: lock the file now there
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _busy(output: str, lock: str) -> InputError:
    return InputError(
        f"another job is writing {output!r} (it holds {lock!r}); wait for it to finish, or write to another output"
    )
