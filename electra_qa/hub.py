"""Download and cache pretrained models: ``QuestionAnswerer.from_pretrained("nvidia/electra-base-squad1.1")``.

The NGC checkpoint comes as a zip (1.23 GB, with Adam slots). It is downloaded once (progress on stderr, resumed
after an interruption, SHA-256 recorded and checked when known), converted into a compact folder (config.json, Keras
model.weights.h5 of about 440 MB, BERT-uncased vocab) that is moved into the cache in one rename, and the zip is
then deleted, so later loads never touch it.

Cache: ``cache_dir=`` argument, else ``$ELECTRA_QA_CACHE``, else ``$XDG_CACHE_HOME/electra_qa`` or
``~/.cache/electra_qa``. The download URL can be overridden with ``url=`` or ``$ELECTRA_QA_NGC_URL``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

from electra_qa import filenames
from electra_qa.checkpoints.find import locate
from electra_qa.checkpoints.formats.keras_folder import save_model
from electra_qa.checkpoints.loader import load_ngc_checkpoint
from electra_qa.config import ElectraConfig
from electra_qa.errors import ChecksumError, DownloadError
from electra_qa.progress import progress_bar
from electra_qa.tokenization import load_tokenizer

__all__ = [
    "DEFAULT_MODEL",
    "PACKAGED_VOCAB",
    "PretrainedModel",
    "REGISTRY",
    "register",
    "cache_root",
    "download",
    "fetch",
    "from_huggingface_hub",
    "DownloadError",
    "ChecksumError",
]

DEFAULT_MODEL = "nvidia/electra-base-squad1.1"
NGC_ZIP_URL = "https://api.ngc.nvidia.com/v2/models/{model}/versions/{version}/zip"
PACKAGED_VOCAB = pathlib.Path(__file__).parent / "data" / "bert_uncased_vocab.txt"
_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class PretrainedModel:
    """A downloadable checkpoint: where it is, what it is, how to check it."""

    name: str
    urls: tuple[str, ...]  # tried in order
    config: dict | None = None  # ElectraConfig fields (None: config.json in the zip, or inferred)
    vocab: str = "bert-uncased"  # "bert-uncased" (shipped with electra_qa) or "in-archive"
    sha256: str | None = None  # of the download; None: recorded on first download, not checked
    beam_size: int = 4
    description: str = ""


REGISTRY: dict[str, PretrainedModel] = {}


def register(model: PretrainedModel) -> None:
    """Make ``model.name`` known to ``from_pretrained`` (e.g. a mirror of the NGC zip on your own server)."""
    REGISTRY[model.name] = model


register(
    PretrainedModel(
        name=DEFAULT_MODEL,
        urls=(
            NGC_ZIP_URL.format(model="nvidia/dle/electra_base_tf2_ckpt_mode-qa_ds-squad11", version="20.07.0_amp"),
            NGC_ZIP_URL.format(model="nvidia/electra_tf_ckpt_base_qa_squad11_amp", version="20.07.0_amp"),
        ),
        config=ElectraConfig.base().to_dict(),
        description="NVIDIA NGC: Electra-Base, TensorFlow2, AMP, SQuAD 1.1, seqLen 384 (20.07.0_amp), joint head",
    )
)


def cache_root(cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
    if cache_dir is not None:
        return pathlib.Path(cache_dir)
    if os.environ.get("ELECTRA_QA_CACHE"):
        return pathlib.Path(os.environ["ELECTRA_QA_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "electra_qa"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "--" for c in name)


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verified_sha256(path: pathlib.Path, expected: str | None, what: str) -> str:
    """The file's SHA-256; when it differs from ``expected`` the file is deleted and ChecksumError raised."""
    digest = _sha256(path)
    if expected is not None and digest != expected.lower():
        path.unlink()
        raise ChecksumError(
            f"checksum mismatch for {what}: got SHA-256 {digest}, expected {expected}; the download "
            "was deleted and nothing was installed"
        )
    return digest


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 60.0,
) -> str:
    """Fetch ``url`` into ``dest`` through ``dest + ".part"``, resuming a partial file with an HTTP Range request.

    Returns the file's SHA-256. A checksum mismatch deletes the partial file and raises DownloadError; so does a
    failure after ``retries`` resumed attempts (the partial file is kept for the next call).
    """
    dest = pathlib.Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"User-Agent": "electra-qa"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                resumed = have and response.status == 206
                if not resumed:
                    have = 0
                length = response.headers.get("Content-Length")
                total = int(length) + have if length is not None else None
                bar = progress_bar(f"Downloading {dest.name}", total=total, initial=have, enabled=progress, bytes_=True)
                try:
                    with open(part, "ab" if resumed else "wb") as f:
                        while chunk := response.read(_CHUNK):
                            f.write(chunk)
                            bar.update(len(chunk))
                finally:
                    bar.close()
                if total is not None and part.stat().st_size < total:
                    raise ConnectionError(f"connection closed after {part.stat().st_size:,} of {total:,} bytes")
            break
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:  # the partial file is already complete
                break
            raise DownloadError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            got_some = part.exists() and part.stat().st_size > have
            attempt += 1
            if attempt > retries or not got_some:
                kept = part.exists() and part.stat().st_size > 0
                if part.exists() and not kept:
                    part.unlink()
                raise DownloadError(
                    f"cannot download {url}: {getattr(e, 'reason', e)}"
                    + (f". The partial file {part} is kept and a later call resumes it." if kept else "")
                ) from None
    digest = _verified_sha256(part, sha256, url)
    os.replace(part, dest)
    return digest


