"""The ONNX Runtime path on the real trained model: answer agreement, the int8 sweep, and speed against transformers.

    .venv/bin/python benchmarks/onnx_runtime.py sweep [--every 1]
    .venv/bin/python benchmarks/onnx_runtime.py speed --peer-python .venv-peers/bin/python [--every 4]
    .venv/bin/python benchmarks/onnx_runtime.py memory --peer-python .venv-peers/bin/python
    .venv/bin/python benchmarks/onnx_runtime.py session [--every 4]

Model: ../shared/models/minilm-squad-0-29 (fine-tuned on articles 0-29); questions: articles 30-37 of
../shared/squad/dev-v1.1-a.json (1,572; ``--every N`` keeps every N-th), each with its own paragraph.

``sweep``: Keras float32 (the reference), the ONNX float32 exports (fused ops, standard ops), and int8 exports
leaving different groups of weight products in float32 (all int8; the head; the FFN output; the last layer;
attention; per-channel scales off); for each, EM/F1 by the official script, answers identical to Keras float32,
and the paired F1 difference per question (mean, and its standard error over the questions).

``speed``: end-to-end questions/s on the same questions (windows, model, post-processing), each side in its own
process, one after another: our Keras float32 and mixed_bfloat16, ONNX Runtime float32 and int8, and the
transformers 4.57 question-answering pipeline at its best batch size (it exports the files ``memory`` uses).
``memory`` (after ``speed``): the whole-process peak memory of one ``electra-qa answer`` on each runtime and of the
pipeline answering one question, the imports alone, and the cold start (a new process to its first answer),
medians of 3.
``session``: ONNX Runtime alone on the same windows (no tokenization or post-processing), best of 3: the fused and
the standard-ops graph, float32 and int8, with ONNX Runtime's SkipLayerNormalization fusion on and off, in calls of
512, 1,024 and 2,048 tokens and in batches of 32 windows padded to the length buckets (how the Keras path batches).
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
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared")
MODEL = os.path.join(SHARED, "models", "minilm-squad-0-29")
OUT = os.path.join(HERE, "out", "onnx")
QUESTION = "Who planned the railway?"
CONTEXT = "Chief engineer John Frank Stevens planned the railway that carried away the excavated rock."


def questions(every: int) -> list[dict]:
    with open(os.path.join(SHARED, "squad", "dev-v1.1-a.json"), encoding="utf-8") as f:
        data = json.load(f)["data"]
    out = []
    for article in data[30:38]:
        for paragraph in article["paragraphs"]:
            for q in paragraph["qas"]:
                out.append(
                    {
                        "id": q["id"],
                        "question": q["question"],
                        "context": paragraph["context"],
                        "answers": [a["text"] for a in q["answers"]],
                    }
                )
    return out[::every]


def official(asked: list[dict], predictions: dict, name: str) -> dict:
    with open(os.path.join(SHARED, "squad", "dev-v1.1-a.json"), encoding="utf-8") as f:
        data = json.load(f)
    wanted = {q["id"] for q in asked}
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = [q for q in paragraph["qas"] if q["id"] in wanted]
    dataset, path = os.path.join(OUT, "asked.json"), os.path.join(OUT, f"{name}-predictions.json")
    with open(dataset, "w", encoding="utf-8") as f:
        json.dump(data, f)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(predictions, f)
    script = os.path.join(SHARED, "squad", "evaluate-v1.1.py")
    return json.loads(subprocess.run([sys.executable, script, dataset, path], capture_output=True, text=True).stdout)


SWEEP = {
    "onnx float32, standard ops only": {"fused": False},
    "int8, all weight products": {"quantize": "int8", "keep_float": ()},
    "int8, head float32": {"quantize": "int8", "keep_float": ("head",)},
    "int8, head and FFN output float32": {"quantize": "int8", "keep_float": ("head", "ffn_output")},
    "int8, head and last layer float32": {"quantize": "int8", "keep_float": ("head", "last")},
    "int8, head and attention float32": {"quantize": "int8", "keep_float": ("head", "attention")},
    "int8, head and FFN output of layers 0-1 float32": {
        "quantize": "int8",
        "keep_float": ("head", "ffn_output:0", "ffn_output:1"),
    },
    "int8, head float32, per-tensor scales": {"quantize": "int8", "keep_float": ("head",), "per_channel": False},
}


def sweep(every: int) -> dict:
    from electra_qa import QuestionAnswerer
    from electra_qa.onnx_export import export_onnx
    from electra_qa.squad.metrics import _f1, normalize_answer

    asked = questions(every)
    pairs = [(q["question"], q["context"]) for q in asked]
    qa = QuestionAnswerer.from_checkpoint(MODEL)
    reference = {q["id"]: a.text for q, a in zip(asked, qa.batch(pairs))}

    def per_question_f1(predictions):
        return {
            q["id"]: max(
                _f1(normalize_answer(predictions[q["id"]]).split(), normalize_answer(g).split()) for g in q["answers"]
            )
            for q in asked
        }

    rows = {"keras float32": {"scores": official(asked, reference, "keras"), "identical": len(asked)}}
    base_f1 = per_question_f1(reference)
    for name, options in {"onnx float32": {}, **SWEEP}.items():
        path = export_onnx(qa, os.path.join(OUT, "model.onnx"), **options)
        ox = QuestionAnswerer.from_onnx(path)
        start = time.perf_counter()
        predictions = {q["id"]: a.text for q, a in zip(asked, ox.batch(pairs))}
        seconds = time.perf_counter() - start
        f1 = per_question_f1(predictions)
        rows[name] = {
            "scores": official(asked, predictions, name.replace(" ", "_").replace(",", "")),
            "identical": sum(predictions[i] == reference[i] for i in reference),
            "paired_f1_difference": 100 * statistics.mean(f1[i] - base_f1[i] for i in f1),
            "paired_f1_standard_error": 100 * statistics.stdev(f1[i] - base_f1[i] for i in f1) / len(f1) ** 0.5,
            "mib": os.path.getsize(path) / 2**20,
            "questions_per_second": len(asked) / seconds,
        }
        print(name, json.dumps(rows[name]), file=sys.stderr, flush=True)
    return {"questions": len(asked), "rows": rows}


OURS = r"""
import json, sys, time
from electra_qa import QuestionAnswerer
model, precision, path = sys.argv[1], sys.argv[2], sys.argv[3]
asked = json.load(open(path, encoding="utf-8"))
pairs = [(q["question"], q["context"]) for q in asked]
if model.endswith(".onnx"):
    qa = QuestionAnswerer.from_onnx(model)
