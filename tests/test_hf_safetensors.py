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
        np.testing.assert_allclose(np.asarray(out["sequence_output"]), io[f"last_hidden_state_{k}"], rtol=0,
                                   atol=1e-5)
        np.testing.assert_allclose(np.asarray(model.electra.embeddings(x["input_ids"], x["token_type_ids"]) @
                                              np.asarray(model.electra.embeddings_project.kernel) +
                                              np.asarray(model.electra.embeddings_project.bias)),
                                   io[f"embedding_output_{k}"], rtol=0, atol=1e-5)


def test_missing_tensor_is_named(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")

    folder = fixture_dir("hf_tiny")
    tensors = safetensors_numpy.load_file(str(folder / "model.safetensors"))
    del tensors["electra.encoder.layer.1.output.dense.bias"]
    safetensors_numpy.save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_bytes((folder / "config.json").read_bytes())
    with pytest.raises(CheckpointError, match=r"missing from the checkpoint \(1\): "
                                              r"electra\.encoder\.layer\.1\.output\.dense\.bias"):
        load_model(tmp_path)
