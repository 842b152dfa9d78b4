"""Every checkpoint format in and out: Hugging Face (h5, safetensors), google-research TF1, Keras-native folders.

Key names in these tests are written out literally from ../shared/reference/peers.md, not taken from
``electra_qa.checkpoints.slots`` and ``formats/``, so a wrong naming table fails here.
"""

import os
import shutil

import numpy as np
import pytest
from checkpoint_writers import write_tf_checkpoint
from conftest import fixture_dir, same_answers

from electra_qa import (
    CheckpointError,
    ElectraConfig,
    ElectraDiscriminator,
    ElectraForQuestionAnswering,
    ElectraModel,
    QuestionAnswerer,
    export_huggingface,
    inspect_checkpoint,
    load_model,
    save_model,
)

TINY = ElectraConfig(
    vocab_size=120,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=48,
    max_position_embeddings=40,
)


def _io_batches(folder):
    io = np.load(folder / "io.npz")
    for k in range(3):
        yield k, {n: io[f"{n}_{k}"] for n in ("input_ids", "attention_mask", "token_type_ids")}, io


def _inputs(seed=0, batch=2, seq=12, vocab=120):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab, size=(batch, seq)).astype("int32")
    mask = np.ones((batch, seq), "int32")
    mask[1, seq - 4 :] = 0
    types = np.zeros((batch, seq), "int32")
    types[:, seq // 2 :] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _np(tree):
    return {k: np.asarray(v) for k, v in tree.items()}


# ------------------------------------------------------------------------------------------ Hugging Face in


def test_tf_model_h5_reproduces_transformers_outputs():
    folder = fixture_dir("hf_tiny")
    model = load_model(folder / "tf_model.h5")
    assert isinstance(model, ElectraForQuestionAnswering) and model.head_type == "simple"
    for k, x, io in _io_batches(folder):
        out = model(x)
        for name in ("start_logits", "end_logits"):
            np.testing.assert_allclose(np.asarray(out[name]), io[f"{name}_{k}"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(np.asarray(out["sequence_output"]), io[f"last_hidden_state_{k}"], atol=1e-5)


def test_h5_and_safetensors_give_the_same_weights():
    pytest.importorskip("safetensors")
    folder = fixture_dir("hf_tiny")
    a = load_model(folder)  # a folder with both files: safetensors is read
    b = load_model(folder / "tf_model.h5")
    assert inspect_checkpoint(folder).format == "hf_pt"
    assert len(a.weights) == len(b.weights) == 41
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(wa), np.asarray(wb))


def test_encoder_only_from_a_qa_checkpoint():
    folder = fixture_dir("hf_tiny")
    model = load_model(folder / "tf_model.h5", head="encoder")
    assert isinstance(model, ElectraModel)
    for k, x, io in _io_batches(folder):
        np.testing.assert_allclose(np.asarray(model(x)["sequence_output"]), io[f"last_hidden_state_{k}"], atol=1e-5)
    info = inspect_checkpoint(folder / "tf_model.h5", head="encoder")
    assert info.fit.ok and info.head == "encoder"
    assert sorted(info.unused) == ["qa_outputs/kernel:0", "qa_outputs/bias:0"][::-1]


def test_h5_missing_weight_is_named(tmp_path):
    import h5py

    src = fixture_dir("hf_tiny") / "tf_model.h5"
    dst = tmp_path / "tf_model.h5"
    shutil.copy(src, dst)
    name = "tf_electra_for_question_answering/electra/encoder/layer_._1/output/dense/bias:0"
    with h5py.File(dst, "r+") as f:
        group = f["electra"]
        group.attrs["weight_names"] = [
            n for n in group.attrs["weight_names"] if (n.decode() if isinstance(n, bytes) else n) != name
        ]
        del group[name]
    (tmp_path / "config.json").write_bytes((src.parent / "config.json").read_bytes())
    with pytest.raises(
        CheckpointError,
        match=r"missing from the checkpoint \(1\): "
        r"electra/encoder/layer_\._1/output/dense/bias:0",
    ):
        load_model(tmp_path)
    assert not inspect_checkpoint(tmp_path).fit.ok


def test_pytorch_pickles_are_refused(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02not unpickled")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="does not unpickle.*safetensors"):
        load_model(tmp_path)
    with pytest.raises(CheckpointError, match="does not unpickle"):
        load_model(tmp_path / "pytorch_model.bin")


def test_hf_folder_needs_its_config(tmp_path):
    shutil.copy(fixture_dir("hf_tiny") / "tf_model.h5", tmp_path / "tf_model.h5")
    with pytest.raises(CheckpointError, match="no config.json beside"):
        load_model(tmp_path)


# ------------------------------------------------------------------------------------------ google-research


def _google_keys(model: ElectraDiscriminator) -> dict:
    """google-research/electra TF1 variable names (peers.md section 2a) for our discriminator's weights."""
    enc = model.electra
    emb = enc.embeddings
    out = {
        "electra/embeddings/word_embeddings": emb.word_embeddings,
        "electra/embeddings/position_embeddings": emb.position_embeddings,
        "electra/embeddings/token_type_embeddings": emb.token_type_embeddings,
        "electra/embeddings/LayerNorm/gamma": emb.layer_norm.gamma,
        "electra/embeddings/LayerNorm/beta": emb.layer_norm.beta,
        "electra/embeddings_project/kernel": enc.embeddings_project.kernel,
        "electra/embeddings_project/bias": enc.embeddings_project.bias,
        "discriminator_predictions/dense/kernel": model.dense.kernel,
        "discriminator_predictions/dense/bias": model.dense.bias,
        "discriminator_predictions/dense_1/kernel": model.dense_prediction.kernel,
        "discriminator_predictions/dense_1/bias": model.dense_prediction.bias,
    }
    for i, layer in enumerate(enc.transformer_layers):
        p = f"electra/encoder/layer_{i}/"
        for name, sub in (
            ("attention/self/query", layer.query),
            ("attention/self/key", layer.key),
            ("attention/self/value", layer.value),
            ("attention/output/dense", layer.attention_output),
            ("intermediate/dense", layer.intermediate),
            ("output/dense", layer.output_dense),
        ):
            out[p + name + "/kernel"], out[p + name + "/bias"] = sub.kernel, sub.bias
        for name, sub in (
            ("attention/output/LayerNorm", layer.attention_layer_norm),
            ("output/LayerNorm", layer.output_layer_norm),
        ):
            out[p + name + "/gamma"], out[p + name + "/beta"] = sub.gamma, sub.beta
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def google_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("google")
    original = ElectraDiscriminator(TINY)
    tensors = _google_keys(original)
    rng = np.random.default_rng(1)
    for key in list(tensors):  # AdamWeightDecay slots, as the released pre-training checkpoints hold
        tensors[key + "/adam_m"] = rng.normal(size=tensors[key].shape).astype("float32")
        tensors[key + "/adam_v"] = rng.normal(size=tensors[key].shape).astype("float32")
    tensors["generator/embeddings_project/kernel"] = np.zeros((16, 8), "float32")
    tensors["generator/encoder/layer_0/attention/self/query/kernel"] = np.zeros((8, 8), "float32")
    tensors["generator_predictions/output_bias"] = np.zeros(120, "float32")
    tensors["global_step"] = np.asarray(1000, "int64")
    write_tf_checkpoint(str(folder / "model.ckpt-1000"), tensors)
    return folder, original


def test_google_discriminator_loads(google_checkpoint):
    folder, original = google_checkpoint
    with pytest.raises(CheckpointError, match="hidden size 32 is not a multiple of 64.*pass config="):
        load_model(folder)  # released checkpoints have hidden/64 heads; this tiny one needs its config
    model = load_model(folder, config=TINY)
    assert isinstance(model, ElectraDiscriminator)
    x = _inputs()
    ref = _np(original(x))
    out = _np(model(x))
    np.testing.assert_array_equal(out["logits"], ref["logits"])
    info = inspect_checkpoint(folder, config=TINY)
    assert info.format == "google" and info.head == "discriminator" and info.fit.ok
    assert "global_step" in info.unused and "generator_predictions/output_bias" in info.unused
    assert sum(k.endswith("/adam_m") for k in info.unused) == len(_google_keys(original))


def test_google_encoder_only_and_strictness(google_checkpoint, tmp_path):
    folder, original = google_checkpoint
    enc = load_model(folder, config=TINY, head="encoder")
    x = _inputs()
    np.testing.assert_array_equal(np.asarray(enc(x)["sequence_output"]), np.asarray(original(x)["sequence_output"]))
    tensors = _google_keys(original)
    tensors["electra/encoder/layer_1/intermediate/dense/kernel"] = np.zeros((32, 50), "float32")
    del tensors["electra/encoder/layer_0/attention/self/key/bias"]
    write_tf_checkpoint(str(tmp_path / "bad"), tensors)
    with pytest.raises(CheckpointError) as err:
        load_model(tmp_path, config=TINY)
    assert "electra/encoder/layer_0/attention/self/key/bias" in str(err.value)
    assert "electra/encoder/layer_1/intermediate/dense/kernel: checkpoint (32, 50), model (32, 48)" in str(err.value)


# ------------------------------------------------------------------------------------------ out, and back


def test_hf_export_round_trip(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    folder = fixture_dir("hf_tiny")
    model = load_model(folder / "tf_model.h5")
    export_huggingface(model, tmp_path / "hf")
    original = safetensors_numpy.load_file(str(folder / "model.safetensors"))
    exported = safetensors_numpy.load_file(str(tmp_path / "hf" / "model.safetensors"))
    original.pop("electra.embeddings.position_ids", None)
    assert sorted(exported) == sorted(original)
    for key, value in original.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)
    again = load_model(tmp_path / "hf")
    x = _inputs()
    for name in ("start_logits", "end_logits"):
        np.testing.assert_array_equal(np.asarray(again(x)[name]), np.asarray(model(x)[name]))


def test_hf_export_of_encoder_and_discriminator(tmp_path, google_checkpoint):
    pytest.importorskip("safetensors")
    folder, original = google_checkpoint
    export_huggingface(original, tmp_path / "disc")
    back = load_model(tmp_path / "disc")
    assert isinstance(back, ElectraDiscriminator)
    x = _inputs()
    np.testing.assert_array_equal(np.asarray(back(x)["logits"]), np.asarray(original(x)["logits"]))
    enc = load_model(folder, config=TINY, head="encoder")
    export_huggingface(enc, tmp_path / "enc")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "enc" / "model.safetensors"), "numpy") as f:
        assert "embeddings.word_embeddings.weight" in f.keys()  # ElectraModel keys carry no "electra." prefix
    assert isinstance(load_model(tmp_path / "enc"), ElectraModel)


def test_joint_head_is_not_exported(tmp_path):
    with pytest.raises(CheckpointError, match="joint beam-search head has no Hugging Face counterpart"):
        export_huggingface(ElectraForQuestionAnswering(TINY, head="joint"), tmp_path)


@pytest.mark.parametrize("name", ["ngc_tiny", "ngc_tiny_simple"])
def test_ngc_save_load_round_trip(tmp_path, name):
    folder = fixture_dir(name)
    model = load_model(folder)
    save_model(model, tmp_path / "saved")
    assert sorted(os.listdir(tmp_path / "saved")) == ["config.json", "model.weights.h5"]
    again = load_model(tmp_path / "saved")
    assert (again.head_type, again.beam_size, again.end_mask_value) == (
        model.head_type,
        model.beam_size,
        model.end_mask_value,
    )
    io = np.load(folder / "io.npz")
    x = {n: io[f"b0_{n}"] for n in ("input_ids", "attention_mask", "token_type_ids", "p_mask") if f"b0_{n}" in io}
    assert "input_ids" in x
    a, b = _np(model(x)), _np(again(x))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert inspect_checkpoint(tmp_path / "saved").fit.ok


def test_question_answerer_save_reload(tmp_path):
    folder = fixture_dir("ngc_tiny")
    qa = QuestionAnswerer.from_checkpoint(folder, max_seq_length=64, doc_stride=32, n_best_size=7)
    context = "The Broncos beat the Panthers in February. " * 8
    before = qa("Who won?", context, top_k=3)
    qa.save(tmp_path / "qa")
    assert {"tokenizer.json", "vocab.txt", "config.json", "model.weights.h5"} <= set(os.listdir(tmp_path / "qa"))
    again = QuestionAnswerer.from_checkpoint(tmp_path / "qa")
    assert again.settings == qa.settings
    assert same_answers(again("Who won?", context, top_k=3), before)
    assert QuestionAnswerer.from_checkpoint(tmp_path / "qa", n_best_size=3).n_best_size == 3


def test_keras_folder_strictness(tmp_path):
    model = ElectraForQuestionAnswering(TINY, head="simple")
    save_model(model, tmp_path / "a")
    other = ElectraForQuestionAnswering(ElectraConfig(**{**TINY.to_dict(), "num_hidden_layers": 1}), head="simple")
    save_model(other, tmp_path / "b")
    shutil.copy(tmp_path / "b" / "model.weights.h5", tmp_path / "a" / "model.weights.h5")
    with pytest.raises(CheckpointError, match="do not belong together"):
        load_model(tmp_path / "a")
    (tmp_path / "c").mkdir()
    shutil.copy(tmp_path / "b" / "model.weights.h5", tmp_path / "c" / "model.weights.h5")
    with pytest.raises(CheckpointError, match="no config.json"):
        load_model(tmp_path / "c")


def _random_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.normal(0, 1, size=v.shape).astype("float32"))
    return model


