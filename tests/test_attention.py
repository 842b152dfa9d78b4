"""Attention against a float64 numpy version, and the fused variant (kept for GPU measurement) against both."""

import pathlib
import sys

import numpy as np
import pytest

from electra_qa import ElectraConfig, ElectraForQuestionAnswering
from electra_qa.models import attention

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
from fused_attention import fused_dot_product_attention  # noqa: E402 (a benchmark's module, checked here)


def _inputs(seed=0, batch=3, seq=11, heads=4, size=8):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.normal(0, 1, size=(batch, seq, heads, size)).astype("float32") for _ in range(3))
    lengths = [seq, seq - 4, 1]
    mask = (np.arange(seq)[None] < np.array(lengths)[:, None]).astype("float32")
    bias = ((1.0 - mask) * -10000.0)[:, None, None, :].astype("float32")
    return q, k, v, bias


def _reference(q, k, v, bias):
    q, k, v, bias = (np.asarray(t, np.float64) for t in (q, k, v, bias))
    scores = np.einsum("bthd,bshd->bhts", q, k) / np.sqrt(q.shape[-1]) + bias
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return np.einsum("bhts,bshd->bthd", probs, v)


@pytest.mark.parametrize("fn", [attention.dot_product_attention, fused_dot_product_attention])
def test_attention_matches_float64(fn):
    q, k, v, bias = _inputs()
    out = np.asarray(fn(q, k, v, bias))
    assert out.shape == q.shape
    np.testing.assert_allclose(out, _reference(q, k, v, bias), rtol=0, atol=2e-6)
    # A masked key must not matter: changing it leaves every output unchanged.
    k2 = k.copy()
    k2[1, -1] += 100.0
    np.testing.assert_allclose(np.asarray(fn(q, k2, v, bias)), out, rtol=0, atol=2e-6)


def test_model_with_fused_attention_gives_the_same_logits(monkeypatch):
    cfg = ElectraConfig(
        vocab_size=50,
        embedding_size=16,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=24,
        max_position_embeddings=16,
    )
    model = ElectraForQuestionAnswering(cfg, head="simple")
    rng = np.random.default_rng(1)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, size=w.shape).astype("float32"))
    mask = np.ones((2, 12), "int32")
    mask[1, 7:] = 0
    x = {"input_ids": rng.integers(1, 50, size=(2, 12)).astype("int32"), "attention_mask": mask}
    generic = model(x)
    monkeypatch.setattr(attention, "dot_product_attention", fused_dot_product_attention)
    fused = model(x)
    for name in ("start_logits", "end_logits"):
        np.testing.assert_allclose(
            np.asarray(fused[name])[mask == 1], np.asarray(generic[name])[mask == 1], rtol=0, atol=1e-5
        )
