"""An independent float64 numpy ELECTRA (encoder + both SQuAD heads), reading weights by NGC checkpoint key.

Written from shared/reference/ngc-electra-squad.md sections 2-3, not from the Keras code: concat is materialised,
masks are applied exactly as described, everything is float64.
"""

import math

import numpy as np

_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def log_softmax(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def dense(w, prefix, x, bias=True):
    y = x @ w[prefix + "/kernel"]
    return y + w[prefix + "/bias"] if bias else y


def encoder(w, cfg, input_ids, attention_mask, token_type_ids):
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    eps = cfg["layer_norm_eps"]
    n_heads = cfg["num_attention_heads"]
    seq = input_ids.shape[1]
    e = (
        w["electra/embeddings/weight"][input_ids]
        + w["electra/embeddings/position_embeddings/embeddings"][:seq][None]
        + w["electra/embeddings/token_type_embeddings/embeddings"][token_type_ids]
    )
    x = layer_norm(e, w["electra/embeddings/LayerNorm/gamma"], w["electra/embeddings/LayerNorm/beta"], eps)
    if "electra/embeddings_project/kernel" in w:
        x = dense(w, "electra/embeddings_project", x)
    bias = (1.0 - attention_mask.astype(np.float64))[:, None, None, :] * -10000.0
    i = 0
    while f"electra/encoder/layer/{i}/intermediate/dense/kernel" in w:
        p = f"electra/encoder/layer/{i}/"
        B, L, H = x.shape
        d = H // n_heads

        def heads(t):
            return t.reshape(B, L, n_heads, d).transpose(0, 2, 1, 3)

        q, k, v = (heads(dense(w, p + "attention/self_attention/" + n, x)) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
        probs = np.exp(log_softmax(scores, -1))
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(B, L, H)
        a = layer_norm(
            dense(w, p + "attention/dense_output/dense", ctx) + x,
            w[p + "attention/dense_output/LayerNorm/gamma"],
            w[p + "attention/dense_output/LayerNorm/beta"],
            eps,
        )
        m = gelu(dense(w, p + "intermediate/dense", a))
        x = layer_norm(
            dense(w, p + "bert_output/dense", m) + a,
            w[p + "bert_output/LayerNorm/gamma"],
            w[p + "bert_output/LayerNorm/beta"],
            eps,
        )
        i += 1
    return x


def simple_head(w, h):
    logits = dense({k: np.asarray(v, np.float64) for k, v in w.items()}, "qa_outputs", h)
    return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}


def joint_head(w, h, p_mask, beam, eps, end_mask_value):
    """Returns the joint head outputs; top-k picks by stable descending sort (ties: lower index first)."""
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    B, L, H = h.shape
    k = min(beam, L)
    start = dense(w, "start_logits/dense", h)[..., 0]
    if p_mask is not None:
        start = start * (1 - p_mask) - 1e30 * p_mask
    start_lp = log_softmax(start, -1)
    s_idx = np.argsort(-start_lp, axis=-1, kind="stable")[:, :k]
    s_lp = np.take_along_axis(start_lp, s_idx, -1)
    end_lp_all = np.zeros((B, k, L))
    for b in range(B):
        for i in range(k):
            s = np.repeat(h[b, s_idx[b, i]][None], L, 0)
            x = np.tanh(dense(w, "end_logits/dense_0", np.concatenate([h[b], s], -1)))
            x = layer_norm(x, w["end_logits/LayerNorm/gamma"], w["end_logits/LayerNorm/beta"], eps)
            logits = dense(w, "end_logits/dense_1", x)[:, 0]
            if p_mask is not None:
                logits = logits * (1 - p_mask[b]) - end_mask_value * p_mask[b]
            end_lp_all[b, i] = log_softmax(logits, -1)
    e_idx = np.argsort(-end_lp_all, axis=-1, kind="stable")[:, :, :k]
    e_lp = np.take_along_axis(end_lp_all, e_idx, -1)
    out = {
        "start_top_log_probs": s_lp,
        "start_top_index": s_idx,
        "end_top_log_probs": e_lp.reshape(B, k * k),
        "end_top_index": e_idx.reshape(B, k * k),
        "end_log_probs": end_lp_all,
    }
    if "answer_class/dense_0/kernel" in w:
        probs = np.exp(log_softmax(start, -1))
        start_state = np.einsum("bl,blh->bh", probs, h)
        x = np.tanh(dense(w, "answer_class/dense_0", np.concatenate([start_state, h[:, 0]], -1)))
        out["cls_logits"] = dense(w, "answer_class/dense_1", x, bias=False)[:, 0]
    else:
        out["cls_logits"] = np.zeros(B)
    return out


def training_loss(
    w, h, head, start_positions, end_positions, p_mask=None, is_impossible=None, eps=1e-12, end_mask_value=65500.0
):
    """The SQuAD training loss (reference section 3, "Training"): mean start/end cross-entropy; for the joint head
    the end logits come from the end head fed the hidden state at the gold start, and a v2 joint head adds
    0.5 x binary cross-entropy of the answer-class logit (pooled from that start state and [CLS])."""
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    B, L, H = h.shape
    rows = np.arange(B)
    if head == "simple":
        logits = dense(w, "qa_outputs", h)
        start, end = logits[..., 0], logits[..., 1]
    else:
        start = dense(w, "start_logits/dense", h)[..., 0]
        s = np.repeat(h[rows, start_positions][:, None, :], L, 1)
        x = np.tanh(dense(w, "end_logits/dense_0", np.concatenate([h, s], -1)))
        x = layer_norm(x, w["end_logits/LayerNorm/gamma"], w["end_logits/LayerNorm/beta"], eps)
        end = dense(w, "end_logits/dense_1", x)[..., 0]
        if p_mask is not None:
            start = start * (1 - p_mask) - 1e30 * p_mask
            end = end * (1 - p_mask) - end_mask_value * p_mask
    loss = (
        -(log_softmax(start, -1)[rows, start_positions].mean() + log_softmax(end, -1)[rows, end_positions].mean()) / 2
    )
    if head == "joint" and "answer_class/dense_0/kernel" in w and is_impossible is not None:
        x = np.tanh(dense(w, "answer_class/dense_0", np.concatenate([h[rows, start_positions], h[:, 0]], -1)))
        z = dense(w, "answer_class/dense_1", x, bias=False)[:, 0]
        y = np.asarray(is_impossible, np.float64)
        bce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        loss += 0.5 * bce.mean()
    return loss
