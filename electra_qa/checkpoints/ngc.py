"""NVIDIA NGC ELECTRA SQuAD checkpoints (DeepLearningExamples TF2, ``model.save_weights`` object checkpoints).

Keys are attribute paths of the reference model, e.g. ``electra/encoder/layer/3/attention/self_attention/query/
kernel/.ATTRIBUTES/VARIABLE_VALUE``. The NGC file also holds Adam slots (``.OPTIMIZER_SLOT``) and optimizer
scalars; they are never read.
"""

from __future__ import annotations

import os
import re

from electra_qa.checkpoints.assign import assign_strict
from electra_qa.checkpoints.tf_bundle import TensorBundle
from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
WORD_EMBEDDINGS = "electra/embeddings/weight"
NGC_HINT = ("The NGC download holds no config.json or vocab.txt: pass config=ElectraConfig.base() (or a config.json) "
            "for ELECTRA-base, and the BERT-uncased vocab.txt (30522 lines) to the tokenizer.")

_LAYER_PARTS = {
    "attention/self_attention/query": "query",
    "attention/self_attention/key": "key",
    "attention/self_attention/value": "value",
    "attention/dense_output/dense": "attention_output",
    "attention/dense_output/LayerNorm": "attention_layer_norm",
    "intermediate/dense": "intermediate",
    "bert_output/dense": "output_dense",
    "bert_output/LayerNorm": "output_layer_norm",
}


