"""Hugging Face model.safetensors (read by our own reader): hf_tiny reproduces transformers' outputs (io.npz)."""

import numpy as np
import pytest
from conftest import fixture_dir

from electra_qa import CheckpointError, load_model


def test_hf_tiny_outputs_reproduced():
    folder = fixture_dir("hf_tiny")
    model = load_model(folder / "model.safetensors")
    io = np.load(folder / "io.npz")
    for k in range(3):
        x = {n: io[f"{n}_{k}"] for n in ("input_ids", "attention_mask", "token_type_ids")}
        out = model(x)
        for name in ("start_logits", "end_logits"):
            np.testing.assert_allclose(np.asarray(out[name]), io[f"{name}_{k}"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(np.asarray(out["sequence_output"]), io[f"last_hidden_state_{k}"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(
            np.asarray(
                model.electra.embeddings(x["input_ids"], x["token_type_ids"])
                @ np.asarray(model.electra.embeddings_project.kernel)
                + np.asarray(model.electra.embeddings_project.bias)
            ),
            io[f"embedding_output_{k}"],
            rtol=0,
            atol=1e-5,
        )


def test_missing_tensor_is_named(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")

    folder = fixture_dir("hf_tiny")
    tensors = safetensors_numpy.load_file(str(folder / "model.safetensors"))
    del tensors["electra.encoder.layer.1.output.dense.bias"]
    safetensors_numpy.save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_bytes((folder / "config.json").read_bytes())
    with pytest.raises(
        CheckpointError,
        match=r"missing from the checkpoint \(1\): "
        r"electra\.encoder\.layer\.1\.output\.dense\.bias",
    ):
        load_model(tmp_path)


def _reproduces_io(model, folder):
    io = np.load(folder / "io.npz")
    for k in range(3):
        x = {n: io[f"{n}_{k}"] for n in ("input_ids", "attention_mask", "token_type_ids")}
        np.testing.assert_allclose(np.asarray(model(x)["start_logits"]), io[f"start_logits_{k}"], rtol=0, atol=1e-5)


def test_a_wrong_transpose_guess_is_redone(monkeypatch):
    """The loader copies arrays ahead of building the model, guessing from each key whether it is a transposed
    kernel; the model's layout has the final word, so every wrong guess must be redone, not used."""
    from electra_qa.checkpoints.source import Format

    guess = Format.stored_transposed
    monkeypatch.setattr(Format, "stored_transposed", lambda fmt, key, shape: not guess(fmt, key, shape))
    folder = fixture_dir("hf_tiny")
    _reproduces_io(load_model(folder / "model.safetensors"), folder)


def test_initializers_are_restored_after_loading():
    """Variables are created from the stored arrays through temporary initializers; none may stay behind (they
    would keep the checkpoint open and break get_config)."""
    import keras

    model = load_model(fixture_dir("hf_tiny") / "model.safetensors")
    layer = model.electra.transformer_layers[0]
    for initializer in (
        layer.query.kernel_initializer,
        layer.query.bias_initializer,
        layer.output_layer_norm.gamma_initializer,
        model.electra.embeddings.word_embeddings_initializer,
        model.qa_head.qa_outputs.kernel_initializer,
    ):
        assert isinstance(initializer, keras.initializers.Initializer), initializer
    assert layer.query.get_config()["kernel_initializer"]["class_name"] == "Zeros"


def test_transposed_shape_mismatch_is_named(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")

    folder = fixture_dir("hf_tiny")
    tensors = safetensors_numpy.load_file(str(folder / "model.safetensors"))
    tensors["electra.encoder.layer.0.intermediate.dense.weight"] = np.zeros((5, 7), "float32")
    safetensors_numpy.save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_bytes((folder / "config.json").read_bytes())
    with pytest.raises(
        CheckpointError,
        match=r"shape mismatch \(1\): electra\.encoder\.layer\.0\.intermediate"
        r"\.dense\.weight: checkpoint \(5, 7\), model \(\d+, \d+\) "
        r"\(stored transposed\)",
    ):
        load_model(tmp_path)
