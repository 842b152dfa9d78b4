"""A harness run over every layer and model, in the spirit of KerasHub's layer tests: config round trip, Keras
serialization round trip (a whole ``.keras`` file for the models), and output dtypes under each precision policy.
CI runs this file on the JAX backend as well (``KERAS_BACKEND=jax``)."""

import keras
import numpy as np
import pytest
from keras import ops

from electra_qa import ElectraConfig
from electra_qa.models import (
    ElectraDiscriminator,
    ElectraEmbeddings,
    ElectraEncoder,
    ElectraForQuestionAnswering,
    ElectraModel,
    ElectraTransformerLayer,
    JointQAHead,
    SimpleQAHead,
    build_model,
    head_of,
)

CONFIG = ElectraConfig(
    vocab_size=60,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=48,
    max_position_embeddings=24,
)
BATCH, SEQ, H = 2, 7, CONFIG.hidden_size
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16", "float16", "bfloat16")


def _ids():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, CONFIG.vocab_size, (BATCH, SEQ)).astype("int32")
    mask = np.ones((BATCH, SEQ), "int32")
    mask[1, 5:] = 0
    types = np.zeros((BATCH, SEQ), "int32")
    types[:, 4:] = 1
    p_mask = np.zeros((BATCH, SEQ), "float32")
    p_mask[:, :2] = 1
    return ids, mask, types, p_mask


def _hidden():
    return np.random.default_rng(1).normal(size=(BATCH, SEQ, H)).astype("float32")


def _bias():
    _, mask, _, _ = _ids()
    return ((1.0 - mask[:, None, None, :].astype("float32")) * -10000.0).astype("float32")


def _model_inputs():
    ids, mask, types, p_mask = _ids()
    return ({"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "p_mask": p_mask},)


# name -> (constructor taking a dtype policy, inputs, "compute": float outputs in the compute dtype | "float32")
CASES = {
    "embeddings": (
        lambda dt: ElectraEmbeddings(
            vocab_size=CONFIG.vocab_size,
            embedding_size=CONFIG.embedding_size,
            max_position_embeddings=CONFIG.max_position_embeddings,
            type_vocab_size=CONFIG.type_vocab_size,
            layer_norm_eps=1e-12,
            dtype=dt,
        ),
        lambda: (_ids()[0], _ids()[2]),
        "compute",
    ),
    "transformer_layer": (
        lambda dt: ElectraTransformerLayer(hidden_size=H, num_attention_heads=4, intermediate_size=48, dtype=dt),
        lambda: (_hidden(), _bias()),
        "compute",
    ),
    "encoder": (lambda dt: ElectraEncoder(CONFIG, dtype=dt), lambda: _ids()[:3], "compute"),
    "simple_head": (lambda dt: SimpleQAHead(hidden_size=H, dtype=dt), lambda: (_hidden(),), "float32"),
    "joint_head": (
        lambda dt: JointQAHead(hidden_size=H, beam_size=3, dtype=dt),
        lambda: (_hidden(), _ids()[3]),
        "float32",
    ),
    "joint_head_v2": (
        lambda dt: JointQAHead(hidden_size=H, beam_size=3, version_2=True, dtype=dt),
        lambda: (_hidden(), _ids()[3]),
        "float32",
    ),
    "qa_simple": (lambda dt: build_model(CONFIG, "simple", dtype=dt), _model_inputs, "float32"),
    "qa_joint": (lambda dt: build_model(CONFIG, "joint", beam_size=3, dtype=dt), _model_inputs, "float32"),
    "qa_joint_v2": (lambda dt: build_model(CONFIG, "joint", version_2=True, dtype=dt), _model_inputs, "float32"),
    "discriminator": (lambda dt: build_model(CONFIG, "discriminator", dtype=dt), _model_inputs, "float32"),
    "encoder_model": (lambda dt: build_model(CONFIG, "encoder", dtype=dt), _model_inputs, "float32"),
}
MODELS = [name for name in CASES if name.startswith(("qa_", "discriminator", "encoder_model"))]


def _built(name, dtype="float32"):
    make, inputs, _ = CASES[name]
    layer = make(dtype)
    args = inputs()
    outputs = layer(*args)
    return layer, args, outputs


def _numpy(outputs):
    if isinstance(outputs, dict):
        return {k: ops.convert_to_numpy(v) for k, v in outputs.items()}
    return {"output": ops.convert_to_numpy(outputs)}


def _assert_same(a, b, atol=1e-6):
    a, b = _numpy(a), _numpy(b)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=atol, err_msg=key)


@pytest.mark.parametrize("name", list(CASES))
def test_config_round_trip(name):
    layer, args, outputs = _built(name)
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    again(*args)
    again.set_weights(layer.get_weights())
    _assert_same(again(*args), outputs)


@pytest.mark.parametrize("name", list(CASES))
def test_keras_serialization_round_trip(name):
    layer, args, outputs = _built(name)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is type(layer)
    again(*args)
    again.set_weights(layer.get_weights())
    _assert_same(again(*args), outputs)


@pytest.mark.parametrize("name", MODELS)
def test_keras_file_round_trip(name, tmp_path):
    model, args, outputs = _built(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert type(again) is type(model) and head_of(again) == head_of(model)
    assert again.config == model.config
    _assert_same(again(*args), outputs)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", list(CASES))
def test_output_dtypes_under_each_policy(name, policy):
    layer, _, outputs = _built(name, keras.DTypePolicy(policy))
    compute = keras.DTypePolicy(policy).compute_dtype
    expected = compute if CASES[name][2] == "compute" else "float32"
    for key, value in outputs.items() if isinstance(outputs, dict) else [("output", outputs)]:
        dtype = keras.backend.standardize_dtype(value.dtype)
        if "index" in key:
            assert dtype.startswith("int"), (key, dtype)
        else:
            assert dtype == expected, (key, dtype)
    for variable in layer.weights:
        assert keras.backend.standardize_dtype(variable.dtype) == keras.DTypePolicy(policy).variable_dtype
    assert keras.config.dtype_policy().name == "float32"  # never changed globally


def test_the_harness_covers_every_layer_and_model():
    covered = {type(_built(name)[0]) for name in CASES}
    assert covered == {
        ElectraEmbeddings,
        ElectraTransformerLayer,
        ElectraEncoder,
        SimpleQAHead,
        JointQAHead,
        ElectraForQuestionAnswering,
        ElectraDiscriminator,
        ElectraModel,
    }