def _find_checkpoint(folder: pathlib.Path) -> pathlib.Path:
    """The archive's TensorFlow checkpoint: the one its ``checkpoint`` state file names, else the only (or last by
    name, e.g. ``..._epoch_2_ckpt`` after ``..._epoch_1_ckpt``) ``.index`` file."""
    states = sorted(folder.rglob(filenames.TF_STATE))
    if len(states) == 1 and states[0].is_file():
        return pathlib.Path(locate(states[0]).file)
    indexes = sorted(folder.rglob("*.index"))
    if not indexes:
        raise DownloadError("the downloaded archive holds no TensorFlow checkpoint (.index file)")
    return indexes[-1].with_suffix("")


_URL_RECORD = "download.json"
_MAX_RATIO = 50  # unpacked / packed: checkpoints compress little; zip bombs by factors of hundreds or more
_MAX_UNPACKED = 4 << 30


def _kept_url(root: pathlib.Path) -> str | None:
    """The URL the kept (or partial) download in ``root`` came from, as recorded when it started."""
    try:
        with open(root / _URL_RECORD, encoding="utf-8") as f:
            return json.load(f)["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record_url(root: pathlib.Path, url: str) -> None:
    with open(root / _URL_RECORD, "w", encoding="utf-8") as f:
        json.dump({"url": url}, f)


def _forget_download(root: pathlib.Path, unless_url: str | None = None) -> None:
    """Delete the kept download, its partial file and its record (unless they came from ``unless_url``)."""
    if unless_url is not None and _kept_url(root) == unless_url:
        return
    for name in ("download.zip", "download.zip.part", _URL_RECORD):
        (root / name).unlink(missing_ok=True)


def _unpack_limit(archive: pathlib.Path, limit: int | None) -> int:
    if limit is None and os.environ.get("ELECTRA_QA_MAX_UNPACKED_BYTES"):
        try:
            limit = int(os.environ["ELECTRA_QA_MAX_UNPACKED_BYTES"])
        except ValueError:
            raise DownloadError(
                f"$ELECTRA_QA_MAX_UNPACKED_BYTES must be a number of bytes, got "
                f"{os.environ['ELECTRA_QA_MAX_UNPACKED_BYTES']!r}"
            ) from None
    if limit is None:
        return min(_MAX_UNPACKED, _MAX_RATIO * archive.stat().st_size)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise DownloadError(f"max_unpacked_bytes must be a positive integer, got {limit!r}")
    return limit


def _extract(archive: pathlib.Path, dest: pathlib.Path, limit: int | None) -> None:
    """Unpack ``archive`` into ``dest``: entries stay inside ``dest`` (absolute names and ``..`` are dropped, as
    zipfile does), and the sizes are checked against the limit before writing (declared) and while writing
    (actual), so a zip bomb fills no disk."""
    limit = _unpack_limit(archive, limit)
    how = "pass max_unpacked_bytes= (or set $ELECTRA_QA_MAX_UNPACKED_BYTES) to allow more"
    with zipfile.ZipFile(archive) as z:
        members = z.infolist()
        declared = sum(m.file_size for m in members)
        if declared > limit:
            raise DownloadError(
                f"the archive {archive} would unpack to {declared:,} bytes, over the limit of {limit:,}; nothing "
                f"was unpacked ({how})"
            )
        written = 0
        for member in members:
            parts = [p for p in member.filename.replace("\\", "/").split("/") if p not in ("", ".", "..")]
            parts = [p.split(":")[-1] for p in parts]  # no drive letters
            if not parts or not all(parts):
                continue
            target = dest.joinpath(*parts)
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(member) as source, open(target, "wb") as out:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise DownloadError(
                            f"the archive {archive} unpacks to more than its declared size and over the limit of "
                            f"{limit:,} bytes; unpacking was stopped ({how})"
                        )
                    out.write(chunk)


def _remove_if_empty(folder: pathlib.Path) -> None:
    """A failed first download leaves no empty folder behind in the cache."""
    try:
        folder.rmdir()
    except OSError:  # not empty (a partial download to resume), or already gone
        pass


def _offline_message(spec: PretrainedModel, errors: list[str]) -> str:
    vocab = f", vocab={str(PACKAGED_VOCAB)!r}" if spec.vocab == "bert-uncased" else ""
    cli_vocab = f" --vocab {PACKAGED_VOCAB}" if spec.vocab == "bert-uncased" else ""
    shipped = (
        " (the BERT-uncased vocab it needs ships with electra_qa at that path)" if spec.vocab == "bert-uncased" else ""
    )
    return (
        f"could not download {spec.name!r} ({'; '.join(errors)}). If this machine is offline, download the "
        f"zip elsewhere ({spec.urls[0]}), unzip it, and load the folder: in Python "
        f"QuestionAnswerer.from_checkpoint(folder{vocab}), on the command line --checkpoint FOLDER{cli_vocab}"
        f"{shipped}. Or point url= / $ELECTRA_QA_NGC_URL at a reachable copy, or $ELECTRA_QA_CACHE at a cache "
        "that already holds it."
    )


def fetch(
    name: str = DEFAULT_MODEL,
    cache_dir: str | os.PathLike | None = None,
    url: str | None = None,
    progress: bool = True,
    keep_download: bool = False,
    *,
    timeout: float = 60.0,
    max_unpacked_bytes: int | None = None,
) -> pathlib.Path:
    """The cached, converted folder of a registered model; downloads and converts it on first use.

    ``timeout``: seconds to wait for each network read. ``max_unpacked_bytes``: the most the archive may unpack to
    (default: ``$ELECTRA_QA_MAX_UNPACKED_BYTES``, else 50 times the download's size, at most 4 GiB); a larger
    archive is refused before anything is written."""
    if name not in REGISTRY:
        raise DownloadError(f"unknown model {name!r}; known: {', '.join(sorted(REGISTRY))}")
    spec = REGISTRY[name]
    root = cache_root(cache_dir) / _slug(name)
    final = root / "model"
    if (final / filenames.KERAS_WEIGHTS).is_file() and (final / filenames.CONFIG).is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    env_url = os.environ.get("ELECTRA_QA_NGC_URL") if name == DEFAULT_MODEL else None
    urls = [url] if url else ([env_url] if env_url else list(spec.urls))
    archive = root / "download.zip"
    errors, used, digest = [], None, None
    kept = _kept_url(root)
    # downloaded by an earlier call whose conversion did not finish, or kept: reused only for the same URL (an
    # archive kept by a version that did not record its URL, only when no other URL is asked for)
    if archive.is_file() and (kept in urls or (kept is None and not url and not env_url)):
        digest, used = _verified_sha256(archive, spec.sha256, str(archive)), f"{kept or archive} (downloaded earlier)"
    for candidate in urls if used is None else ():
        _forget_download(root, unless_url=candidate)  # a partial file from another URL is never resumed
        _record_url(root, candidate)
        try:
            digest = download(candidate, archive, spec.sha256, progress, timeout=timeout)
            used = candidate
            break
        except ChecksumError:
            _forget_download(root)
            raise
        except DownloadError as e:
            errors.append(str(e))
    if used is None:
        if not (root / "download.zip.part").exists():
            (root / _URL_RECORD).unlink(missing_ok=True)
        _remove_if_empty(root)
        raise DownloadError(_offline_message(spec, errors))
    work = pathlib.Path(tempfile.mkdtemp(prefix="install-", dir=root))
    try:
        try:
            _extract(archive, work / "zip", max_unpacked_bytes)
        except zipfile.BadZipFile:
            _forget_download(root)
            raise DownloadError(f"the download from {used} is not a zip archive; it was deleted") from None
        prefix = _find_checkpoint(work / "zip")
        model = load_ngc_checkpoint(prefix, config=spec.config, beam_size=spec.beam_size)
        vocab = PACKAGED_VOCAB if spec.vocab == "bert-uncased" else prefix.parent
        save_model(model, work / "model")
        load_tokenizer(vocab).save(work / "model")
        with open(work / "model" / "source.json", "w", encoding="utf-8") as f:
            json.dump(
                {"name": name, "url": used, "sha256": digest, "downloaded": time.strftime("%Y-%m-%d")}, f, indent=2
            )
        if final.exists():  # another process finished first
            shutil.rmtree(work / "model")
        else:
            os.replace(work / "model", final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not keep_download:
        _forget_download(root)
    return final


def from_huggingface_hub(repo_id: str, cache_dir=None) -> str:
    """A Hugging Face hub model's files via ``huggingface_hub`` (optional dependency)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise DownloadError(
            f"{repo_id!r} is not a registered model ({', '.join(sorted(REGISTRY))}); Hugging Face hub "
            "ids need the huggingface_hub package (pip install huggingface_hub)"
        ) from None
    patterns = [
        filenames.CONFIG,
        filenames.SAFETENSORS,
        filenames.HF_TF_WEIGHTS,
        filenames.VOCAB_TXT,
        filenames.TOKENIZER_JSON,
        "*.model",
    ]
    try:
        return snapshot_download(repo_id, allow_patterns=patterns, cache_dir=cache_dir)
    except Exception as e:  # network or hub errors of several types
        raise DownloadError(f"cannot fetch {repo_id!r} from the Hugging Face hub: {e}") from None