def resolve_prefix(path: str | os.PathLike) -> str:
    """Accept a checkpoint folder, its ``checkpoint`` state file, a prefix, or a ``.index``/``.data-*`` file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        state = os.path.join(path, "checkpoint")
        if os.path.isfile(state):
            return _prefix_from_state(state)
        indexes = sorted(f for f in os.listdir(path) if f.endswith(".index"))
        if len(indexes) == 1:
            return os.path.join(path, indexes[0][:-len(".index")])
        if not indexes:
            raise CheckpointError(f"no TensorFlow checkpoint (.index file or 'checkpoint' state file) in {path!r}")
        raise CheckpointError(f"{path!r} holds several checkpoints ({', '.join(indexes)}); pass one prefix")
    if os.path.basename(path) == "checkpoint" and os.path.isfile(path):
        return _prefix_from_state(path)
    if path.endswith(".index"):
        return path[:-len(".index")]
    match = re.match(r"(.*)\.data-\d{5}-of-\d{5}$", path)
    if match:
        return match.group(1)
    if os.path.isfile(path + ".index"):
        return path
    raise CheckpointError(f"no checkpoint at {path!r}: expected a folder, a 'checkpoint' state file, or a prefix "
                          f"with a {os.path.basename(path)}.index file beside it")


def _prefix_from_state(state_path: str) -> str:
    with open(state_path, encoding="utf-8") as f:
        for line in f:
            match = re.match(r'\s*model_checkpoint_path:\s*"(.*)"\s*$', line)
            if match:
                prefix = match.group(1)
                return prefix if os.path.isabs(prefix) else os.path.join(os.path.dirname(state_path), prefix)
    raise CheckpointError(f"checkpoint state file {state_path!r} names no model_checkpoint_path")


def model_weight_shapes(bundle: TensorBundle) -> dict[str, tuple[int, ...]]:
    """The model variables of an NGC checkpoint (optimizer state left out), keyed by attribute path."""
    shapes = {}
    for key, entry in bundle.entries.items():
        if not key.endswith(VALUE_SUFFIX) or ".OPTIMIZER_SLOT" in key:
            continue
        path = key[:-len(VALUE_SUFFIX)]
        if path.startswith("optimizer/") or path == "save_counter":
            continue
        shapes[path] = entry.shape
    return shapes


def infer_config(shapes: dict[str, tuple[int, ...]]) -> ElectraConfig:
    """Encoder sizes from tensor shapes. The head count is not stored: hidden_size / 64, as in every released ELECTRA."""
    try:
        vocab_size, embedding_size = shapes[WORD_EMBEDDINGS]
        max_position = shapes["electra/embeddings/position_embeddings/embeddings"][0]
        type_vocab = shapes["electra/embeddings/token_type_embeddings/embeddings"][0]
        hidden_size = shapes["electra/encoder/layer/0/attention/self_attention/query/kernel"][1]
        intermediate_size = shapes["electra/encoder/layer/0/intermediate/dense/kernel"][1]
    except (KeyError, ValueError, IndexError) as e:
        raise CheckpointError(f"cannot infer the model size: checkpoint key {e} is missing or mis-shaped") from None
    layers = {int(m.group(1)) for k in shapes if (m := re.match(r"electra/encoder/layer/(\d+)/", k))}
    if hidden_size % 64:
        raise CheckpointError(f"hidden size {hidden_size} is not a multiple of 64, so the number of attention heads "
                              "cannot be inferred; pass config= (an ElectraConfig or a config.json path)")
    return ElectraConfig(vocab_size=vocab_size, embedding_size=embedding_size, hidden_size=hidden_size,
                         num_hidden_layers=max(layers) + 1, num_attention_heads=hidden_size // 64,
                         intermediate_size=intermediate_size, max_position_embeddings=max_position,
                         type_vocab_size=type_vocab)


def detect_head(shapes) -> tuple[str, bool]:
    """("joint" | "simple", version_2) from the head keys present."""
    if "qa_outputs/kernel" in shapes:
        return "simple", False
    if "start_logits/dense/kernel" in shapes:
        return "joint", "answer_class/dense_0/kernel" in shapes
    raise CheckpointError("the checkpoint has no SQuAD head (neither qa_outputs/* nor start_logits/*, end_logits/*); "
                          "it is not an ELECTRA question-answering checkpoint")


def _dense_keys(prefix, layer, bias=True):
    keys = {f"{prefix}/kernel": layer.kernel}
    if bias:
        keys[f"{prefix}/bias"] = layer.bias
    return keys


def _norm_keys(prefix, layer):
    return {f"{prefix}/gamma": layer.gamma, f"{prefix}/beta": layer.beta}


def variable_map(model) -> dict:
    """NGC checkpoint key (without the ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix) -> variable of our model."""
    enc = model.electra
    emb = enc.embeddings
    out = {WORD_EMBEDDINGS: emb.word_embeddings,
           "electra/embeddings/position_embeddings/embeddings": emb.position_embeddings,
           "electra/embeddings/token_type_embeddings/embeddings": emb.token_type_embeddings,
           **_norm_keys("electra/embeddings/LayerNorm", emb.layer_norm)}
    if enc.embeddings_project is not None:
        out.update(_dense_keys("electra/embeddings_project", enc.embeddings_project))
    for i, layer in enumerate(enc.transformer_layers):
        for part, attr in _LAYER_PARTS.items():
            sub = getattr(layer, attr)
            key = f"electra/encoder/layer/{i}/{part}"
            out.update(_norm_keys(key, sub) if part.endswith("LayerNorm") else _dense_keys(key, sub))
    head = model.qa_head
    if model.head_type == "simple":
        out.update(_dense_keys("qa_outputs", head.qa_outputs))
    else:
        out.update(_dense_keys("start_logits/dense", head.start_dense))
        out.update(_dense_keys("end_logits/dense_0", head.end_dense_0))
        out.update(_norm_keys("end_logits/LayerNorm", head.end_layer_norm))
        out.update(_dense_keys("end_logits/dense_1", head.end_dense_1))
        if head.version_2:
            out.update(_dense_keys("answer_class/dense_0", head.answer_class_dense_0))
            out.update(_dense_keys("answer_class/dense_1", head.answer_class_dense_1, bias=False))
    return out


def _resolve_config(config, prefix, shapes) -> ElectraConfig:
    if config is not None:
        return ElectraConfig.coerce(config)
    beside = os.path.join(os.path.dirname(prefix), "config.json")
    if os.path.isfile(beside):
        return ElectraConfig.from_file(beside)
    return infer_config(shapes)


def load_ngc_checkpoint(path: str | os.PathLike, config: ElectraConfig | dict | str | None = None,
                        beam_size: int = 4, amp: bool = True, dtype=None):
    """Load NVIDIA's TF2 ELECTRA SQuAD checkpoint into a ready :class:`ElectraForQuestionAnswering`.

    Args:
        path: the checkpoint folder, its ``checkpoint`` state file, or the prefix (``.../name`` of ``name.index``).
        config: an ElectraConfig, a dict, or a config.json path. Default: a ``config.json`` beside the checkpoint,
            else sizes inferred from the tensor shapes (heads = hidden/64).
        beam_size: joint head start/end candidates (the NGC run used 4).
        amp: reproduce the reference's AMP end-logit mask constant (True for the NGC 20.07.0_amp checkpoint).
        dtype: Keras dtype policy for this model only (default: float32 variables and compute).

    Only model variables are read, one tensor at a time; optimizer slots are skipped. Raises CheckpointError
    naming every missing, unexpected or mis-shaped key, and then no model is returned.
    """
    from electra_qa.models import ElectraForQuestionAnswering
    from electra_qa.models.initializers import weights_to_be_loaded

    prefix = resolve_prefix(path)
    bundle = TensorBundle(prefix)
    shapes = model_weight_shapes(bundle)
    if WORD_EMBEDDINGS not in shapes:
        sample = _sample_keys(bundle)
        raise CheckpointError(f"{prefix!r} is not an NGC ELECTRA checkpoint: no {WORD_EMBEDDINGS!r} key "
                              f"(keys look like {sample}). {NGC_HINT}")
    head, version_2 = detect_head(shapes)
    model_config = _resolve_config(config, prefix, shapes)
    with weights_to_be_loaded():
        model = ElectraForQuestionAnswering(model_config, head=head, beam_size=beam_size, version_2=version_2,
                                            amp=amp, dtype=dtype, name="electra_qa")
    variables = variable_map(model)
    bundle.check_readable([k + VALUE_SUFFIX for k in variables if k in shapes])
    assign_strict(variables, shapes, lambda k: bundle.read(k + VALUE_SUFFIX), source=f"checkpoint {prefix!r}")
    return model


def _sample_keys(bundle, n=3):
    keys = [k for k in bundle.keys() if not k.startswith("_")][:n]
    return ", ".join(repr(k) for k in keys) or "none"