else:
    qa = QuestionAnswerer.from_checkpoint(model, precision=precision)
qa.warm_up()
qa.batch(pairs[:16])
start = time.perf_counter()
answers = qa.batch(pairs)
seconds = time.perf_counter() - start
print(json.dumps({"questions_per_second": len(pairs) / seconds, "answers": [a.text for a in answers]}))
"""

PEER = r"""
import json, sys, time
from transformers import pipeline
model, path = sys.argv[1], sys.argv[2]
asked = json.load(open(path, encoding="utf-8"))
qa = pipeline("question-answering", model=model, tokenizer=model, device=-1)
inputs = [{"question": q["question"], "context": q["context"]} for q in asked]
best = None
for batch in (1, 8, 32):
    qa(inputs[:16], batch_size=batch)
    start = time.perf_counter()
    out = qa(inputs, batch_size=batch)
    rate = len(inputs) / (time.perf_counter() - start)
    if best is None or rate > best[0]:
        best = (rate, batch, [o["answer"] for o in out])
print(json.dumps({"questions_per_second": best[0], "batch_size": best[1], "answers": best[2]}))
"""

PEER_ONE = r"""
import json, sys
from transformers import pipeline
qa = pipeline("question-answering", model=sys.argv[1], tokenizer=sys.argv[1], device=-1)
print(json.dumps(qa(question=sys.argv[2], context=sys.argv[3])))
"""


def _run(command: list[str]) -> tuple[dict | None, float, float]:
    """(the last JSON line of stdout or None, peak RSS MiB, seconds)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    out, err = process.stdout.read(), process.stderr.read()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{command[:3]} failed:\n{err[-3000:]}")
    lines = [line for line in out.strip().splitlines() if line.startswith('{"')]
    return (json.loads(lines[-1]) if lines else None), usage.ru_maxrss / 1024, seconds


