"""Hostile inputs give our own errors (``ElectraQAError``, a ``ValueError``) naming the problem, never a foreign
exception; settings are validated once; the ``answer()`` cache neither blocks nor reloads."""

import json
import threading
import time

import numpy as np
import pytest
from conftest import fixture_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import electra_qa
from electra_qa import Answer, ConfigError, ElectraConfig, InputError, QuestionAnswerer
from electra_qa.cli import main


@pytest.fixture(scope="module")
def qa():
    return QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"))


@pytest.mark.parametrize(
    "question, context", [("What?", "apples \ud800"), ("Wh\udcffat?", "apples"), ("What?", "\udfff")]
)
def test_lone_surrogates_are_input_errors(qa, question, context):
    for call in (
        lambda: qa(question, context),
        lambda: qa(question, context, top_k=3),
        lambda: qa.batch([(question, context)]),
        lambda: electra_qa.answer(question, context, checkpoint=fixture_dir("ngc_tiny")),
    ):
        with pytest.raises(InputError, match="lone surrogate"):
            call()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(st.characters(), min_size=0, max_size=30), context=st.text(st.characters(), max_size=200))
def test_any_code_points_give_an_answer_or_an_input_error(qa, question, context):
    try:
        a = qa(question, context)
    except InputError:
        return
    assert a.text == context[a.start : a.end]


def test_cli_rejects_bad_text_with_one_message(tmp_path, capsys):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    folder = str(fixture_dir("ngc_tiny"))
    assert main(["answer", "--checkpoint", folder, "-q", "What?", "--context-file", str(tmp_path / "latin1.txt")]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8" in err and "latin1.txt" in err and "Traceback" not in err
    assert main(["answer", "--checkpoint", folder, "-q", "Wh\udcffat?", "-c", "apples"]) == 2
    assert "lone surrogate" in capsys.readouterr().err
    assert main(["answer", "--checkpoint", folder, "-q", "What?", "-c", "apples", "--top-k", "0"]) == 2


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"batch_size": -1}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": "3"}, "top_k"),
    ],
)
def test_batch_settings_are_validated(qa, kwargs, words):
    with pytest.raises(InputError, match=words):
        qa.batch([("What?", "apples")], **kwargs)


def test_numpy_integers_are_accepted(qa):
    answers = qa.batch([("What?", "I love apples.")], batch_size=np.int32(2), top_k=np.int64(3))
    assert 1 <= len(answers[0]) <= 3
    assert QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), n_best_size=np.int64(5)).n_best_size == 5


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"null_score_diff_threshold": "x"}, "null_score_diff_threshold"),
        ({"doc_overlap": -1}, "doc_overlap"),
        ({"scoring": "best"}, "scoring"),
        ({"max_answer_length": True}, "max_answer_length"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_constructor_settings_are_validated_up_front(kwargs, words):
    with pytest.raises(InputError, match=words):
        QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), **kwargs)


def test_answer_checks_its_input_before_any_download(monkeypatch):
    monkeypatch.setattr(QuestionAnswerer, "from_pretrained", lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(InputError, match="question"):
        electra_qa.answer(None, "context")
    with pytest.raises(InputError, match="top_k"):
        electra_qa.answer("Who?", "Anna.", top_k=0)


def test_answer_supports_top_k_and_keys_the_cache_on_the_resolved_path(tmp_path):
    folder = fixture_dir("ngc_tiny")
    electra_qa.clear_cache()
    top = electra_qa.answer("What food?", "I love apples.", checkpoint=folder, top_k=3)
    assert isinstance(top, list) and 1 <= len(top) <= 3
    (tmp_path / "link").symlink_to(folder)
    for spelling in (str(folder) + "/", str(folder / "."), tmp_path / "link"):
        electra_qa.answer("What food?", "I love apples.", checkpoint=spelling)
    assert len(electra_qa.pipeline._CACHE) == 1


def test_answer_cache_is_bounded(monkeypatch):
    loads = []

    def fake(path, **kwargs):
        loads.append(path)
        return lambda q, c, top_k=None: Answer(c, 0, len(c), 1.0)

    monkeypatch.setattr(QuestionAnswerer, "from_checkpoint", staticmethod(fake))
    electra_qa.clear_cache()
    electra_qa.set_cache_size(2)
    try:
        for name in ("a", "b", "a", "c", "a", "b"):
            electra_qa.answer("q?", "ctx", checkpoint=f"/models/{name}")
        assert [p.rsplit("/", 1)[-1] for p in loads] == ["a", "b", "c", "b"]  # "b" was dropped for "c"
    finally:
        electra_qa.set_cache_size(4)
        electra_qa.clear_cache()


def test_a_loaded_model_never_waits_for_another_load(monkeypatch):
    release = threading.Event()

    def fake(path, **kwargs):
        if path.endswith("slow"):
            release.wait(timeout=10)
        return lambda q, c, top_k=None: Answer(c, 0, len(c), 1.0)

    monkeypatch.setattr(QuestionAnswerer, "from_checkpoint", staticmethod(fake))
    electra_qa.clear_cache()
    electra_qa.answer("q?", "ctx", checkpoint="/models/fast")
    slow = threading.Thread(target=electra_qa.answer, args=("q?", "ctx"), kwargs={"checkpoint": "/models/slow"})
    slow.start()
    time.sleep(0.2)  # the slow load holds its key's lock now
    t = time.perf_counter()
    electra_qa.answer("q?", "ctx", checkpoint="/models/fast")
    waited = time.perf_counter() - t
    release.set()
    slow.join()
    electra_qa.clear_cache()
    assert waited < 1.0


def test_typed_special_tokens_stay_text_with_either_tokenizer_file():
    folder = fixture_dir("hf_tiny")
    from electra_qa import load_tokenizer

    for source in ("tokenizer.json", "vocab.txt"):
        tok = load_tokenizer(folder / source)
        ids = tok.encode("a [SEP] b [CLS] [PAD]").ids
        assert not {tok.sep_id, tok.cls_id, tok.pad_id} & set(ids), source
    assert (
        load_tokenizer(folder / "tokenizer.json").encode("a [SEP] b").ids
        == load_tokenizer(folder / "vocab.txt").encode("a [SEP] b").ids
    )


def test_answer_to_dict_and_truthiness(qa):
    a = qa("What food does Harry like?", "My name is Harry and I love apples.")
    assert json.loads(json.dumps(a.to_dict()))["text"] == a.text and bool(a)
    empty = qa("what?", "\u200b\u200b")
    assert empty.is_empty and not empty


@pytest.mark.parametrize(
    "field, value",
    [
        ("layer_norm_eps", None),
        ("initializer_range", "x"),
        ("hidden_dropout_prob", float("nan")),
        ("hidden_act", ["gelu"]),
    ],
)
def test_bad_config_values_are_config_errors(tmp_path, field, value):
    data = {**ElectraConfig(hidden_size=32, num_attention_heads=4).to_dict(), field: value}
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=field) as info:
        ElectraConfig.from_file(tmp_path / "config.json")
    assert "config.json" in str(info.value)


