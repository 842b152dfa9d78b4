"""Our safetensors reader against the ``safetensors`` package on the ELECTRA-base file, in one run.

    .venv/bin/python benchmarks/safetensors_reader.py [--repeats 7]

Each side reads every tensor of ``benchmarks/out/hf_base/model.safetensors`` (415 MiB; ``cpu_vs_hf.prepare``) into
arrays a loader can hand to TensorFlow in place (64-byte aligned, writable): ours with ``SafetensorsFile.read``
(header validated, each tensor ``pread`` straight into an aligned array); the package with ``safe_open(...,
framework="numpy").get_tensor`` (its own header validation and copy) followed by the aligned copy a loader would still
need. Alternating runs, file pages warm; median seconds and the peak RSS each side adds.
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

SIDE = """
import resource, sys, time
path, side = sys.argv[1], sys.argv[2]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if side == "ours":
    from electra_qa.checkpoints.readers.safetensors_file import SafetensorsFile
    f = SafetensorsFile(path)
    arrays = {k: f.read(k) for k in f.keys()}
    f.close()
else:
    from safetensors import safe_open
    from electra_qa.checkpoints.prefetch import aligned_copy
    arrays = {}
    with safe_open(path, framework="numpy") as f:
        for k in f.keys():
            arrays[k] = aligned_copy(f.get_tensor(k))
seconds = time.perf_counter() - t
print(seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--dir", default=os.path.join(HERE, "out"))
    args = parser.parse_args()
    folder = cpu_vs_hf.prepared(args.dir)
    path = os.path.join(folder, "model.safetensors")
    runs = {"ours": [], "safetensors package": []}
    for _ in range(args.repeats):
        for side, name in (("ours", "ours"), ("package", "safetensors package")):
            out = subprocess.run([sys.executable, "-c", SIDE, path, side], capture_output=True, text=True, check=True)
            runs[name].append(tuple(float(x) for x in out.stdout.split()))
    for name, values in runs.items():
        seconds = statistics.median(v[0] for v in values)
        growth = statistics.median(v[1] for v in values)
        print(
            f"{name:20} median {seconds:.3f} s  peak RSS growth {growth:.0f} MiB  (runs: "
            + ", ".join(f"{v[0]:.3f}" for v in values)
            + ")"
        )
    ratio = statistics.median(v[0] for v in runs["safetensors package"]) / statistics.median(v[0] for v in runs["ours"])
    print(f"ours is {ratio:.2f}x the package's speed")


if __name__ == "__main__":
    main()
