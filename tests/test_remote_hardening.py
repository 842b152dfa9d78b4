"""``serving.RemoteModel`` against servers that hang, fail or answer nonsense: every network wait ends, and every bad
answer is a ``RemoteModelError`` naming the output, never a NaN score or a TypeError deep in post-processing."""

import http.server
import json
import threading
import time

import numpy as np
import pytest
from conftest import fixture_dir

from electra_qa import QuestionAnswerer, RemoteModelError
from electra_qa.serving import RemoteModel

CONTEXT = "Harry lives in Canada. He loves apples and pears."


@pytest.fixture(scope="module")
def qa():
    return QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), max_seq_length=64)


def _remote(qa, call, **kwargs):
    return QuestionAnswerer(RemoteModel(call, "joint", qa.model.config, **kwargs), qa.tokenizer, qa.settings)


def _local(qa):
    return lambda inputs: {k: np.array(v) for k, v in qa.model(inputs).items() if k != "sequence_output"}


def test_a_faithful_server_gives_the_local_answers(qa):
    got = _remote(qa, _local(qa))("Where does Harry live?", CONTEXT, top_k=3)
    want = qa("Where does Harry live?", CONTEXT, top_k=3)
    assert [(a.text, a.start) for a in got] == [(a.text, a.start) for a in want]
    np.testing.assert_allclose([a.score for a in got], [a.score for a in want], rtol=0, atol=1e-6)


def _broken(qa, change):
    def call(inputs):
        out = _local(qa)(inputs)
        change(out)
        return out

    return call


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda o: o["start_top_log_probs"].__setitem__((0, 0), np.nan), "start_top_log_probs holds NaN"),
        (lambda o: o.update(cls_logits=np.full_like(o["cls_logits"], np.inf)), "cls_logits holds NaN or infinite"),
        (lambda o: o.update(end_top_index=o["end_top_index"][:, :3]), r"end_top_index has shape \(1, 3\)"),
        (lambda o: o.update(start_top_index=o["start_top_index"][:0]), "start_top_index has shape"),
        (lambda o: o.update(start_top_index=o["start_top_index"] + 1000), "indices outside"),
        (lambda o: o.pop("cls_logits"), "lack cls_logits"),
        (lambda o: o.update(start_top_log_probs="x"), "not an array of numbers"),
    ],
    ids=["nan", "inf", "short-beam", "row-short", "index-range", "missing", "text"],
)
def test_bad_outputs_are_named(qa, change, message):
    with pytest.raises(RemoteModelError, match=message):
        _remote(qa, _broken(qa, change))("Where does Harry live?", CONTEXT)


def test_a_simple_head_server_for_a_joint_client(qa):
    def simple(inputs):
        return {"start_logits": np.zeros(inputs["input_ids"].shape), "end_logits": np.zeros(inputs["input_ids"].shape)}

    with pytest.raises(RemoteModelError, match="lack start_top_log_probs.*joint"):
        _remote(qa, simple)("Where does Harry live?", CONTEXT)
    with pytest.raises(RemoteModelError, match="not a dict"):
        _remote(qa, lambda inputs: 42)("Where does Harry live?", CONTEXT)


def test_a_call_that_never_returns_times_out(qa):
    release = threading.Event()
    remote = _remote(qa, lambda inputs: release.wait(30), timeout=0.5)
    start = time.perf_counter()
    with pytest.raises(RemoteModelError, match="did not answer within 0.5 s"):
        remote("Where does Harry live?", CONTEXT)
    assert time.perf_counter() - start < 5
    release.set()


class _Server:
    """TF Serving's REST API on 127.0.0.1, answering with ``reply(body)`` after ``delay`` seconds."""

    def __init__(self, reply, delay=0.0):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.stop.wait(delay):
                    return
                data = json.dumps(reply(body)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.stop = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/models/electra_qa:predict"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_from_url_against_a_local_tf_serving_stand_in(qa):
    def reply(body):
        inputs = {k: np.asarray(v, "float32" if k == "p_mask" else "int32") for k, v in body["inputs"].items()}
        return {"outputs": {k: v.tolist() for k, v in _local(qa)(inputs).items()}}

    with _Server(reply) as server:
        remote = QuestionAnswerer(RemoteModel.from_url(server.url, "joint", qa.model.config), qa.tokenizer, qa.settings)
        assert remote("Where does Harry live?", CONTEXT).text == qa("Where does Harry live?", CONTEXT).text
    with _Server(reply, delay=30) as server:
        remote = QuestionAnswerer(
            RemoteModel.from_url(server.url, "joint", qa.model.config, timeout=0.5), qa.tokenizer, qa.settings
        )
        start = time.perf_counter()
        with pytest.raises(RemoteModelError):
            remote("Where does Harry live?", CONTEXT)
        assert time.perf_counter() - start < 5
    with pytest.raises(RemoteModelError, match="cannot reach"):
        QuestionAnswerer(
            RemoteModel.from_url("http://127.0.0.1:9/x", "joint", qa.model.config, timeout=2), qa.tokenizer, qa.settings
        )("Where does Harry live?", CONTEXT)
