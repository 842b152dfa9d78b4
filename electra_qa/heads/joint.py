"""NVIDIA's joint start/end head with beam search (the NGC SQuAD checkpoint's head)."""

from __future__ import annotations

import numpy as np

from electra_qa.config import AMP_END_MASK_VALUE, FLOAT32_END_MASK_VALUE
from electra_qa.heads.base import Candidate, Head, dense_slots, make_candidate, norm_slots, span_allowed
from electra_qa.validate import finite_number, positive_int, strict_bool


class JointHead(Head):
    """The XLNet-style head of NVIDIA's ELECTRA SQuAD code (``models.qa_heads.JointQAHead`` is its layer).

    Options: ``beam_size`` start and end candidates (NGC: 4); ``version_2``: the SQuAD 2.0 answer-class pooler, whose
    ``cls_logits`` is the null score; ``end_mask_value``: the end-logit mask constant (65500, the reference under
    AMP as the NGC checkpoint was trained; 1e30 in float32).
    """

    name = "joint"
    title = "NVIDIA's joint beam-search head"
    model_class = "ElectraForQuestionAnswering"
    outputs = ("start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index", "cls_logits")
    option_defaults = {"beam_size": 4, "version_2": False, "end_mask_value": AMP_END_MASK_VALUE}
    layer_class = "electra_qa>JointQAHead"

    def check_options(self, options):
        checked = dict(options)
        if "beam_size" in options:
            checked["beam_size"] = positive_int("beam_size", options["beam_size"])
        if "version_2" in options:
            checked["version_2"] = strict_bool("version_2", options["version_2"])
        if "end_mask_value" in options:
            checked["end_mask_value"] = finite_number("end_mask_value", options["end_mask_value"])
        return checked

    @classmethod
    def from_saved(cls, section):
        options = {k: section[k] for k in cls.option_defaults if k in section}
        if "end_mask_value" not in options and not section.get("amp", True):
            options["end_mask_value"] = FLOAT32_END_MASK_VALUE  # folders from before end_mask_value stored ``amp``
        return cls(**options)

    @classmethod
    def detect(cls, has_key):
        if not has_key("start_logits/dense/kernel"):
            return None
        return cls(version_2=has_key("answer_class/dense_0/kernel"))

    @property
    def beam_size(self) -> int:
        return self._options["beam_size"]

    @property
    def version_2(self) -> bool:
        return self._options["version_2"]

    @property
    def end_mask_value(self) -> float:
        return self._options["end_mask_value"]

    def describe(self):
        return f"joint, beam {self.beam_size}" + (", SQuAD 2.0 answer class" if self.version_2 else "")

    def layer_config(self, config):
        return {
            "hidden_size": config.hidden_size,
            **self.options,
            "layer_norm_eps": config.layer_norm_eps,
            "initializer_range": config.initializer_range,
        }

    def weight_slots(self, model):
        joint = model.qa_head
        out = dense_slots("start_logits/dense", joint.start_dense)
        out.update(dense_slots("end_logits/dense_0", joint.end_dense_0))
        out.update(norm_slots("end_logits/LayerNorm", joint.end_layer_norm))
        out.update(dense_slots("end_logits/dense_1", joint.end_dense_1))
        if self.version_2:
            out.update(dense_slots("answer_class/dense_0", joint.answer_class_dense_0))
            out.update(dense_slots("answer_class/dense_1", joint.answer_class_dense_1, bias=False))
        return out

    @property
    def can_abstain(self) -> bool:
        return self.version_2

    @property
    def abstains_by_default(self) -> bool:
        return self.version_2

    def output_shapes(self, batch, seq):
        k = self.beam_size
        return {
            "start_top_log_probs": (batch, k),
            "start_top_index": (batch, k),
            "end_top_log_probs": (batch, k * k),
            "end_top_index": (batch, k * k),
            "cls_logits": (batch,),
        }

    def serving_inputs(self):
        return {**super().serving_inputs(), "p_mask": ("float32", "[batch, seq]")}

    def candidates(self, feature, out, n_best_size, max_answer_length) -> list[Candidate]:
        """Pairs of start beam i and its end beam j (``end_top_*[i * k + j]``)."""
        starts, start_lp = out["start_top_index"], out["start_top_log_probs"]
        ends, end_lp = out["end_top_index"], out["end_top_log_probs"]
        k = len(starts)
        k_end = len(ends) // k
        result = []
        for i in range(k):
            for j in range(i * k_end, (i + 1) * k_end):
                s, e = int(starts[i]), int(ends[j])
                if span_allowed(feature, s, e, max_answer_length):
                    result.append(make_candidate(feature, s, e, float(start_lp[i]), float(end_lp[j])))
        return result

    def null_score(self, outputs):
        """The smallest answer-class logit over the windows (a constant 0 without the SQuAD 2.0 pooler)."""
        return min(float(o["cls_logits"]) for o in outputs)

    def null_odds(self, null, candidates):
        return null

    def loss(self, outputs, inputs):
        from electra_qa.heads.losses import span_loss

        return span_loss(outputs, inputs["start_positions"], inputs["end_positions"], inputs.get("is_impossible"))

    def token_logits(self, model, inputs, outputs):
        """Start logits, and the end head's logits given each window's likeliest start (teacher forcing)."""
        from keras import ops

        hidden = ops.cast(outputs["sequence_output"], model.compute_dtype)
        forced = model.qa_head.teacher_forced(hidden, inputs["p_mask"], outputs["start_top_index"][:, 0])
        return np.asarray(forced["start_logits"]), np.asarray(forced["end_logits"])
