"""``Explanation``: where a model puts the start and the end of the answer, token by token over the context.

Per window, start and end probabilities are a softmax over the positions that can hold an answer ([CLS] and the
window's context tokens; question, separators and padding excluded), so each sums to 1. The simple head's end
probabilities are its own; the joint head's are those of its end head given the window's most likely start. Over a
long context the windows overlap: each context token keeps its largest probability over the windows that hold it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from electra_qa import display
from electra_qa.features import Feature
from electra_qa.postprocess import masked_softmax


@dataclasses.dataclass
class WindowProbabilities:
    """One window's distributions over its answer positions (``positions``: sequence indices, [CLS] first)."""

    positions: np.ndarray
    start: np.ndarray
    end: np.ndarray


@dataclasses.dataclass(repr=False)
class Explanation:
    """Start and end probability of every context token (max over windows), with its character span."""

    question: str
    context: str
    spans: np.ndarray  # [tokens, 2] character [start, end) of each context token
    start: np.ndarray  # [tokens] start probability
    end: np.ndarray  # [tokens] end probability
    windows: list[WindowProbabilities]
    head: str

    @property
    def tokens(self) -> list[str]:
        """Each token's text as it stands in the context."""
        return [self.context[s:e] for s, e in self.spans]

    def best_span(self) -> tuple[int, int]:
        """Characters from the most likely start token to the most likely end token (may be empty if end < start)."""
        s, e = int(np.argmax(self.start)), int(np.argmax(self.end))
        return int(self.spans[s, 0]), int(self.spans[e, 1])

    def __repr__(self) -> str:
        if not len(self.start):
            return f"Explanation({self.question!r}: no context tokens)"
        s, e = int(np.argmax(self.start)), int(np.argmax(self.end))
        return (
            f"Explanation({self.question!r}: {len(self.start)} tokens over {len(self.windows)} window(s); "
            f"likeliest start {self.tokens[s]!r} ({self.start[s]:.3f}), end {self.tokens[e]!r} "
            f"({self.end[e]:.3f}))"
        )

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "tokens": self.tokens,
            "spans": self.spans.tolist(),
            "start": self.start.tolist(),
            "end": self.end.tolist(),
            "head": self.head,
        }

    def _repr_html_(self) -> str:
        return display.heatmap_html(
            self.context,
            [tuple(s) for s in self.spans.tolist()],
            self.start.tolist(),
            self.end.tolist(),
            caption=self.question,
        )

    def plot(self, ax=None, max_tokens: int = 80):
        """Bar chart of start and end probability per token (matplotlib: ``pip install electra-qa[plot]``); the
        ``max_tokens`` around the most likely start when the context is longer. Returns the axes."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("Explanation.plot needs matplotlib: pip install 'electra-qa[plot]'") from None
        n = len(self.start)
        centre = int(np.argmax(self.start)) if n else 0
        lo = max(0, min(centre - max_tokens // 2, n - max_tokens))
        hi = min(n, lo + max_tokens)
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6, 0.18 * (hi - lo)), 3))
        x = np.arange(lo, hi)
        ax.bar(x - 0.2, self.start[lo:hi], width=0.4, label="start", color="#40c057")
        ax.bar(x + 0.2, self.end[lo:hi], width=0.4, label="end", color="#339af0")
        ax.set_xticks(x)
        ax.set_xticklabels(self.tokens[lo:hi], rotation=90, fontsize=7)
        ax.set_ylabel("probability")
        ax.set_title(self.question, fontsize=9)
        ax.legend()
        return ax


def explain_windows(
    question: str,
    context: str,
    context_spans: np.ndarray,
    features: list[Feature],
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    head: str,
) -> Explanation:
    """Merge per-window logits ([windows, seq], end logits already conditioned for the joint head) into an
    ``Explanation`` over the context's tokens (``context_spans``: every context token's characters)."""
    n = len(context_spans)
    start, end = np.zeros(n), np.zeros(n)
    windows = []
    for f, s_logits, e_logits in zip(features, start_logits, end_logits):
        allowed = np.zeros(len(s_logits), bool)
        allowed[: f.length] = f.p_mask == 0
        ps, pe = masked_softmax(s_logits, allowed), masked_softmax(e_logits, allowed)
        positions = np.flatnonzero(allowed)
        windows.append(WindowProbabilities(positions, ps[positions], pe[positions]))
        tokens = np.arange(f.window_length)
        where = f.window_start + tokens
        start[where] = np.maximum(start[where], ps[f.context_start + tokens])
        end[where] = np.maximum(end[where], pe[f.context_start + tokens])
    return Explanation(question, context, np.asarray(context_spans, np.int64).reshape(-1, 2), start, end, windows, head)
