"""``predict_squad`` on NVIDIA's tiny fixtures and on real SQuAD text: the files NVIDIA's run writes, streaming in
chunks, bad records skipped and reported, and the SQuAD 2.0 guard."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import SHARED, fixture_dir
from test_pipeline_fixtures import _same_text  # the documented text differences from the reference

from electra_qa import InputError, QuestionAnswerer, evaluate_squad, load_squad, predict_squad

SQUAD = SHARED / "squad"


def _qa(name, **kwargs):
    folder = fixture_dir(name)
    s = json.loads((folder / "settings.json").read_text())["variant_settings"]
    return QuestionAnswerer.from_checkpoint(
        folder,
        max_seq_length=s["max_seq_length"],
        doc_stride=s["doc_stride"],
        max_query_length=s["max_query_length"],
        batch_size=8,
        **kwargs,
    )


def _real_slice(tmp_path, name, articles=1, paragraphs=6):
    path = SQUAD / name
    if not path.is_file():
        pytest.skip(f"real SQuAD data {path} is absent (it ships beside the repo in CI, not in a clone)")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["data"] = [dict(a, paragraphs=a["paragraphs"][:paragraphs]) for a in data["data"][:articles]]
    out = tmp_path / f"slice-{name}"
    out.write_text(json.dumps(data), encoding="utf-8")
    return out


@pytest.mark.parametrize("name", ["ngc_tiny", "ngc_tiny_simple"])
def test_files_match_nvidias_reference_run(name, tmp_path):
    folder = fixture_dir(name)
    qa = _qa(name)
    predictions = predict_squad(qa, folder / "squad_dev.json", tmp_path, progress=False)
    written = json.loads((tmp_path / "predictions.json").read_text())
    reference = json.loads((folder / "predictions.json").read_text())
    assert written == dict(predictions) and set(written) == set(reference)
    for qid, text in reference.items():  # the reference rebuilds text from whitespace words (README: differences)
        assert " ".join(written[qid].split()) == text, qid
    nbest = json.loads((tmp_path / "nbest_predictions.json").read_text())
    ref_nbest = json.loads((folder / "nbest_predictions.json").read_text())
    context = {
        q["id"]: p["context"]
        for a in json.loads((folder / "squad_dev.json").read_text())["data"]
        for p in a["paragraphs"]
        for q in p["qas"]
    }
    for qid, entries in nbest.items():
        assert sum(e["probability"] for e in entries) == pytest.approx(1.0, abs=1e-9)
        assert all(context[qid][e["start"] : e["end"]] == e["text"] for e in entries)
        if name == "ngc_tiny":  # joint head: the same candidates, so the same n-best list, logits included
            assert len(entries) == len(ref_nbest[qid])
            for e, r in zip(entries, ref_nbest[qid]):
                assert _same_text(name, e["text"], r["text"]), (e["text"], r["text"])
                assert e["probability"] == pytest.approx(r["probability"], abs=1e-5)
                assert (e["start_logit"], e["end_logit"]) == pytest.approx((r["start_logit"], r["end_logit"]), abs=1e-4)
    assert json.loads((tmp_path / "skipped.json").read_text()) == []
    assert not (tmp_path / "null_odds.json").exists()


def test_real_text_slice_streams_in_chunks(tmp_path, monkeypatch):
    data_file = _real_slice(tmp_path, "dev-v1.1-a.json", articles=2, paragraphs=5)
    data = load_squad(data_file)
    qa = _qa("ngc_tiny")
    seen = []  # (questions, windows) of each model pass
    original = QuestionAnswerer.features

    def features(self, pairs):
        result = original(self, pairs)
        seen.append((len(pairs), sum(len(fs) for fs in result)))
        return result

    monkeypatch.setattr(QuestionAnswerer, "features", features)
    whole = predict_squad(qa, data_file, progress=False, chunk_size=10_000)
    assert seen == [(len(data), whole.windows)] and whole.peak_windows == whole.windows
    seen.clear()
    chunked = predict_squad(qa, data_file, tmp_path / "out", progress=False, chunk_size=2)
    per_paragraph = [len(p["qas"]) for a in json.loads(data_file.read_text())["data"] for p in a["paragraphs"]]
    assert [q for q, _ in seen] == [a + b for a, b in zip(per_paragraph[::2], per_paragraph[1::2] + [0])]
    # windows alive at once: one chunk's, never the file's
    assert chunked.windows == whole.windows and chunked.peak_windows == max(w for _, w in seen) < whole.windows
    assert dict(chunked) == dict(whole)
    assert set(chunked) == {e.id for e in data.examples}
    nbest = json.loads((tmp_path / "out" / "nbest_predictions.json").read_text())
    contexts = {e.id: e.context for e in data.examples}
    for qid, entries in nbest.items():
        assert entries and sum(e["probability"] for e in entries) == pytest.approx(1.0, abs=1e-9)
        assert all(contexts[qid][e["start"] : e["end"]] == e["text"] for e in entries)
    scores = evaluate_squad(data_file, tmp_path / "out" / "predictions.json")
    official = subprocess.run(
        [sys.executable, str(SQUAD / "evaluate-v1.1.py"), str(data_file), str(tmp_path / "out" / "predictions.json")],
        capture_output=True,
        text=True,
    )
    assert scores == json.loads(official.stdout)


def test_bad_records_are_skipped_and_reported(tmp_path):
    records = [
        {"id": "a", "question": "Where is Paris?", "context": "Paris is in France."},
        {"id": "b", "question": "", "context": "Paris is in France."},
        {"question": "Who?", "context": "Anna."},
        {"id": "d", "question": "Who?", "context": 7},
        {"id": "a", "question": "Again?", "context": "Paris is in France."},
        {"id": "f", "question": "Who is there?", "context": "Anna is there."},
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    out = predict_squad(_qa("ngc_tiny"), path, tmp_path / "out", progress=False)
    assert set(out) == {"a", "f"}
    reasons = {(s.index, s.id): s.reason for s in out.skipped}
    assert reasons == {
        (1, "b"): "empty question",
        (2, None): "no id",
        (3, "d"): "context is int, not a string",
        (4, "a"): "duplicate id",
    }
    assert json.loads((tmp_path / "out" / "skipped.json").read_text())[0] == {
        "index": 1,
        "id": "b",
        "reason": "empty question",
    }


@pytest.mark.parametrize(
    "content, words",
    [
        ("not json at all {", "not valid JSON"),
        ('{"version": "1.1", "articles": []}', "no 'data' list"),
        ('{"data": [{"title": "x"}]}', "no 'paragraphs' list"),
        ('"a string"', "JSON str"),
    ],
)
def test_a_file_that_is_not_squad_is_an_input_error_naming_it(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=words) as info:
        load_squad(path)
    assert "bad.json" in str(info.value)


def test_version_2_needs_a_model_that_can_abstain():
    with pytest.raises(InputError, match="cannot abstain|can abstain"):
        _qa("ngc_tiny", version_2_with_negative=True)


def test_simple_head_on_squad_2_writes_null_odds_the_official_script_reads(tmp_path):
    data_file = _real_slice(tmp_path, "dev-v2.0-a.json", articles=1, paragraphs=4)
    qa = _qa("ngc_tiny_simple", version_2_with_negative=True)
    out = predict_squad(qa, data_file, tmp_path / "out", progress=False)
    odds = json.loads((tmp_path / "out" / "null_odds.json").read_text())
    assert set(odds) == set(out) and all(np.isfinite(v) for v in odds.values())
    empty = {qid for qid, text in out.items() if text == ""}
    assert empty == {qid for qid, v in odds.items() if v > qa.null_score_diff_threshold}
    official = subprocess.run(
        [
            sys.executable,
            str(SQUAD / "evaluate-v2.0.py"),
            str(data_file),
            str(tmp_path / "out" / "predictions.json"),
            "--na-prob-file",
            str(tmp_path / "out" / "null_odds.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert official.returncode == 0, official.stderr
    expected = json.loads(official.stdout)
    assert evaluate_squad(data_file, out, na_probs=out.null_odds) == expected


def test_cli_evaluate_and_predict(tmp_path, capsys):
    from electra_qa.cli import main

    folder = fixture_dir("ngc_tiny")
    common = [
        "--checkpoint",
        str(folder),
        "--max-seq-length",
        "64",
        "--doc-stride",
        "24",
        "--max-query-length",
        "16",
        "--no-progress",
    ]
    assert main(["evaluate", str(folder / "squad_dev.json"), *common, "--json", "--out", str(tmp_path / "e")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {
        **evaluate_squad(folder / "squad_dev.json", tmp_path / "e" / "predictions.json"),
        **{k: result[k] for k in ("questions", "windows", "questions_per_second", "skipped", "files")},
    }
    assert (result["questions"], result["windows"], result["skipped"]) == (4, 13, 0)
    reference = json.loads((folder / "predictions.json").read_text())
    assert main(["predict", str(folder / "squad_dev.json"), *common, "--out", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "exact_match" not in out and "predictions.json" in out
    written = json.loads((tmp_path / "p" / "predictions.json").read_text())
    assert {k: " ".join(v.split()) for k, v in written.items()} == reference


def test_cli_refuses_bad_data_and_squad_2_on_a_model_that_cannot_abstain(tmp_path, capsys):
    from electra_qa.cli import main

    (tmp_path / "bad.json").write_text("[1, 2")
    assert main(["evaluate", str(tmp_path / "bad.json"), "--checkpoint", "/nonexistent"]) == 2
    assert "bad.json" in capsys.readouterr().err
    records = [{"id": "x", "question": "Who?", "context": "Anna.", "answers": [], "is_impossible": True}]
    (tmp_path / "v2.jsonl").write_text(json.dumps(records[0]) + "\n")
    assert (
        main(["evaluate", str(tmp_path / "v2.jsonl"), "--checkpoint", str(fixture_dir("ngc_tiny")), "--no-progress"])
        == 2
    )
    assert "can abstain" in capsys.readouterr().err
