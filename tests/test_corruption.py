"""Damaged checkpoints: whatever is damaged gives a ``CheckpointError`` naming the file (or the tensor) or provably the
same weights, never a silently different model; ``inspect_checkpoint`` and ``load_model`` agree on what loads."""

import json
import random
import shutil
import struct

import numpy as np
import pytest
from conftest import fixture_dir

from electra_qa import CheckpointError, inspect_checkpoint, load_model
from electra_qa.checkpoints import locate
from electra_qa.checkpoints.formats import open_weights

PREFIX = "electra_base_qa_v2_False_epoch_1_ckpt"


def _copy(tmp_path, name):
    folder = tmp_path / name
    shutil.copytree(fixture_dir(name), folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


def _weights(path):
    """{key: array} of the model weights a checkpoint holds, read through our readers (no model built)."""
    source = open_weights(locate(path))
    try:
        return {k: np.array(source.read(k)) for k in source.shapes}
    finally:
        source.close()


def _model_weights(path):
    from electra_qa.checkpoints.slots import model_weights

    return {k: np.asarray(v) for k, v in model_weights(load_model(path)).items()}


def _inspect_refuses(path):
    try:
        info = inspect_checkpoint(path)
    except CheckpointError:
        return True
    return not info.fit.ok


def _flip(path, bit):
    data = bytearray(path.read_bytes())
    data[bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(data))


def _same_or_refused(path, original, weights_of=_weights):
    """``path`` is refused (CheckpointError) or gives exactly the ``original`` weights (read by ``weights_of``: our
    readers, or ``_model_weights``: a whole load_model)."""
    try:
        weights = weights_of(path)
    except CheckpointError:
        return "refused"
    assert weights.keys() == original.keys()
    for k, v in weights.items():
        assert v.dtype == original[k].dtype and np.array_equal(v, original[k], equal_nan=True), k
    return "identical"


def _offset_of(folder, key):
    from electra_qa.checkpoints import TensorBundle

    entry = TensorBundle(folder / PREFIX).entries[key]
    return entry.offset


def test_a_flipped_exponent_bit_in_a_weight_is_detected(tmp_path):
    folder = _copy(tmp_path, "ngc_tiny")
    key = "electra/encoder/layer/1/attention/self_attention/query/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    byte = _offset_of(folder, key) + 4 * 7 + 3  # the high byte (sign and exponent) of the 8th float32
    _flip(folder / f"{PREFIX}.data-00000-of-00001", byte * 8 + 5)
    with pytest.raises(CheckpointError, match="query/kernel.*checksum"):
        load_model(folder)
    info = inspect_checkpoint(folder)
    assert not info.fit.ok and "checksum" in info.fit.problems()


def test_random_bit_flips_in_the_index_are_caught_or_harmless(tmp_path):
    folder = _copy(tmp_path, "ngc_tiny")
    index = folder / f"{PREFIX}.index"
    pristine = index.read_bytes()
    original = _weights(folder)
    rng = random.Random(0)
    outcomes = {"refused": 0, "identical": 0}
    for _ in range(300):
        index.write_bytes(pristine)
        _flip(index, rng.randrange(len(pristine) * 8))
        outcomes[_same_or_refused(folder, original)] += 1
    assert outcomes["refused"] > 250, outcomes


def test_random_bit_flips_in_tf_model_h5_are_caught_or_harmless(tmp_path):
    folder = _copy(tmp_path, "hf_tiny")
    (folder / "model.safetensors").unlink()
    h5 = folder / "tf_model.h5"
    pristine = h5.read_bytes()
    original = _weights(folder)
    rng = random.Random(1)
    for _ in range(80):  # HDF5 has no checksums on data: a flip inside an array is a legal, different file
        h5.write_bytes(pristine)
        _flip(h5, rng.randrange(4096 * 8))  # the metadata at the file's start: superblock, object headers, heaps
        _same_or_refused(folder, original)


@pytest.mark.parametrize(
    "mutate, words",
    [
        (
            lambda h: h.__setitem__(
                "electra.embeddings.LayerNorm.weight",
                {**h["electra.embeddings.LayerNorm.weight"], "data_offsets": [-64, 0]},
            ),
            "data_offsets",
        ),
        (
            lambda h: h.__setitem__(
                "electra.embeddings.LayerNorm.weight",
                {**h["electra.embeddings.LayerNorm.weight"], "data_offsets": [-8192, 0]},
            ),
            "data_offsets",
        ),
        (
            lambda h: h.__setitem__(
                "electra.embeddings.LayerNorm.bias",
                {
                    **h["electra.embeddings.LayerNorm.bias"],
                    "data_offsets": h["electra.embeddings.LayerNorm.weight"]["data_offsets"],
                },
            ),
            "overlap",
        ),
        (lambda h: h.__setitem__("qa_outputs.bias", {**h["qa_outputs.bias"], "dtype": ["F32"]}), "dtype"),
        (lambda h: h["qa_outputs.bias"].pop("data_offsets"), "data_offsets"),
        (lambda h: h.__setitem__("qa_outputs.bias", "F32"), "qa_outputs.bias"),
        (lambda h: h.__setitem__("qa_outputs.bias", {**h["qa_outputs.bias"], "dtype": "Q7"}), "Q7"),
        (lambda h: h.__setitem__("qa_outputs.bias", {**h["qa_outputs.bias"], "shape": [3]}), "bytes"),
    ],
)
def test_a_damaged_safetensors_header_is_refused(tmp_path, mutate, words):
    folder = _copy(tmp_path, "hf_tiny")
    path = folder / "model.safetensors"
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    mutate(header)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n :])
    with pytest.raises(CheckpointError, match=words):
        load_model(folder)
    assert _inspect_refuses(folder)


