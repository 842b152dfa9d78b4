"""``export_saved_model``: a TensorFlow SavedModel of a question-answering model for TF Serving or Triton.

The ``serving_default`` signature takes token ids (``input_ids``, ``attention_mask``, ``token_type_ids`` as int32
[batch, seq], any batch and length up to max_position_embeddings; plus ``p_mask`` float32 [batch, seq] for the
joint head) and returns the head's outputs, float32 whatever the model's precision: ``start_logits``/``end_logits``
(simple head) or ``start_top_log_probs``, ``start_top_index``, ``end_top_log_probs``, ``end_top_index``,
``cls_logits`` (joint head). The SavedModel needs TensorFlow only: ``tf.saved_model.load`` without electra_qa.
The client tokenizes and post-processes with this library (see README, "Serving").
"""

from __future__ import annotations

import os

from electra_qa.errors import InputError
from electra_qa.heads import Head, as_head

SIGNATURE = "serving_default"


def signature_inputs(head: Head) -> dict[str, tuple[str, str]]:
    """Input name -> (dtype, shape) of the serving signature for ``head`` (``Head.serving_inputs``)."""
    return head.serving_inputs()


def export_saved_model(model, directory: str | os.PathLike) -> str:
    """Write ``model`` (an ``ElectraForQuestionAnswering`` or a ``QuestionAnswerer``) as a SavedModel in
    ``directory``; returns the directory. Needs the TensorFlow backend."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise InputError(
            f"a SavedModel is written with the TensorFlow backend; this process runs Keras on "
            f"{keras.backend.backend()!r} (set KERAS_BACKEND=tensorflow)"
        )
    import tensorflow as tf

    model = getattr(model, "model", model)  # a QuestionAnswerer's model
    head = getattr(model, "head", None)
    if not isinstance(head, Head) or not head.answers_questions:
        raise InputError(f"export_saved_model needs a question-answering model, got {type(model).__name__}")
    specs = {name: tf.TensorSpec((None, None), dtype, name=name) for name, (dtype, _) in signature_inputs(head).items()}
    names = list(specs)

    def serve(*tensors):
        outputs = model(dict(zip(names, tensors)), training=False)
        return {k: v for k, v in outputs.items() if k != "sequence_output"}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SIGNATURE, serve, input_signature=[specs[n] for n in names])
    directory = os.fspath(directory)
    archive.write_out(directory, verbose=False)
    return directory


class RemoteModel:
    """The model of a ``QuestionAnswerer`` when it runs elsewhere: TF Serving, Triton, or a SavedModel loaded with
    ``tf.saved_model.load``. ``call`` takes the signature's inputs (a dict of numpy arrays) and returns its outputs
    (a dict of arrays); tokenization, windows and answer post-processing stay on the client, in this library::

        serve = tf.saved_model.load("electra_savedmodel").signatures["serving_default"]
        remote = RemoteModel(lambda x: serve(**x), head="joint", config=ElectraConfig.base())
        qa = QuestionAnswerer(remote, load_tokenizer("vocab.txt"))
        qa("When was the bridge built?", context)
    """

    def __init__(self, call, head: str | Head, config, *, version_2: bool | None = None, beam_size: int | None = None):
        self.head = as_head(head, version_2=version_2, beam_size=beam_size)
        if not self.head.answers_questions:
            raise InputError(f"a RemoteModel serves a question-answering head, not {self.head.name!r}")
        self.call, self.config = call, config

    @property
    def head_type(self) -> str:
        return self.head.name

    def __call__(self, inputs: dict) -> dict:
        import numpy as np

        sent = {name: np.asarray(inputs[name], dtype) for name, (dtype, _) in self.head.serving_inputs().items()}
        return {name: np.asarray(value) for name, value in dict(self.call(sent)).items()}

    predict_on_batch = __call__

    def __repr__(self) -> str:
        return f"RemoteModel(head={self.head!r}, {self.config.num_hidden_layers} layers)"
