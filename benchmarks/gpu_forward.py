"""GPU forward speed and half-precision agreement, for an NVIDIA GPU machine with JAX (and PyTorch), no TensorFlow.

Runs our ElectraForQuestionAnswering (ELECTRA-base, simple head, random weights, seed 0) on the Keras JAX backend:
sequences/s at seq 384 for batch 1, 64 and 256 under float32, mixed_float16, mixed_bfloat16, float16 and bfloat16
policies; batch-1 latency; and, against float32 on the same windows (random ids, right padding to varied lengths),
the share of windows whose best (start, end) span is the same and the relative error of the start/end log-probs.
If transformers is importable, Hugging Face's PyTorch ElectraForQuestionAnswering with fp16 weights on the same
weights is measured in the same call as the baseline.

Attention variants (``--variants``), measured for the half-precision policies at batch 1 and the largest batch, with
their agreement with the generic float32 model: ``fused`` (``fused_attention.fused_dot_product_attention``:
``keras.ops.dot_product_attention`` with a [batch, 1, seq, seq] mask, cuDNN's fused kernel when JAX can use it) and
``lengths`` (``jax.nn.dot_product_attention`` given key sequence lengths instead of a mask; valid here because the
windows are right-padded, as the pipeline pads them). The model runs the generic attention unless these measure
faster.

    KERAS_BACKEND=jax python benchmarks/gpu_forward.py [--batches 1,64,256] [--variants fused,lengths] [--out r.json]

Bring along what the machine lacks as wheels (keras, ml-dtypes, namex, optree, h5py, tokenizers; transformers for
the baseline), see the device notes. Every figure goes to BENCHMARKS.md with the card it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16", "float16", "bfloat16")
SEQ = 384


def inputs(batch, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = rng.integers(SEQ // 2, SEQ + 1, size=batch)
    lengths[0] = SEQ
    ids = rng.integers(1000, 30000, size=(batch, SEQ)).astype("int32")
    mask = (np.arange(SEQ)[None] < lengths[:, None]).astype("int32")
    types = (np.arange(SEQ)[None] >= 40).astype("int32") * mask
    return {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": types}


def build(policy, weights=None):
    import keras

    from electra_qa import ElectraConfig, ElectraForQuestionAnswering
    from electra_qa.checkpoints.slots import model_weights

    keras.utils.set_random_seed(0)
    model = ElectraForQuestionAnswering(ElectraConfig.base(), head="simple", dtype=policy)
    if weights is not None:
        for name, var in model_weights(model).items():
            var.assign(weights[name].astype(var.dtype) if var.dtype != "bfloat16" else weights[name])
    return model


def jitted(model):
    import jax

    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]

    @jax.jit
    def forward(tv, ntv, x):
        out, _ = model.stateless_call(tv, ntv, x)
        return out["start_logits"], out["end_logits"]

    return lambda x: forward(tv, ntv, x)


def timed(fn, x, repeats):
    import jax

    jax.block_until_ready(fn(x))
    jax.block_until_ready(fn(x))
    t = time.perf_counter()
    for _ in range(repeats):
        out = fn(x)
    jax.block_until_ready(out)
    return (time.perf_counter() - t) / repeats


def measure(model, batches, ref_out, repeats, label):
    """Seq/s of the jitted model per batch size, and its agreement with the float32 reference outputs."""
    import numpy as np

    fn = jitted(model)
    row = {}
    for batch in batches:
        x = inputs(batch)
        seconds = timed(fn, x, repeats if batch > 1 else 5 * repeats)
        start, end = (np.asarray(t, np.float32) for t in fn(x))
        same, rel = agreement(start, end, *ref_out[batch], x["attention_mask"].astype(bool))
        row[f"b{batch}"] = {
            "seq_per_s": batch / seconds,
            "ms_per_batch": 1000 * seconds,
            "same_best_span": same,
            "logprob_rel_err": rel,
        }
        print(label, batch, json.dumps(row[f"b{batch}"]), flush=True)
    return row


def agreement(start, end, ref_start, ref_end, mask):
    import numpy as np

    def log_softmax(z):
        z = np.where(mask, z, -1e9)
        m = z.max(-1, keepdims=True)
        return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))

    def best_span(s, e):
        s, e = log_softmax(s), log_softmax(e)
        scores = s[:, :, None] + e[:, None, :]
        scores = np.where(
            np.triu(np.ones((SEQ, SEQ), bool))[None] & (np.tril(np.ones((SEQ, SEQ)), 29) > 0)[None], scores, -np.inf
        )
        flat = scores.reshape(len(s), -1).argmax(-1)
        return flat // SEQ, flat % SEQ

    same = np.mean([a == b for a, b in zip(zip(*best_span(start, end)), zip(*best_span(ref_start, ref_end)))])
    rel = max(
        float(np.abs(log_softmax(a) - log_softmax(b))[mask].max() / np.abs(log_softmax(b))[mask].max())
        for a, b in ((start, ref_start), (end, ref_end))
    )
    return float(same), rel


def lengths_attention(query, key, value, attention_bias):
    """Attention given each window's length (right padding) instead of a mask: JAX only."""
    import math

    import jax
    import jax.numpy as jnp

    lengths = jnp.sum(attention_bias[:, 0, 0, :] == 0, axis=-1).astype(jnp.int32)
    return jax.nn.dot_product_attention(
        query, key, value, scale=1.0 / math.sqrt(query.shape[-1]), key_value_seq_lengths=lengths
    )


