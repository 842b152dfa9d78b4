"""Download and cache, against a local HTTP server on 127.0.0.1 serving a zip that the test builds."""

import dataclasses
import hashlib
import http.server
import io
import json
import threading
import zipfile

import pytest
from conftest import fixture_dir, same_answers

from electra_qa import ElectraQAError, QuestionAnswerer, hub
from electra_qa.checkpoints.find import locate
from electra_qa.hub import DownloadError, PretrainedModel


class _Server:
    """Serves ``payload`` at /model.zip with HTTP Range support; can drop the connection after N bytes."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.drop_after: list[int] = []  # per request: bytes sent before closing (consumed in order)
        self.ranges: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != "/model.zip":
                    self.send_error(404)
                    return
                header = self.headers.get("Range")
                server.ranges.append(header)
                start = int(header.split("=")[1].split("-")[0]) if header else 0
                if start >= len(server.payload):
                    self.send_error(416)
                    return
                body = server.payload[start:]
                self.send_response(206 if header else 200)
                self.send_header("Content-Length", str(len(body)))
                if header:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}")
                self.end_headers()
                limit = server.drop_after.pop(0) if server.drop_after else None
                self.wfile.write(body if limit is None else body[:limit])
                self.wfile.flush()
                if limit is not None:
                    self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/model.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def ngc_zip():
    folder = fixture_dir("ngc_tiny")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in folder.iterdir():
            if path.name.startswith("electra_base_qa") or path.name in ("checkpoint", "config.json", "vocab.txt"):
                z.write(path, f"electra_tf2_qa_squad11/{path.name}")
    return buf.getvalue()


@pytest.fixture
def registered(ngc_zip):
    spec = PretrainedModel(
        name="test/ngc-tiny",
        urls=("http://127.0.0.1:9/unused.zip",),
        vocab="in-archive",
        sha256=hashlib.sha256(ngc_zip).hexdigest(),
    )
    hub.register(spec)
    yield spec
    hub.REGISTRY.pop(spec.name, None)


def test_download_convert_and_reuse(tmp_path, ngc_zip, registered, capsys):
    with _Server(ngc_zip) as server:
        qa = QuestionAnswerer.from_pretrained("test/ngc-tiny", cache_dir=tmp_path, url=server.url)
        assert server.ranges == [None]
    err = capsys.readouterr().err
    assert "Downloading download.zip:" in err and "100%" in err
    folder = tmp_path / "test--ngc-tiny" / "model"
    assert {"config.json", "model.weights.h5", "tokenizer.json", "vocab.txt", "source.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert not (tmp_path / "test--ngc-tiny" / "download.zip").exists()  # the big file is not kept
    assert f'"sha256": "{registered.sha256}"' in (folder / "source.json").read_text()
    reference = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"))
    context = "My name is Harry and I grew up in Canada. I love apples."
    assert same_answers(
        qa("What food does Harry like?", context, top_k=3), reference("What food does Harry like?", context, top_k=3)
    )
    # second time: straight from the cache, no server needed
    again = QuestionAnswerer.from_pretrained(
        "test/ngc-tiny", cache_dir=tmp_path, url="http://127.0.0.1:9/x.zip", progress=False
    )
    assert same_answers(again("What food does Harry like?", context), reference("What food does Harry like?", context))


def test_interrupted_download_resumes(tmp_path, ngc_zip, registered):
    cut = len(ngc_zip) // 3
    with _Server(ngc_zip) as server:
        server.drop_after = [cut]
        with pytest.raises(DownloadError, match="partial file .* is kept"):
            hub.download(server.url, tmp_path / "f.zip", progress=False, retries=0)
        assert (tmp_path / "f.zip.part").stat().st_size == cut
        digest = hub.download(server.url, tmp_path / "f.zip", progress=False)
        assert server.ranges == [None, f"bytes={cut}-"]
    assert digest == registered.sha256 and (tmp_path / "f.zip").read_bytes() == ngc_zip
    assert not (tmp_path / "f.zip.part").exists()


def test_dropped_connection_is_resumed_within_one_call(tmp_path, ngc_zip, registered):
    with _Server(ngc_zip) as server:
        server.drop_after = [1000, 5000]
        folder = hub.fetch("test/ngc-tiny", cache_dir=tmp_path, url=server.url, progress=False)
        assert server.ranges == [None, "bytes=1000-", "bytes=6000-"]
    assert (folder / "model.weights.h5").is_file()


def test_checksum_mismatch_installs_nothing(tmp_path, ngc_zip):
    spec = PretrainedModel(name="test/bad-sum", urls=(), vocab="in-archive", sha256="0" * 64)
    hub.register(spec)
    try:
        with _Server(ngc_zip) as server:
            with pytest.raises(DownloadError, match="checksum mismatch.*nothing was installed"):
                QuestionAnswerer.from_pretrained("test/bad-sum", cache_dir=tmp_path, url=server.url, progress=False)
    finally:
        hub.REGISTRY.pop("test/bad-sum")
    leftovers = [p.name for p in (tmp_path / "test--bad-sum").iterdir()]
    assert leftovers == []


def test_not_a_zip_is_deleted(tmp_path):
    spec = PretrainedModel(name="test/not-zip", urls=(), vocab="in-archive")
    hub.register(spec)
    try:
        with _Server(b"<html>login page</html>") as server:
            with pytest.raises(DownloadError, match="not a zip archive"):
                hub.fetch("test/not-zip", cache_dir=tmp_path, url=server.url, progress=False)
    finally:
        hub.REGISTRY.pop("test/not-zip")
    assert [p.name for p in (tmp_path / "test--not-zip").iterdir()] == []


def test_offline_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("ELECTRA_QA_NGC_URL", raising=False)
    with pytest.raises(DownloadError) as err:
        hub.fetch(cache_dir=tmp_path, url="http://127.0.0.1:9/electra.zip", progress=False)
    message = str(err.value)
    assert "could not download 'nvidia/electra-base-squad1.1'" in message
    assert "from_checkpoint(folder, vocab=" in message and "ELECTRA_QA_CACHE" in message


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("ELECTRA_QA_CACHE", str(tmp_path / "c"))
    assert hub.cache_root() == tmp_path / "c"
    assert hub.cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("ELECTRA_QA_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.cache_root() == tmp_path / "xdg" / "electra_qa"


def test_default_model_urls_are_ngc_zips():
    spec = hub.REGISTRY[hub.DEFAULT_MODEL]
    assert spec.urls[0] == (
        "https://api.ngc.nvidia.com/v2/models/nvidia/dle/"
        "electra_base_tf2_ckpt_mode-qa_ds-squad11/versions/20.07.0_amp/zip"
    )
    assert len(spec.urls) == 2 and spec.config["hidden_size"] == 768


def test_packaged_vocab_is_bert_uncased():
    data = hub.PACKAGED_VOCAB.read_bytes()
    assert hashlib.md5(data).hexdigest() == "64800d5d8528ce344256daf115d4965e"
    assert len(data.splitlines()) == 30522


def test_hugging_face_hub_ids_go_through_huggingface_hub(monkeypatch, tmp_path):
    import sys
    import types

    folder = fixture_dir("hf_tiny")
    calls = []

    def snapshot_download(repo_id, allow_patterns=None, cache_dir=None):
        calls.append((repo_id, tuple(allow_patterns), cache_dir))
        return str(folder)

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download))
    qa = QuestionAnswerer.from_pretrained("someone/electra-squad2", cache_dir=tmp_path)
    assert calls[0][0] == "someone/electra-squad2" and "model.safetensors" in calls[0][1]
    assert qa.model.head_type == "simple"
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(DownloadError, match="need the huggingface_hub package"):
        QuestionAnswerer.from_pretrained("someone/electra-squad2")


def test_answer_without_checkpoint_uses_the_pretrained_default(monkeypatch, tmp_path):
    """answer() and the CLI fall back to from_pretrained(); offline that is a clear DownloadError, not a traceback."""
    from electra_qa import answer
    from electra_qa.cli import main

    monkeypatch.setenv("ELECTRA_QA_CACHE", str(tmp_path))
    monkeypatch.setenv("ELECTRA_QA_NGC_URL", "http://127.0.0.1:9/electra.zip")
    with pytest.raises(DownloadError, match="could not download 'nvidia/electra-base-squad1.1'"):
        answer("Who won?", "The Broncos won.")
    assert main(["answer", "-q", "Who won?", "-c", "The Broncos won."]) == 2


def test_archive_with_several_checkpoints(tmp_path):
    folder = fixture_dir("ngc_tiny")
    index = next(folder.glob("*.index")).name
    for epoch in (1, 2):
        (tmp_path / f"model_epoch_{epoch}_ckpt.index").write_bytes((folder / index).read_bytes())
    assert hub._find_checkpoint(tmp_path) == tmp_path / "model_epoch_2_ckpt"
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model_epoch_1_ckpt"\n')
    assert hub._find_checkpoint(tmp_path) == tmp_path / "model_epoch_1_ckpt"
    with pytest.raises(DownloadError, match="no TensorFlow checkpoint"):
        hub._find_checkpoint(tmp_path / "nothing")


def test_a_cached_download_is_checked_too(tmp_path, registered):
    """A zip left by an earlier, unfinished install is verified against the recorded SHA-256 before use."""
    root = tmp_path / "test--ngc-tiny"
    root.mkdir()
    (root / "download.zip").write_bytes(b"not the archive")
    with pytest.raises(hub.ChecksumError, match="checksum mismatch.*nothing was installed"):
        hub.fetch("test/ngc-tiny", cache_dir=tmp_path, progress=False)
    assert not (root / "download.zip").exists() and not (root / "model").exists()


def test_offline_error_is_honest_and_leaves_no_empty_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("ELECTRA_QA_NGC_URL", raising=False)
    with pytest.raises(DownloadError) as err:
        hub.fetch(cache_dir=tmp_path, url="http://127.0.0.1:9/electra.zip", progress=False)
    message = str(err.value)
    assert "partial file" not in message  # nothing was downloaded, so nothing is kept
    assert "--checkpoint FOLDER --vocab" in message and str(hub.PACKAGED_VOCAB) in message
    assert "ships with electra_qa" in message
    assert list(tmp_path.iterdir()) == []


def _zip(entries: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("named", ["ABSOLUTE", "../../../outside/electra_base_qa", "../electra_base_qa"])
def test_an_archive_cannot_point_outside_itself(tmp_path, registered, named):
    """An archive holding only a TF ``checkpoint`` state file that names a checkpoint outside the archive (absolute
    or ``..``) must not load it, nor install it into the cache."""
    outside = tmp_path / "outside"
    outside.mkdir()
    for path in fixture_dir("ngc_tiny").iterdir():
        if path.name.startswith("electra_base_qa"):
            (outside / path.name).write_bytes(path.read_bytes())
    prefix = str(outside / "electra_base_qa") if named == "ABSOLUTE" else named
    payload = _zip({"ckpt/checkpoint": f'model_checkpoint_path: "{prefix}"\n'})
    spec = dataclasses.replace(registered, sha256=None)
    hub.register(spec)
    with _Server(payload) as server:
        with pytest.raises(ElectraQAError, match="outside its folder"):
            hub.fetch(spec.name, cache_dir=tmp_path / "cache", url=server.url, progress=False)
    assert not (tmp_path / "cache" / "test--ngc-tiny" / "model").exists()


def test_a_local_state_file_stays_in_its_folder(tmp_path):
    """The same rule for a local folder; an absolute path of another machine means the checkpoint of that name
    beside the state file (how NVIDIA's state files are written)."""
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for path in fixture_dir("ngc_tiny").iterdir():
        if path.name.startswith("electra_base_qa") or path.name in ("config.json", "vocab.txt"):
            (folder / path.name).write_bytes(path.read_bytes())
    prefix = next(p.name for p in folder.iterdir() if p.name.endswith(".index"))[: -len(".index")]
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "/results/of/another/machine/{prefix}"\n')
    assert locate(folder).file == str(folder / prefix)
    (folder / "checkpoint").write_text('model_checkpoint_path: "../elsewhere/model"\n')
    with pytest.raises(ElectraQAError, match="outside its folder"):
        locate(folder)
    (tmp_path / "outside.index").write_bytes((folder / f"{prefix}.index").read_bytes())
    (folder / "link.index").symlink_to(tmp_path / "outside.index")  # inside by name, outside in fact
    (folder / "checkpoint").write_text('model_checkpoint_path: "link"\n')
    with pytest.raises(ElectraQAError, match="outside its folder"):
        locate(folder)


def test_a_zip_bomb_is_refused_before_writing(tmp_path, registered):
    bomb = _zip({"ckpt/zeros.bin": b"\0" * (8 << 20)})  # 8 MiB in about 8 KB
    assert len(bomb) < 100_000
    spec = dataclasses.replace(registered, sha256=None)
    hub.register(spec)
    with _Server(bomb) as server:
        with pytest.raises(DownloadError, match="would unpack to 8,388,608 bytes, over the limit"):
            hub.fetch(spec.name, cache_dir=tmp_path, url=server.url, progress=False)
        with pytest.raises(DownloadError, match="over the limit of 1,000"):  # a limit the user set
            hub.fetch(spec.name, cache_dir=tmp_path, url=server.url, progress=False, max_unpacked_bytes=1000)
        with pytest.raises(DownloadError, match="no TensorFlow checkpoint"):  # a limit raised: it unpacks
            hub.fetch(spec.name, cache_dir=tmp_path, url=server.url, progress=False, max_unpacked_bytes=16 << 20)
    assert not list((tmp_path / "test--ngc-tiny").glob("install-*"))


def test_a_kept_download_is_not_reused_for_another_url(tmp_path, ngc_zip, registered):
    root = tmp_path / "test--ngc-tiny"
    bad = _zip({"nothing/here.txt": b"x"})
    spec = dataclasses.replace(registered, sha256=None)
    hub.register(spec)
    with _Server(bad) as server:
        with pytest.raises(DownloadError):
            hub.fetch(spec.name, cache_dir=tmp_path, url=server.url, progress=False, keep_download=True)
    assert (root / "download.zip").read_bytes() == bad
    with _Server(ngc_zip) as server:
        folder = hub.fetch(spec.name, cache_dir=tmp_path, url=server.url, progress=False)
    assert (folder / "model.weights.h5").is_file()
    assert json.loads((folder / "source.json").read_text())["url"] == server.url