def _without_index(folder):
    import json

    data = json.loads((folder / "config.json").read_text())
    del data["electra_qa"]["weights_index"]
    (folder / "config.json").write_text(json.dumps(data))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ElectraForQuestionAnswering(TINY, head="joint", beam_size=3, version_2=True),
        lambda: ElectraForQuestionAnswering(ElectraConfig(**{**TINY.to_dict(), "embedding_size": 32}), head="simple"),
        lambda: ElectraDiscriminator(TINY),
        lambda: ElectraModel(TINY),
    ],
)
def test_keras_folder_index_reads_what_keras_load_weights_reads(tmp_path, make):
    """Folders carry an index from weight name to Keras dataset path; loading through it must give every variable
    the array that Keras' own load_weights gives it (distinct random values: a swapped pair would show)."""
    model = _random_weights(make())
    save_model(model, tmp_path / "indexed")
    fast = load_model(tmp_path / "indexed")
    shutil.copytree(tmp_path / "indexed", tmp_path / "plain")
    _without_index(tmp_path / "plain")
    plain = load_model(tmp_path / "plain")
    assert type(fast) is type(plain) is type(model)
    assert len(fast.weights) == len(plain.weights) == len(model.weights)
    for a, b, c in zip(fast.weights, plain.weights, model.weights):
        assert a.path.split("/", 1)[1] == b.path.split("/", 1)[1] == c.path.split("/", 1)[1]  # model name aside
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c), err_msg=a.path)
        np.testing.assert_array_equal(np.asarray(b), np.asarray(c), err_msg=b.path)