def speed(every: int, peer_python: str) -> dict:
    from electra_qa import QuestionAnswerer
    from electra_qa.onnx_export import export_onnx

    asked = questions(every)
    path = os.path.join(OUT, "speed-questions.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(asked, f)
    qa = QuestionAnswerer.from_checkpoint(MODEL)
    for folder in ("fp32", "int8", "int8-head"):
        os.makedirs(os.path.join(OUT, folder), exist_ok=True)
    fp32 = export_onnx(qa, os.path.join(OUT, "fp32", "model.onnx"))
    int8 = export_onnx(qa, os.path.join(OUT, "int8", "model.onnx"), quantize="int8")  # the default: FFN out float32
    int8_head = export_onnx(qa, os.path.join(OUT, "int8-head", "model.onnx"), quantize="int8", keep_float=("head",))
    hf = os.path.join(OUT, "hf")
    if not os.path.isfile(os.path.join(hf, "model.safetensors")):
        from electra_qa import export_huggingface

        export_huggingface(qa.model, hf)
        qa.tokenizer.save(hf)
    python = sys.executable
    sides = {
        "ours keras float32": [python, "-c", OURS, MODEL, "float32", path],
        "ours keras mixed_bfloat16": [python, "-c", OURS, MODEL, "mixed_bfloat16", path],
        "ours onnxruntime float32": [python, "-c", OURS, fp32, "float32", path],
        "ours onnxruntime int8 (default: FFN outputs float32)": [python, "-c", OURS, int8, "float32", path],
        "ours onnxruntime int8, only the head float32": [python, "-c", OURS, int8_head, "float32", path],
        "transformers 4.57 pipeline": [peer_python, "-c", PEER, hf, path],
    }
    report = {"questions": len(asked), "throughput": {}}
    reference = None
    for name, command in sides.items():
        result, _, _ = _run(command)
        answers = result.pop("answers")
        reference = reference or answers
        result["same_answers_as_keras_float32"] = sum(a == b for a, b in zip(answers, reference))
        report["throughput"][name] = result
        print(name, json.dumps(result), file=sys.stderr, flush=True)
    return report


def memory(peer_python: str) -> dict:
    """Peak memory and cold start of one answer on each runtime (the files ``speed`` exported). Run from a process
    that imported no framework: a child's peak counts its parent's memory at the fork."""
    python, cli = sys.executable, os.path.join(os.path.dirname(sys.executable), "electra-qa")
    fp32, int8 = (os.path.join(OUT, name, "model.onnx") for name in ("fp32", "int8"))
    hf = os.path.join(OUT, "hf")
    one = {
        "python -c 'import keras, tensorflow'": [python, "-c", "import keras, tensorflow"],
        "python -c 'import onnxruntime, tokenizers'": [python, "-c", "import onnxruntime, tokenizers"],
        "python -c 'import torch, transformers.pipelines'": [peer_python, "-c", "import torch, transformers.pipelines"],
        "electra-qa answer (tensorflow)": [cli, "answer", "--checkpoint", MODEL, "-q", QUESTION, "-c", CONTEXT],
        "electra-qa answer --runtime onnxruntime (float32)": [
            cli,
            "answer",
            "--runtime",
            "onnxruntime",
            "--checkpoint",
            fp32,
            "-q",
            QUESTION,
            "-c",
            CONTEXT,
        ],
        "electra-qa answer --runtime onnxruntime (int8)": [
            cli,
            "answer",
            "--runtime",
            "onnxruntime",
            "--checkpoint",
            int8,
            "-q",
            QUESTION,
            "-c",
            CONTEXT,
        ],
        "transformers pipeline, one question": [peer_python, "-c", PEER_ONE, hf, QUESTION, CONTEXT],
    }
    report = {"peak_mib": {}, "cold_start_s": {}}
    for name, command in one.items():
        runs = [_run(command) for _ in range(3)]
        report["peak_mib"][name] = statistics.median(r[1] for r in runs)
        report["cold_start_s"][name] = statistics.median(r[2] for r in runs)
        print(name, report["peak_mib"][name], report["cold_start_s"][name], file=sys.stderr, flush=True)
    return report


def session(every: int) -> dict:
    """Session-only seconds for the speed questions' windows under each graph, optimizer setting and call size."""
    import onnxruntime as ort

    from electra_qa import QuestionAnswerer
    from electra_qa.features import pad_batch
    from electra_qa.onnx_export import export_onnx
    from electra_qa.runner import _token_groups, bucket

    asked = questions(every)
    qa = QuestionAnswerer.from_checkpoint(MODEL)
    features = sorted((f for fs in qa.features([(q["question"], q["context"]) for q in asked]) for f in fs), key=len_)
    files = {}
    for fused in (True, False):
        for quantize in (None, "int8"):
            name = f"{'fused' if fused else 'standard ops'}, {quantize or 'float32'}"
            target = os.path.join(OUT, "session", name.replace(", ", "-").replace(" ", "_") + ".onnx")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            files[name] = export_onnx(qa, target, fused=fused, quantize=quantize)
    calls = {f"calls of {n} tokens": _token_groups(features, n) for n in (512, 1024, 2048)}
    calls["batches of 32, length buckets"] = [features[i : i + 32] for i in range(0, len(features), 32)]
    report = {"windows": len(features), "tokens": sum(f.length for f in features), "seconds": {}}
    for name, path in files.items():
        for skip_fusion in (True, False):
            options = ort.SessionOptions()
            disabled = None if skip_fusion else ["SkipLayerNormFusion"]
            run = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)
            names = [i.name for i in run.get_inputs()]
            for how, groups in calls.items():
                buckets = how.startswith("batches")
                batches = [
                    pad_batch(g, bucket(len_(g[-1]), 384) if buckets else -(-len_(g[-1]) // 8) * 8) for g in groups
                ]

                def once(batches=batches, run=run, names=names):
                    start = time.perf_counter()
                    for b in batches:
                        run.run(None, {n: b[n] for n in names})
                    return time.perf_counter() - start

                once()
                key = f"{name}; SkipLayerNorm fusion {'on' if skip_fusion else 'off'}; {how}"
                report["seconds"][key] = min(once() for _ in range(3))
                print(key, round(report["seconds"][key], 3), file=sys.stderr, flush=True)
    return report


def len_(feature) -> int:
    return feature.length


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("sweep", "speed", "memory", "session"))
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--peer-python")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if args.what == "sweep":
        report = sweep(args.every)
    elif args.what == "speed":
        report = speed(args.every, args.peer_python)
    elif args.what == "session":
        report = session(args.every)
    else:
        report = memory(args.peer_python)
    path = os.path.join(HERE, "results", f"onnx_{args.what}-{time.strftime('%Y-%m-%d')}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
