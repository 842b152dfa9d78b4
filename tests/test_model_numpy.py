"""Our Keras model against the independent float64 numpy version, on random weights and several shapes."""

import numpy as np
import numpy_reference as ref
import pytest
from checkpoint_writers import ngc_weights

from electra_qa import ElectraConfig, ElectraForQuestionAnswering

ATOL = 2e-5


def _inputs(rng, batch, seq, vocab, lengths):
    ids = rng.integers(104, vocab, size=(batch, seq))
    mask = np.zeros((batch, seq), np.int64)
    types = np.zeros((batch, seq), np.int64)
    p_mask = np.ones((batch, seq), np.float32)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        q = max(1, n // 3)
        types[b, q:n] = 1
        p_mask[b, 0] = 0
        p_mask[b, q : n - 1] = 0
    ids[mask == 0] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "p_mask": p_mask}


def _randomize(model, rng):
    # Trained-looking weights: larger than the 0.02 init so the heads' outputs are not all near-ties.
    for v in model.weights:
        v.assign(rng.normal(0, 0.2, size=v.shape).astype("float32") + (1.0 if "gamma" in v.path else 0.0))


CONFIGS = {
    "projected": ElectraConfig(
        vocab_size=300,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=40,
    ),
    "unprojected": ElectraConfig(
        vocab_size=300,
        embedding_size=24,
        hidden_size=24,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=48,
        max_position_embeddings=40,
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_encoder_matches_float64_numpy(name):
    cfg = CONFIGS[name]
    rng = np.random.default_rng(0)
    model = ElectraForQuestionAnswering(cfg, head="simple")
    _randomize(model, rng)
    x = _inputs(rng, 3, 20, cfg.vocab_size, [20, 13, 5])
    want = ref.encoder(ngc_weights(model), cfg.to_dict(), x["input_ids"], x["attention_mask"], x["token_type_ids"])
    got = model(x)
    np.testing.assert_allclose(np.asarray(got["sequence_output"]), want, rtol=0, atol=ATOL)
    head = ref.simple_head(ngc_weights(model), want)
    for k in ("start_logits", "end_logits"):
        np.testing.assert_allclose(np.asarray(got[k]), head[k], rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    "beam, version_2, amp, with_p_mask",
    [(4, False, True, True), (3, True, False, True), (2, True, True, False), (6, False, False, True)],
)
def test_joint_head_matches_float64_numpy(beam, version_2, amp, with_p_mask):
    cfg = CONFIGS["projected"]
    rng = np.random.default_rng(beam)
    model = ElectraForQuestionAnswering(
        cfg, head="joint", beam_size=beam, version_2=version_2, end_mask_value=65500.0 if amp else 1e30
    )
    _randomize(model, rng)
    x = _inputs(rng, 3, 16, cfg.vocab_size, [16, 9, 7])
    if not with_p_mask:
        del x["p_mask"]
    got = {k: np.asarray(v) for k, v in model(x).items()}
    w = ngc_weights(model)
    h = ref.encoder(w, cfg.to_dict(), x["input_ids"], x["attention_mask"], x["token_type_ids"])
    want = ref.joint_head(w, h, x.get("p_mask"), beam, cfg.layer_norm_eps, 65500.0 if amp else 1e30)
    np.testing.assert_array_equal(got["start_top_index"], want["start_top_index"])
    np.testing.assert_allclose(got["start_top_log_probs"], want["start_top_log_probs"], rtol=1e-6, atol=ATOL)
    # End candidates: compare values; indices must agree wherever the log-probs are not (near-)tied.
    np.testing.assert_allclose(got["end_top_log_probs"], want["end_top_log_probs"], rtol=1e-6, atol=ATOL)
    lp = want["end_log_probs"]
    k = got["start_top_index"].shape[1]
    picked = np.take_along_axis(lp, got["end_top_index"].reshape(lp.shape[0], k, k), -1).reshape(lp.shape[0], -1)
    np.testing.assert_allclose(picked, want["end_top_log_probs"], rtol=1e-6, atol=ATOL)
    np.testing.assert_allclose(got["cls_logits"], want["cls_logits"], rtol=0, atol=ATOL)
    if version_2:
        assert np.abs(got["cls_logits"]).max() > 1e-3  # the answer-class pooler really ran


def test_beam_larger_than_sequence_is_clipped():
    cfg = CONFIGS["projected"]
    model = ElectraForQuestionAnswering(cfg, head="joint", beam_size=8)
    x = _inputs(np.random.default_rng(1), 2, 5, cfg.vocab_size, [5, 4])
    out = model(x)
    assert out["start_top_index"].shape == (2, 5) and out["end_top_index"].shape == (2, 25)


def test_bad_head_arguments():
    with pytest.raises(ValueError, match="head must be"):
        ElectraForQuestionAnswering(CONFIGS["projected"], head="pointer")
    with pytest.raises(ValueError, match="beam_size"):
        ElectraForQuestionAnswering(CONFIGS["projected"], beam_size=0)
