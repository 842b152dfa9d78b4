"""Whole-process peak memory of answering one question at ELECTRA-base size: ``electra-qa answer`` against the Hugging
Face question-answering pipeline on the same weights, each a fresh process, alternating, median of ``--repeats``.

    .venv/bin/python benchmarks/peak_memory.py --peer-python .venv-peers/bin/python [--repeats 5]

Also measured: the peak of importing each side's framework alone (keras + TensorFlow; torch + transformers), so that
what the load itself adds is visible. Peak RSS is the kernel's ``ru_maxrss`` of the child process (os.wait4).
Weights: ``benchmarks/out/hf_base`` (``cpu_vs_hf.prepare``: random ELECTRA-base, simple head, 415 MiB).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cpu_vs_hf  # noqa: E402  (imports no backend: prepare() runs in its own process)

QUESTION = "Who planned the railway?"
CONTEXT = "Chief engineer John Frank Stevens planned the railway that carried away the excavated rock."
PEER = """
import os, sys
from transformers import ElectraForQuestionAnswering, ElectraTokenizerFast, pipeline
folder = sys.argv[1]
model = ElectraForQuestionAnswering.from_pretrained(folder)
tok = ElectraTokenizerFast(vocab_file=os.path.join(folder, "vocab.txt"), do_lower_case=True)
print(pipeline("question-answering", model=model, tokenizer=tok, device=-1)(question=sys.argv[2], context=sys.argv[3]))
"""


def peak_mib(command: list[str]) -> float:
    """Peak resident memory of ``command`` (MiB), which must succeed."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{command[:3]} failed: {process.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--ours-python", default=sys.executable)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", default=os.path.join(HERE, "out"))
    args = parser.parse_args()
    folder = cpu_vs_hf.prepared(args.dir)
    weights = os.path.getsize(os.path.join(folder, "model.safetensors")) / 2**20
    cli = os.path.join(os.path.dirname(args.ours_python), "electra-qa")
    commands = {
        "ours: import keras (TensorFlow)": [args.ours_python, "-c", "import keras"],
        "peer: import torch + transformers": [args.peer_python, "-c", "import torch, transformers.pipelines"],
        "ours: electra-qa answer": [cli, "answer", "--checkpoint", folder, "-q", QUESTION, "-c", CONTEXT],
        "peer: transformers pipeline": [args.peer_python, "-c", PEER, folder, QUESTION, CONTEXT],
    }
    runs = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            runs[name].append(peak_mib(command))
    print(f"weights: {weights:.0f} MiB (model.safetensors)")
    for name, values in runs.items():
        print(
            f"{name:36} median {statistics.median(values):7.0f} MiB  (runs: "
            + ", ".join(f"{v:.0f}" for v in values)
            + ")"
        )


if __name__ == "__main__":
    main()
