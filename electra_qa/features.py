"""SQuAD features as NVIDIA's reference builds them: question + one window of the context per sequence.

``[CLS] question [SEP] window [SEP]``; the question is cut to ``max_query_length`` pieces; window k starts at context
piece ``k * doc_stride`` and holds up to ``max_seq_length - len(question) - 3`` pieces; windows follow one another
until one reaches the end of the context. Each window token keeps its character span in the context so that answers
are exact substrings of the caller's string.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from electra_qa.errors import InputError
from electra_qa.tokenization import Encoding

# The reference's SquadExample splits the context into words on these characters only.
_WORD_SEPARATORS = frozenset(" \t\r\n\u202f")


@dataclasses.dataclass
class Feature:
    """One model input sequence (unpadded) and what post-processing needs to map it back to the context."""

    example_index: int
    window_index: int
    input_ids: np.ndarray  # [n] int32
    token_type_ids: np.ndarray  # [n] int32
    p_mask: np.ndarray  # [n] float32, 1 = cannot be part of an answer
    context_start: int  # position of the first window token in the sequence
    char_spans: np.ndarray  # [window_len, 2] character [start, end) of each window token in the context
    word_index: np.ndarray  # [window_len] index of the whitespace-separated context word of each token
    is_max_context: np.ndarray  # [window_len] bool: this window gives the token its most context
    word_spans: np.ndarray | None = None  # [window_len, 2] characters of the tokenizer word holding each token
    window_start: int = 0  # index of the first window token among the context's tokens

    @property
    def length(self) -> int:
        return len(self.input_ids)

    @property
    def window_length(self) -> int:
        return len(self.char_spans)


def word_starts(context: str) -> np.ndarray:
    """Index of the reference's whitespace word each character belongs to (separators: -1)."""
    out = np.full(len(context), -1, dtype=np.int64)
    word, in_word = -1, False
    for i, ch in enumerate(context):
        if ch in _WORD_SEPARATORS:
            in_word = False
            continue
        if not in_word:
            word += 1
            in_word = True
        out[i] = word
    return out


def window_spans(num_tokens: int, max_window: int, doc_stride: int) -> list[tuple[int, int]]:
    """(start, length) of each window over ``num_tokens`` context pieces."""
    spans, start = [], 0
    while True:
        length = min(num_tokens - start, max_window)
        spans.append((start, length))
        if start + length >= num_tokens:
            return spans
        start += min(doc_stride, max_window)


def max_context_mask(spans: list[tuple[int, int]]) -> list[np.ndarray]:
    """For each window, which of its tokens have their most context there (first window wins ties)."""
    n = max((start + length for start, length in spans), default=0)
    best_score = np.full(n, -np.inf)
    best_span = np.full(n, -1)
    for k, (start, length) in enumerate(spans):
        pos = np.arange(start, start + length)
        score = np.minimum(pos - start, start + length - 1 - pos) + 0.01 * length
        better = score > best_score[pos]
        best_score[pos[better]] = score[better]
        best_span[pos[better]] = k
    return [best_span[start : start + length] == k for k, (start, length) in enumerate(spans)]


def tokenizer_word_spans(offsets: np.ndarray, words) -> np.ndarray | None:
    """For each token, the [start, end) characters of the whole pre-tokenizer word it belongs to."""
    if words is None or any(w is None for w in words):
        return None
    words = np.asarray(words, dtype=np.int64)
    if not len(words):
        return np.zeros((0, 2), np.int64)
    n = words.max() + 1
    starts = np.full(n, np.iinfo(np.int64).max)
    ends = np.zeros(n, np.int64)
    np.minimum.at(starts, words, offsets[:, 0])
    np.maximum.at(ends, words, offsets[:, 1])
    return np.stack([starts[words], ends[words]], axis=1)


def build_features(
    example_index: int,
    question: Encoding,
    context: Encoding,
    context_text: str,
    *,
    cls_id: int,
    sep_id: int,
    max_seq_length: int,
    doc_stride: int,
    max_query_length: int,
    doc_overlap: int | None = None,
) -> list[Feature]:
    """All window features of one (question, context) pair.

    Windows start every ``doc_stride`` context pieces, or, with ``doc_overlap``, overlap by that many pieces (the
    Hugging Face pipeline's ``doc_stride``), so the step depends on the question's length.
    """
    q_ids = list(question.ids[:max_query_length])
    max_window = max_seq_length - len(q_ids) - 3
    if max_window < 1:
        raise InputError(
            f"max_seq_length {max_seq_length} leaves no room for context after a {len(q_ids)}-piece "
            f"question; raise max_seq_length or lower max_query_length"
        )
    ctx_ids = np.asarray(context.ids, dtype=np.int32)
    offsets = np.asarray(context.offsets, dtype=np.int64).reshape(-1, 2)
    words = word_starts(context_text)
    token_words = words[offsets[:, 0]] if len(offsets) else np.zeros(0, np.int64)
    word_spans = tokenizer_word_spans(offsets, context.words)
    if doc_overlap is not None:
        doc_stride = max(max_window - doc_overlap, 1)
    spans = window_spans(len(ctx_ids), max_window, doc_stride)
    head = [cls_id, *q_ids, sep_id]
    features = []
    for k, ((start, length), max_ctx) in enumerate(zip(spans, max_context_mask(spans))):
        ids = np.concatenate([np.asarray(head, np.int32), ctx_ids[start : start + length], [sep_id]]).astype(np.int32)
        types = np.zeros(len(ids), np.int32)
        types[len(head) :] = 1
        p_mask = np.ones(len(ids), np.float32)
        p_mask[0] = 0
        p_mask[len(head) : len(head) + length] = 0
        window_offsets = offsets[start : start + length]
        p_mask[len(head) : len(head) + length][window_offsets[:, 1] <= window_offsets[:, 0]] = 1  # covers no text
        features.append(
            Feature(
                example_index,
                k,
                ids,
                types,
                p_mask,
                len(head),
                window_offsets,
                token_words[start : start + length],
                max_ctx,
                None if word_spans is None else word_spans[start : start + length],
                start,
            )
        )
    return features


def context_token_spans(features: list[Feature]) -> np.ndarray:
    """[tokens, 2] character span of every context token, gathered from one context's windows (which cover all of
    its tokens): what tokenizing the context again would give."""
    n = max((f.window_start + f.window_length for f in features), default=0)
    spans = np.zeros((n, 2), np.int64)
    for f in features:
        spans[f.window_start : f.window_start + f.window_length] = f.char_spans
    return spans


def pad_batch(features: list[Feature], length: int, rows: int | None = None) -> dict[str, np.ndarray]:
    """Stack features into model inputs padded on the right to ``length`` ([PAD]=0, mask 0, type 0, p_mask 1), and
    with empty rows up to ``rows`` (default: one row per feature)."""
    batch = max(rows or 0, len(features))
    out = {
        "input_ids": np.zeros((batch, length), np.int32),
        "attention_mask": np.zeros((batch, length), np.int32),
        "token_type_ids": np.zeros((batch, length), np.int32),
        "p_mask": np.ones((batch, length), np.float32),
    }
    for i, f in enumerate(features):
        n = f.length
        out["input_ids"][i, :n] = f.input_ids
        out["attention_mask"][i, :n] = 1
        out["token_type_ids"][i, :n] = f.token_type_ids
        out["p_mask"][i, :n] = f.p_mask
    return out