def test_a_safetensors_header_that_is_a_list_is_refused(tmp_path):
    folder = _copy(tmp_path, "hf_tiny")
    text = b"[1, 2]  "
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(text)) + text)
    with pytest.raises(CheckpointError, match="JSON list"):
        load_model(folder)


def test_random_safetensors_header_mutations_are_refused(tmp_path):
    folder = _copy(tmp_path, "hf_tiny")
    path = folder / "model.safetensors"
    pristine = path.read_bytes()
    (n,) = struct.unpack("<Q", pristine[:8])
    original = _model_weights(folder)
    rng = random.Random(2)
    refused = 0
    for _ in range(60):
        header = bytearray(pristine[8 : 8 + n])
        header[rng.randrange(n)] = rng.randrange(32, 127)
        path.write_bytes(pristine[:8] + bytes(header) + pristine[8 + n :])
        refused += _same_or_refused(folder, original, _model_weights) == "refused"
    assert refused > 30


def _ngc_with(tmp_path, change):
    """The ngc_tiny weights written again by TensorFlow's writer, with ``change(weights)`` applied."""
    from checkpoint_writers import write_ngc_checkpoint

    source = open_weights(locate(fixture_dir("ngc_tiny")))
    weights = {k: np.array(source.read(k)) for k in source.shapes}
    source.close()
    change(weights)
    folder = tmp_path / "changed"
    folder.mkdir()
    shutil.copy(fixture_dir("ngc_tiny") / "config.json", folder)
    write_ngc_checkpoint(str(folder / PREFIX), weights)
    return folder


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda w: w["electra/embeddings/LayerNorm/gamma"].__setitem__(3, np.nan), "LayerNorm/gamma.*NaN"),
        (lambda w: w["start_logits/dense/bias"].__setitem__(0, np.inf), "start_logits/dense/bias.*infinite"),
        (
            lambda w: w.__setitem__("end_logits/dense_1/bias", w["end_logits/dense_1/bias"].astype("int32")),
            "end_logits/dense_1/bias.*int32",
        ),
    ],
)
def test_non_finite_or_integer_weights_are_refused_naming_the_tensor(tmp_path, change, words):
    folder = _ngc_with(tmp_path, change)
    with pytest.raises(CheckpointError, match=words):
        load_model(folder)
    assert _inspect_refuses(folder)


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated"])
def test_inspect_and_load_agree_on_damaged_data_files(tmp_path, damage):
    folder = _copy(tmp_path, "ngc_tiny")
    data = folder / f"{PREFIX}.data-00000-of-00001"
    if damage == "missing":
        data.unlink()
    else:
        data.write_bytes(b"" if damage == "empty" else data.read_bytes()[:1000])
    with pytest.raises(CheckpointError):
        load_model(folder)
    info = inspect_checkpoint(folder)  # the index is intact: inspect describes the checkpoint and says it won't load
    assert not info.fit.ok and "loads:       NO" in info.summary()
