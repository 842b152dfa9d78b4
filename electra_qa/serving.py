"""``export_saved_model``: a TensorFlow SavedModel of a question-answering model for TF Serving or Triton.

The ``serving_default`` signature takes token ids (``input_ids``, ``attention_mask``, ``token_type_ids`` as int32
[batch, seq], any batch and length up to max_position_embeddings; plus ``p_mask`` float32 [batch, seq] for the
joint head) and returns the head's outputs, float32 whatever the model's precision: ``start_logits``/``end_logits``
(simple head) or ``start_top_log_probs``, ``start_top_index``, ``end_top_log_probs``, ``end_top_index``,
``cls_logits`` (joint head). The SavedModel needs TensorFlow only: ``tf.saved_model.load`` without electra_qa.
The client tokenizes and post-processes with this library (see README, "Serving").
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np

from electra_qa.errors import InputError, RemoteModelError
from electra_qa.files import check_output_folder
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

    check_output_folder(directory, "SavedModel folder")
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

    For TF Serving's REST API, ``RemoteModel.from_url``. ``timeout``: seconds a call may take before it fails with
    ``RemoteModelError`` (None: wait forever). What the server returns is checked before it is used: every output
    of the head, with the head's shapes for the batch sent, finite numbers, token indices inside the window.
    """

    runs_any_shape = True  # the server takes any batch size and length: windows padded to a multiple of 8 only

    def __init__(
        self,
        call,
        head: str | Head,
        config,
        *,
        version_2: bool | None = None,
        beam_size: int | None = None,
        timeout: float | None = 60.0,
    ):
        self.head = as_head(head, version_2=version_2, beam_size=beam_size)
        if not self.head.answers_questions:
            raise InputError(f"a RemoteModel serves a question-answering head, not {self.head.name!r}")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise InputError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
        self.call, self.config, self.timeout = call, config, timeout

    @classmethod
    def from_url(
        cls,
        url: str,
        head: str | Head,
        config,
        *,
        timeout: float = 60.0,
        signature: str = SIGNATURE,
        protocol: str = "tfserving",
        **head_options,
    ) -> RemoteModel:
        """A model served over HTTP at ``url``: ``protocol="tfserving"``, TF Serving's REST API
        (``http://host:8501/v1/models/NAME:predict``); ``protocol="kserve"``, the KServe v2 / Triton inference
        protocol (``http://host:8000/v2/models/NAME/infer``), e.g. Triton serving the ``export_onnx`` file."""
        import json
        import urllib.error
        import urllib.request

        if protocol not in ("tfserving", "kserve"):
            raise InputError(f"protocol must be 'tfserving' or 'kserve', got {protocol!r}")
        kinds = {"int32": "INT32", "float32": "FP32"}

        def body_of(inputs):
            if protocol == "tfserving":
                return {"signature_name": signature, "inputs": {k: v.tolist() for k, v in inputs.items()}}
            return {
                "inputs": [
                    {"name": k, "shape": list(v.shape), "datatype": kinds[v.dtype.name], "data": v.ravel().tolist()}
                    for k, v in inputs.items()
                ]
            }

        def outputs_of(reply):
            if protocol == "tfserving":
                if not isinstance(reply, dict) or not isinstance(reply.get("outputs"), dict):
                    raise RemoteModelError(f"{url} answered without an 'outputs' object: {str(reply)[:200]}")
                return reply["outputs"]
            try:
                return {o["name"]: np.reshape(o["data"], o["shape"]) for o in reply["outputs"]}
            except (KeyError, TypeError, ValueError):
                raise RemoteModelError(f"{url} answered no KServe v2 outputs: {str(reply)[:200]}") from None

        def call(inputs):
            body = body_of(inputs)
            request = urllib.request.Request(
                url, json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    reply = json.load(response)
            except urllib.error.HTTPError as e:
                raise RemoteModelError(f"{url} answered HTTP {e.code} {e.reason}") from None
            except (urllib.error.URLError, OSError) as e:
                raise RemoteModelError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from None
            except ValueError as e:
                raise RemoteModelError(f"{url} did not answer JSON ({e})") from None
            return outputs_of(reply)

        return cls(call, head, config, timeout=timeout, **head_options)

    @property
    def head_type(self) -> str:
        return self.head.name

    def _call_with_timeout(self, sent: dict):
        if self.timeout is None:
            return self.call(sent)
        result: dict = {}

        def run():
            try:
                result["value"] = self.call(sent)
            except BaseException as e:  # handed to the caller's thread below
                result["error"] = e

        worker = threading.Thread(target=run, name="electra-qa-remote-call", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise RemoteModelError(f"the served model did not answer within {self.timeout} s")
        if "error" in result:
            raise result["error"]
        return result["value"]

    def __call__(self, inputs: dict) -> dict:
        sent = {name: np.asarray(inputs[name], dtype) for name, (dtype, _) in self.head.serving_inputs().items()}
        batch, seq = sent["input_ids"].shape
        reply = self._call_with_timeout(sent)
        try:
            reply = dict(reply)
        except (TypeError, ValueError):
            raise RemoteModelError(f"the served model returned {type(reply).__name__}, not a dict of outputs") from None
        return _checked_outputs(reply, self.head, batch, seq)

    predict_on_batch = __call__

    def __repr__(self) -> str:
        return f"RemoteModel(head={self.head!r}, {self.config.num_hidden_layers} layers)"


def _checked_outputs(reply: dict, head: Head, batch: int, seq: int) -> dict:
    """The served outputs as arrays of the head's shapes, or a RemoteModelError naming what is wrong."""
    shapes = head.output_shapes(batch, seq)
    missing = [name for name in shapes if name not in reply]
    if missing:
        raise RemoteModelError(
            f"the served model's outputs lack {', '.join(missing)} "
            f"(it returned {', '.join(map(str, reply)) or 'none'}); is it a {head.title} model?"
        )
    out = {}
    for name, shape in shapes.items():
        try:
            value = np.asarray(reply[name], dtype="float64")
        except (TypeError, ValueError):
            raise RemoteModelError(f"the served output {name} is not an array of numbers") from None
        if value.size != math.prod(shape) or (value.ndim and value.shape[0] != batch):
            raise RemoteModelError(
                f"the served output {name} has shape {value.shape}; {shape} expected for {batch} windows of "
                f"{seq} tokens"
            )
        value = value.reshape(shape)
        if not np.isfinite(value).all():
            raise RemoteModelError(f"the served output {name} holds NaN or infinite values")
        if name.endswith("_index"):
            if (value != np.round(value)).any() or (value < 0).any() or (value >= seq).any():
                raise RemoteModelError(f"the served output {name} holds indices outside the {seq}-token window")
            value = value.astype("int32")
        else:
            value = value.astype("float32")
        out[name] = value
    return out
