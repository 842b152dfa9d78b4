"""NGC-layout checkpoints written here with TensorFlow's own SaveV2: loading, inference of sizes, and errors."""

import os
import shutil

import numpy as np
import pytest
from checkpoint_writers import ngc_weights, write_ngc_checkpoint, write_tf_checkpoint

import electra_qa
from electra_qa import CheckpointError, ElectraConfig, ElectraForQuestionAnswering
from electra_qa.checkpoints import TensorBundle
from electra_qa.checkpoints.loader import resolve_prefix

CFG = ElectraConfig(
    vocab_size=200,
    embedding_size=64,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=1,
    intermediate_size=96,
    max_position_embeddings=32,
)
PREFIX = "electra_base_qa_v2_False_epoch_2_ckpt"


def _inputs(seq=12, vocab=100):
    rng = np.random.default_rng(3)
    ids = rng.integers(1, vocab, size=(2, seq))
    mask = np.ones((2, seq), np.int64)
    mask[1, 8:] = 0
    types = np.zeros((2, seq), np.int64)
    types[:, 5:] = 1
    p_mask = (types == 0).astype("float32")
    p_mask[:, 0] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "p_mask": p_mask}


def _source(head="joint", version_2=False, config=CFG):
    model = ElectraForQuestionAnswering(config, head=head, version_2=version_2)
    rng = np.random.default_rng(7)
    for v in model.weights:
        v.assign(rng.normal(0, 0.1, size=v.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ngc")
    model = _source()
    write_ngc_checkpoint(str(folder / PREFIX), ngc_weights(model))
    return folder, model


def _same_outputs(a, b):
    x = _inputs()
    oa, ob = a(x), b(x)
    assert set(oa) == set(ob)
    for k in oa:
        np.testing.assert_array_equal(np.asarray(oa[k]), np.asarray(ob[k]), err_msg=k)


def test_loads_with_optimizer_slots_and_matches_source(saved):
    folder, source = saved
    keys = TensorBundle(folder / PREFIX).keys()
    assert (
        any(".OPTIMIZER_SLOT" in k for k in keys) and "optimizer/base_optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE" in keys
    )
    # heads cannot be inferred for hidden 64 -> 1 head only if the config says so; pass it.
    loaded = electra_qa.load_ngc_checkpoint(folder, config=CFG)
    _same_outputs(source, loaded)


@pytest.mark.parametrize("form", ["folder", "state_file", "prefix", "index", "data"])
def test_accepts_every_path_form(saved, form):
    folder, _ = saved
    path = {
        "folder": folder,
        "state_file": folder / "checkpoint",
        "prefix": folder / PREFIX,
        "index": folder / (PREFIX + ".index"),
        "data": folder / (PREFIX + ".data-00000-of-00001"),
    }[form]
    assert resolve_prefix(path) == str(folder / PREFIX)


def test_sizes_inferred_from_shapes(tmp_path):
    cfg = ElectraConfig(
        vocab_size=128,
        embedding_size=32,
        hidden_size=128,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=256,
        max_position_embeddings=24,
        type_vocab_size=3,
    )
    model = _source(config=cfg, head="simple")
    write_ngc_checkpoint(str(tmp_path / PREFIX), ngc_weights(model))
    loaded = electra_qa.load_ngc_checkpoint(tmp_path)
    assert loaded.head_type == "simple"
    got = loaded.config
    assert (
        got.vocab_size,
        got.embedding_size,
        got.hidden_size,
        got.num_hidden_layers,
        got.intermediate_size,
        got.max_position_embeddings,
        got.type_vocab_size,
        got.num_attention_heads,
    ) == (128, 32, 128, 3, 256, 24, 3, 2)
    _same_outputs(model, loaded)


def test_config_json_beside_checkpoint_is_used(saved, tmp_path):
    folder, source = saved
    for f in os.listdir(folder):
        shutil.copy(folder / f, tmp_path / f)
    CFG.save(tmp_path / "config.json")
    _same_outputs(source, electra_qa.load_ngc_checkpoint(tmp_path))


def test_version_2_head_detected_and_loaded(tmp_path):
    model = _source(version_2=True)
    write_ngc_checkpoint(str(tmp_path / PREFIX), ngc_weights(model), optimizer_slots=False)
    loaded = electra_qa.load_ngc_checkpoint(tmp_path, config=CFG)
    assert loaded.version_2
    _same_outputs(model, loaded)


def test_dtype_policy_is_per_model_and_global_policy_untouched(saved):
    import keras

    before = keras.config.dtype_policy().name
    folder, _ = saved
    loaded = electra_qa.load_ngc_checkpoint(folder, config=CFG, dtype="mixed_bfloat16")
    assert keras.config.dtype_policy().name == before
    assert loaded.electra.transformer_layers[0].query.compute_dtype == "bfloat16"
    assert loaded.electra.embeddings.word_embeddings.dtype == "float32"


# ---------------------------------------------------------------- errors


def _write_without(tmp_path, drop=(), add=None, reshape=None):
    w = ngc_weights(_source())
    for k in drop:
        del w[k]
    if reshape:
        w[reshape] = np.zeros((3, 3), "float32")
    if add:
        w.update(add)
    write_ngc_checkpoint(str(tmp_path / PREFIX), w)
    return tmp_path


def test_missing_key_named(tmp_path):
    path = _write_without(tmp_path, drop=["electra/encoder/layer/1/intermediate/dense/bias"])
    with pytest.raises(
        CheckpointError,
        match=r"missing from the checkpoint \(1\): "
        r"electra/encoder/layer/1/intermediate/dense/bias",
    ):
        electra_qa.load_ngc_checkpoint(path, config=CFG)


def test_unexpected_key_named(tmp_path):
    path = _write_without(tmp_path, add={"electra/encoder/layer/2/intermediate/dense/bias": np.zeros(96, "float32")})
    with pytest.raises(CheckpointError, match="not in the model.*layer/2/intermediate/dense/bias"):
        electra_qa.load_ngc_checkpoint(path, config=CFG)


def test_shape_mismatch_named(tmp_path):
    path = _write_without(tmp_path, reshape="end_logits/dense_0/kernel")
    with pytest.raises(CheckpointError, match=r"end_logits/dense_0/kernel: checkpoint \(3, 3\), model \(128, 64\)"):
        electra_qa.load_ngc_checkpoint(path, config=CFG)


def test_config_that_does_not_fit(saved):
    folder, _ = saved
    wrong = ElectraConfig(
        vocab_size=200,
        embedding_size=64,
        hidden_size=64,
        num_hidden_layers=3,
        num_attention_heads=1,
        intermediate_size=96,
        max_position_embeddings=32,
    )
    with pytest.raises(CheckpointError, match="does not fit.*num_hidden_layers: checkpoint 2, config 3"):
        electra_qa.load_ngc_checkpoint(folder, config=wrong)


def test_truncated_data_file(saved, tmp_path):
    folder, _ = saved
    for f in os.listdir(folder):
        shutil.copy(folder / f, tmp_path / f)
    data = tmp_path / (PREFIX + ".data-00000-of-00001")
    size = data.stat().st_size
    with open(data, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(CheckpointError, match="is truncated"):
        electra_qa.load_ngc_checkpoint(tmp_path, config=CFG)


def test_truncated_or_corrupt_index(saved, tmp_path):
    folder, _ = saved
    for f in os.listdir(folder):
        shutil.copy(folder / f, tmp_path / f)
    index = tmp_path / (PREFIX + ".index")
    index.write_bytes(index.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        electra_qa.load_ngc_checkpoint(tmp_path, config=CFG)


def test_no_such_path(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        electra_qa.load_ngc_checkpoint(tmp_path / "does_not_exist")
    with pytest.raises(CheckpointError, match="no TensorFlow checkpoint"):
        electra_qa.load_ngc_checkpoint(tmp_path)


def test_not_an_ngc_checkpoint(tmp_path):
    write_tf_checkpoint(str(tmp_path / "other"), {"dense/kernel/.ATTRIBUTES/VARIABLE_VALUE": np.zeros((2, 2), "f4")})
    with pytest.raises(CheckpointError, match="not an NGC ELECTRA checkpoint.*config=ElectraConfig.base"):
        electra_qa.load_ngc_checkpoint(tmp_path)


def test_heads_not_inferable_asks_for_config(saved):
    folder, _ = saved
    CFG_small = ElectraConfig(
        vocab_size=200,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    model = _source(config=CFG_small)
    path = folder.parent / "small_heads"
    path.mkdir()
    write_ngc_checkpoint(str(path / PREFIX), ngc_weights(model))
    with pytest.raises(CheckpointError, match="pass config="):
        electra_qa.load_ngc_checkpoint(path)


def test_errors_are_value_errors():
    assert issubclass(CheckpointError, ValueError)
