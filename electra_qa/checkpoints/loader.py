"""The public loading surface: ``load_model``, ``inspect_checkpoint``, ``load_ngc_checkpoint``.

Supported: NVIDIA NGC TF2 checkpoints, google-research/electra TF1 checkpoints, Hugging Face folders
(``model.safetensors`` or ``tf_model.h5`` with ``config.json``; both read without extra packages), and folders
written by ``save_model`` / ``QuestionAnswerer.save`` (Keras ``model.weights.h5``). The head is read from the keys:
SQuAD ``qa_outputs`` (simple), NVIDIA's joint beam-search head, the discriminator head, or none (encoder only).
A path is resolved once (``find.locate``) and the result passed down.
"""

from __future__ import annotations

import dataclasses
import math
import os

from electra_qa import filenames
from electra_qa.checkpoints.build import check_fit, empty_model, keys_for, load_source, model_keys, validate
from electra_qa.checkpoints.find import Located, locate, tf_prefix_in_folder
from electra_qa.checkpoints.formats import keras_folder, open_weights
from electra_qa.checkpoints.info import CheckpointInfo
from electra_qa.checkpoints.source import Source
from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError
from electra_qa.heads import Head, as_head, detect_head
from electra_qa.precision import check_precision

NGC_HINT = (
    "The NGC download holds no config.json or vocab.txt: pass config=ElectraConfig.base() (or a config.json) "
    "for ELECTRA-base, and the BERT-uncased vocab.txt (30522 lines) to the tokenizer."
)


# ----------------------------------------------------------------------------------------------- config, head


def infer_config(source: Source) -> ElectraConfig:
    """Encoder sizes from tensor shapes. Head counts are not stored: hidden_size / 64, as in every released ELECTRA."""
    try:
        vocab_size, embedding_size = source.shape("electra/embeddings/word_embeddings")
        max_position = source.shape("electra/embeddings/position_embeddings")[0]
        type_vocab = source.shape("electra/embeddings/token_type_embeddings")[0]
        hidden_size = source.shape("electra/encoder/layer_0/attention/self/query/kernel")[1]
        intermediate_size = source.shape("electra/encoder/layer_0/intermediate/dense/kernel")[1]
    except (TypeError, ValueError, IndexError):
        raise CheckpointError(
            f"cannot infer the model size of {source.path!r}: its embedding or first-layer "
            "tensors are missing or mis-shaped; pass config="
        ) from None
    layers = 0
    while source.shape(f"electra/encoder/layer_{layers}/attention/self/query/kernel") is not None:
        layers += 1
    if hidden_size % 64:
        raise CheckpointError(
            f"hidden size {hidden_size} is not a multiple of 64, so the number of attention heads "
            "cannot be inferred; pass config= (an ElectraConfig or a config.json path)"
        )
    return ElectraConfig(
        vocab_size=vocab_size,
        embedding_size=embedding_size,
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=hidden_size // 64,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position,
        type_vocab_size=type_vocab,
    )


def source_head(source: Source) -> Head:
    """The head a checkpoint holds, from the head weights present (``heads.detect_head``)."""
    return detect_head(lambda name: source.shape(name) is not None)


def wanted_head(head: str | Head) -> Head | None:
    """``load_model``'s ``head``: "auto" (None: the checkpoint's own head) or the encoder-only head."""
    if head == "auto":
        return None
    try:
        wanted = as_head(head)
    except ValueError:
        wanted = None
    if wanted is None or not wanted.encoder_only:
        raise CheckpointError(f"head must be 'auto' (the checkpoint's own head) or 'encoder', got {head!r}")
    return wanted


def _resolve_config(config, source: Source) -> tuple[ElectraConfig, str]:
    if config is not None:
        return ElectraConfig.coerce(config), "given"
    beside = os.path.join(os.path.dirname(source.path), filenames.CONFIG)
    if os.path.isfile(beside):
        return ElectraConfig.from_file(beside), beside
    if source.format.name in ("hf_pt", "hf_tf"):
        raise CheckpointError(
            f"no config.json beside {source.path!r}; a Hugging Face model needs its config.json (or pass config=)"
        )
    return infer_config(source), "inferred from tensor shapes (attention heads = hidden_size / 64)"


