"""The ONNX Runtime path: the exported graph equals the Keras model on NVIDIA's fixtures, answers come out the same,
and a process that runs it never imports TensorFlow or Keras."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import fixture_dir

from electra_qa import InputError, QuestionAnswerer
from electra_qa.features import pad_batch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from electra_qa.onnx_export import export_onnx  # noqa: E402

SETTINGS = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}
CONTEXT = "Harry lives in Canada. He loves apples and pears. " * 6


@pytest.fixture(scope="module", params=["ngc_tiny", "ngc_tiny_simple"])
def pair(request, tmp_path_factory):
    qa = QuestionAnswerer.from_checkpoint(fixture_dir(request.param), **SETTINGS)
    path = export_onnx(qa, tmp_path_factory.mktemp(request.param) / "model.onnx")
    return qa, QuestionAnswerer.from_onnx(path, **SETTINGS), path


def test_outputs_equal_the_keras_model(pair):
    qa, ox, _ = pair
    features = qa.features([("Where does Harry live?", CONTEXT), ("What does he love?", CONTEXT[:60])])
    flat = [f for fs in features for f in fs]
    for length in (64, 40):  # any length: the graph's shapes are dynamic
        inputs = pad_batch(flat, length if length >= max(f.length for f in flat) else 64, rows=len(flat))
        want = {k: np.asarray(v) for k, v in qa.model(inputs).items() if k != "sequence_output"}
        got = ox.model(inputs)
        assert set(got) == set(want)
        for name in want:
            assert got[name].dtype == want[name].dtype
            np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name", ["ngc_tiny", "ngc_tiny_simple"])
def test_the_standard_ops_graph_equals_the_keras_model(name, tmp_path):
    """``fused=False``: the same arithmetic in standard ONNX ops only (for TensorRT's parser, OpenVINO); the default
    file uses ONNX Runtime's fused Attention."""
    import onnx

    qa = QuestionAnswerer.from_checkpoint(fixture_dir(name), **SETTINGS)
    fused, standard = (export_onnx(qa, tmp_path / f"{f}.onnx", fused=f) for f in (True, False))
    assert {n.domain for n in onnx.load(standard).graph.node} == {""}
    assert sum(n.op_type == "Attention" for n in onnx.load(fused).graph.node) == qa.model.config.num_hidden_layers
    flat = [f for fs in qa.features([("Where does Harry live?", CONTEXT)]) for f in fs]
    inputs = pad_batch(flat, 64)
    want = {k: np.asarray(v) for k, v in qa.model(inputs).items() if k != "sequence_output"}
    got = QuestionAnswerer.from_onnx(standard, **SETTINGS).model(inputs)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("act", ["gelu", "gelu_new", "relu"])
def test_every_activation_in_both_graphs(act, tmp_path):
    """BiasGelu, FastGelu and Relu (fused) and their standard-op forms, against the Keras model: random weights of
    a two-layer model, a smoke test of the arithmetic (the answers' accuracy is the trained model's, BENCHMARKS.md)."""
    import dataclasses

    from conftest import tiny_config

    from electra_qa import ElectraForQuestionAnswering

    qa = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny_simple"), **SETTINGS)
    config = dataclasses.replace(tiny_config(qa.tokenizer.vocab_size), hidden_act=act, num_hidden_layers=2)
    model = ElectraForQuestionAnswering(config, head="simple")
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(0, 0.3, size=v.shape).astype("float32"))
    mine = QuestionAnswerer(model, qa.tokenizer, **SETTINGS)
    flat = [f for fs in mine.features([("Where does Harry live?", CONTEXT), ("Who?", "Harry.")]) for f in fs]
    inputs = pad_batch(flat, 64)
    want = np.asarray(model(inputs)["start_logits"])
    for fused in (True, False):
        got = QuestionAnswerer.from_onnx(export_onnx(mine, tmp_path / f"{fused}.onnx", fused=fused)).model(inputs)
        np.testing.assert_allclose(got["start_logits"], want, rtol=0, atol=1e-5, err_msg=f"{act}, fused={fused}")