def test_keras_folder_index_encoder_only_and_mismatch(tmp_path):
    import h5py

    model = _random_weights(ElectraForQuestionAnswering(TINY, head="simple"))
    save_model(model, tmp_path / "a")
    encoder = load_model(tmp_path / "a", head="encoder")
    assert isinstance(encoder, ElectraModel)
    x = _inputs()
    np.testing.assert_array_equal(np.asarray(encoder(x)["sequence_output"]), np.asarray(model(x)["sequence_output"]))
    with h5py.File(tmp_path / "a" / "model.weights.h5", "r+") as f:
        f["extra"] = np.zeros(3, "float32")
    with pytest.raises(CheckpointError, match=r"not indexed: \['extra'\].*do not belong together"):
        load_model(tmp_path / "a")


def test_no_checkpoint_in_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match=r"no ELECTRA checkpoint found.*notes.txt"):
        load_model(tmp_path)


def test_from_checkpoint_refuses_a_model_without_qa_head(tmp_path, google_checkpoint):
    folder, _ = google_checkpoint
    shutil.copytree(folder, tmp_path / "g")
    with pytest.raises(CheckpointError, match="no SQuAD head"):
        QuestionAnswerer.from_checkpoint(tmp_path / "g", vocab=fixture_dir("hf_tiny") / "vocab.txt", config=TINY)


