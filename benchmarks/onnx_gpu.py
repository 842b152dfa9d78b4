"""The ONNX file on an NVIDIA GPU, one command (for when a GPU machine is lent; not run yet):

    KERAS_BACKEND=jax python benchmarks/onnx_gpu.py [--model ../shared/models/minilm-squad-0-29] [--base]

Needs ``onnxruntime-gpu`` (CUDA and TensorRT providers) and ``onnx``; the export runs on any Keras backend (the GPU
machine has JAX, not TensorFlow). Exports the model in float32 and with float16 weights, each with ONNX Runtime's
fused ops and in standard ops only (what TensorRT takes whole), then times ONNX Runtime with the TensorRT provider
(FP16 engines), the CUDA provider and the CPU provider on batch 1 and 256 at length 384: sequences/s, best of 5
after a warm-up, and the largest output difference to CPU float32. ``--base`` uses a random
ELECTRA-base simple-head model instead (the NGC model's size).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(SHARED, "models", "minilm-squad-0-29"))
    parser.add_argument("--base", action="store_true")
    args = parser.parse_args()
    import onnxruntime as ort

    from electra_qa import ElectraConfig, ElectraForQuestionAnswering, QuestionAnswerer
    from electra_qa.onnx_export import export_onnx

    work = tempfile.mkdtemp()
    if args.base:
        model = ElectraForQuestionAnswering(ElectraConfig.base(), head="simple")
    else:
        model = QuestionAnswerer.from_checkpoint(args.model, precision="float32").model
    files = {  # the default file (ONNX Runtime's fused attention), the standard-ops one (TensorRT takes it whole)
        "float32": export_onnx(model, os.path.join(work, "fp32.onnx")),
        "float32 standard ops": export_onnx(model, os.path.join(work, "fp32-standard.onnx"), fused=False),
        "float16 weights": export_onnx(model, os.path.join(work, "fp16.onnx"), float16=True),
        "float16 weights, standard ops": export_onnx(
            model, os.path.join(work, "fp16-standard.onnx"), float16=True, fused=False
        ),
    }
    available = ort.get_available_providers()
    providers = {  # CPU first: its float32 outputs are the reference the others are compared with
        "cpu": ["CPUExecutionProvider"],
        "cuda": ["CUDAExecutionProvider"],
        "tensorrt fp16": [("TensorrtExecutionProvider", {"trt_fp16_enable": True}), "CUDAExecutionProvider"],
    }
    report = {"available": available, "runs": []}
    reference = {}
    for rows in (1, 256):
        feed = {
            "input_ids": np.random.default_rng(0).integers(1000, 2000, (rows, 384)).astype(np.int32),
            "attention_mask": np.ones((rows, 384), np.int32),
            "token_type_ids": np.zeros((rows, 384), np.int32),
        }
        for file_name, path in files.items():
            for name, chosen in providers.items():
                if name == "cpu" and file_name != "float32":
                    continue
                wanted = chosen[0][0] if isinstance(chosen[0], tuple) else chosen[0]
                if wanted not in available:
                    continue
                session = ort.InferenceSession(path, providers=chosen)
                inputs = {i.name: feed[i.name] for i in session.get_inputs()}
                out = session.run(None, inputs)
                for _ in range(2):
                    session.run(None, inputs)
                best = min(_timed(session, inputs) for _ in range(5))
                key = rows
                if name == "cpu" and file_name == "float32":
                    reference[key] = out
                diff = (
                    max(float(np.abs(a - b).max()) for a, b in zip(out, reference[key])) if key in reference else None
                )
                run = {
                    "rows": rows,
                    "file": file_name,
                    "providers": name,
                    "sequences_per_second": rows / best,
                    "max_abs_difference_to_cpu_float32": diff,
                }
                report["runs"].append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))


def _timed(session, inputs) -> float:
    start = time.perf_counter()
    session.run(None, inputs)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
