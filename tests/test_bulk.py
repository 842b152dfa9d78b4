"""``answer_file``: the same answers as ``qa.batch``, resumable after a kill with byte-identical output, bad rows
reported, duplicate ids refused before any work."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import fixture_dir

from electra_qa import InputError, QuestionAnswerer, answer_file
from electra_qa.cli import main

SETTINGS = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}


@pytest.fixture(scope="module")
def qa():
    return QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), **SETTINGS)


def _rows(n):
    squad = json.loads((fixture_dir("ngc_tiny") / "squad_dev.json").read_text())
    pairs = [(q["question"], p["context"]) for a in squad["data"] for p in a["paragraphs"] for q in p["qas"]]
    return [
        {"id": f"r{i}", "question": f"{pairs[i % len(pairs)][0]} ({i})", "context": pairs[i % len(pairs)][1]}
        for i in range(n)
    ]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_same_answers_as_batch(qa, tmp_path):
    rows = _rows(60)
    summary = answer_file(
        _write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl", qa, chunk_size=16, progress=False, top_k=2
    )
    assert (summary.answered, summary.errors, summary.already_done) == (60, 0, 0)
    out = _lines(tmp_path / "out.jsonl")
    expected = qa.batch([(r["question"], r["context"]) for r in rows], top_k=2)
    assert [o["id"] for o in out] == [r["id"] for r in rows]
    for o, e, r in zip(out, expected, rows):
        assert (o["answer"], o["start"], o["end"]) == (e[0].text, e[0].start, e[0].end)
        assert o["score"] == pytest.approx(e[0].score, rel=1e-5)
        assert [a["answer"] for a in o["top_k"]] == [a.text for a in e]
        assert r["context"][o["start"] : o["end"]] == o["answer"]


SCRIPT = """
import sys
from electra_qa import QuestionAnswerer, answer_file
qa = QuestionAnswerer.from_checkpoint(sys.argv[3], max_seq_length=64, doc_stride=24, max_query_length=16)
print(answer_file(sys.argv[1], sys.argv[2], qa, chunk_size=10, progress=False), flush=True)
"""


def _run(args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        **kwargs,
    )


def test_a_killed_run_resumes_to_byte_identical_output(tmp_path):
    rows = _rows(300)
    rows[7]["question"] = ""  # a bad row, reported once
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    folder = fixture_dir("ngc_tiny")
    whole = _run([source, tmp_path / "whole.jsonl", folder])
    assert whole.wait(timeout=600) == 0, whole.stderr.read()[-2000:]
    killed = _run([source, tmp_path / "resumed.jsonl", folder])
    deadline = time.time() + 300
    while time.time() < deadline:  # wait for some chunks, then kill without warning
        path = tmp_path / "resumed.jsonl"
        if path.exists() and len(path.read_bytes().splitlines()) >= 60:
            break
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    partial = (tmp_path / "resumed.jsonl").read_bytes()
    assert 60 <= len(partial.splitlines()) < 299 and partial.endswith(b"\n")
    again = _run([source, tmp_path / "resumed.jsonl", folder])
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-2000:]
    assert "done by an earlier run" in out
    assert (tmp_path / "resumed.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    assert (tmp_path / "resumed.errors.jsonl").read_bytes() == (tmp_path / "whole.errors.jsonl").read_bytes()
    assert _lines(tmp_path / "whole.errors.jsonl") == [{"row": 8, "id": "r7", "reason": "question is empty"}]


def test_bad_rows_go_to_the_errors_file(qa, tmp_path):
    rows = [
        {"id": "a", "question": "Who?", "context": "Anna lives here."},
        {"id": "b", "question": "Who?"},
        {"question": "Who?", "context": "Anna."},
        {"id": "d", "question": 5, "context": "Anna."},
        {"id": "e", "question": "Who?", "context": "   "},
        {"id": "f", "question": "Who lives here?", "context": "Anna lives here."},
    ]
    summary = answer_file(_write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl", qa, progress=False)
    assert (summary.answered, summary.errors) == (2, 4)
    assert [o["id"] for o in _lines(tmp_path / "out.jsonl")] == ["a", "f"]
    errors = {(e["row"], e["id"]): e["reason"] for e in _lines(tmp_path / "out.errors.jsonl")}
    assert errors == {
        (2, "b"): "no 'context' field",
        (3, None): "no 'id'",
        (4, "d"): "question must be a string, got int",
        (5, "e"): "context is empty",
    }


def test_duplicate_ids_are_refused_before_any_work(tmp_path, monkeypatch):
    rows = _rows(5) + [_rows(5)[2], _rows(5)[4]]
    monkeypatch.setattr(QuestionAnswerer, "from_checkpoint", lambda *a, **k: pytest.fail("loaded a model"))
    with pytest.raises(InputError, match="2 duplicate ids.*'r2', 'r4'"):
        answer_file(_write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl", "/some/model")
    assert not (tmp_path / "out.jsonl").exists()


def test_csv_input_and_a_torn_last_line(qa, tmp_path):
    rows = _rows(12)
    with open(tmp_path / "in.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["id", "question", "context"])
        writer.writeheader()
        writer.writerows(rows)
    answer_file(tmp_path / "in.csv", tmp_path / "out.jsonl", qa, chunk_size=5, progress=False)
    complete = (tmp_path / "out.jsonl").read_bytes()
    lines = complete.splitlines(keepends=True)
    (tmp_path / "out.jsonl").write_bytes(b"".join(lines[:10]) + lines[10][:7])  # a power cut mid-line
    summary = answer_file(tmp_path / "in.csv", tmp_path / "out.jsonl", qa, chunk_size=5, progress=False)
    assert summary.already_done == 10 and summary.answered == 2
    assert (tmp_path / "out.jsonl").read_bytes() == complete


def test_cli_batch(tmp_path, capsys):
    source = _write_jsonl(tmp_path / "in.jsonl", _rows(8))
    folder = str(fixture_dir("ngc_tiny"))
    assert (
        main(
            [
                "batch",
                str(source),
                str(tmp_path / "out.jsonl"),
                "--checkpoint",
                folder,
                "--max-seq-length",
                "64",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "8 rows answered" in capsys.readouterr().out
    assert len(_lines(tmp_path / "out.jsonl")) == 8
    assert main(["batch", str(tmp_path / "missing.jsonl"), str(tmp_path / "o.jsonl"), "--checkpoint", folder]) == 2


def test_parquet_output_matches_json_lines_and_resumes(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    from electra_qa import answer_file

    rows = [
        {"id": f"r{i}", "question": q, "context": "Harry lives in Canada. He loves apples and pears."}
        for i, q in enumerate(["Where does Harry live?", "What does he love?", "", "Who lives in Canada?"] * 3)
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows[:8]))
    folder = fixture_dir("ngc_tiny")
    settings = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16, "progress": False}
    answer_file(source, tmp_path / "ref.jsonl", folder, top_k=2, **settings)
    first = answer_file(source, tmp_path / "out.parquet", folder, top_k=2, chunk_size=3, **settings)
    assert (first.answered, first.errors) == (6, 2) and not (tmp_path / "out.parquet.partial.jsonl").exists()
    assert (tmp_path / "out.errors.jsonl").exists()
    reference = [json.loads(line) for line in (tmp_path / "ref.jsonl").read_text().splitlines()]
    table = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["id"] for r in table] == [r["id"] for r in reference]
    for got, want in zip(table, reference):
        assert (got["answer"], got["start"], got["end"]) == (want["answer"], want["start"], want["end"])
        assert abs(got["score"] - want["score"]) < 1e-6 and len(got["top_k"]) == 2  # other chunks: float32 noise
    before = (tmp_path / "out.parquet").read_bytes()
    again = answer_file(source, tmp_path / "out.parquet", folder, top_k=2, **settings)
    assert again.answered == 0 and (tmp_path / "out.parquet").read_bytes() == before  # nothing left to do
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))  # the input grew: only the new rows run
    grown = answer_file(source, tmp_path / "out.parquet", folder, top_k=2, **settings)
    fresh = answer_file(source, tmp_path / "fresh.parquet", folder, top_k=2, **settings)
    assert grown.answered == 3 and fresh.answered == 9
    grown_rows, fresh_rows = (pq.read_table(tmp_path / f).to_pylist() for f in ("out.parquet", "fresh.parquet"))
    assert [(r["id"], r["answer"], r["start"], r["end"]) for r in grown_rows] == [
        (r["id"], r["answer"], r["start"], r["end"]) for r in fresh_rows
    ]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(grown_rows, fresh_rows)) < 1e-6
