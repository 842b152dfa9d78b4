"""Checkpoint formats: inspect, load, answer, save a fast-loading copy, export to Hugging Face layout.

    python examples/formats.py [CHECKPOINT] [OUT_FOLDER]

CHECKPOINT is any supported checkpoint (NGC, Hugging Face, google-research, an electra-qa folder); without arguments
it uses the tiny Hugging Face fixture beside the repo (random weights: well-formed but meaningless answers).
"""

import sys
import tempfile

from electra_qa import QuestionAnswerer, export_huggingface, inspect_checkpoint
from electra_qa.precision import describe

checkpoint = sys.argv[1] if len(sys.argv) > 1 else "../shared/fixtures/hf_tiny"
out = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()

print(inspect_checkpoint(checkpoint).summary())

qa = QuestionAnswerer.from_checkpoint(checkpoint)  # precision="auto": float32 on a CPU, mixed float16 on a GPU
print(describe(qa.model))
context = "The Denver Broncos won Super Bowl 50 in February, beating the Carolina Panthers."
print(qa("Who won Super Bowl 50?", context))

qa.save(f"{out}/electra_qa")  # config.json + model.weights.h5 + tokenizer + settings
again = QuestionAnswerer.from_checkpoint(f"{out}/electra_qa")
print(again("Who won Super Bowl 50?", context))

if qa.model.head.hf_architecture:  # NVIDIA's joint head has no Hugging Face counterpart
    export_huggingface(qa.model, f"{out}/hf")
    print("Hugging Face copy:", inspect_checkpoint(f"{out}/hf").format)
