"""Answering files of questions: ``answer_file`` (streaming, resumable) against ``qa.batch`` in memory, and Ray Data
with 1 and 2 actors, each side in its own process; rows/s and peak RSS.

    .venv/bin/python benchmarks/bulk.py --model tiny --rows 20000 [--ray-rows 4000]
    .venv/bin/python benchmarks/bulk.py --model base --rows 2000 --ray-rows 500

Rows: questions and paragraphs of ``../shared/squad/dev-v1.1-a.json`` (real SQuAD text), cycled to ``--rows``, with
unique ids. ``tiny``: NVIDIA's ``ngc_tiny`` fixture (64-position windows), so the pipeline rather than the model is
measured; ``base``: ELECTRA-base with random weights (``cpu_vs_hf.prepared``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cpu_vs_hf  # noqa: E402
from squad_eval import SQUAD, TINY, TINY_SETTINGS, result_of  # noqa: E402

SIDE = """
import json, os, resource, sys, time
side, model, rows_file, out, settings, workers = sys.argv[1:7]
settings, workers = json.loads(settings), int(workers)
from electra_qa import QuestionAnswerer, answer_file
t = time.perf_counter()
if side == "answer_file":
    qa = QuestionAnswerer.from_checkpoint(model, precision="float32", **settings)
    t = time.perf_counter()
    summary = answer_file(rows_file, out, qa, progress=False)
    n = summary.answered
elif side == "batch":
    qa = QuestionAnswerer.from_checkpoint(model, precision="float32", **settings)
    rows = [json.loads(line) for line in open(rows_file)]
    t = time.perf_counter()
    n = len(qa.batch([(r["question"], r["context"]) for r in rows]))
else:
    import ray
    from electra_qa.ray import Answerer, answer_dataset

    class Measured(Answerer):  # each actor appends "pid peak-RSS-MiB" after every batch
        def __call__(self, batch):
            result = super().__call__(batch)
            with open(out + ".actors", "a") as f:
                f.write(f"{os.getpid()} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}\\n")
            return result

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    t = time.perf_counter()
    ds = ray.data.read_json(rows_file)
    n = len(answer_dataset(ds, model, num_workers=workers, num_cpus_per_worker=0.5, batch_size=256,
                           answerer=Measured, precision="float32", **settings).take_all())
seconds = time.perf_counter() - t
actors = {}
if os.path.exists(out + ".actors"):
    for line in open(out + ".actors"):
        pid, mb = line.split()
        actors[pid] = max(actors.get(pid, 0.0), float(mb))
print("RESULT", json.dumps({"rows": n, "seconds": seconds, "actor_peak_rss_mb": sorted(actors.values()),
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_rows(path: str, n: int) -> str:
    with open(SQUAD, encoding="utf-8") as f:
        data = json.load(f)
    pairs = [(q["question"], p["context"]) for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            q, c = pairs[i % len(pairs)]
            f.write(json.dumps({"id": f"r{i}", "question": q, "context": c}) + "\n")
    return path


def run(side: str, model: str, rows: str, out: str, settings: dict, workers: int = 1) -> dict:
    for stale in (out, out + ".actors"):
        if os.path.exists(stale):
            os.unlink(stale)
    r = result_of(
        side,
        [sys.executable, "-c", SIDE, side, model, rows, out, json.dumps(settings), str(workers)],
        dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    r["rows_per_s"] = r["rows"] / r["seconds"]
    return r


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("tiny", "base"), default="tiny")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--ray-rows", type=int, default=4000, help="rows for the Ray runs (0: skip Ray)")
    parser.add_argument("--dir", default=os.path.join(HERE, "out"))
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    model = TINY if args.model == "tiny" else cpu_vs_hf.prepared(args.dir)
    settings = TINY_SETTINGS if args.model == "tiny" else {}
    rows = make_rows(os.path.join(args.dir, f"rows-{args.rows}.jsonl"), args.rows)
    out = os.path.join(args.dir, "bulk-out.jsonl")
    for side in ("answer_file", "batch"):
        r = run(side, model, rows, out, settings)
        print(f"{side:12} {args.rows} rows: {r['rows_per_s']:8.1f} rows/s  peak RSS {r['peak_rss_mb']:6.0f} MB")
    if args.ray_rows:
        ray_rows = make_rows(os.path.join(args.dir, f"rows-{args.ray_rows}.jsonl"), args.ray_rows)
        for workers in (1, 2):
            r = run("ray", model, ray_rows, out, settings, workers)
            print(
                f"ray x{workers}      {args.ray_rows} rows: {r['rows_per_s']:8.1f} rows/s  (driver peak RSS "
                f"{r['peak_rss_mb']:.0f} MB, each actor's peak RSS {r['actor_peak_rss_mb']} MB)"
            )


if __name__ == "__main__":
    main()
