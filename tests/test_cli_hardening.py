"""The command line under the probes of hardening round 2: each bad input is one ``electra-qa: ...`` line on stderr
and exit status 2, never a traceback, and it is found before a model is loaded wherever it can be."""

import json
import sys

import pytest
from conftest import fixture_dir

from electra_qa import QuestionAnswerer
from electra_qa.cli import main

FOLDER = str(fixture_dir("ngc_tiny"))
SQUAD = str(fixture_dir("ngc_tiny") / "squad_dev.json")


@pytest.fixture
def no_model(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(QuestionAnswerer, "from_checkpoint", fail)
    monkeypatch.setattr("electra_qa.cli.load_qa_model", fail, raising=False)
    monkeypatch.setattr("electra_qa.cli.load_model", fail, raising=False)


def _deep(path):
    path.write_text("[" * 100_000 + "]" * 100_000)
    return str(path)


CASES = {
    "evaluate-deep-json": (lambda t: ["evaluate", _deep(t / "d.json"), "--checkpoint", FOLDER], "nested too deeply"),
    "predict-out-is-a-file": (
        lambda t: ["predict", SQUAD, "--checkpoint", FOLDER, "--out", str(_file(t / "f"))],
        "is a file, not a folder",
    ),
    "export-onto-a-file": (
        lambda t: ["export", FOLDER, "--saved-model", str(_file(t / "f"))],
        "is a file, not a folder",
    ),
    "convert-onto-a-file": (lambda t: ["convert", FOLDER, str(_file(t / "f"))], "is a file, not a folder"),
    "train-out-is-a-file": (
        lambda t: ["train", "--init", FOLDER, "--train", SQUAD, "--out", str(_file(t / "f"))],
        "is a file, not a folder",
    ),
    "evaluate-no-answers": (
        lambda t: ["evaluate", str(_records(t / "r.jsonl")), "--checkpoint", FOLDER],
        "no reference answers",
    ),
    "batch-input-is-output": (
        lambda t: ["batch", str(_records(t / "r.jsonl")), str(t / "r.jsonl"), "--checkpoint", FOLDER],
        "is the input file",
    ),
}


def _file(path):
    path.write_text("x")
    return path


def _records(path):
    path.write_text(json.dumps({"id": "a", "question": "Who?", "context": "Harry lives here."}) + "\n")
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_before_any_model(case, tmp_path, capsys, no_model):
    argv, message = CASES[case]
    assert main(argv(tmp_path)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("electra-qa: ")


def test_ray_engine_without_ray(tmp_path, capsys, monkeypatch, no_model):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    argv = ["batch", str(_records(tmp_path / "r.jsonl")), str(tmp_path / "out"), "--engine", "ray"]
    assert main([*argv, "--checkpoint", FOLDER]) == 2
    err = capsys.readouterr().err
    assert "needs Ray" in err and "Traceback" not in err


def test_an_unexpected_error_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr("electra_qa.cli._env", lambda args: 1 / 0)
    assert main(["env"]) == 3
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError" in err and "Traceback" not in err
