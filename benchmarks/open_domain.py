"""Open-domain SQuAD: ask a whole collection, against Haystack and the transformers pipeline, in one run.

    .venv/bin/python benchmarks/open_domain.py --haystack-python .venv-haystack/bin/python \\
        --peer-python .venv-peers/bin/python [--every 1]

Collection: every paragraph of ../shared/squad/dev-v1.1-a.json and dev-v2.0-a.json is a document (2,085). Questions:
those of articles 30-37 of dev-v1.1-a.json (1,572; ``--every N`` keeps every N-th), asked against the whole
collection (the calibration questions too). Model: ../shared/models/minilm-squad-0-29 (fine-tuned on articles 0-29
only), and for the peers the same weights exported in Hugging Face layout. Each side runs in its own process (peak
memory is its ``ru_maxrss``):

- ours: ``DocumentIndex`` (SQLite FTS5 BM25) + ``QuestionAnswerer.ask_batch``, retrieval depth 20. Its
  calibration is fitted on the questions of articles 30-33 (``electra_qa.calibrate`` against the same collection)
  and its calibration error measured on articles 34-37 only. The same model given each question's gold paragraph
  is the upper bound.
- Haystack: ``haystack-ai`` InMemoryDocumentStore + InMemoryBM25Retriever (top 20) + ``transformers-haystack``
  TransformersExtractiveReader (its top answer, no-answer off).
- transformers 4.57 question-answering pipeline on the passages our index retrieved, keeping its highest score.

EM/F1 come from the official ``evaluate-v1.1.py`` on the asked questions. Recall@k: a retrieved passage belongs to a
document whose text is the question's gold paragraph (the v2.0 file repeats some paragraphs: either copy counts).
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
SHARED = os.path.join(ROOT, "..", "shared")
SQUAD = os.path.join(SHARED, "squad")
MODEL = os.path.join(SHARED, "models", "minilm-squad-0-29")
K = 20


def collection() -> list[dict]:
    docs = []
    for name in ("dev-v1.1-a.json", "dev-v2.0-a.json"):
        with open(os.path.join(SQUAD, name), encoding="utf-8") as f:
            data = json.load(f)["data"]
        for a, article in enumerate(data):
            for p, paragraph in enumerate(article["paragraphs"]):
                docs.append({"id": f"{name[4:8]}:{a}:{p}", "text": paragraph["context"], "title": article["title"]})
    return docs


def questions(every: int) -> list[dict]:
    with open(os.path.join(SQUAD, "dev-v1.1-a.json"), encoding="utf-8") as f:
        data = json.load(f)["data"]
    out = []
    for a in range(30, 38):
        for paragraph in data[a]["paragraphs"]:
            for q in paragraph["qas"]:
                out.append(
                    {
                        "id": q["id"],
                        "question": q["question"],
                        "answers": [x["text"] for x in q["answers"]],
                        "context": paragraph["context"],
                        "article": a,
                    }
                )
    return out[::every]


def subset_file(asked: list[dict], path: str) -> str:
    """The asked questions as a SQuAD v1.1 file, for the official script."""
    with open(os.path.join(SQUAD, "dev-v1.1-a.json"), encoding="utf-8") as f:
        data = json.load(f)
    wanted = {q["id"] for q in asked}
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = [q for q in paragraph["qas"] if q["id"] in wanted]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return path


def official(dataset: str, predictions: dict, work: str, name: str) -> dict:
    path = os.path.join(work, f"{name}-predictions.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(predictions, f)
    out = subprocess.run(
        [sys.executable, os.path.join(SQUAD, "evaluate-v1.1.py"), dataset, path], capture_output=True, text=True
    )
    return json.loads(out.stdout)


def run_side(python: str, code: str, args: list[str]) -> tuple[dict, float]:
    """Run ``code`` in a fresh ``python`` process; its last stdout line is JSON. Returns it and the peak RSS (MiB)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TOKENIZERS_PARALLELISM="false")
    process = subprocess.Popen(
        [python, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    _, status, usage = os.wait4(process.pid, 0)
    out, err = process.stdout.read(), process.stderr.read()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{python} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


OURS = r"""
import json, sys, time
sys.path.insert(0, "benchmarks")
from electra_qa import DocumentIndex, QuestionAnswerer, calibrate
from electra_qa.calibration import expected_calibration_error, reliability_table
from electra_qa.squad.metrics import normalize_answer

work, model = sys.argv[1], sys.argv[2]
docs = [json.loads(line) for line in open(f"{work}/collection.jsonl", encoding="utf-8")]
asked = json.load(open(f"{work}/questions.json", encoding="utf-8"))
calibration_questions = json.load(open(f"{work}/calibration.json", encoding="utf-8"))
qa = QuestionAnswerer.from_checkpoint(model)
start = time.perf_counter()
index = DocumentIndex(f"{work}/collection.db")
index.add(docs)
build = time.perf_counter() - start
gold_docs = {}
for d in docs:
    gold_docs.setdefault(d["text"], set()).add(d["id"])
recall = {1: 0, 5: 0, 20: 0}
retrieved = {}
for q in asked:
    passages = index.search(q["question"], 20)
    retrieved[q["id"]] = [p.text for p in passages]
    hits = [p.doc_id in gold_docs[q["context"]] for p in passages]
    for k in recall:
        recall[k] += any(hits[:k])
json.dump(retrieved, open(f"{work}/retrieved.json", "w", encoding="utf-8"))
default = qa.calibration
fitted = calibrate(qa, calibration_questions, index)
qa.ask_batch([q["question"] for q in asked[:8]], index)  # compile before timing
start = time.perf_counter()
results = []
for begin in range(0, len(asked), 64):
    results += qa.ask_batch([q["question"] for q in asked[begin:begin + 64]], index, top_k=5, retrieve_k=20)
seconds = time.perf_counter() - start
predictions = {q["id"]: (r[0].text if r else "") for q, r in zip(asked, results)}
gold = qa.batch([(q["question"], q["context"]) for q in asked])
gold_predictions = {q["id"]: a.text for q, a in zip(asked, gold)}
held = [(q, r) for q, r in zip(asked, results) if q["article"] >= 34]
def right(q, a):
    return normalize_answer(a.text) in {normalize_answer(x) for x in q["answers"]}
top1 = [(r[0].score, right(q, r[0])) for q, r in held if r]
top5 = [(a.score, right(q, a)) for q, r in held for a in r]
def ece(rows, calibration=None):
    return expected_calibration_error([p for p, _ in rows], [y for _, y in rows])
default_top1 = [(default.probability(r[0].evidence), right(q, r[0])) for q, r in held if r]
print(json.dumps({
    "documents": len(docs), "index_seconds": build, "documents_per_second": len(docs) / build,
    "recall": {k: v / len(asked) for k, v in recall.items()},
    "questions": len(asked), "seconds": seconds, "questions_per_second": len(asked) / seconds,
    "predictions": predictions, "gold_predictions": gold_predictions,
    "calibration": fitted.to_dict(), "held_out_questions": len(held),
    "ece_top1": ece(top1), "ece_top5": ece(top5), "ece_top1_default": ece(default_top1),
    "reliability_top1": reliability_table([p for p, _ in top1], [y for _, y in top1]),
    "reliability_top5": reliability_table([p for p, _ in top5], [y for _, y in top5]),
}))
"""

HAYSTACK = r"""
import json, sys, time
from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack_integrations.components.readers.transformers import TransformersExtractiveReader

work, model = sys.argv[1], sys.argv[2]
docs = [json.loads(line) for line in open(f"{work}/collection.jsonl", encoding="utf-8")]
asked = json.load(open(f"{work}/questions.json", encoding="utf-8"))
start = time.perf_counter()
store = InMemoryDocumentStore()
store.write_documents([Document(id=d["id"], content=d["text"], meta={"title": d["title"]}) for d in docs])
build = time.perf_counter() - start
retriever = InMemoryBM25Retriever(store, top_k=20)
reader = TransformersExtractiveReader(model=model, top_k=1, no_answer=False)
reader.warm_up()
gold_docs = {}
for d in docs:
    gold_docs.setdefault(d["text"], set()).add(d["id"])
reader.run(query=asked[0]["question"], documents=retriever.run(query=asked[0]["question"])["documents"])
recall = {1: 0, 5: 0, 20: 0}
predictions = {}
start = time.perf_counter()
for q in asked:
    found = retriever.run(query=q["question"])["documents"]
    answers = reader.run(query=q["question"], documents=found)["answers"]
    best = [a for a in answers if a.data]
    predictions[q["id"]] = best[0].data if best else ""
    hits = [d.id in gold_docs[q["context"]] for d in found]
    for k in recall:
        recall[k] += any(hits[:k])
seconds = time.perf_counter() - start
print(json.dumps({"index_seconds": build, "documents_per_second": len(docs) / build,
                  "recall": {k: v / len(asked) for k, v in recall.items()}, "seconds": seconds,
                  "questions_per_second": len(asked) / seconds, "predictions": predictions}))
"""

PIPELINE = r"""
import json, sys, time
from transformers import pipeline
work, model = sys.argv[1], sys.argv[2]
asked = json.load(open(f"{work}/questions.json", encoding="utf-8"))
retrieved = json.load(open(f"{work}/retrieved.json", encoding="utf-8"))
qa = pipeline("question-answering", model=model, tokenizer=model, device=-1)
qa([{"question": asked[0]["question"], "context": c} for c in retrieved[asked[0]["id"]][:2]], top_k=1)
predictions = {}
start = time.perf_counter()
for q in asked:
    passages = retrieved[q["id"]]
    if not passages:
        predictions[q["id"]] = ""
        continue
    out = qa([{"question": q["question"], "context": c} for c in passages], top_k=1, batch_size=len(passages))
    out = [o[0] if isinstance(o, list) else o for o in (out if isinstance(out, list) else [out])]
    predictions[q["id"]] = max(out, key=lambda o: o["score"])["answer"]
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "questions_per_second": len(asked) / seconds, "predictions": predictions}))
"""


def hf_model(work: str, ours_python: str) -> str:
    """The trained model in Hugging Face layout, with its tokenizer (written once)."""
    folder = os.path.join(work, "minilm_hf")
    if not os.path.isfile(os.path.join(folder, "model.safetensors")):
        cli = os.path.join(os.path.dirname(ours_python), "electra-qa")
        subprocess.run([cli, "convert", MODEL, folder, "--to", "hf"], check=True, capture_output=True)
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--haystack-python", required=True)
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--ours-python", default=sys.executable)
    parser.add_argument("--every", type=int, default=1, help="ask every N-th question of articles 30-37")
    parser.add_argument("--out", default=os.path.join(HERE, "results", f"open_domain-{time.strftime('%Y-%m-%d')}.json"))
    args = parser.parse_args()
    work = os.path.join(HERE, "out", "open_domain")
    os.makedirs(work, exist_ok=True)
    for stale in ("collection.db", "collection.db-wal", "collection.db-shm"):
        if os.path.exists(os.path.join(work, stale)):
            os.remove(os.path.join(work, stale))
    docs = collection()
    with open(os.path.join(work, "collection.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    asked = questions(args.every)
    with open(os.path.join(work, "questions.json"), "w", encoding="utf-8") as f:
        json.dump(asked, f)
    calibration = [
        {"id": q["id"], "question": q["question"], "context": q["context"], "answers": q["answers"]}
        for q in questions(args.every)
        if q["article"] < 34
    ]
    with open(os.path.join(work, "calibration.json"), "w", encoding="utf-8") as f:
        json.dump(calibration, f)
    hf = hf_model(work, args.ours_python)
    dataset = subset_file(asked, os.path.join(work, "asked.json"))
    report = {"questions": len(asked), "documents": len(docs), "retrieve_k": K, "sides": {}}
    for name, python, code, model in (
        ("ours", args.ours_python, OURS, MODEL),
        ("haystack", args.haystack_python, HAYSTACK, hf),
        ("transformers_pipeline", args.peer_python, PIPELINE, hf),
    ):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        result, peak = run_side(python, code, [work, model])
        result["peak_rss_mib"] = peak
        result["scores"] = official(dataset, result.pop("predictions"), work, name)
        if "gold_predictions" in result:
            result["gold_scores"] = official(dataset, result.pop("gold_predictions"), work, name + "-gold")
        report["sides"][name] = result
        print(name, json.dumps({k: v for k, v in result.items() if not k.startswith("reliability")}), file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
