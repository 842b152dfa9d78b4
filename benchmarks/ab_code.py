"""A/B of two versions of the library on the same machine: load time and answer speed, alternated, each run in a
fresh process; answers compared between the versions.

    python benchmarks/ab_code.py --old REV [--new DIR] [--rounds 2] [--questions 300]

``--old REV`` is checked out into a temporary git worktree; ``--new`` is a source tree (default: this checkout).
Each round runs old then new (so two rounds alternate old, new, old, new). A run loads the real trained model
``../shared/models/minilm-squad-0-29`` with ``QuestionAnswerer.from_checkpoint`` (load time, including the backend
import) and answers the first ``--questions`` questions of articles 30-37 of ``../shared/squad/dev-v1.1-a.json``
(questions/s of ``qa.batch``, after one warm-up call). Prints one JSON line per run and a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared")

RUN = r"""
import json, sys, time
t0 = time.perf_counter()
from electra_qa import QuestionAnswerer
qa = QuestionAnswerer.from_checkpoint(sys.argv[1], precision="float32")
load_s = time.perf_counter() - t0
data = json.load(open(sys.argv[2], encoding="utf-8"))["data"][30:38]
pairs = [(q["question"], p["context"]) for a in data for p in a["paragraphs"] for q in p["qas"]][: int(sys.argv[3])]
qa.batch(pairs[:8])
t0 = time.perf_counter()
answers = qa.batch(pairs)
seconds = time.perf_counter() - t0
print(json.dumps({"load_s": load_s, "questions_per_s": len(pairs) / seconds,
                  "answers": [[a.text, a.start, a.end, a.score] for a in answers]}))
"""


def run(tree: str, model: str, squad: str, questions: int) -> dict:
    env = dict(os.environ, PYTHONPATH=tree, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", RUN, model, squad, str(questions)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="git revision of the old code")
    parser.add_argument("--new", default=ROOT, help="source tree of the new code (default: this checkout)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--model", default=os.path.join(SHARED, "models", "minilm-squad-0-29"))
    parser.add_argument("--squad", default=os.path.join(SHARED, "squad", "dev-v1.1-a.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = os.path.join(tmp, "old")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-q", old, args.old], check=True)
        try:
            results = {"old": [], "new": []}
            for _ in range(args.rounds):
                for side, tree in (("old", old), ("new", args.new)):
                    r = run(tree, args.model, args.squad, args.questions)
                    results[side].append(r)
                    print(
                        json.dumps(
                            {
                                "side": side,
                                "load_s": round(r["load_s"], 3),
                                "questions_per_s": round(r["questions_per_s"], 2),
                            }
                        ),
                        flush=True,
                    )
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", old], check=False)
    same = sum(a[:3] == b[:3] for a, b in zip(results["old"][0]["answers"], results["new"][0]["answers"]))
    score_diff = max(abs(a[3] - b[3]) for a, b in zip(results["old"][0]["answers"], results["new"][0]["answers"]))
    summary = {
        side: {
            "load_s": [round(r["load_s"], 3) for r in rs],
            "questions_per_s": [round(r["questions_per_s"], 2) for r in rs],
        }
        for side, rs in results.items()
    }
    summary["same_answers"] = f"{same}/{len(results['new'][0]['answers'])}"
    summary["largest_score_difference"] = score_diff
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
