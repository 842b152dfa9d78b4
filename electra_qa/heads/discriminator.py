"""ELECTRA's replaced-token-detection head: the pre-trained discriminator's own."""

from __future__ import annotations

from electra_qa.heads.base import Head, dense_slots


class DiscriminatorHead(Head):
    """Dense H->H (config activation) + Dense H->1: a replaced-token logit per position. Answers no questions; a
    discriminator is a start point for fine-tuning."""

    name = "discriminator"
    title = "ELECTRA's replaced-token (discriminator) head"
    answers_questions = False
    model_class = "ElectraDiscriminator"
    hf_architecture = "ElectraForPreTraining"

    @classmethod
    def detect(cls, has_key):
        return cls() if has_key("discriminator_predictions/dense_1/kernel") else None

    def weight_slots(self, model):
        return {
            **dense_slots("discriminator_predictions/dense", model.dense),
            **dense_slots("discriminator_predictions/dense_1", model.dense_prediction),
        }
