"""``answer_file`` as a careless or hostile user meets it: one writer per output, no row reported twice, no stale
answers after the input changed, the input never overwritten, and every bad file an ``InputError`` naming it."""

import csv
import json

import pytest
from conftest import fixture_dir

from electra_qa import InputError, QuestionAnswerer, answer_file
from electra_qa.cli import main
from electra_qa.files import output_lock

SETTINGS = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}
CONTEXT = "Harry lives in Canada. He loves apples and pears."


@pytest.fixture(scope="module")
def qa():
    return QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), **SETTINGS)


@pytest.fixture
def no_model(monkeypatch):
    """Fails the test if a model is loaded: the checks must come first."""
    monkeypatch.setattr(QuestionAnswerer, "from_checkpoint", lambda *a, **k: pytest.fail("a model was loaded"))


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _rows(n, question="Where does Harry live?"):
    return [{"id": f"r{i}", "question": f"{question} {i}", "context": CONTEXT} for i in range(n)]


def test_a_second_job_on_the_same_output_is_refused(qa, tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", _rows(3))
    with output_lock(str(tmp_path / "out.jsonl")):
        with pytest.raises(InputError, match="another job is writing"):
            answer_file(source, tmp_path / "out.jsonl", qa, progress=False)
    assert not (tmp_path / "out.jsonl").exists()
    assert answer_file(source, tmp_path / "out.jsonl", qa, progress=False).answered == 3  # the lock was released
    assert not (tmp_path / "out.jsonl.lock").exists()


def test_bad_rows_are_reported_once_across_reruns(qa, tmp_path):
    source = _jsonl(
        tmp_path / "in.jsonl", ['{"question": "q?", "context": "c"}', "[1, 2]", "7", *map(json.dumps, _rows(2))]
    )
    first = answer_file(source, tmp_path / "out.jsonl", qa, progress=False)
    errors = (tmp_path / "out.errors.jsonl").read_bytes()
    second = answer_file(source, tmp_path / "out.jsonl", qa, progress=False)
    assert (first.errors, first.answered, second.errors, second.answered) == (3, 2, 0, 0)
    assert second.already_done == 5
    assert (tmp_path / "out.errors.jsonl").read_bytes() == errors


def test_an_edited_input_is_refused_an_appended_one_resumes(qa, tmp_path):
    rows = _rows(4)
    source = _jsonl(tmp_path / "in.jsonl", rows)
    answer_file(source, tmp_path / "out.jsonl", qa, progress=False)
    before = (tmp_path / "out.jsonl").read_bytes()
    edited = [dict(rows[0], question="Who loves pears?"), *rows[1:]]
    _jsonl(source, edited)
    with pytest.raises(InputError, match="changed since the earlier run"):
        answer_file(source, tmp_path / "out.jsonl", qa, progress=False)
    _jsonl(source, rows[:3])  # a removed row
    with pytest.raises(InputError, match="changed since the earlier run"):
        answer_file(source, tmp_path / "out.jsonl", qa, progress=False)
    with pytest.raises(InputError, match="other settings.*top_k"):
        _jsonl(source, rows)
        answer_file(source, tmp_path / "out.jsonl", qa, progress=False, top_k=2)
    assert (tmp_path / "out.jsonl").read_bytes() == before
    _jsonl(source, rows + _rows(6)[4:])
    assert answer_file(source, tmp_path / "out.jsonl", qa, progress=False).answered == 2


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_the_input_is_never_the_output(tmp_path, suffix, no_model):
    if suffix == ".parquet":
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        source = tmp_path / "in.parquet"
        pq.write_table(pa.Table.from_pylist(_rows(3)), source)
    else:
        source = _jsonl(tmp_path / "in.jsonl", _rows(3))
    before = source.read_bytes()
    for output in (source, tmp_path / "." / source.name):
        with pytest.raises(InputError, match="is the input file"):
            answer_file(source, output, "/some/model", progress=False)
    assert source.read_bytes() == before


def test_outputs_that_cannot_be_written_fail_before_the_model_loads(tmp_path, no_model):
    source = _jsonl(tmp_path / "in.jsonl", _rows(2))
    with pytest.raises(InputError, match="folder .*does not exist"):
        answer_file(source, tmp_path / "missing" / "out.jsonl", "/m", progress=False)
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        answer_file(source, tmp_path / "dir.jsonl", "/m", progress=False)


@pytest.mark.parametrize(
    "content",
    ['{"unrelated": true}\n', "just some text\n", "id,question,context\nr0,q,c\n"],
    ids=["other-jsonl", "text", "csv"],
)
def test_an_output_that_is_not_ours_is_left_untouched(tmp_path, content, no_model):
    source = _jsonl(tmp_path / "in.jsonl", _rows(2))
    (tmp_path / "out.jsonl").write_text(content)
    with pytest.raises(InputError, match="is not an answers file"):
        answer_file(source, tmp_path / "out.jsonl", "/m", progress=False)
    assert (tmp_path / "out.jsonl").read_text() == content


def test_excel_csv_with_a_byte_order_mark(qa, tmp_path):
    with open(tmp_path / "in.csv", "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, ["id", "question", "context"])
        writer.writeheader()
        writer.writerows(_rows(3))
    summary = answer_file(tmp_path / "in.csv", tmp_path / "out.jsonl", qa, progress=False)
    assert (summary.answered, summary.errors) == (3, 0)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("twice.csv", b"id,question,question,context\nr,a,b,c\n", "names 'question' more than once"),
        ("latin1.csv", "id,question,context\nr,caf\xe9?,c\n".encode("latin-1"), "not UTF-8 text"),
        ("latin1.jsonl", '{"id": "r", "question": "caf\xe9?"}\n'.encode("latin-1"), "line 1 is not UTF-8"),
        ("long.csv", b"id,question,context\nr,q," + b"x" * 200_000 + b"\n", "field_size_limit"),
        ("deep.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
        ("truncated.parquet", b"PAR1\x00\x00", "not a readable Parquet file"),
    ],
)
def test_unreadable_inputs_are_our_error(tmp_path, name, data, message, no_model):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    with pytest.raises(InputError, match=message):
        answer_file(_write(tmp_path / name, data), tmp_path / "out.jsonl", "/m", progress=False)


@pytest.mark.parametrize("ids", [[1, "b"], [10**30, 2]], ids=["mixed", "huge"])
def test_parquet_output_ids_are_checked_before_any_work(tmp_path, ids, no_model):
    pytest.importorskip("pyarrow")
    source = _jsonl(tmp_path / "in.jsonl", [dict(r, id=i) for r, i in zip(_rows(2), ids)])
    with pytest.raises(InputError, match="Parquet"):
        answer_file(source, tmp_path / "out.parquet", "/m", progress=False)


def test_an_id_that_is_not_valid_unicode_is_a_bad_row_and_the_job_finishes(qa, tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", [json.dumps(dict(_rows(1)[0], id="bad\ud800")), *map(json.dumps, _rows(2))])
    summary = answer_file(source, tmp_path / "out.jsonl", qa, progress=False)
    assert (summary.answered, summary.errors) == (2, 1)
    (error,) = [json.loads(line) for line in (tmp_path / "out.errors.jsonl").read_text().splitlines()]
    assert "lone surrogate" in error["reason"]


def test_the_cli_prints_no_traceback(tmp_path, capsys):
    source = _write(tmp_path / "in.csv", b"id,question,question,context\nr,a,b,c\n")
    folder = str(fixture_dir("ngc_tiny"))
    assert main(["batch", str(source), str(tmp_path / "out.jsonl"), "--checkpoint", folder]) == 2
    err = capsys.readouterr().err
    assert "more than once" in err and "Traceback" not in err
    assert main(["batch", str(source), str(source), "--checkpoint", folder]) == 2
    assert "is the input file" in capsys.readouterr().err
