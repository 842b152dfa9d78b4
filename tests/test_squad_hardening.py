"""SQuAD files and scoring as a careless user meets them: ids of one type everywhere, strict booleans, numbers where
numbers are required, deep JSON refused, and ``predict_squad``'s files written as a set."""

import json
import os

import pytest
from conftest import fixture_dir

from electra_qa import InputError, QuestionAnswerer, evaluate_squad, load_squad, predict_squad

CONTEXT = "Harry lives in Canada. He loves apples."


def _record(qid, text="apples", **extra):
    start = CONTEXT.find(text) if isinstance(text, str) else 0
    return {
        "id": qid,
        "question": "What does he love?",
        "context": CONTEXT,
        "answers": [{"text": text, "answer_start": start}],
        **extra,
    }


def test_integer_ids_match_on_both_sides():
    assert evaluate_squad([_record(1)], {1: "apples"})["exact_match"] == 100.0
    assert evaluate_squad([_record(1)], {"1": "apples"})["exact_match"] == 100.0
    with pytest.raises(InputError, match="twice"):
        evaluate_squad([_record(1)], {1: "apples", "1": "pears"})


def test_an_answer_that_is_not_text_stops_the_score_instead_of_dropping_the_question():
    with pytest.raises(InputError, match="cannot be read: 'b'"):
        evaluate_squad([_record("a"), _record("b", 5)], {"a": "apples", "b": "5"})


@pytest.mark.parametrize("value", ["false", "true", 0, None])
def test_is_impossible_must_be_a_boolean(value):
    data = load_squad([_record("a", is_impossible=value), _record("b", is_impossible=False)])
    assert [e.id for e in data.examples] == ["b"]
    assert "not true or false" in data.skipped[0].reason


def _v2(qid, impossible):
    record = _record(qid, is_impossible=impossible)
    if impossible:
        record["answers"] = []
    return record


@pytest.mark.parametrize(
    "na_probs, thresh",
    [
        ({"a": "0.5", "b": 0.1}, 1.0),
        ({"a": None, "b": 0.1}, 1.0),
        ({"a": 0.5, "b": 0.1}, "0.5"),
        ({"a": 0.5, "b": 0.1}, None),
        ({"a": 0.5, "b": 0.1}, float("nan")),
        ({"a": float("nan"), "b": 0.1}, 1.0),
    ],
)
def test_no_answer_probabilities_must_be_numbers(na_probs, thresh):
    data = [_v2("a", False), _v2("b", True)]
    with pytest.raises(InputError, match="must be (a number|numbers)"):
        evaluate_squad(data, {"a": "apples", "b": ""}, na_probs, thresh)
    assert evaluate_squad(data, {"a": "apples", "b": ""}, {"a": 0.5, "b": 0.1}, 1.0)["exact"] == 100.0


@pytest.mark.parametrize("name", ["deep.json", "deep.jsonl"])
def test_deeply_nested_json_is_our_error(tmp_path, name):
    (tmp_path / name).write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(InputError, match="nested too deeply"):
        load_squad(tmp_path / name)
    with pytest.raises(InputError, match="nested too deeply"):
        evaluate_squad([_record("a")], tmp_path / name)


@pytest.fixture(scope="module")
def qa():
    return QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), max_seq_length=64, doc_stride=24)


def test_predict_squad_output_dir_that_is_a_file(qa, tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        predict_squad(qa, [_record("a")], tmp_path / "out", progress=False)


def test_predict_squad_takes_a_checkpoint_path(tmp_path):
    predictions = predict_squad(str(fixture_dir("ngc_tiny")), [_record("a")], progress=False)
    assert list(predictions) == ["a"]


def test_predict_squad_files_are_written_as_a_set(qa, tmp_path):
    predict_squad(qa, [_record("old")], tmp_path, progress=False)
    before = {n: (tmp_path / n).read_bytes() for n in os.listdir(tmp_path)}
    predictions = predict_squad(qa, [_record("x\ud800"), _record("b")], tmp_path, progress=False)
    assert sorted(predictions) == ["b", "x\ud800"]  # an id that is not valid Unicode is written escaped
    assert sorted(json.loads((tmp_path / "predictions.json").read_text())) == ["b", "x\ud800"]
    assert sorted(json.loads((tmp_path / "nbest_predictions.json").read_text())) == ["b", "x\ud800"]
    assert before.keys() == set(os.listdir(tmp_path))
