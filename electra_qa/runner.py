"""``ModelRunner``: windows through the model: batching by length, padding to a few shapes, eager calls for small
work and a compiled graph for the rest."""

from __future__ import annotations

import math
import time

import numpy as np

from electra_qa.features import Feature, pad_batch

# Windows are padded to the smallest of these lengths that fits (capped at max_seq_length): short inputs cost less,
# and the model is compiled for a bounded number of shapes.
LENGTH_BUCKETS = (64, 128, 192, 256, 320, 384, 448, 512)

# Small calls run op by op until they have taken EAGER_BUDGET_S in all: compiling the model pays off only after a few
# calls (``benchmarks/README.md`` has the measurements), so a few interactive questions never wait for a compile, and
# a long job spends at most twice the best split.
EAGER_MAX_TOKENS = 1024
EAGER_BUDGET_S = 1.0


def bucket(length: int, max_seq_length: int) -> int:
    """The padded length for windows of up to ``length`` tokens: the smallest of ``LENGTH_BUCKETS`` that fits. (Padding
    only to a multiple of 8 on TensorFlow measured no faster: fewer tokens, slower shape-relaxed graphs.)"""
    for b in LENGTH_BUCKETS:
        if length <= b:
            return min(b, max_seq_length)
    return max_seq_length


def batch_rows(n: int) -> int:
    """Rows a batch of ``n`` windows is padded to. TensorFlow runs one shape-relaxed graph for any batch size; the
    backends that compile per shape (JAX, PyTorch) get powers of two, so at most log2(batch_size) + 1 batch sizes per
    length bucket are ever compiled."""
    import keras

    if keras.backend.backend() == "tensorflow":
        return n
    return 1 << (n - 1).bit_length()


class ModelRunner:
    """Runs a model (an ``ElectraForQuestionAnswering`` or a ``serving.RemoteModel``) over window features."""

    def __init__(self, model):
        self.model = model
        self.eager_seconds = 0.0  # time spent in eager calls; inf once compiled

    def warm_up(self, max_seq_length: int) -> None:
        """Compile the model now (two dummy batches of different shapes): later calls all run the same compiled graph,
        whatever their shapes and order."""
        for rows, length in ((1, min(64, max_seq_length)), (2, max_seq_length)):
            dummy = {
                "input_ids": np.zeros((rows, length), np.int32),
                "attention_mask": np.ones((rows, length), np.int32),
                "token_type_ids": np.zeros((rows, length), np.int32),
                "p_mask": np.zeros((rows, length), np.float32),
            }
            self.model.predict_on_batch(dummy)
        self.eager_seconds = math.inf

    def run(self, features: list[Feature], batch_size: int, max_seq_length: int) -> list[dict]:
        """Model outputs (numpy, one dict per feature), batching windows of similar length together."""
        order = sorted(range(len(features)), key=lambda i: features[i].length)
        results: list[dict | None] = [None] * len(features)
        for begin in range(0, len(order), batch_size):
            chunk = order[begin : begin + batch_size]
            for i, row in zip(chunk, self._call([features[i] for i in chunk], max_seq_length)):
                results[i] = row
        return results

    def _call(self, features: list[Feature], max_seq_length: int) -> list[dict]:
        """One batch through the model, its outputs one dict per feature: eagerly while the budget lasts and the batch
        is small, else compiled. A model that runs any shape (ONNX Runtime, a server) gets its windows padded to a
        multiple of 8 only, in calls of at most its ``call_tokens`` tokens."""
        if getattr(self.model, "runs_any_shape", False):
            return self._call_any_shape(features, max_seq_length)
        longest = max(f.length for f in features)
        length = bucket(longest, max_seq_length)
        eager = self.eager_seconds < EAGER_BUDGET_S and len(features) * length <= EAGER_MAX_TOKENS
        if eager:  # eager calls compile nothing, so they pad only to a multiple of 8
            length = min(_round8(longest), max_seq_length)
        rows = len(features) if eager else batch_rows(len(features))
        inputs = pad_batch(features, length, rows=rows)
        if eager:
            start = time.perf_counter()
            outputs = self.model(inputs)
            self.eager_seconds += time.perf_counter() - start
        else:
            outputs = self.model.predict_on_batch(inputs)
            self.eager_seconds = math.inf  # compiled once: eager calls would only be slower
        return _per_row(outputs, len(features))

    def _call_any_shape(self, features: list[Feature], max_seq_length: int) -> list[dict]:
        budget = getattr(self.model, "call_tokens", None) or math.inf
        rows: list[dict] = []
        for group in _token_groups(features, budget):
            length = min(_round8(max(f.length for f in group)), max_seq_length)
            rows.extend(_per_row(self.model.predict_on_batch(pad_batch(group, length)), len(group)))
        return rows


def _per_row(outputs: dict, rows: int) -> list[dict]:
    """A batch's outputs (numpy; the hidden states dropped) as one dict per row."""
    outputs = {k: np.asarray(v) for k, v in outputs.items() if k != "sequence_output"}
    return [{k: v[row] for k, v in outputs.items()} for row in range(rows)]


def _round8(length: int) -> int:
    return -(-length // 8) * 8


def _token_groups(features: list[Feature], budget: float) -> list[list[Feature]]:
    """Consecutive runs of ``features`` whose rows x longest length (rounded up to 8) stay within ``budget`` tokens
    (a single window over it is a group of its own)."""
    groups: list[list[Feature]] = []
    longest = 0
    for f in features:
        padded = _round8(max(longest, f.length))
        if groups and (len(groups[-1]) + 1) * padded <= budget:
            groups[-1].append(f)
            longest = max(longest, f.length)
        else:
            groups.append([f])
            longest = f.length
    return groups
