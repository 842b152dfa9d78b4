"""Precision policies: choice per device, per-model policies only, and numerics that hold in half precision."""

import keras
import numpy as np
import pytest
from conftest import fixture_dir

from electra_qa import InputError, QuestionAnswerer, load_model
from electra_qa.precision import DeviceInfo, auto_precision, describe, detect_device, dtype_policy, resolve_dtype


@pytest.mark.parametrize(
    "device, expected",
    [
        (DeviceInfo("jax", "gpu", "H100", (9, 0)), "mixed_float16"),
        (DeviceInfo("jax", "gpu", "A100", (8, 0)), "mixed_float16"),
        (DeviceInfo("tensorflow", "gpu", "V100", (7, 0)), "mixed_float16"),
        (DeviceInfo("tensorflow", "gpu", "P100", (6, 0)), "float32"),
        (DeviceInfo("tensorflow", "cpu", "cpu"), "float32"),
    ],
)
def test_auto_precision(device, expected):
    assert auto_precision(device) == expected
    assert dtype_policy("auto", device).name == expected


def test_policies_and_errors():
    assert dtype_policy(None).name == "float32"
    assert (dtype_policy("mixed_bfloat16").variable_dtype, dtype_policy("mixed_bfloat16").compute_dtype) == (
        "float32",
        "bfloat16",
    )
    assert dtype_policy("float16").variable_dtype == "float16"
    with pytest.raises(InputError, match="precision must be one of"):
        dtype_policy("fp8")
    with pytest.raises(InputError, match="not both"):
        resolve_dtype("float16", "float32")


def test_loaders_reject_a_bad_precision_before_reading(tmp_path):
    """The loader checks precision= before it starts copying weights (it resolves the policy only later, once the
    copies run); nothing needs to exist at the path for that."""
    missing = tmp_path / "no_such_checkpoint"
    with pytest.raises(InputError, match="precision must be one of"):
        load_model(missing, precision="fp8")
    with pytest.raises(InputError, match="not both"):
        load_model(missing, precision="float16", dtype="float32")


def test_this_machine_is_cpu_and_auto_is_float32():
    assert detect_device().platform == "cpu"
    qa = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"))
    assert describe(qa.model)["policy"] == "float32"


@pytest.fixture(scope="module")
def reference():
    folder = fixture_dir("ngc_tiny")
    io = np.load(folder / "io.npz")
    x = {n: io[f"b0_{n}"] for n in ("input_ids", "attention_mask", "token_type_ids", "p_mask")}
    model = load_model(folder)
    return folder, x, {k: np.asarray(v) for k, v in model(x).items()}


# Measured on this fixture (float32 vs half, max |diff| / max |float32|): mixed_float16 3e-5, float16 4e-5,
# mixed_bfloat16 4e-4, bfloat16 5e-4 -- float16's finer mantissa is why "auto" picks it on GPUs.
@pytest.mark.parametrize(
    "precision, rel", [("mixed_float16", 2e-4), ("float16", 2e-4), ("mixed_bfloat16", 2e-3), ("bfloat16", 2e-3)]
)
def test_half_precision_stays_close_to_float32(reference, precision, rel):
    folder, x, ref = reference
    before = keras.config.dtype_policy().name
    model = load_model(folder, precision=precision)
    assert keras.config.dtype_policy().name == before  # the global policy is never touched
    assert model.dtype_policy.name == precision
    out = {k: np.asarray(v) for k, v in model(x).items()}
    for name in ("start_top_log_probs", "end_top_log_probs", "cls_logits", "sequence_output"):
        assert out[name].dtype == np.float32 and np.isfinite(out[name]).all(), name
    # masked positions (p_mask 1) get -1e30 / -65500 in float32: never chosen, never overflow to nan
    valid = x["p_mask"] == 0
    assert all(valid[b, i] for b, row in enumerate(out["start_top_index"]) for i in row)
    if "float16" in precision:
        assert (out["start_top_index"][:, 0] == ref["start_top_index"][:, 0]).all()
    err = (
        np.abs(out["start_top_log_probs"] - ref["start_top_log_probs"]).max() / np.abs(ref["start_top_log_probs"]).max()
    )
    assert err < rel, err
