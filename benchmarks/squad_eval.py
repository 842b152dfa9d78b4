"""Answering a whole SQuAD file: questions/s and peak memory of ``predict_squad`` against the pre-round-2
``predict_squad`` and the Hugging Face question-answering pipeline, each side in its own process, in one run.

    .venv/bin/python benchmarks/squad_eval.py --model base --questions 1000 --old-src OLD_CHECKOUT \
        --peer-python .venv-peers/bin/python
    .venv/bin/python benchmarks/squad_eval.py --model tiny --repeat-file 10 --sides ours

Data: ``../shared/squad/dev-v1.1-a.json`` (38 articles, 8,582 questions), its first ``--questions`` questions, or
``--repeat-file`` copies of the whole file (ids suffixed). Models: ``base``, ELECTRA-base with random weights and a
simple head in Hugging Face layout (``cpu_vs_hf.prepare``: the peer reads the same files); ``tiny``, NVIDIA's
``ngc_tiny`` fixture (64 positions) with its window settings, for the memory of the pipeline itself. Sides:
``ours`` (``predict_squad``, chunks of 256 paragraphs), ``old`` (``predict_squad`` of the checkout given with
``--old-src``: all windows of the file at once), ``hf`` (transformers' pipeline over the same questions, float32,
its default windows, batch_size 1 as in ``cpu_vs_hf.py``). Each side reports questions/s over the answering (model
load excluded) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SQUAD = os.path.join(os.path.dirname(ROOT), "shared", "squad", "dev-v1.1-a.json")
TINY = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "ngc_tiny")
TINY_SETTINGS = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_data(out: str, questions: int, repeat: int) -> str:
    with open(SQUAD, encoding="utf-8") as f:
        data = json.load(f)
    if questions:
        kept, left = [], questions
        for article in data["data"]:
            paragraphs = []
            for p in article["paragraphs"]:
                if left <= 0:
                    break
                paragraphs.append(dict(p, qas=p["qas"][:left]))
                left -= len(paragraphs[-1]["qas"])
            if paragraphs:
                kept.append(dict(article, paragraphs=paragraphs))
        data["data"] = kept
    if repeat > 1:
        data["data"] = [
            dict(a, paragraphs=[dict(p, qas=[dict(q, id=f"{q['id']}-{k}") for q in p["qas"]]) for p in a["paragraphs"]])
            for k in range(repeat)
            for a in data["data"]
        ]
    with open(out, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return out


def _count(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return sum(len(p["qas"]) for a in data["data"] for p in a["paragraphs"])


def run_ours(model_dir: str, data: str, tiny: bool) -> dict:
    import electra_qa

    qa = electra_qa.QuestionAnswerer.from_checkpoint(model_dir, precision="float32", **(TINY_SETTINGS if tiny else {}))
    t = time.perf_counter()
    predictions = electra_qa.predict_squad(qa, data, progress=False)
    seconds = time.perf_counter() - t
    return {
        "questions": len(predictions),
        "windows": predictions.windows,
        "peak_windows": predictions.peak_windows,
        "seconds": seconds,
        "answers": dict(predictions),
    }


def run_old(model_dir: str, data: str, tiny: bool) -> dict:
    import electra_qa
    from electra_qa.pipeline import predict_squad  # the old home of predict_squad

    qa = electra_qa.QuestionAnswerer.from_checkpoint(model_dir, precision="float32", **(TINY_SETTINGS if tiny else {}))
    t = time.perf_counter()
    predictions = predict_squad(qa, data)
    return {"questions": len(predictions), "seconds": time.perf_counter() - t, "answers": dict(predictions)}


def run_hf(model_dir: str, data: str, tiny: bool) -> dict:
    import torch
    import transformers
    from transformers import ElectraForQuestionAnswering, ElectraTokenizerFast, pipeline

    model = ElectraForQuestionAnswering.from_pretrained(model_dir).eval()
    tokenizer = ElectraTokenizerFast(vocab_file=os.path.join(model_dir, "vocab.txt"), do_lower_case=True)
    qa = pipeline("question-answering", model=model, tokenizer=tokenizer, device=-1)
    with open(data, encoding="utf-8") as f:
        squad = json.load(f)
    items = [
        (q["id"], {"question": q["question"], "context": p["context"]})
        for a in squad["data"]
        for p in a["paragraphs"]
        for q in p["qas"]
    ]
    t = time.perf_counter()
    answers = qa([x for _, x in items])
    seconds = time.perf_counter() - t
    return {
        "questions": len(items),
        "seconds": seconds,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "answers": {qid: a["answer"] for (qid, _), a in zip(items, answers)},
    }


def result_of(name: str, command: list[str], env: dict) -> dict:
    """Run one side's process (in this folder, so that the package comes from where the environment says) and
    return the JSON it prints after ``RESULT``."""
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=HERE)
    if out.returncode:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.split("RESULT ", 1)[1])


def _side(name: str, python: str, model_dir: str, data: str, tiny: bool, env: dict) -> dict:
    code = (
        f"import sys, json; sys.path.insert(0, {HERE!r}); import squad_eval as s; "
        f"r = s.run_{name}({model_dir!r}, {data!r}, {tiny!r}); r['peak_rss_mb'] = s._peak_rss_mb(); "
        "print('RESULT ' + json.dumps(r))"
    )
    result = result_of(name, [python, "-c", code], env)
    result["questions_per_s"] = result["questions"] / result["seconds"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("base", "tiny"), default="base")
    parser.add_argument("--questions", type=int, default=0, help="first N questions (0: all 8,582)")
    parser.add_argument("--repeat-file", type=int, default=1, help="copies of the data, for memory against size")
    parser.add_argument("--sides", default="ours,old,hf")
    parser.add_argument("--old-src", help="a checkout of the code before round 2 (for the 'old' side)")
    parser.add_argument("--peer-python", default=sys.executable, help="interpreter with torch + transformers")
    parser.add_argument("--dir", default=os.path.join(HERE, "out"))
    parser.add_argument("--json", help="write the results (answers left out) here")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    tiny = args.model == "tiny"
    if tiny:
        model_dir = TINY
    else:
        sys.path.insert(0, HERE)
        import cpu_vs_hf

        model_dir = cpu_vs_hf.prepared(args.dir)
    data = make_data(
        os.path.join(args.dir, f"squad-{args.questions}-x{args.repeat_file}.json"), args.questions, args.repeat_file
    )
    print(f"{_count(data)} questions, model {args.model}")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    results = {}
    for side in args.sides.split(","):
        side_env = dict(env)
        python = sys.executable
        if side == "old":
            if not args.old_src:
                raise SystemExit("--old-src is needed for the 'old' side")
            side_env["PYTHONPATH"] = args.old_src
        if side == "hf":
            python = os.path.abspath(args.peer_python)
            if tiny:
                print("hf: skipped (the tiny fixture has NVIDIA's joint head, which transformers lacks)")
                continue
        results[side] = _side(side, python, model_dir, data, tiny, side_env)
        r = results[side]
        print(
            f"{side:5} {r['questions_per_s']:8.2f} questions/s  {r['seconds']:8.1f} s  "
            f"peak RSS {r['peak_rss_mb']:7.0f} MB"
            + (f"  windows {r['windows']} (at once <= {r['peak_windows']})" if "windows" in r else "")
        )
    if "ours" in results:
        for side in ("old", "hf"):
            if side in results:
                same = sum(results["ours"]["answers"][k] == v for k, v in results[side]["answers"].items())
                print(
                    f"ours/{side}: {results['ours']['questions_per_s'] / results[side]['questions_per_s']:.2f}x "
                    f"questions/s; same answer text on {same}/{len(results[side]['answers'])}"
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: {kk: vv for kk, vv in v.items() if kk != "answers"} for k, v in results.items()}, f, indent=2)


if __name__ == "__main__":
    main()
