"""The simple SQuAD head (``qa_outputs``): one Dense hidden -> 2 giving start and end logits per token."""

from __future__ import annotations

import numpy as np

from electra_qa.heads.base import Candidate, Head, allowed_spans, dense_slots, make_candidate


class SimpleHead(Head):
    """Hugging Face's and google-research's ``qa_outputs`` head.

    Candidates pair the ``n_best_size`` best start and end logits of a window; the null score is the [CLS] start +
    end logit (smallest over windows), and the head abstains when it beats the best span's by more than the
    threshold, or when no span survives.
    """

    name = "simple"
    title = "the simple (qa_outputs) head"
    model_class = "ElectraForQuestionAnswering"
    hf_architecture = "ElectraForQuestionAnswering"
    per_token_logits = True
    outputs = ("start_logits", "end_logits")
    layer_class = "electra_qa>SimpleQAHead"

    @classmethod
    def detect(cls, has_key):
        return cls() if has_key("qa_outputs/kernel") else None

    def layer_config(self, config):
        return {"hidden_size": config.hidden_size, "initializer_range": config.initializer_range}

    def weight_slots(self, model):
        return dense_slots("qa_outputs", model.qa_head.qa_outputs)

    def output_shapes(self, batch, seq):
        return {"start_logits": (batch, seq), "end_logits": (batch, seq)}

    @property
    def can_abstain(self) -> bool:
        return True

    def candidates(self, feature, out, n_best_size, max_answer_length) -> list[Candidate]:
        n = feature.length
        start_logits, end_logits = out["start_logits"][:n], out["end_logits"][:n]
        best_starts = np.argsort(-start_logits, kind="stable")[:n_best_size]
        best_ends = np.argsort(-end_logits, kind="stable")[:n_best_size]
        rows, cols = np.nonzero(allowed_spans(feature, best_starts, best_ends, max_answer_length))  # row-major
        return [
            make_candidate(feature, int(s), int(e), float(start_logits[s]), float(end_logits[e]))
            for s, e in zip(best_starts[rows], best_ends[cols])
        ]

    def null_score(self, outputs):
        return min(float(o["start_logits"][0] + o["end_logits"][0]) for o in outputs)

    def null_odds(self, null, candidates):
        return null - max((c.score for c in candidates), default=-np.inf)

    def abstains(self, null, candidates, threshold):
        return not candidates or self.null_odds(null, candidates) > threshold

    def loss(self, outputs, inputs):
        from electra_qa.heads.losses import span_loss

        return span_loss(outputs, inputs["start_positions"], inputs["end_positions"])
