"""SavedModel export: the serving signature's outputs equal the Keras model's (1e-5) on NVIDIA's fixture inputs, in
a fresh process that cannot import electra_qa, for a batch size and a length not seen at export time."""

import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import fixture_dir

from electra_qa import InputError, QuestionAnswerer, load_model
from electra_qa.serving import export_saved_model

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="SavedModel export needs TensorFlow")
ATOL = 1e-5

SERVE = r"""
import json, sys
sys.modules["electra_qa"] = None  # the SavedModel must not need the library
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
inputs = np.load(sys.argv[2])
out = {k: v.numpy() for k, v in serve(**{k: tf.constant(inputs[k]) for k in inputs.files}).items()}
np.savez(sys.argv[3], **out)
"""


def _inputs(head, batch, length):
    io = np.load(fixture_dir("ngc_tiny") / "io.npz")
    x = {k: io[f"b0_{k}"][:batch, :length].astype(np.int32) for k in ("input_ids", "attention_mask", "token_type_ids")}
    if head == "joint":
        x["p_mask"] = io["b0_p_mask"][:batch, :length].astype(np.float32)
    return x


@pytest.mark.parametrize("name", ["ngc_tiny", "ngc_tiny_simple"])
def test_saved_model_matches_keras_in_a_process_without_electra_qa(name, tmp_path):
    model = load_model(fixture_dir(name))
    exported = export_saved_model(model, tmp_path / "saved")
    for batch, length in ((4, 64), (3, 40)):  # a batch and a length not used at export (there were none)
        x = _inputs(model.head_type, batch, length)
        np.savez(tmp_path / "in.npz", **x)
        subprocess.run(
            [sys.executable, "-c", SERVE, exported, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
            check=True,
            capture_output=True,
        )
        got = np.load(tmp_path / "out.npz")
        want = {k: np.asarray(v) for k, v in model(x).items() if k != "sequence_output"}
        assert sorted(got.files) == sorted(want)
        for key in want:
            assert got[key].dtype == want[key].dtype
            if key.endswith("index"):
                np.testing.assert_array_equal(got[key], want[key])
            else:
                np.testing.assert_allclose(got[key], want[key], rtol=0, atol=ATOL, err_msg=key)


def test_mixed_precision_exports_float32_outputs(tmp_path):
    qa = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny_simple"), precision="mixed_bfloat16")
    import tensorflow as tf

    serve = tf.saved_model.load(export_saved_model(qa, tmp_path / "bf16")).signatures["serving_default"]
    out = serve(**{k: tf.constant(v) for k, v in _inputs("simple", 2, 32).items()})
    assert {v.dtype for v in out.values()} == {tf.float32}


def test_export_refuses_a_model_without_a_qa_head(tmp_path):
    with pytest.raises(InputError, match="question-answering"):
        export_saved_model(load_model(fixture_dir("ngc_tiny"), head="encoder"), tmp_path / "x")


def test_cli_export(tmp_path, capsys):
    from electra_qa.cli import main

    assert main(["export", str(fixture_dir("ngc_tiny")), "--saved-model", str(tmp_path / "sm")]) == 0
    assert (tmp_path / "sm" / "saved_model.pb").exists()
    assert "p_mask" in capsys.readouterr().out


def test_a_remote_model_gives_the_local_answers(tmp_path):
    """Client-side tokenization and post-processing around the SavedModel (what a TF Serving or Triton client
    does): the same answers as the Keras model."""
    import tensorflow as tf

    from electra_qa import load_squad
    from electra_qa.serving import RemoteModel

    folder = fixture_dir("ngc_tiny")
    qa = QuestionAnswerer.from_checkpoint(folder)
    serve = tf.saved_model.load(export_saved_model(qa, tmp_path / "sm")).signatures["serving_default"]
    remote = QuestionAnswerer(RemoteModel(lambda x: serve(**x), "joint", qa.model.config), qa.tokenizer, qa.settings)
    assert "remote" in repr(remote)
    pairs = [(e.question, e.context) for e in load_squad(folder / "squad_dev.json").examples]
    for got, want in zip(remote.batch(pairs, top_k=3), qa.batch(pairs, top_k=3)):
        assert [(a.text, a.start, a.end) for a in got] == [(a.text, a.start, a.end) for a in want]
        np.testing.assert_allclose([a.score for a in got], [a.score for a in want], rtol=0, atol=1e-5)