def test_inspect_ngc():
    folder = fixture_dir("ngc_tiny")
    info = inspect_checkpoint(folder)
    model = load_model(folder)
    assert (info.format, info.head, info.fit.ok) == ("ngc", "joint", True)
    assert info.parameters == model.count_params()
    text = info.summary()
    assert "format:      ngc" in text and "loads:       yes" in text
    assert f"parameters:  {model.count_params():,}" in text


def test_cli_inspect_and_convert(tmp_path, capsys):
    from electra_qa.cli import main

    folder = fixture_dir("hf_tiny")
    assert main(["inspect", str(folder / "tf_model.h5")]) == 0
    out = capsys.readouterr().out
    assert "format:      hf_tf" in out and "head:        simple" in out and "loads:       yes" in out
    assert main(["convert", str(folder / "tf_model.h5"), str(tmp_path / "k")]) == 0
    assert {"config.json", "model.weights.h5", "tokenizer.json", "vocab.txt"} <= set(os.listdir(tmp_path / "k"))
    assert main(["convert", str(tmp_path / "k"), str(tmp_path / "h"), "--to", "hf"]) == 0
    assert {"config.json", "model.safetensors", "vocab.txt"} <= set(os.listdir(tmp_path / "h"))
    ctx = "The Denver Broncos won Super Bowl 50 in February, beating the Carolina Panthers."
    capsys.readouterr()
    assert main(["answer", "--checkpoint", str(tmp_path / "h"), "-q", "Who won?", "-c", ctx, "--json"]) == 0
    via_hf = capsys.readouterr().out
    assert main(["answer", "--checkpoint", str(folder / "tf_model.h5"), "-q", "Who won?", "-c", ctx, "--json"]) == 0
    assert capsys.readouterr().out == via_hf
    (tmp_path / "bad").mkdir()
    assert main(["inspect", str(tmp_path / "bad")]) == 2
    assert "no ELECTRA checkpoint found" in capsys.readouterr().err


