import json

import pytest

from electra_qa import ConfigError, ElectraConfig


def test_base_matches_the_published_electra_base():
    c = ElectraConfig.base()
    assert (
        c.vocab_size,
        c.embedding_size,
        c.hidden_size,
        c.num_hidden_layers,
        c.num_attention_heads,
        c.intermediate_size,
        c.max_position_embeddings,
        c.layer_norm_eps,
    ) == (30522, 768, 768, 12, 12, 3072, 512, 1e-12)
    assert c.head_size == 64


def test_json_round_trip(tmp_path):
    c = ElectraConfig.small(vocab_size=1000)
    assert ElectraConfig.from_json(c.to_json()) == c
    assert ElectraConfig.from_dict(c.to_dict()) == c
    c.save(tmp_path / "config.json")
    assert ElectraConfig.from_file(tmp_path / "config.json") == c


def test_reads_the_reference_config_json_and_ignores_unknown_keys():
    text = json.dumps(
        {
            "embedding_size": 16,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "vocab_size": 1000,
            "architectures": None,
            "output_past": True,
            "id2label": {"0": "LABEL_0"},
            "model_type": "electra",
        }
    )
    c = ElectraConfig.from_json(text)
    assert (c.embedding_size, c.hidden_size, c.num_hidden_layers, c.vocab_size) == (16, 32, 2, 1000)
    assert c.hidden_act == "gelu" and c.layer_norm_eps == 1e-12


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"hidden_size": 30, "num_attention_heads": 4}, "multiple of num_attention_heads"),
        ({"hidden_act": "swish"}, "hidden_act"),
        ({"num_hidden_layers": 0}, "num_hidden_layers"),
        ({"vocab_size": "many"}, "vocab_size"),
    ],
)
def test_bad_values_raise_config_error(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        ElectraConfig(**kwargs)


def test_unreadable_files_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        ElectraConfig.from_file(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ElectraConfig.from_file(tmp_path / "bad.json")
