"""``load_model(path)``: any supported ELECTRA checkpoint, recognised from its files, as a ready Keras model.

Supported: NVIDIA NGC TF2 checkpoints, google-research/electra TF1 checkpoints, Hugging Face folders
(``model.safetensors`` or ``tf_model.h5`` with ``config.json``; both read without extra packages), and folders
written by ``save_model`` / ``QuestionAnswerer.save`` (Keras ``model.weights.h5``). The head is read from the keys:
SQuAD ``qa_outputs`` (simple), NVIDIA's joint beam-search head, the discriminator head, or none (encoder only).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re

from electra_qa.checkpoints.assign import Fit, Prefetcher, build_from_checkpoint, check_fit
from electra_qa.checkpoints.layout import FORMATS, keyed_slots, stored_transposed
from electra_qa.checkpoints.sources import Source, open_hf_h5, open_safetensors, open_tf_checkpoint
from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError

KERAS_WEIGHTS = "model.weights.h5"
CONFIG_FILE = "config.json"
HEADS = ("auto", "encoder")
_TF_DATA = re.compile(r"(.*)\.data-\d{5}-of-\d{5}$")
NGC_HINT = ("The NGC download holds no config.json or vocab.txt: pass config=ElectraConfig.base() (or a config.json) "
            "for ELECTRA-base, and the BERT-uncased vocab.txt (30522 lines) to the tokenizer.")


# ----------------------------------------------------------------------------------------------- finding files


def _tf_prefix_from_state(state_path: str) -> str:
    with open(state_path, encoding="utf-8") as f:
        for line in f:
            match = re.match(r'\s*model_checkpoint_path:\s*"(.*)"\s*$', line)
            if match:
                prefix = match.group(1)
                return prefix if os.path.isabs(prefix) else os.path.join(os.path.dirname(state_path), prefix)
    raise CheckpointError(f"checkpoint state file {state_path!r} names no model_checkpoint_path")


def _tf_prefix_in_folder(folder: str) -> str | None:
    state = os.path.join(folder, "checkpoint")
    if os.path.isfile(state):
        return _tf_prefix_from_state(state)
    indexes = sorted(f for f in os.listdir(folder) if f.endswith(".index"))
    if len(indexes) > 1:
        raise CheckpointError(f"{folder!r} holds several checkpoints ({', '.join(indexes)}); pass one prefix")
    return os.path.join(folder, indexes[0][:-len(".index")]) if indexes else None


def _is_keras_folder(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, KERAS_WEIGHTS))


def locate(path: str | os.PathLike) -> tuple[str, str]:
    """``(kind, file)``: kind is "keras", "safetensors", "h5" or "tf"; file is the weights file or TF prefix."""
    path = os.fspath(path)
    if os.path.isdir(path):
        if _is_keras_folder(path):
            return "keras", os.path.join(path, KERAS_WEIGHTS)
        safetensors_file = os.path.join(path, "model.safetensors")
        h5_file = os.path.join(path, "tf_model.h5")
        if os.path.isfile(safetensors_file):
            return "safetensors", safetensors_file
        if os.path.isfile(h5_file):
            return "h5", h5_file
        prefix = _tf_prefix_in_folder(path)
        if prefix is not None:
            return "tf", prefix
        if any(os.path.isfile(os.path.join(path, n)) for n in ("pytorch_model.bin", "model.pt", "model.pth")):
            raise CheckpointError(f"{path!r} holds only PyTorch pickle weights, which electra_qa does not unpickle "
                                  "(loading a pickle can run arbitrary code). Convert them to model.safetensors "
                                  "(transformers: model.save_pretrained(folder, safe_serialization=True)) or "
                                  "download the model's safetensors/tf_model.h5 files.")
        names = ", ".join(sorted(os.listdir(path))[:10]) or "nothing"
        raise CheckpointError(f"no ELECTRA checkpoint found in {path!r} (it holds {names}); expected "
                              f"{KERAS_WEIGHTS}, model.safetensors, tf_model.h5, or a TensorFlow checkpoint "
                              "(.index/.data files)")
    if path.endswith(".weights.h5") and os.path.isfile(path):
        return "keras", path
    if path.endswith(".safetensors") and os.path.isfile(path):
        return "safetensors", path
    if path.endswith(".h5") and os.path.isfile(path):
        return "h5", path
    if path.endswith((".bin", ".pt", ".pth")):
        raise CheckpointError(f"{path!r} is a PyTorch pickle file, which electra_qa does not unpickle (that can run "
                              "arbitrary code); convert it to model.safetensors")
    if os.path.basename(path) == "checkpoint" and os.path.isfile(path):
        return "tf", _tf_prefix_from_state(path)
    if path.endswith(".index"):
        return "tf", path[:-len(".index")]
    match = _TF_DATA.match(path)
    if match:
        return "tf", match.group(1)
    if os.path.isfile(path + ".index"):
        return "tf", path
    raise CheckpointError(f"no checkpoint at {path!r}: expected a folder, a .safetensors/.h5/.weights.h5 file, a "
                          "TensorFlow 'checkpoint' state file, or a prefix with a .index file beside it")


def open_source(kind: str, file: str) -> Source:
    if kind == "tf":
        return open_tf_checkpoint(file)
    if kind == "safetensors":
        return open_safetensors(file)
    if kind == "h5":
        return open_hf_h5(file)
    raise ValueError(kind)


# ----------------------------------------------------------------------------------------------- config, head


def _shape(source: Source, name: str):
    key = FORMATS[source.format].key(name)
    shape = source.shapes.get(key)
    if shape is not None and FORMATS[source.format].transposed_kernels and name.endswith("/kernel"):
        shape = shape[::-1]
    return shape


def infer_config(source: Source) -> ElectraConfig:
    """Encoder sizes from tensor shapes. Head counts are not stored: hidden_size / 64, as in every released ELECTRA."""
    try:
        vocab_size, embedding_size = _shape(source, "electra/embeddings/word_embeddings")
        max_position = _shape(source, "electra/embeddings/position_embeddings")[0]
        type_vocab = _shape(source, "electra/embeddings/token_type_embeddings")[0]
        hidden_size = _shape(source, "electra/encoder/layer_0/attention/self/query/kernel")[1]
        intermediate_size = _shape(source, "electra/encoder/layer_0/intermediate/dense/kernel")[1]
    except (TypeError, ValueError, IndexError):
        raise CheckpointError(f"cannot infer the model size of {source.path!r}: its embedding or first-layer "
                              "tensors are missing or mis-shaped; pass config=") from None
    layers = 0
    while _shape(source, f"electra/encoder/layer_{layers}/attention/self/query/kernel") is not None:
        layers += 1
    if hidden_size % 64:
        raise CheckpointError(f"hidden size {hidden_size} is not a multiple of 64, so the number of attention heads "
                              "cannot be inferred; pass config= (an ElectraConfig or a config.json path)")
    return ElectraConfig(vocab_size=vocab_size, embedding_size=embedding_size, hidden_size=hidden_size,
                         num_hidden_layers=layers, num_attention_heads=hidden_size // 64,
                         intermediate_size=intermediate_size, max_position_embeddings=max_position,
                         type_vocab_size=type_vocab)


def detect_head(source: Source) -> tuple[str, bool]:
    """("simple" | "joint" | "discriminator" | "encoder", version_2) from the head keys present."""
    if _shape(source, "qa_outputs/kernel") is not None:
        return "simple", False
    if _shape(source, "start_logits/dense/kernel") is not None:
        return "joint", _shape(source, "answer_class/dense_0/kernel") is not None
    if _shape(source, "discriminator_predictions/dense_1/kernel") is not None:
        return "discriminator", False
    return "encoder", False


def _config_beside(file: str) -> str | None:
    candidate = os.path.join(os.path.dirname(file), CONFIG_FILE)
    return candidate if os.path.isfile(candidate) else None


def _resolve_config(config, source: Source) -> tuple[ElectraConfig, str]:
    if config is not None:
        return ElectraConfig.coerce(config), "given"
    beside = _config_beside(source.path)
    if beside:
        return ElectraConfig.from_file(beside), beside
    if source.format in ("hf_pt", "hf_tf"):
        raise CheckpointError(f"no config.json beside {source.path!r}; a Hugging Face model needs its config.json "
                              "(or pass config=)")
    return infer_config(source), "inferred from tensor shapes (attention heads = hidden_size / 64)"


def _build(config: ElectraConfig, head: str, version_2: bool, beam_size: int, amp: bool, dtype, deferred=False):
    """The model class for ``head``, zero-initialised, or unbuilt with ``deferred`` (see ``build_from_checkpoint``)."""
    from electra_qa.models import ElectraDiscriminator, ElectraForQuestionAnswering, ElectraModel
    from electra_qa.models.initializers import build_deferred, weights_to_be_loaded

    with weights_to_be_loaded(), (build_deferred() if deferred else contextlib.nullcontext()):
        if head in ("simple", "joint"):
            return ElectraForQuestionAnswering(config, head=head, beam_size=beam_size, version_2=version_2, amp=amp,
                                               dtype=dtype, name="electra_qa")
        if head == "discriminator":
            return ElectraDiscriminator(config, dtype=dtype, name="electra_discriminator")
        return ElectraModel(config, dtype=dtype, name="electra_model")


# ----------------------------------------------------------------------------------------------- public API


@dataclasses.dataclass
class CheckpointInfo:
    """What ``inspect_checkpoint`` finds; ``fit.ok`` says whether ``load_model`` would succeed."""

    path: str
    format: str
    description: str
    config: ElectraConfig
    config_source: str
    head: str
    version_2: bool
    parameters: int
    fit: Fit
    unused: list[str]

    def summary(self) -> str:
        lines = [f"path:        {self.path}", f"format:      {self.format} ({self.description})",
                 f"head:        {self.head}" + (" (SQuAD 2.0 answer-class pooler)" if self.version_2 else ""),
                 f"parameters:  {self.parameters:,}", f"config:      {self.config_source}"]
        lines += [f"  {k} = {v}" for k, v in self.config.to_dict().items()]
        lines.append("loads:       " + ("yes" if self.fit.ok else "NO: " + self.fit.problems()))
        lines.append(f"unused keys: {len(self.unused)}" + (" (optimizer state, generator, pooler, ...)"
                                                              if self.unused else ""))
        lines += [f"  {k}" for k in self.unused[:20]]
        if len(self.unused) > 20:
            lines.append(f"  ... ({len(self.unused) - 20} more)")
        return "\n".join(lines)


def _model_keys(source: Source, model_head: str) -> list[str]:
    """The stored keys a model with ``model_head`` reads: all model weights, or the encoder's only."""
    if model_head == "encoder":
        prefix = FORMATS[source.format].encoder_prefix
        return [k for k in source.shapes if k.startswith(prefix)]
    return list(source.shapes)