def test_safetensors_reader_and_writer_agree_with_the_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    import ml_dtypes

    from electra_qa.checkpoints.readers.safetensors_file import SafetensorsFile, write_safetensors

    rng = np.random.default_rng(0)
    tensors = {
        "a": rng.normal(size=(3, 5)).astype("float32"),
        "b.c": np.arange(7, dtype="int64"),
        "h": rng.normal(size=(2, 2)).astype("float16"),
        "s": np.asarray(1.5, "float64"),
    }
    safetensors_numpy.save_file(tensors, str(tmp_path / "theirs.safetensors"))
    ours = SafetensorsFile(tmp_path / "theirs.safetensors")
    assert sorted(ours.keys()) == sorted(tensors)
    for k, v in tensors.items():
        np.testing.assert_array_equal(ours.read(k), v)
        assert ours.read(k).dtype == v.dtype and ours.shape(k) == v.shape
    tensors["bf"] = rng.normal(size=(4,)).astype(ml_dtypes.bfloat16)
    write_safetensors(tmp_path / "ours.safetensors", tensors, {"format": "pt"})
    theirs = safetensors_numpy.load_file(str(tmp_path / "ours.safetensors"))
    for k, v in tensors.items():
        np.testing.assert_array_equal(np.asarray(theirs[k], v.dtype), v)
    data = (tmp_path / "ours.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-3])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        SafetensorsFile(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="cannot read .* as safetensors"):
        SafetensorsFile(tmp_path / "junk.safetensors")


@pytest.mark.parametrize(
    "make",
    [
        lambda: ElectraForQuestionAnswering(TINY, head="joint", beam_size=3, version_2=True),
        lambda: ElectraForQuestionAnswering(TINY, head="simple", dtype="mixed_bfloat16"),
        lambda: ElectraDiscriminator(TINY),
        lambda: ElectraModel(TINY),
    ],
)
def test_keras_config_round_trip(make):
    model = make()
    again = type(model).from_config(model.get_config())
    assert again.get_config() == model.get_config()
    assert again.config == TINY and again.dtype_policy.name == model.dtype_policy.name
    assert [tuple(w.shape) for w in again.weights] == [tuple(w.shape) for w in model.weights]


@pytest.mark.parametrize("how", ["load_model", "from_checkpoint", "load_ngc_checkpoint", "inspect_checkpoint"])
def test_a_checkpoint_folder_is_located_once(how, monkeypatch):
    """The path is resolved once (``find.locate``) and the result passed down, not looked up again by each step."""
    import electra_qa
    from electra_qa.checkpoints import find

    calls = []
    original = find._locate_folder
    monkeypatch.setattr(find, "_locate_folder", lambda path: calls.append(path) or original(path))
    folder = fixture_dir("ngc_tiny")
    if how == "from_checkpoint":
        QuestionAnswerer.from_checkpoint(folder)
    else:
        getattr(electra_qa, how)(folder)
    assert calls == [str(folder)]
