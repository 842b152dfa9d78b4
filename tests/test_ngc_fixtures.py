"""Conformance with checkpoints written by NVIDIA's own TF2 code (../shared/fixtures/ngc_tiny*)."""

import numpy as np
import pytest
from conftest import fixture_dir

import electra_qa
from electra_qa.checkpoints import TensorBundle

ATOL = 1e-5
JOINT_OUTPUTS = [
    "start_top_log_probs",
    "start_top_index",
    "end_top_log_probs",
    "end_top_index",
    "cls_logits",
    "sequence_output",
]
SIMPLE_OUTPUTS = ["start_logits", "end_logits", "sequence_output"]


def _batches(io):
    n = 0
    while f"b{n}_input_ids" in io:
        n += 1
    assert n == 4
    return range(n)


@pytest.fixture(scope="module", params=["ngc_tiny", "ngc_tiny_simple"])
def loaded(request):
    folder = fixture_dir(request.param)
    model = electra_qa.load_ngc_checkpoint(folder)
    return request.param, model, np.load(folder / "io.npz")


def _assert_outputs(out, io, prefix, names):
    for name in names:
        ref, got = io[prefix + name], np.asarray(out[name])
        assert got.shape == ref.shape, name
        if ref.dtype.kind in "iu":
            np.testing.assert_array_equal(got, ref, err_msg=name)
        else:
            np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL, err_msg=name)


def test_every_io_output_reproduced(loaded):
    name, model, io = loaded
    joint = name == "ngc_tiny"
    assert model.head_type == ("joint" if joint else "simple")
    for b in _batches(io):
        p = f"b{b}_"
        inputs = {k: io[p + k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        if joint:
            inputs["p_mask"] = io[p + "p_mask"]
        _assert_outputs(model(inputs), io, p, JOINT_OUTPUTS if joint else SIMPLE_OUTPUTS)


def test_embedding_intermediates(loaded):
    _, model, io = loaded
    enc = model.electra
    for b in _batches(io):
        p = f"b{b}_"
        emb = np.asarray(enc.embeddings(io[p + "input_ids"], io[p + "token_type_ids"]))
        np.testing.assert_allclose(emb, io[p + "embedding_output"], rtol=0, atol=ATOL)
        proj = np.asarray(enc.embeddings_project(emb))
        np.testing.assert_allclose(proj, io[p + "embeddings_project_output"], rtol=0, atol=ATOL)


def test_joint_start_logits_masked():
    folder = fixture_dir("ngc_tiny")
    model, io = electra_qa.load_ngc_checkpoint(folder), np.load(folder / "io.npz")
    for b in _batches(io):
        p = f"b{b}_"
        hidden = model.electra(io[p + "input_ids"], io[p + "attention_mask"], io[p + "token_type_ids"])
        logits = np.asarray(model.qa_head.start_dense(hidden))[..., 0]
        pm = io[p + "p_mask"]
        masked = logits * (1 - pm) - 1e30 * pm
        np.testing.assert_allclose(masked, io[p + "start_logits_masked"], rtol=1e-6, atol=ATOL)


def test_weights_are_the_checkpoint_values_bit_for_bit(loaded):
    name, model, _ = loaded
    folder = fixture_dir(name)
    bundle = TensorBundle(folder / "electra_base_qa_v2_False_epoch_1_ckpt")
    from electra_qa.checkpoints.formats.ngc import FORMAT, VALUE_SUFFIX
    from electra_qa.checkpoints.slots import keyed_weights

    mapping = keyed_weights(model, FORMAT)[0]
    assert len(mapping) == (47 if name == "ngc_tiny" else 41)
    for key, var in mapping.items():
        np.testing.assert_array_equal(np.asarray(var), bundle.read(key + VALUE_SUFFIX), err_msg=key)


def test_checkpoint_key_list_matches_fixture_listing():
    import json

    folder = fixture_dir("ngc_tiny")
    listed = {k: tuple(s) for k, s in json.loads((folder / "checkpoint_keys.json").read_text())}
    bundle = TensorBundle(folder / "electra_base_qa_v2_False_epoch_1_ckpt")
    assert set(bundle.keys()) == set(listed)
    for key, shape in listed.items():
        if key != "_CHECKPOINTABLE_OBJECT_GRAPH":
            assert bundle.entries[key].shape == shape, key
