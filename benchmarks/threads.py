"""One QuestionAnswerer shared by threads: every threaded answer equals the single-threaded one.

    .venv/bin/python benchmarks/threads.py --threads 8 --calls 450

Model: NVIDIA's tiny ``ngc_tiny`` fixture (the pipeline and the backend's thread safety are what is measured).
Questions: the fixture's SQuAD questions and the README's demo, cycled; each thread answers ``--calls`` of them.
"""

import argparse
import os
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "fixtures", "ngc_tiny")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--calls", type=int, default=450)
    args = parser.parse_args()
    from electra_qa import QuestionAnswerer, load_squad

    qa = QuestionAnswerer.from_checkpoint(TINY).warm_up()
    pairs = [(e.question, e.context) for e in load_squad(os.path.join(TINY, "squad_dev.json")).examples]
    pairs.append(("What food does Harry like?", "My name is Harry and I grew up in Canada. I love apples."))
    expected = [qa(q, c) for q, c in pairs]
    mismatches, errors = [], []

    def worker(k: int) -> None:
        for i in range(args.calls):
            j = (k + i) % len(pairs)
            try:
                got = qa(*pairs[j])
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(repr(e))
                continue
            if (got.text, got.start, got.end) != (expected[j].text, expected[j].start, expected[j].end) or abs(
                got.score - expected[j].score
            ) > 1e-6:
                mismatches.append((j, got))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    total = args.threads * args.calls
    print(
        f"RESULT threads={args.threads} calls={total} identical={total - len(mismatches) - len(errors)} "
        f"mismatches={len(mismatches)} errors={len(errors)} calls_per_s={total / seconds:.1f}"
    )


if __name__ == "__main__":
    main()
