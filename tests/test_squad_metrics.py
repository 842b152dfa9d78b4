"""``evaluate_squad`` against the official SQuAD scripts (``../shared/squad/evaluate-v{1.1,2.0}.py``, run as
subprocesses): equal dicts, exactly, on many prediction sets over the real dev data."""

import json
import random
import subprocess
import sys

import pytest
from conftest import SHARED

from electra_qa import InputError
from electra_qa.squad import evaluate_squad, load_squad

SQUAD = SHARED / "squad"


def _squad(name):
    path = SQUAD / name
    if not path.is_file():
        pytest.skip(f"real SQuAD data {path} is absent (it ships beside the repo in CI, not in a clone)")
    return path


def _official(script, data_file, predictions, tmp_path, na_probs=None, thresh=None):
    pred_file = tmp_path / "predictions.json"
    pred_file.write_text(json.dumps(predictions), encoding="utf-8")
    command = [sys.executable, str(SQUAD / script), str(data_file), str(pred_file)]
    if na_probs is not None:
        (tmp_path / "na.json").write_text(json.dumps(na_probs), encoding="utf-8")
        command += ["--na-prob-file", str(tmp_path / "na.json")]
    if thresh is not None:
        command += ["--na-prob-thresh", repr(thresh)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout[result.stdout.index("{") :])


def _slice(tmp_path, name, articles):
    data = json.loads(_squad(name).read_text(encoding="utf-8"))
    data["data"] = data["data"][:articles]
    path = tmp_path / f"slice-{name}"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _perturb(text, rng):
    choice = rng.randrange(9)
    if choice == 0:
        return "The " + text
    if choice == 1:
        return text.upper() + "."
    if choice == 2:
        return "  " + text.replace(" ", " \t ") + "\n"
    if choice == 3:
        return f"({text}),"
    if choice == 4:
        words = text.split()
        return " ".join(words[: max(1, len(words) // 2)])
    if choice == 5:
        return text + " and an apple"
    if choice == 6:
        return text.replace("e", "\u00e9") + "\u00a0\u2019s"
    if choice == 7:
        return "a"
    return text


def _prediction_sets(data, seed):
    rng = random.Random(seed)
    examples = data.examples
    golds = {e.id: e.answers[0] if e.answers else "" for e in examples}
    sets = {
        "gold": golds,
        "perturbed": {qid: _perturb(text, rng) for qid, text in golds.items()},
        "empty": {qid: "" for qid in golds},
    }
    spans = {}
    for e in examples:
        start = rng.randrange(len(e.context))
        spans[e.id] = e.context[start : start + rng.randrange(1, 40)]
    sets["random spans"] = spans
    mixed = {}
    for e in examples:
        r = rng.random()
        mixed[e.id] = (
            golds[e.id] if r < 0.4 else _perturb(golds[e.id], rng) if r < 0.7 else "" if r < 0.8 else (spans[e.id])
        )
    sets["mixed"] = mixed
    return sets


def test_v1_equals_the_official_script(tmp_path):
    data_file = _slice(tmp_path, "dev-v1.1-a.json", 6)
    data = load_squad(data_file)
    assert data.version == "1.1" and len(data) > 1000
    for name, predictions in _prediction_sets(data, 0).items():
        assert evaluate_squad(data_file, predictions) == _official(
            "evaluate-v1.1.py", data_file, predictions, tmp_path
        ), name
    rng = random.Random(1)
    some = {qid: text for qid, text in _prediction_sets(data, 2)["mixed"].items() if rng.random() < 0.7}
    assert evaluate_squad(data, some) == _official("evaluate-v1.1.py", data_file, some, tmp_path)  # missing ids


def test_v1_whole_file_gold_answers(tmp_path):
    data_file = _squad("dev-v1.1-a.json")
    data = load_squad(data_file)
    assert len(data) == 8582 and not data.skipped
    predictions = _prediction_sets(data, 3)["mixed"]
    ours = evaluate_squad(data_file, predictions)
    assert ours == _official("evaluate-v1.1.py", data_file, predictions, tmp_path)
    assert evaluate_squad(data, {e.id: e.answers[0] for e in data.examples}) == {"exact_match": 100.0, "f1": 100.0}


def test_v2_equals_the_official_script(tmp_path):
    data_file = _squad("dev-v2.0-a.json")
    data = load_squad(data_file)
    assert data.version == "2.0" and len(data) == 4194
    assert sum(e.is_impossible for e in data.examples) == 2231
    rng = random.Random(4)
    for name, predictions in _prediction_sets(data, 5).items():
        expected = _official("evaluate-v2.0.py", data_file, predictions, tmp_path)
        assert evaluate_squad(data_file, predictions) == expected, name
        na_probs = {qid: rng.choice([0.0, 0.25, 0.5, 1.0, rng.random()]) for qid in predictions}
        for thresh in (None, 0.5):
            expected = _official("evaluate-v2.0.py", data_file, predictions, tmp_path, na_probs, thresh)
            assert "best_f1_thresh" in expected
            got = evaluate_squad(data, predictions, na_probs=na_probs, na_prob_thresh=1.0 if thresh is None else thresh)
            assert got == expected, (name, thresh)


def test_v2_missing_ids_are_an_input_error_where_the_script_crashes(tmp_path):
    data = load_squad(_squad("dev-v2.0-a.json"))
    predictions = {e.id: "" for e in data.examples[1:]}
    with pytest.raises(InputError, match=data.examples[0].id):
        evaluate_squad(data, predictions)


def test_bad_inputs_are_input_errors(tmp_path):
    data = load_squad(_squad("dev-v1.1-a.json"))
    with pytest.raises(InputError, match="not a string"):
        evaluate_squad(data, {data.examples[0].id: 3})
    (tmp_path / "p.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="dict"):
        evaluate_squad(data, tmp_path / "p.json")