def _keys_for(model, source: Source, model_head: str) -> tuple[dict, set, dict, list[str]]:
    """The model's weight slots (``layout.keyed_slots``) and transposed keys in the source's naming, the stored
    shapes to check them against, and the stored keys left unused (with head="encoder", those outside the encoder
    rather than unexpected)."""
    slots, transposed = keyed_slots(model, source.format)
    kept = _model_keys(source, model_head)
    shapes = {k: source.shapes[k] for k in kept}
    unused = list(source.ignored) + [k for k in source.shapes if k not in shapes]
    return slots, transposed, shapes, unused


def _sample_keys(source: Source) -> str:
    return ", ".join(repr(k) for k in (list(source.shapes) + source.ignored)[:3]) or "none"


def _open(path, config, head, expect=None, require_qa=False):
    if head not in HEADS:
        raise CheckpointError(f"head must be one of {HEADS}, got {head!r}")
    kind, file = locate(path)
    source = open_source(kind, file)
    try:
        if expect and source.format not in expect:
            raise CheckpointError(f"{file!r} is not an NGC ELECTRA checkpoint: it looks like a "
                                  f"{FORMATS[source.format].description} (keys look like {_sample_keys(source)}); "
                                  f"use load_model. {NGC_HINT}")
        if FORMATS[source.format].key("electra/embeddings/word_embeddings") not in source.shapes:
            sample = _sample_keys(source)
            hint = f" {NGC_HINT}" if source.format in ("ngc", "google") else ""
            what = "an NGC ELECTRA" if expect == ("ngc",) else "an ELECTRA/BERT"
            raise CheckpointError(f"{file!r} is not {what} checkpoint: no word-embedding tensor (keys look "
                                  f"like {sample}).{hint}")
        found_head, version_2 = detect_head(source)
        if require_qa and found_head not in ("simple", "joint"):
            raise CheckpointError(f"{file!r} has no SQuAD head (neither qa_outputs nor NVIDIA's start_logits/"
                                  f"end_logits): it holds a {found_head} model, not an ELECTRA question-answering "
                                  "checkpoint")
        model_head = "encoder" if head == "encoder" else found_head
        model_config, config_source = _resolve_config(config, source)
    except BaseException:
        source.close()
        raise
    return source, model_head, version_2, model_config, config_source


