"""Configs and saved settings as a damaged file or a careless user gives them: absurd sizes refused before anything is
allocated, sizes compared with the checkpoint before a model is built, strings never taken for booleans."""

import json
import shutil
import time

import pytest
from conftest import fixture_dir

from electra_qa import CheckpointError, ConfigError, ElectraConfig, ElectraQAError, InputError, QuestionAnswerer
from electra_qa.checkpoints import build
from electra_qa.cli import main


@pytest.mark.parametrize(
    "field, value",
    [
        ("hidden_size", 10**7),
        ("vocab_size", 10**9),
        ("intermediate_size", 10**8),
        ("max_position_embeddings", 10**9),
        ("num_hidden_layers", 10**6),
        ("type_vocab_size", 10**7),
    ],
)
def test_absurd_sizes_are_refused_at_once(field, value):
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=f"{field} = {value:,} is over the limit"):
        ElectraConfig.from_dict({**ElectraConfig.base().to_dict(), field: value})
    assert time.perf_counter() - start < 1.0


def test_sizes_whose_product_is_absurd_are_refused():
    with pytest.raises(ConfigError, match="parameters, over the limit"):
        ElectraConfig(vocab_size=1_000_000, embedding_size=16_384, hidden_size=1024, num_attention_heads=16)


def test_the_published_sizes_are_within_the_limits():
    for config in (ElectraConfig.small(), ElectraConfig.base(), ElectraConfig.large()):
        assert config.parameter_count() < 4e8
    assert ElectraConfig.base().parameter_count() == 108_891_648  # ELECTRA-base's encoder, counted by hand below
    e = h = 768
    assert (30522 + 512 + 2 + 2) * e + 12 * (4 * (h * h + h) + 2 * h * 3072 + 3072 + h + 4 * h) == 108_891_648


def _folder_with_config(tmp_path, **changes):
    folder = tmp_path / "ckpt"
    shutil.copytree(fixture_dir("ngc_tiny"), folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


@pytest.mark.parametrize("changes", [{"hidden_size": 4096, "num_attention_heads": 64}, {"num_hidden_layers": 200}])
def test_a_config_that_does_not_describe_the_checkpoint_builds_nothing(tmp_path, monkeypatch, changes):
    folder = _folder_with_config(tmp_path, **changes)
    monkeypatch.setattr(build, "empty_model", lambda *a, **k: pytest.fail("a model was built"))
    with pytest.raises(CheckpointError, match="does not fit the model its config describes"):
        QuestionAnswerer.from_checkpoint(folder)


def test_inspect_of_a_size_bomb_is_quick_and_our_error(tmp_path, capsys):
    folder = _folder_with_config(tmp_path, num_hidden_layers=10**6)
    start = time.perf_counter()
    assert main(["inspect", str(folder)]) == 2
    assert time.perf_counter() - start < 5.0
    err = capsys.readouterr().err
    assert "over the limit" in err and "Traceback" not in err


def test_deeply_nested_config_json(tmp_path):
    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        ElectraConfig.from_file(tmp_path / "config.json")


@pytest.fixture(scope="module")
def qa():
    return QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), max_seq_length=64)


def test_settings_assignment_is_validated(qa):
    qa.settings = {"n_best_size": 3, "max_seq_length": 64}
    assert qa.settings.n_best_size == 3 and qa("Who?", "Harry lives here.").text
    for bad, message in ((5, "must be a QASettings"), ({"bogus": 1}, "unknown"), ({"n_best_size": "x"}, "n_best")):
        with pytest.raises(InputError, match=message):
            qa.settings = bad
    assert qa.settings.n_best_size == 3  # a refused assignment changed nothing


@pytest.mark.parametrize("field, value", [("version_2_with_negative", "no"), ("align_to_words", "false")])
def test_strings_are_not_booleans(qa, field, value):
    with pytest.raises(InputError, match="True or False"):
        setattr(qa, field, value)


def test_a_saved_head_with_a_string_boolean_is_refused(tmp_path, qa):
    qa.save(tmp_path / "saved")
    path = tmp_path / "saved" / "config.json"
    config = json.loads(path.read_text())
    config["electra_qa"]["version_2"] = "no"
    path.write_text(json.dumps(config))
    with pytest.raises(ElectraQAError, match="version_2 must be True or False"):
        QuestionAnswerer.from_checkpoint(tmp_path / "saved")
    config["electra_qa"]["version_2"] = False
    config["electra_qa"]["end_mask_value"] = "x"
    path.write_text(json.dumps(config))
    with pytest.raises(ElectraQAError, match="end_mask_value must be a finite number"):
        QuestionAnswerer.from_checkpoint(tmp_path / "saved")


def _flip_a_bit(folder, name):
    import h5py

    section = json.loads((folder / "config.json").read_text())["electra_qa"]
    with h5py.File(folder / "model.weights.h5", "r") as f:
        offset = f[section["weights_index"][name]].id.get_offset()
    with open(folder / "model.weights.h5", "r+b") as f:
        f.seek(offset + 7)
        byte = f.read(1)[0]
        f.seek(offset + 7)
        f.write(bytes([byte ^ 0x10]))


def test_a_flipped_bit_in_saved_weights_is_caught(qa, tmp_path):
    folder = tmp_path / "saved"
    qa.save(folder)
    assert QuestionAnswerer.from_checkpoint(folder)("Who?", "Harry lives here.").text
    _flip_a_bit(folder, "electra/encoder/layer_1/intermediate/dense/kernel")
    with pytest.raises(CheckpointError, match="layer_1/intermediate/dense/kernel does not match its checksum"):
        QuestionAnswerer.from_checkpoint(folder)


def test_checksums_are_checked_and_older_folders_still_load(qa, tmp_path):
    folder = tmp_path / "saved"
    qa.save(folder)
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config["electra_qa"]["weights_crc32"] = {"electra/embeddings/word_embeddings": 1}
    path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="checksums .* are damaged"):
        QuestionAnswerer.from_checkpoint(folder)
    del config["electra_qa"]["weights_crc32"]  # a folder written before checksums
    path.write_text(json.dumps(config))
    assert QuestionAnswerer.from_checkpoint(folder)("Who?", "Harry lives here.").text
