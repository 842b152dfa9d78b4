"""Ray Data: two actors on a local cluster answer as ``qa.batch`` does, each loading the model once."""

import os
import sys

import pytest

from conftest import fixture_dir

ray = pytest.importorskip("ray", reason="Ray is the optional extra: pip install -e '.[ray]' (CI installs it)")

from electra_qa import QuestionAnswerer  # noqa: E402
from electra_qa.ray import Answerer, answer_dataset  # noqa: E402

SETTINGS = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}


class CountingAnswerer(Answerer):
    """Records each model load (one line per load: the actor's process id) in a file."""

    def __init__(self, *args, load_log=None, **kwargs):
        super().__init__(*args, **kwargs)
        with open(load_log, "a") as f:
            f.write(f"{os.getpid()}\n")


@pytest.fixture(scope="module")
def cluster():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": os.environ.get(
                 "KERAS_BACKEND", "tensorflow")}})
    yield
    ray.shutdown()


def test_two_actors_answer_as_batch_does_loading_once_each(cluster, tmp_path):
    rows = [{"id": i, "question": q, "context": c} for i, (q, c) in enumerate(
        [("What food does Harry like?", "My name is Harry and I grew up in Canada. I love apples."),
         ("Who won?", "The Broncos won the game in February."),
         ("Where is the bridge?", "The old bridge is in the town centre, near the river.")] * 20)]
    log = tmp_path / "loads.txt"
    ds = ray.data.from_items(rows).repartition(6)
    out = answer_dataset(ds, fixture_dir("ngc_tiny"), num_workers=2, num_cpus_per_worker=0.5, batch_size=10,
                         answerer=CountingAnswerer,
                         load_log=str(log), **SETTINGS).take_all()
    qa = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), **SETTINGS)
    expected = qa.batch([(r["question"], r["context"]) for r in rows])
    got = {r["id"]: r for r in out}
    assert sorted(got) == list(range(len(rows)))
    for r, e in zip(rows, expected):
        assert (got[r["id"]]["answer"], got[r["id"]]["start"], got[r["id"]]["end"]) == (e.text, e.start, e.end)
        assert got[r["id"]]["score"] == pytest.approx(e.score, rel=1e-5)
    loads = log.read_text().split()
    assert len(loads) == 2 and len(set(loads)) == 2  # two actors, one load each