def test_calls_are_split_by_tokens_with_the_same_answers(pair):
    """ONNX Runtime on CPU runs a batch in calls of at most ``call_tokens`` tokens, each padded to a multiple of 8:
    the answers and scores are those of one call per batch."""
    from electra_qa.runner import _token_groups

    _, ox, _ = pair
    pairs = [("Where does Harry live?", CONTEXT), ("What does he love?", CONTEXT[:60]), ("Who?", "Harry lives.")]
    assert ox.model.call_tokens == 1024  # the CPU provider
    calls = {1024: [], 64: []}
    run = ox.model.predict_on_batch
    ox.model.predict_on_batch = lambda inputs: (
        calls[ox.model.call_tokens].append(inputs["input_ids"].shape) or run(inputs)
    )
    try:
        want = ox.batch(pairs, top_k=3)
        ox.model.call_tokens = 64
        got = ox.batch(pairs, top_k=3)
    finally:
        ox.model.call_tokens = 1024
        del ox.model.predict_on_batch
    assert len(calls[1024]) == 1 and len(calls[64]) > 1
    for budget, shapes in calls.items():
        assert sum(rows for rows, _ in shapes) == len(calls[1024]) * calls[1024][0][0]  # every window once
        assert all(length % 8 == 0 and (rows * length <= budget or rows == 1) for rows, length in shapes)
    for a, b in zip(want, got):
        assert [(x.text, x.start) for x in a] == [(x.text, x.start) for x in b]
        np.testing.assert_allclose([x.score for x in a], [x.score for x in b], atol=1e-6)
    lengths = [10, 12, 30, 31, 64, 64]
    features = [type("F", (), {"length": n})() for n in lengths]
    assert [[f.length for f in g] for g in _token_groups(features, 64)] == [[10, 12], [30, 31], [64], [64]]
    assert [[f.length for f in g] for g in _token_groups(features, float("inf"))] == [lengths]


