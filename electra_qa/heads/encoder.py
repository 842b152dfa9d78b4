"""No head: the backbone alone (plain ELECTRA/BERT encoders, or any checkpoint loaded with ``head="encoder"``)."""

from __future__ import annotations

from electra_qa.heads.base import Head


class EncoderOnly(Head):
    """The encoder's hidden states, no head weights. Answers no questions; a start point for fine-tuning."""

    name = "encoder"
    title = "no head (the encoder alone)"
    answers_questions = False
    encoder_only = True
    model_class = "ElectraModel"
    hf_architecture = "ElectraModel"

    @classmethod
    def detect(cls, has_key):
        return cls()  # every ELECTRA checkpoint has an encoder: the last resort