def test_non_utf8_config_and_state_files_name_the_file(tmp_path):
    from electra_qa import CheckpointError, load_model

    (tmp_path / "config.json").write_bytes(b'{"hidden_size": "\xff"}')
    with pytest.raises(ConfigError, match="config.json.*UTF-8"):
        ElectraConfig.from_file(tmp_path / "config.json")
    (tmp_path / "checkpoint").write_bytes(b'model_checkpoint_path: "\xff"\n')
    with pytest.raises(CheckpointError, match="checkpoint.*UTF-8"):
        load_model(tmp_path / "checkpoint")


def test_the_query_budget_is_decided_at_construction_not_per_question():
    qa = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"))  # 64 positions, default max_query_length 64
    assert (qa.max_seq_length, qa.max_query_length) == (64, 30)
    long_question = " ".join(["which of the many rivers near the old town"] * 10) + "?"
    a = qa(long_question, "The river Thames flows through London, past the old town and its bridges.")
    assert a.text == "The river Thames flows through London, past the old town and its bridges."[a.start : a.end]
    assert QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), max_query_length=16).max_query_length == 16
    with pytest.raises(InputError, match="max_seq_length"):
        QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), max_seq_length=6)


def test_paths_of_the_wrong_type_are_our_errors():
    from electra_qa import CheckpointError, load_model, load_tokenizer

    with pytest.raises(CheckpointError, match="int"):
        load_model(123)
    with pytest.raises(CheckpointError, match="int"):
        QuestionAnswerer.from_checkpoint(123)
    with pytest.raises(InputError, match="int"):
        load_tokenizer(7)
    with pytest.raises(InputError, match="paths"):
        electra_qa.answer("Who?", "Anna.", checkpoint=123)


def test_cli_checks_a_wrong_path_before_importing_the_backend(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, electra_qa.cli as c; sys.argv = ['electra-qa', "
            f"'inspect', {str(tmp_path / 'nothing')!r}]; rc = c.main(); "
            "print(rc, 'keras' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.split() == ["2", "False"], result.stderr[-2000:]
    assert "no checkpoint" in result.stderr and "Traceback" not in result.stderr


def test_env_reports_versions_backend_device_and_the_auto_precision(capsys):
    import keras

    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert f"keras backend:        {keras.backend.backend()}" in out
    assert f"keras:                {keras.__version__}" in out
    assert "precision 'auto':     float32" in out and "no GPU visible" in out  # CI and this machine: CPU only


def test_auto_reason_names_the_rule():
    from electra_qa.precision import DeviceInfo, auto_precision, auto_reason

    h100 = DeviceInfo("jax", "gpu", "NVIDIA H100", (9, 0))
    assert auto_precision(h100) == "mixed_float16" and "9.0" in auto_reason(h100)
    old = DeviceInfo("tensorflow", "gpu", "Tesla P100", (6, 0))
    assert auto_precision(old) == "float32" and "< 7.0" in auto_reason(old)
