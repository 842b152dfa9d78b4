"""Hugging Face safetensors checkpoints: hf_tiny reproduces transformers' outputs (io.npz)."""

import numpy as np
import pytest

from conftest import fixture_dir
from electra_qa import CheckpointError
from electra_qa import load_model as load_hf_safetensors

pytest.importorskip("safetensors")


def test_hf_tiny_outputs_reproduced():
    folder = fixture_dir("hf_tiny")
    model = load_hf_safetensors(folder)
    io = np.load(folder / "io.npz")
    for k in range(3):
        x = {n: io[f"{n}_{k}"] for n in ("input_ids", "attention_mask", "token_type_ids")}
        out = model(x)
        for name in ("start_logits", "end_logits"):
            np.testing.assert_allclose(np.asarray(out[name]), io[f"{name}_{k}"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(np.asarray(out["sequence_output"]), io[f"last_hidden_state_{k}"], rtol=0,
                                   atol=1e-5)


def test_missing_tensor_is_named(tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = fixture_dir("hf_tiny")
    tensors = load_file(str(folder / "model.safetensors"))
    del tensors["electra.encoder.layer.1.output.dense.bias"]
    save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_bytes((folder / "config.json").read_bytes())
    with pytest.raises(CheckpointError, match="electra.encoder.layer.1.output.dense.bias"):
        load_hf_safetensors(tmp_path)
