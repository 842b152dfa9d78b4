"""``fine_tune`` as a careless user meets it: evaluation data checked before the first epoch, output folders that
cannot be written refused before training, resumes that would mix recipes or retrain over saved epochs refused,
damaged state files named, a diverged run never saved."""

import json

import pytest
from conftest import fixture_dir

from electra_qa import InputError
from electra_qa.training import fine_tune

TINY = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16, "progress": False, "batch_size": 4}
START = fixture_dir("ngc_tiny_simple")
CONTEXT = "Harry lives in Canada. He loves apples and pears."
DATA = [
    {"id": f"q{i}", "question": q, "context": CONTEXT, "answers": [{"text": a, "answer_start": CONTEXT.find(a)}]}
    for i, (q, a) in enumerate([("Where does Harry live?", "Canada"), ("What does he love?", "apples and pears")])
]


@pytest.fixture
def no_training(monkeypatch):
    import keras

    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("training started"))


def test_evaluation_data_is_checked_before_training(tmp_path, no_training):
    bad = [dict(DATA[0], answers=[])]
    with pytest.raises(InputError, match="no reference answers"):
        fine_tune(START, DATA, eval_data=bad, output_dir=tmp_path / "out", **TINY)
    with pytest.raises(InputError, match="cannot be read"):
        fine_tune(START, DATA, eval_data=[DATA[1], dict(DATA[0], answers=[{"text": 5}])], **TINY)


def test_output_folders_that_cannot_be_written_are_refused_before_training(tmp_path, no_training):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        fine_tune(START, DATA, output_dir=tmp_path / "file", **TINY)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "epoch-1").write_text("x")
    with pytest.raises(InputError, match="epoch-1 is a file"):
        fine_tune(START, DATA, output_dir=tmp_path / "out", epochs=1, **TINY)


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    fine_tune(START, DATA, output_dir=out, epochs=1, learning_rate=1e-3, **TINY)
    return out


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("damage", ["garbage", "missing_key", "empty"])
def test_an_unreadable_log_is_not_a_fresh_start(one_epoch, tmp_path, damage, no_training):
    out = _copy(one_epoch, tmp_path / "out")
    log = out / "training.json"
    log.write_text({"garbage": "{not json", "missing_key": '{"history": []}', "empty": ""}[damage])
    with pytest.raises(InputError, match="cannot resume.*training.json"):
        fine_tune(START, DATA, output_dir=out, epochs=2, learning_rate=1e-3, resume=True, **TINY)
    log.unlink()
    with pytest.raises(InputError, match="no training.json"):
        fine_tune(START, DATA, output_dir=out, epochs=2, learning_rate=1e-3, resume=True, **TINY)


@pytest.mark.parametrize("change", [{"learning_rate": 5e-4}, {"seed": 7}, {"batch_size": 2}, {"max_seq_length": 48}])
def test_resuming_with_another_recipe_is_refused(one_epoch, tmp_path, change, no_training):
    out = _copy(one_epoch, tmp_path / "out")
    before = (out / "training.json").read_bytes()
    args = {**TINY, "learning_rate": 1e-3, **change}
    with pytest.raises(InputError, match=f"other training arguments.*{next(iter(change))}"):
        fine_tune(START, DATA, output_dir=out, epochs=2, resume=True, **args)
    assert (out / "training.json").read_bytes() == before


@pytest.mark.parametrize("damage", ["truncated", "missing", "wrong_shapes"])
def test_a_damaged_training_state_is_named(one_epoch, tmp_path, damage):
    import numpy as np

    out = _copy(one_epoch, tmp_path / "out")
    state = out / "epoch-1" / "training_state.npz"
    if damage == "truncated":
        state.write_bytes(state.read_bytes()[:100])
    elif damage == "missing":
        state.unlink()
    else:
        with np.load(state) as f:
            arrays = {k: np.zeros((3,) + f[k].shape) for k in f.files}
        np.savez(state, **arrays)
    with pytest.raises(InputError, match="cannot resume.*training_state.npz"):
        fine_tune(START, DATA, output_dir=out, epochs=2, learning_rate=1e-3, resume=True, **TINY)


def test_a_diverged_epoch_is_not_saved(tmp_path):
    with pytest.raises(InputError, match="training diverged in epoch 1"):
        args = {**TINY, "batch_size": 1}  # the second step runs on weights of 1e30
        fine_tune(START, DATA, output_dir=tmp_path, epochs=1, learning_rate=1e30, warmup_proportion=0.0, **args)
    assert not (tmp_path / "epoch-1").exists()
    assert not (tmp_path / "training.json").exists()


def test_a_recorded_run_resumes(one_epoch, tmp_path):
    out = _copy(one_epoch, tmp_path / "out")
    fine_tune(START, DATA, output_dir=out, epochs=2, learning_rate=1e-3, resume=True, **TINY)
    assert json.loads((out / "training.json").read_text())["epochs_done"] == 2