def variants(names):
    from fused_attention import fused_dot_product_attention  # beside this script

    table = {"fused": fused_dot_product_attention, "lengths": lengths_attention}
    return {name: table[name] for name in names}


def hf_baseline(weights_model, batches, repeats):
    try:
        import torch
        import transformers
        from transformers import ElectraForQuestionAnswering as HFModel
    except ImportError as e:
        return {"skipped": f"transformers/torch not importable: {e}"}
    import tempfile

    from electra_qa import export_huggingface

    with tempfile.TemporaryDirectory() as folder:
        export_huggingface(weights_model, folder)
        # .half() rather than a dtype argument: transformers 4.x says torch_dtype, 5.x dtype (the GPU image has 5.x).
        model = HFModel.from_pretrained(folder).half().cuda().eval()
    result = {"torch": torch.__version__, "transformers": transformers.__version__}
    for batch in batches:
        x = {k: torch.tensor(v, dtype=torch.long).cuda() for k, v in inputs(batch).items()}
        with torch.inference_mode():
            for _ in range(2):
                model(**x)
            torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(repeats):
                model(**x)
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - t) / repeats
        result[f"b{batch}"] = {"seq_per_s": batch / seconds, "ms_per_batch": 1000 * seconds}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="1,64,256")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--variants", default="fused,lengths", help="attention variants to measure ('' for none)")
    parser.add_argument("--variant-policies", default="mixed_float16,float16,bfloat16")
    parser.add_argument("--out")
    args = parser.parse_args()
    import jax
    import numpy as np

    from electra_qa.checkpoints.slots import model_weights
    from electra_qa.precision import detect_device

    batches = [int(b) for b in args.batches.split(",")]
    device = detect_device()
    report = {
        "device": device.name,
        "compute_capability": device.compute_capability,
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "seq": SEQ,
        "ours": {},
    }
    reference = build("float32")
    weights = {k: np.asarray(v) for k, v in model_weights(reference).items()}
    ref_fn = jitted(reference)
    ref_out = {b: [np.asarray(t, np.float32) for t in ref_fn(inputs(b))] for b in batches}
    for policy in POLICIES:
        model = reference if policy == "float32" else build(policy, weights)
        report["ours"][policy] = measure(model, batches, ref_out, args.repeats, policy)
        del model
    from electra_qa.models import attention

    generic = attention.dot_product_attention
    report["attention_variants"] = {}
    for name, fn_attention in variants([v for v in args.variants.split(",") if v]).items():
        attention.dot_product_attention = fn_attention  # looked up when the model is traced
        try:
            report["attention_variants"][name] = {}
            for policy in args.variant_policies.split(","):
                report["attention_variants"][name][policy] = measure(
                    build(policy, weights), sorted({batches[0], batches[-1]}), ref_out, args.repeats, f"{name} {policy}"
                )
        except Exception as e:  # a variant the platform cannot run is reported, not fatal
            report["attention_variants"][name]["error"] = f"{type(e).__name__}: {e}"
            print(name, "failed:", e, flush=True)
        finally:
            attention.dot_product_attention = generic
    report["hf_pytorch_fp16"] = hf_baseline(reference, batches, args.repeats)
    print(json.dumps(report, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
