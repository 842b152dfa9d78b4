"""Load an NGC ELECTRA SQuAD checkpoint and run the model on one made-up batch.

python examples/load_ngc_checkpoint.py PATH_TO_CHECKPOINT_FOLDER
"""

import sys
import time

import numpy as np

import electra_qa

path = sys.argv[1] if len(sys.argv) > 1 else "../shared/fixtures/ngc_tiny"
t0 = time.perf_counter()
model = electra_qa.load_ngc_checkpoint(path)
print(
    f"loaded {path} in {time.perf_counter() - t0:.2f} s: head={model.head.describe()}, "
    f"layers={model.config.num_hidden_layers}, hidden={model.config.hidden_size}, "
    f"parameters={model.count_params():,}"
)
seq = 32
ids = np.full((1, seq), 0)
ids[0, :12] = [101, 2054, 2003, 1996, 3007, 1029, 102, 3000, 2003, 1996, 3007, 102]
ids = np.minimum(ids, model.config.vocab_size - 1)
mask = (np.arange(seq) < 12).astype("int64")[None]
types = ((np.arange(seq) >= 7) & (np.arange(seq) < 12)).astype("int64")[None]
out = model({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
for name, value in out.items():
    print(f"{name:22s} {tuple(value.shape)}")