def _sample_keys(source: Source) -> str:
    return ", ".join(repr(k) for k in (list(source.shapes) + source.ignored)[:3]) or "none"


@dataclasses.dataclass
class _Opened:
    source: Source
    head: Head  # the model to build: the checkpoint's head, or the encoder alone
    config: ElectraConfig
    config_source: str


def _open(
    located: Located,
    config,
    head: str | Head,
    ngc_only: bool = False,
    require_qa: bool = False,
    beam_size: int | None = None,
) -> _Opened:
    """Open a checkpoint that is not an electra_qa folder and decide the model it loads into."""
    wanted = wanted_head(head)
    source = open_weights(located)
    try:
        if ngc_only and source.format.name != "ngc":
            raise CheckpointError(
                f"{located.file!r} is not an NGC ELECTRA checkpoint: it looks like a "
                f"{source.format.description} (keys look like {_sample_keys(source)}); "
                f"use load_model. {NGC_HINT}"
            )
        if source.shape("electra/embeddings/word_embeddings") is None:
            hint = f" {NGC_HINT}" if source.format.name in ("ngc", "google") else ""
            what = "an NGC ELECTRA" if ngc_only else "an ELECTRA/BERT"
            raise CheckpointError(
                f"{located.file!r} is not {what} checkpoint: no word-embedding tensor (keys look "
                f"like {_sample_keys(source)}).{hint}"
            )
        found = source_head(source).with_load_options(beam_size=beam_size)
        if require_qa and not found.answers_questions:
            raise CheckpointError(
                f"{located.file!r} has no SQuAD head (neither qa_outputs nor NVIDIA's start_logits/"
                f"end_logits): it holds a {found.name} model, not an ELECTRA question-answering "
                "checkpoint"
            )
        model_config, config_source = _resolve_config(config, source)
    except BaseException:
        source.close()
        raise
    return _Opened(source, wanted or found, model_config, config_source)


def _load(
    located: Located,
    *,
    config=None,
    head: str = "auto",
    beam_size: int | None = None,
    precision: str | None = None,
    dtype=None,
    ngc_only: bool = False,
    require_qa: bool = False,
):
    if located.kind == "keras":
        if ngc_only:
            raise CheckpointError(f"{located.file!r} is an electra_qa Keras folder, not an NGC checkpoint")
        model = keras_folder.load_keras_folder(located.folder, wanted_head(head), dtype=dtype, precision=precision)
        if require_qa and not model.head.answers_questions:
            raise CheckpointError(f"{located.file!r} holds a {type(model).__name__}, not a question-answering model")
        return model
    opened = _open(located, config, head, ngc_only, require_qa, beam_size)
    return load_source(opened.source, opened.head, opened.config, dtype=dtype, precision=precision)


# ----------------------------------------------------------------------------------------------- public API


def inspect_checkpoint(path: str | os.PathLike, config=None, head: str = "auto") -> CheckpointInfo:
    """Describe a checkpoint without loading its tensors: format, config, head, parameter count, key fit."""
    located = locate(path)
    if located.kind == "keras":
        return keras_folder.inspect_keras_folder(located.folder)
    opened = _open(located, config, head)
    source = opened.source
    try:
        model = empty_model(opened.config, opened.head)
        slots, transposed, shapes, unused = keys_for(model, source, opened.head)
        variables = {key: getattr(layer, attr) for key, (layer, attr) in slots.items()}
        fit = check_fit(variables, shapes, transposed)
        fit.errors = validate(source, model_keys(source, opened.head))
        params = sum(math.prod(v.shape) for v in variables.values())
        return CheckpointInfo(
            source.path,
            source.format.name,
            source.format.description,
            opened.config,
            opened.config_source,
            opened.head.name,
            bool(opened.head.options.get("version_2")),
            params,
            fit,
            unused,
        )
    finally:
        source.close()


