"""``OnnxModel``: a question-answering model exported by ``export_onnx``, run by ONNX Runtime, without TensorFlow,
Keras or any other deep-learning framework in the process. ``QuestionAnswerer.from_onnx`` wraps it with the same
tokenization, windows and post-processing as every other model.

Execution providers: ``providers=`` (ONNX Runtime names, tried in order), else ``$ELECTRA_QA_ONNX_PROVIDERS``
(comma-separated), else ONNX Runtime's own default for the package installed (CPU for ``onnxruntime``).
"""

from __future__ import annotations

import json
import os

import numpy as np

from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError, InputError
from electra_qa.heads import saved_head

METADATA_KEY = "electra_qa"  # the file metadata entry export_onnx writes and OnnxModel reads

# On CPU: ONNX Runtime's fused SkipLayerNormalization kernel is 4x slower than the Add and LayerNormalization it
# replaces (0.87 vs 0.22 s in a 3.6 s int8 run over the MiniLM benchmark's windows), so that fusion is turned off
# there; and calls of more than about a thousand tokens measured slower per token, so a batch runs in calls of at
# most CPU_CALL_TOKENS tokens (BENCHMARKS.md, "ONNX Runtime ... second pass").
CPU_DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
CPU_CALL_TOKENS = 1024


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise InputError('running an ONNX model needs ONNX Runtime: pip install "electra-qa[onnx]"') from None
    return onnxruntime


def providers_from_env() -> list[str] | None:
    value = os.environ.get("ELECTRA_QA_ONNX_PROVIDERS", "").strip()
    return [p.strip() for p in value.split(",") if p.strip()] or None


class OnnxModel:
    """The model of a ``QuestionAnswerer`` as an ONNX Runtime session: ``head`` and ``config`` from the file's
    metadata, called like the Keras model on a dict of padded window arrays."""

    runs_any_shape = True  # one session serves every batch size and length: no padding to powers of two
    call_tokens: int | None = None  # the most tokens (rows x length) per call; None: the whole batch in one call

    def __init__(self, path: str | os.PathLike, *, providers: list[str] | None = None, threads: int | None = None):
        ort = _onnxruntime()
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise InputError(f"no ONNX file {self.path!r}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        providers = providers or providers_from_env()
        available = ort.get_available_providers()
        missing = [p for p in providers or () if p not in available]
        if missing:
            raise InputError(f"ONNX Runtime here has no {', '.join(missing)} (it has {', '.join(available)})")
        # the CPU-only optimizer settings when no compute provider but the CPU is asked for or installed (Azure's
        # provider computes nothing); a session that falls back to the CPU anyway is made again with them
        on_cpu = not set(providers or available) - {"CPUExecutionProvider", "AzureExecutionProvider"}
        self.disabled_optimizers = CPU_DISABLED_OPTIMIZERS if on_cpu else []
        self.session = self._session(ort, options, providers)
        if not on_cpu and self.providers[0] == "CPUExecutionProvider":
            self.disabled_optimizers = CPU_DISABLED_OPTIMIZERS
            self.session = self._session(ort, options, providers)
        meta = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if meta is None:
            raise CheckpointError(
                f"{self.path!r} was not written by electra_qa's export_onnx (no {METADATA_KEY!r} metadata)"
            )
        meta = json.loads(meta)
        self.head = saved_head({"head": meta["head"], **meta["options"]})
        self.config = ElectraConfig.from_dict(meta["config"])
        self.pipeline = dict(meta.get("pipeline", {}))  # the exporting QuestionAnswerer's settings and calibration
        self.call_tokens = CPU_CALL_TOKENS if self.providers[0] == "CPUExecutionProvider" else None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._dtypes = {name: dtype for name, (dtype, _) in self.head.serving_inputs().items()}

    def _session(self, ort, options, providers):
        try:
            return ort.InferenceSession(
                self.path, options, providers=providers, disabled_optimizers=self.disabled_optimizers or None
            )
        except Exception as e:  # ONNX Runtime raises its own exception types
            raise CheckpointError(f"ONNX Runtime cannot load {self.path!r}: {e}") from None

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def __call__(self, inputs: dict) -> dict:
        feed = {name: np.ascontiguousarray(inputs[name], self._dtypes[name]) for name in self.input_names}
        return dict(zip(self.output_names, self.session.run(self.output_names, feed)))

    predict_on_batch = __call__

    def __repr__(self) -> str:
        return f"OnnxModel({os.path.basename(self.path)!r}, {self.head!r}, {', '.join(self.providers)})"
