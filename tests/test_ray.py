"""Ray Data: a pool of two actors on a local cluster answers as ``qa.batch`` does, each actor loading the model once."""

import os
import sys

import pytest
from conftest import fixture_dir

ray = pytest.importorskip("ray", reason="Ray is the optional extra: pip install -e '.[ray]' (CI installs it)")

from electra_qa import QuestionAnswerer  # noqa: E402
from electra_qa.ray import Answerer, answer_dataset  # noqa: E402

SETTINGS = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}


class CountingAnswerer(Answerer):
    """Records each model load (one line per load: the actor's process id) in a file, and which actor answered."""

    def __init__(self, *args, load_log=None, **kwargs):
        super().__init__(*args, **kwargs)
        with open(load_log, "a") as f:
            f.write(f"{os.getpid()}\n")

    def __call__(self, batch):
        columns = super().__call__(batch)
        columns["pid"] = [os.getpid()] * len(columns["answer"])
        return columns


@pytest.fixture(scope="module")
def cluster():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}
        },
    )
    yield
    ray.shutdown()


def test_two_actors_answer_as_batch_does_loading_once_each(cluster, tmp_path):
    rows = [
        {"id": i, "question": q, "context": c}
        for i, (q, c) in enumerate(
            [
                ("What food does Harry like?", "My name is Harry and I grew up in Canada. I love apples."),
                ("Who won?", "The Broncos won the game in February."),
                ("Where is the bridge?", "The old bridge is in the town centre, near the river."),
            ]
            * 20
        )
    ]
    log = tmp_path / "loads.txt"
    ds = ray.data.from_items(rows).repartition(6)
    out = answer_dataset(
        ds,
        fixture_dir("ngc_tiny"),
        num_workers=2,
        num_cpus_per_worker=0.5,
        batch_size=10,
        answerer=CountingAnswerer,
        load_log=str(log),
        **SETTINGS,
    ).take_all()
    qa = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), **SETTINGS)
    expected = qa.batch([(r["question"], r["context"]) for r in rows])
    got = {r["id"]: r for r in out}
    assert sorted(got) == list(range(len(rows)))
    for r, e in zip(rows, expected):
        assert (got[r["id"]]["answer"], got[r["id"]]["start"], got[r["id"]]["end"]) == (e.text, e.start, e.end)
        assert got[r["id"]]["score"] == pytest.approx(e.score, rel=1e-5)
    # One load per actor that answered. Both actors start, but on a busy machine Ray may finish the 60 rows on the
    # first one ready before the second has loaded, so one or two actors may answer.
    loads = [int(pid) for pid in log.read_text().split()]
    answered = {r["pid"] for r in out}
    assert len(loads) == len(set(loads)) <= 2, loads
    assert answered <= set(loads) and len(answered) >= 1


def test_bad_rows_do_not_stop_the_job(cluster):
    rows = [
        {"id": 0, "question": "What food does Harry like?", "context": "I am Harry. I love apples."},
        {"id": 1, "question": "", "context": "An empty question."},
        {"id": 2, "question": "Who?", "context": None},
    ]
    out = {
        r["id"]: r
        for r in answer_dataset(
            ray.data.from_items(rows), fixture_dir("ngc_tiny"), num_workers=1, num_cpus_per_worker=0.5, **SETTINGS
        ).take_all()
    }
    assert out[0]["error"] is None and out[0]["answer"]
    assert out[1]["error"] == "question is empty" and out[1]["answer"] == "" and out[1]["score"] == 0.0
    assert "context must be a string" in out[2]["error"]


def test_cli_batch_with_the_ray_engine(cluster, tmp_path, capsys):
    import json

    from electra_qa.cli import main

    source = tmp_path / "in.jsonl"
    rows = [
        {"id": i, "question": q, "context": "Harry lives in Canada. He loves apples."}
        for i, q in enumerate(["Where does Harry live?", "What does he love?", " "])
    ]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = [
        "batch",
        str(source),
        str(tmp_path / "out"),
        "--engine",
        "ray",
        "--workers",
        "1",
        "--checkpoint",
        str(fixture_dir("ngc_tiny")),
        "--max-seq-length",
        "64",
        "--doc-stride",
        "24",
        "--max-query-length",
        "16",
    ]
    assert main(argv) == 0
    assert "2 rows answered, 1 bad rows" in capsys.readouterr().out
    written = [json.loads(line) for f in sorted((tmp_path / "out").iterdir()) for line in f.read_text().splitlines()]
    assert sorted(r["id"] for r in written) == [0, 1, 2]
    qa = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), **SETTINGS)
    for r in written:
        if r["id"] != 2:
            e = qa(rows[r["id"]]["question"], rows[r["id"]]["context"])
            assert (r["answer"], r["start"], r["end"]) == (e.text, e.start, e.end) and r["error"] is None