def test_cpu_sessions_turn_off_the_skip_layer_norm_fusion(pair, monkeypatch):
    """On CPU (with or without Azure's provider, which computes nothing, listed first) the session runs without
    ONNX Runtime's SkipLayerNormalization fusion and splits calls; a provider list with a GPU keeps both defaults."""
    import onnxruntime

    from electra_qa.onnx_model import OnnxModel

    _, _, path = pair
    for available in (["AzureExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]):
        monkeypatch.setattr(onnxruntime, "get_available_providers", lambda available=available: available)
        model = OnnxModel(path)
        assert model.disabled_optimizers == ["SkipLayerNormFusion"] and model.call_tokens == 1024
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    model = OnnxModel(path)  # no CUDA here: ONNX Runtime falls back to the CPU, and the session is made again for it
    assert model.providers[0] == "CPUExecutionProvider" and model.disabled_optimizers == ["SkipLayerNormFusion"]


def test_answers_are_identical(pair):
    qa, ox, _ = pair
    data = fixture_dir("ngc_tiny") / "squad_dev.json"
    from electra_qa import load_squad

    pairs = [(e.question, e.context) for e in load_squad(data).examples]
    for a, b in zip(qa.batch(pairs, top_k=3), ox.batch(pairs, top_k=3)):
        assert [(x.text, x.start, x.end) for x in a] == [(x.text, x.start, x.end) for x in b]
        np.testing.assert_allclose([x.score for x in a], [x.score for x in b], atol=1e-5)


def test_a_process_running_it_never_imports_tensorflow_or_keras(pair):
    qa, _, path = pair
    code = textwrap.dedent(f"""
        import sys
        class Blocked:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tensorflow", "keras", "jax", "torch"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Blocked())
        from electra_qa import QuestionAnswerer
        qa = QuestionAnswerer.from_onnx({path!r}, max_seq_length=64, doc_stride=24, max_query_length=16)
        a = qa("Where does Harry live?", {CONTEXT!r})
        print(a.text, a.start, a.end)
        assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    want = qa("Where does Harry live?", CONTEXT)
    assert out.stdout.split() == [*want.text.split(), str(want.start), str(want.end)]


def test_int8_and_float16_files_answer(pair, tmp_path):
    qa, _, _ = pair
    for options in ({"quantize": "int8"}, {"quantize": "int8", "keep_float": ()}, {"float16": True}):
        path = export_onnx(qa, tmp_path / "m.onnx", **options)
        ox = QuestionAnswerer.from_onnx(path, **SETTINGS)
        a = ox("Where does Harry live?", CONTEXT)
        assert CONTEXT[a.start : a.end] == a.text
    with pytest.raises(InputError, match="unknown groups"):
        export_onnx(qa, tmp_path / "m.onnx", quantize="int8", keep_float=("nothing",))
    with pytest.raises(InputError, match="exclude each other"):
        export_onnx(qa, tmp_path / "m.onnx", quantize="int8", float16=True)
    with pytest.raises(InputError, match="quantize must be"):
        export_onnx(qa, tmp_path / "m.onnx", quantize="int4")
    path = export_onnx(qa, tmp_path / "new" / "deeper" / "m.onnx")  # the README's model/model.onnx: folder made
    assert os.path.isfile(path) and os.path.isfile(tmp_path / "new" / "deeper" / "vocab.txt")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        export_onnx(qa, tmp_path / "a-file" / "m.onnx")
    with pytest.raises(InputError, match="is a folder; name a file"):
        export_onnx(qa, tmp_path / "new")


def test_bad_files_and_providers(pair, tmp_path):
    _, _, path = pair
    from electra_qa import ElectraQAError

    with pytest.raises(InputError, match="no ONNX file"):
        QuestionAnswerer.from_onnx(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    with pytest.raises(ElectraQAError, match="cannot load"):
        QuestionAnswerer.from_onnx(tmp_path / "bad.onnx", vocab=os.path.join(os.path.dirname(path), "vocab.txt"))
    with pytest.raises(InputError, match="has no NoSuchExecutionProvider"):
        QuestionAnswerer.from_onnx(path, providers=["NoSuchExecutionProvider"])


def test_cli_exports_and_answers_on_onnx_runtime(tmp_path, capsys):
    from electra_qa.cli import main

    folder = str(fixture_dir("ngc_tiny"))
    out = str(tmp_path / "model.onnx")
    assert main(["export", folder, "--onnx", out]) == 0 and "ONNX: " in capsys.readouterr().out
    question = ["-q", "Where does Harry live?", "-c", CONTEXT, "--max-seq-length", "64", "--doc-stride", "24"]
    assert main(["answer", "--checkpoint", out, "--runtime", "onnxruntime", *question, "--json"]) == 0
    got = __import__("json").loads(capsys.readouterr().out)[0]
    want = QuestionAnswerer.from_checkpoint(folder, **SETTINGS)("Where does Harry live?", CONTEXT)
    assert (got["text"], got["start"], got["end"]) == (want.text, want.start, want.end)
    assert main(["answer", "--checkpoint", folder, "--runtime", "onnxruntime", *question]) == 2
    assert "export one" in capsys.readouterr().err
    assert main(["env"]) == 0 and "CPUExecutionProvider" in capsys.readouterr().out


def test_remote_model_against_a_kserve_v2_server_running_the_onnx_file(pair):
    """Triton's protocol (KServe v2), served here by a stand-in on 127.0.0.1 that runs the exported file."""
    import http.server
    import json
    import threading

    from electra_qa.onnx_model import OnnxModel
    from electra_qa.serving import RemoteModel

    qa, ox, path = pair
    served = OnnxModel(path)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            inputs = {i["name"]: np.reshape(i["data"], i["shape"]) for i in body["inputs"]}
            outputs = served(inputs)
            reply = {
                "outputs": [
                    {"name": k, "shape": list(v.shape), "datatype": "FP32", "data": v.ravel().tolist()}
                    for k, v in outputs.items()
                ]
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v2/models/electra_qa/infer"
        remote = RemoteModel.from_url(url, qa.model.head, qa.model.config, protocol="kserve", timeout=30)
        client = QuestionAnswerer(remote, qa.tokenizer, qa.settings)
        got, want = client("Where does Harry live?", CONTEXT, top_k=3), qa("Where does Harry live?", CONTEXT, top_k=3)
        assert [(a.text, a.start) for a in got] == [(a.text, a.start) for a in want]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_every_entry_point_runs_the_onnx_file(pair, tmp_path):
    import json
    import pickle

    from electra_qa import answer_file
    from electra_qa.ray import Answerer

    qa, ox, path = pair
    want = qa("Where does Harry live?", CONTEXT)
    again = pickle.loads(pickle.dumps(ox))  # pickles as its file: what Ray and Spark workers get
    assert again("Where does Harry live?", CONTEXT).text == want.text
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "a", "question": "Where does Harry live?", "context": CONTEXT}) + "\n")
    answer_file(rows, tmp_path / "out.jsonl", path, progress=False, **SETTINGS)
    assert json.loads((tmp_path / "out.jsonl").read_text())["answer"] == want.text
    actor = Answerer(path, **SETTINGS)
    assert (
        actor(
            {
                "question": np.array(["Where does Harry live?"], dtype=object),
                "context": np.array([CONTEXT], dtype=object),
            }
        )["answer"][0]
        == want.text
    )
    docs = [("a", CONTEXT), ("b", "Paris is the capital of France.")]
    assert [(a.doc_id, a.start) for a in ox.ask("Where does Harry live?", docs)] == [
        (a.doc_id, a.start) for a in qa.ask("Where does Harry live?", docs)
    ]