def inspect_checkpoint(path: str | os.PathLike, config=None, head: str = "auto") -> CheckpointInfo:
    """Describe a checkpoint without loading its tensors: format, config, head, parameter count, key fit."""
    kind, file = locate(path)
    if kind == "keras":
        from electra_qa.checkpoints.keras_native import inspect_keras_folder
        return inspect_keras_folder(os.path.dirname(file))
    source, model_head, version_2, model_config, config_source = _open(path, config, head)
    try:
        model = _build(model_config, model_head, version_2, 4, True, None)
        slots, transposed, shapes, unused = _keys_for(model, source, model_head)
        variables = {key: getattr(layer, attr) for key, (layer, attr) in slots.items()}
        fit = check_fit(variables, shapes, transposed)
        params = sum(math.prod(v.shape) for v in variables.values())
        return CheckpointInfo(source.path, source.format, FORMATS[source.format].description, model_config,
                              config_source, model_head, version_2, params, fit, unused)
    finally:
        source.close()


def load_model(path: str | os.PathLike, config: ElectraConfig | dict | str | None = None, head: str = "auto",
               beam_size: int = 4, amp: bool = True, dtype=None, *, precision: str | None = None,
               expect: tuple | None = None, require_qa: bool = False):
    """Load any supported ELECTRA checkpoint into a ready Keras model.

    Args:
        path: a folder (NGC/google TF checkpoint, Hugging Face, or one written by ``save_model``), or the weights
            file itself (``.index``/``.data`` prefix, ``.safetensors``, ``tf_model.h5``, ``.weights.h5``).
        config: ElectraConfig, dict or config.json path. Default: ``config.json`` beside the weights, else (TF
            checkpoints) sizes inferred from the tensor shapes.
        head: "auto" (whatever head the checkpoint has) or "encoder" (the encoder only, head weights unused).
        beam_size, amp: for NVIDIA's joint head (see ``ElectraForQuestionAnswering``).
        dtype: Keras dtype policy for this model only; or ``precision=`` ("auto", "float32", "mixed_float16",
            "mixed_bfloat16", "float16", "bfloat16"; see ``electra_qa.precision``). Default: float32.
        expect: accept only these formats (``layout.FORMATS`` keys); require_qa: fail unless it has a SQuAD head.

    Returns ``ElectraForQuestionAnswering`` (SQuAD head), ``ElectraDiscriminator`` or ``ElectraModel`` (encoder).
    Raises CheckpointError naming every missing, unexpected or mis-shaped key; no half-loaded model is returned.

    >>> model = load_model("hf_electra_squad_folder")   # doctest: +SKIP
    """
    from electra_qa.precision import check_precision

    check_precision(precision, dtype)
    kind, file = locate(path)
    if kind == "keras" and not expect:
        from electra_qa.checkpoints.keras_native import load_keras_folder
        model = load_keras_folder(os.path.dirname(file), head=head, dtype=dtype, precision=precision)
        if require_qa and not hasattr(model, "head_type"):
            raise CheckpointError(f"{file!r} holds a {type(model).__name__}, not a question-answering model")
        return model
    if kind == "keras":
        raise CheckpointError(f"{file!r} is an electra_qa Keras folder, not a {' or '.join(expect)} checkpoint")
    source, model_head, version_2, model_config, _ = _open(path, config, head, expect, require_qa)
    return load_source(source, model_head, version_2, model_config, beam_size, amp, dtype, precision)


def load_source(source: Source, model_head: str, version_2: bool, config: ElectraConfig, beam_size: int, amp: bool,
                dtype=None, precision: str | None = None):
    """Build the model for ``model_head`` from ``source`` (strict, see ``build_from_checkpoint``); closes it.
    ``dtype``/``precision`` as for ``load_model``."""
    try:
        keys = _model_keys(source, model_head)
        source.check_readable(keys)
        # A worker thread copies the arrays while this thread imports the backend (resolving the precision is the
        # first thing that needs it) and constructs the model.
        with Prefetcher(keys, source.read,
                        transposed=lambda k: stored_transposed(source.format, k, source.shapes[k])) as prefetcher:
            from electra_qa.precision import resolve_dtype

            dtype = resolve_dtype(precision, dtype)
            prefetcher.backend_ready()
            model = _build(config, model_head, version_2, beam_size, amp, dtype, deferred=True)
            slots, transposed, shapes, _ = _keys_for(model, source, model_head)
            build_from_checkpoint(model, slots, shapes, prefetcher,
                                  source=f"{FORMATS[source.format].description} {source.path!r}",
                                  transposed=transposed)
    finally:
        source.close()
    return model