def load_model(
    path: str | os.PathLike | Located,
    *,
    config: ElectraConfig | dict | str | None = None,
    head: str = "auto",
    beam_size: int = 4,
    precision: str | None = None,
    dtype=None,
):
    """Load any supported ELECTRA checkpoint into a ready Keras model.

    Args:
        path: a folder (NGC/google TF checkpoint, Hugging Face, or one written by ``save_model``), or the weights
            file itself (``.index``/``.data`` prefix, ``.safetensors``, ``tf_model.h5``, ``.weights.h5``), or what
            ``locate`` made of one.
        config: ElectraConfig, dict or config.json path. Default: ``config.json`` beside the weights, else (TF
            checkpoints) sizes inferred from the tensor shapes.
        head: "auto" (whatever head the checkpoint has) or "encoder" (the encoder only, head weights unused).
        beam_size: start and end candidates of NVIDIA's joint head (the NGC run used 4).
        precision: "auto", "float32", "mixed_float16", "mixed_bfloat16", "float16" or "bfloat16" (see
            ``electra_qa.precision``); or ``dtype``, a Keras dtype policy for this model only. Default: float32.

    Returns ``ElectraForQuestionAnswering`` (SQuAD head), ``ElectraDiscriminator`` or ``ElectraModel`` (encoder).
    Raises CheckpointError naming every missing, unexpected or mis-shaped key; no half-loaded model is returned.

    >>> model = load_model(folder)
    >>> type(model).__name__, model.head_type
    ('ElectraForQuestionAnswering', 'simple')
    >>> type(load_model(folder, head="encoder")).__name__
    'ElectraModel'
    """
    check_precision(precision, dtype)  # before any file is read
    located = path if isinstance(path, Located) else locate(path)
    return _load(located, config=config, head=head, beam_size=beam_size, precision=precision, dtype=dtype)


def load_qa_model(located: Located, *, config=None, beam_size: int = 4, precision: str | None = None, dtype=None):
    """``load_model`` for a located checkpoint that must hold a SQuAD head (simple or joint); CheckpointError if not."""
    check_precision(precision, dtype)
    return _load(located, config=config, beam_size=beam_size, precision=precision, dtype=dtype, require_qa=True)


def resolve_prefix(path: str | os.PathLike) -> str:
    """The TensorFlow checkpoint prefix of a folder, its ``checkpoint`` state file, a prefix or an
    ``.index``/``.data-*`` file; CheckpointError for anything else."""
    path = os.fspath(path)
    if os.path.isdir(path) and tf_prefix_in_folder(path) is None:
        raise CheckpointError(f"no TensorFlow checkpoint (.index file or 'checkpoint' state file) in {path!r}")
    located = locate(path)
    if located.kind != "tf":
        raise CheckpointError(f"{path!r} is not a TensorFlow checkpoint (found a {located.kind} file); use load_model")
    return located.file


def load_ngc_checkpoint(
    path: str | os.PathLike,
    config: ElectraConfig | dict | str | None = None,
    beam_size: int = 4,
    dtype=None,
    precision: str | None = None,
):
    """Load NVIDIA's TF2 ELECTRA SQuAD checkpoint into a ready :class:`ElectraForQuestionAnswering`.

    Args:
        path: the checkpoint folder, its ``checkpoint`` state file, or the prefix (``.../name`` of ``name.index``).
        config: an ElectraConfig, a dict, or a config.json path. Default: a ``config.json`` beside the checkpoint,
            else sizes inferred from the tensor shapes (heads = hidden/64).
        beam_size: joint head start/end candidates (the NGC run used 4).
        dtype: Keras dtype policy for this model only (default: float32 variables and compute); or
            ``precision=`` ("auto", "mixed_float16", ...; see ``electra_qa.precision``).

    Only model variables are read, one tensor at a time; optimizer slots are skipped. Raises CheckpointError
    naming every missing, unexpected or mis-shaped key, and then no model is returned.

    >>> model = load_ngc_checkpoint(ngc_folder)   # a tiny checkpoint written by NVIDIA's code
    >>> model.head_type, model.beam_size
    ('joint', 4)
    """
    check_precision(precision, dtype)
    return _load(
        Located("tf", resolve_prefix(path)),
        config=config,
        beam_size=beam_size,
        dtype=dtype,
        precision=precision,
        ngc_only=True,
        require_qa=True,
    )
