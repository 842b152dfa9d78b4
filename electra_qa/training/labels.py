"""Training features: the inference windows of each SQuAD example plus its answer's token positions.

As NVIDIA's training features (``squad_convert_example_to_features`` in training mode): the answer is the smallest
run of context tokens covering its characters (what the reference reaches through whitespace words and
``_improve_answer_span``); in a window that holds the whole run, the labels are its first and last sequence
positions; in a window that does not, and for an unanswerable question, both labels are 0 (the [CLS] token) and
the window is ``is_impossible``. An answer whose text is not at its ``answer_start`` is skipped, as the reference
skips answers it cannot find.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from electra_qa.features import context_token_spans, pad_batch
from electra_qa.squad.data import SquadExample


@dataclasses.dataclass
class TrainingFeatures:
    """Padded model inputs with labels (``arrays``: input_ids, attention_mask, token_type_ids, p_mask,
    start_positions, end_positions, is_impossible), which example each window came from, and the examples that
    were skipped with the reason."""

    arrays: dict[str, np.ndarray]
    example_index: np.ndarray  # [windows] index into the examples given
    skipped: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.example_index)


def answer_token_span(offsets: np.ndarray, start: int, end: int) -> tuple[int, int] | None:
    """First and last context token covering characters [start, end), or None if no token does."""
    covers = (offsets[:, 1] > start) & (offsets[:, 0] < end) & (offsets[:, 1] > offsets[:, 0])
    hits = np.flatnonzero(covers)
    return (int(hits[0]), int(hits[-1])) if len(hits) else None


def _answer_span(example: SquadExample) -> tuple[int, int] | str:
    """The first answer's [start, end) characters, or why it cannot be used."""
    if not example.answers or not example.answer_starts:
        return "no answer with an answer_start"
    text, start = example.answers[0], example.answer_starts[0]
    found = example.context[start : start + len(text)]
    if not text.strip() or " ".join(found.split()) != " ".join(text.split()):
        return f"answer {text!r} is not at character {start} of the context"
    return start, start + len(text)


def training_features(qa, examples: list[SquadExample]) -> TrainingFeatures:
    """Windows with labels for ``examples``, made with ``qa``'s tokenizer and windowing settings (``qa.features``),
    each padded to ``qa.settings.max_seq_length``."""
    spans, usable, positions, skipped = {}, [], [], []
    for n, example in enumerate(examples):
        span = (0, 0) if example.is_impossible else _answer_span(example)
        if isinstance(span, str):
            skipped.append((example.id, span))
            continue
        spans[len(usable)] = span
        usable.append(example)
        positions.append(n)
    per_example = qa.features([(e.question, e.context) for e in usable])
    features, starts, ends, impossible, owner = [], [], [], [], []
    for i, (example, windows) in enumerate(zip(usable, per_example)):
        token_span = None
        if not example.is_impossible:
            token_span = answer_token_span(context_token_spans(windows), *spans[i])
            if token_span is None:
                skipped.append((example.id, "the answer covers no token"))
                continue
        for window in windows:
            first, last = window.window_start, window.window_start + window.window_length - 1
            inside = token_span is not None and first <= token_span[0] and token_span[1] <= last
            features.append(window)
            starts.append(window.context_start + token_span[0] - first if inside else 0)
            ends.append(window.context_start + token_span[1] - first if inside else 0)
            impossible.append(0.0 if inside else 1.0)
            owner.append(positions[i])
    arrays = pad_batch(features, qa.settings.max_seq_length)
    arrays["start_positions"] = np.asarray(starts, np.int32)
    arrays["end_positions"] = np.asarray(ends, np.int32)
    arrays["is_impossible"] = np.asarray(impossible, np.float32)
    return TrainingFeatures(arrays, np.asarray(owner, np.int64), skipped)
