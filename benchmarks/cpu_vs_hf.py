"""CPU speed against Hugging Face transformers (PyTorch) on the same ELECTRA-base weights, in one run.

    .venv/bin/python benchmarks/cpu_vs_hf.py --peer-python .venv-peers/bin/python [--repeats 3]

(1) model forward, sequences/s at seq 384, batch 1 and 8: our ElectraForQuestionAnswering (simple head) against
    transformers' ElectraForQuestionAnswering;
(2) end to end, questions/s over the 209 hand-written pairs of benchmarks/data/qa_pairs.json: ``qa.batch`` with
    ``scoring="hf_pipeline"`` (the pipeline's windows and scoring) against the question-answering pipeline of
    transformers 4.57, checking that both return the same answer spans; our default SQuAD scoring is timed too;
(3) cold start: seconds from a new process to the first answer (alternating runs, medians compared), ours with
    ``--ours-python``: the interpreter of a venv holding what a user installs (``pip install -e .``);
(4) end to end with our opt-in bfloat16 policies (CPUs with bfloat16 units), with their answer agreement.

Weights: ELECTRA-base sized, random (seed 0), written once in Hugging Face layout by ``export_huggingface`` under
benchmarks/out/hf_base, with the BERT-uncased vocab. The peer side runs in its own venv (torch, transformers 4.57.6):
    python3 -m venv .venv-peers && .venv-peers/bin/pip install torch transformers==4.57.6 safetensors
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "qa_pairs.json")
QUESTION, CONTEXT = (
    "Who planned the railway?",
    ("Chief engineer John Frank Stevens planned the railway that carried away the excavated rock."),
)


def pairs():
    with open(DATA, encoding="utf-8") as f:
        data = json.load(f)
    return [(q["question"], p["context"]) for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]


def prepare(folder):
    """Random ELECTRA-base simple-head model in Hugging Face layout + BERT-uncased vocab (written once)."""
    if os.path.isfile(os.path.join(folder, "model.safetensors")) and os.path.isfile(os.path.join(folder, "vocab.txt")):
        return
    import keras

    import electra_qa
    from electra_qa.hub import PACKAGED_VOCAB

    keras.utils.set_random_seed(0)
    model = electra_qa.ElectraForQuestionAnswering(electra_qa.ElectraConfig.base(), head="simple")
    electra_qa.export_huggingface(model, folder)
    electra_qa.load_tokenizer(PACKAGED_VOCAB).save(folder)


def prepared(out_dir: str) -> str:
    """``prepare(out_dir/hf_base)`` in a fresh process (the benchmark's own process stays free of the backend);
    returns the folder."""
    folder = os.path.join(out_dir, "hf_base")
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {HERE!r}); import cpu_vs_hf; cpu_vs_hf.prepare({folder!r})",
        ],
        check=True,
    )
    return folder


def _timed(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


# ----------------------------------------------------------------------------------------------- our side


def ours(folder, repeats):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from electra_qa import QuestionAnswerer

    out = {}
    qa = QuestionAnswerer.from_checkpoint(folder, scoring="hf_pipeline", max_answer_length=15, doc_overlap=128)
    model = qa.model
    rng = np.random.default_rng(0)
    for batch in (1, 8):
        x = {
            "input_ids": rng.integers(1000, 30000, (batch, 384)).astype("int32"),
            "attention_mask": np.ones((batch, 384), "int32"),
            "token_type_ids": np.zeros((batch, 384), "int32"),
        }
        model.predict_on_batch(x)
        n = 5 if batch == 1 else 2
        seconds, _ = _timed(lambda: [model.predict_on_batch(x) for _ in range(n)], repeats)
        out[f"forward_b{batch}_seq_per_s"] = batch * n / seconds
    items = pairs()
    t = time.perf_counter()
    qa.batch(items)
    out["e2e_first_call_s"] = time.perf_counter() - t
    seconds, answers = _timed(lambda: qa.batch(items), repeats)
    out["e2e_q_per_s"] = len(items) / seconds
    out["answers"] = [(a.start, a.end, a.text) for a in answers]
    squad = QuestionAnswerer(model, qa.tokenizer)  # NVIDIA/SQuAD post-processing, stride-128 windows
    squad.batch(items)
    seconds, _ = _timed(lambda: squad.batch(items), repeats)
    out["e2e_squad_scoring_q_per_s"] = len(items) / seconds
    out["windows_pipeline"] = sum(len(f) for f in qa.features(items))
    out["windows_squad"] = sum(len(f) for f in squad.features(items))
    for precision in ("mixed_bfloat16", "bfloat16"):  # opt-in on CPUs with bfloat16 units (AVX512-BF16/AMX)
        half = QuestionAnswerer.from_checkpoint(
            folder, scoring="hf_pipeline", max_answer_length=15, doc_overlap=128, precision=precision
        )
        half.batch(items)
        seconds, answers = _timed(lambda: half.batch(items), repeats)
        out[f"e2e_{precision}_q_per_s"] = len(items) / seconds
        out[f"answers_{precision}"] = [(a.start, a.end, a.text) for a in answers]
    return out


OURS_COLD = """
import time; t0 = time.perf_counter()
from electra_qa import QuestionAnswerer
qa = QuestionAnswerer.from_checkpoint({folder!r}, scoring="hf_pipeline", max_answer_length=15, doc_overlap=128)
a = qa({q!r}, {c!r})
print(time.perf_counter() - t0, a.text, flush=True)
"""

# ----------------------------------------------------------------------------------------------- peer side


def peer(folder, repeats):
    import numpy as np
    import torch
    import transformers
    from transformers import ElectraForQuestionAnswering, ElectraTokenizerFast, pipeline

    out = {"transformers": transformers.__version__, "torch": torch.__version__, "threads": torch.get_num_threads()}
    model = ElectraForQuestionAnswering.from_pretrained(folder).eval()
    rng = np.random.default_rng(0)
    for batch in (1, 8):
        x = {
            "input_ids": torch.tensor(rng.integers(1000, 30000, (batch, 384))),
            "attention_mask": torch.ones((batch, 384), dtype=torch.long),
            "token_type_ids": torch.zeros((batch, 384), dtype=torch.long),
        }
        n = 5 if batch == 1 else 2
        with torch.inference_mode():
            model(**x)
            seconds, _ = _timed(lambda: [model(**x) for _ in range(n)], repeats)
        out[f"forward_b{batch}_seq_per_s"] = batch * n / seconds
    tokenizer = ElectraTokenizerFast(vocab_file=os.path.join(folder, "vocab.txt"), do_lower_case=True)
    qa = pipeline("question-answering", model=model, tokenizer=tokenizer, device=-1)
    items = [{"question": q, "context": c} for q, c in pairs()]
    t = time.perf_counter()
    qa(items)
    out["e2e_first_call_s"] = time.perf_counter() - t
    seconds, answers = _timed(lambda: qa(items), repeats)
    out["e2e_q_per_s"] = len(items) / seconds
    out["answers"] = [(a["start"], a["end"], a["answer"]) for a in answers]
    for batch_size in (8,):
        seconds, _ = _timed(lambda: qa(items, batch_size=batch_size), 1)
        out[f"e2e_batch{batch_size}_q_per_s"] = len(items) / seconds
    return out


PEER_COLD = """
import time; t0 = time.perf_counter()
import os
from transformers import ElectraForQuestionAnswering, ElectraTokenizerFast, pipeline
model = ElectraForQuestionAnswering.from_pretrained({folder!r})
tok = ElectraTokenizerFast(vocab_file=os.path.join({folder!r}, "vocab.txt"), do_lower_case=True)
qa = pipeline("question-answering", model=model, tokenizer=tok, device=-1)
a = qa(question={q!r}, context={c!r})
print(time.perf_counter() - t0, a["answer"], flush=True)
"""


def cold_start(python, code, env=None):
    """Seconds from starting ``python -c code`` to its first line on stdout (the answer); interpreter start-up
    included, process teardown not."""
    t = time.perf_counter()
    proc = subprocess.Popen([python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline()
    wall = time.perf_counter() - t
    proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"cold-start run failed ({proc.returncode})")
    return wall, line.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--model", default=os.path.join(HERE, "out", "hf_qa_base"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold-repeats", type=int, default=5, help="alternating cold starts per side")
    parser.add_argument(
        "--ours-python",
        default=sys.executable,
        help="interpreter for our cold starts: a venv made as a user installs electra_qa "
        "(pip install -e .), without the development extras; TensorFlow's import also "
        "imports JAX when JAX is installed (+0.3 s)",
    )
    parser.add_argument("--side", choices=("ours", "peer"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        result = (ours if args.side == "ours" else peer)(args.model, args.repeats)
        print(json.dumps(result))
        return
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {HERE!r}); import cpu_vs_hf; cpu_vs_hf.prepare({args.model!r})",
        ],
        check=True,
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # Cold starts alternate (peer, ours, peer, ours, ...): on a shared VM the cost of a process's fresh memory depends
    # on what ran just before, so single runs mislead; the medians are compared.
    cold = {"ours": [], "peer": []}
    for _ in range(args.cold_repeats):
        cold["peer"].append(
            cold_start(args.peer_python, PEER_COLD.format(folder=args.model, q=QUESTION, c=CONTEXT), env)[0]
        )
        cold["ours"].append(
            cold_start(args.ours_python, OURS_COLD.format(folder=args.model, q=QUESTION, c=CONTEXT), env)[0]
        )
    sides = {}
    for side, python in (("peer", args.peer_python), ("ours", sys.executable)):
        proc = subprocess.run(
            [
                python,
                __file__,
                "--peer-python",
                args.peer_python,
                "--model",
                args.model,
                "--repeats",
                str(args.repeats),
                "--side",
                side,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        sides[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    o, p = sides["ours"], sides["peer"]
    same = sum(tuple(a[:2]) == tuple(b[:2]) for a, b in zip(o["answers"], p["answers"]))
    half = {
        precision: {
            "q_per_s": o[f"e2e_{precision}_q_per_s"],
            "ratio": o[f"e2e_{precision}_q_per_s"] / p["e2e_q_per_s"],
            "same_answer_spans_as_peer_float32": "{}/{}".format(
                sum(tuple(a[:2]) == tuple(b[:2]) for a, b in zip(o[f"answers_{precision}"], p["answers"])),
                len(p["answers"]),
            ),
        }
        for precision in ("mixed_bfloat16", "bfloat16")
    }
    report = {
        "machine": os.uname().nodename,
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "peer": {k: p[k] for k in ("transformers", "torch", "threads")},
        "forward_seq384_b1": {
            "ours": o["forward_b1_seq_per_s"],
            "peer": p["forward_b1_seq_per_s"],
            "ratio": o["forward_b1_seq_per_s"] / p["forward_b1_seq_per_s"],
        },
        "forward_seq384_b8": {
            "ours": o["forward_b8_seq_per_s"],
            "peer": p["forward_b8_seq_per_s"],
            "ratio": o["forward_b8_seq_per_s"] / p["forward_b8_seq_per_s"],
        },
        "end_to_end_q_per_s": {
            "ours": o["e2e_q_per_s"],
            "peer": p["e2e_q_per_s"],
            "ratio": o["e2e_q_per_s"] / p["e2e_q_per_s"],
            "peer_batch8": p["e2e_batch8_q_per_s"],
            "ours_squad_scoring": o["e2e_squad_scoring_q_per_s"],
            "first_call_s": {"ours": o["e2e_first_call_s"], "peer": p["e2e_first_call_s"]},
        },
        "same_answer_spans": f"{same}/{len(o['answers'])}",
        "end_to_end_half_precision_ours": half,
        "windows": {"pipeline_windows": o["windows_pipeline"], "squad_windows": o["windows_squad"]},
        "cold_start_s": {
            "ours_median": statistics.median(cold["ours"]),
            "peer_median": statistics.median(cold["peer"]),
            "ratio_peer_over_ours": statistics.median(cold["peer"]) / statistics.median(cold["ours"]),
            "ours_runs": cold["ours"],
            "peer_runs": cold["peer"],
            "ours_python": args.ours_python,
        },
    }
    print(json.dumps(report, indent=2))
    if same != len(o["answers"]):
        for a, b, (q, _) in zip(o["answers"], p["answers"], pairs()):
            if tuple(a[:2]) != tuple(b[:2]):
                print(f"differs: {q!r}: ours {a} peer {b}")


if __name__ == "__main__":
    main()
