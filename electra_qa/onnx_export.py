"""``export_onnx``: a question-answering model as an ONNX file, for ONNX Runtime (CPU, CUDA, TensorRT) and Triton.

The graph is written from the model's weights with the ``onnx`` package, op by op, following the Keras model's
arithmetic (``models/embeddings.py``, ``models/transformer_layer.py``, ``models/attention.py``, ``models/qa_heads.py``):
no tracing through TensorFlow, so it works whatever the Keras backend, and the file needs no custom op. (Keras'
``model.export(format="onnx")`` and tf2onnx go through TensorFlow's graph; building the graph ourselves keeps it
small and readable, and keeps the joint head's beam search in it.) By default each layer's attention and GELU are
ONNX Runtime's fused ``com.microsoft`` ops (``Attention``, ``BiasGelu``/``FastGelu``), which its CPU and CUDA
providers run and its int8 quantizer turns into ``QAttention``; ``fused=False`` writes standard ONNX ops only, for
runtimes without them (TensorRT's own parser, OpenVINO). Inputs and outputs are the SavedModel signature's
(``Head.serving_inputs``, ``Head.output_shapes``), batch and length dynamic. The model's head, options and config
(and a ``QuestionAnswerer``'s settings and calibration) travel in the file's metadata (``electra_qa``), so
``QuestionAnswerer.from_onnx`` needs nothing else but the tokenizer beside it. Needs ``onnx`` at export time only
(``pip install "electra-qa[onnx]"``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os

import numpy as np

from electra_qa.errors import InputError
from electra_qa.files import check_output_file, check_output_folder, make_folder
from electra_qa.heads.joint import JointHead
from electra_qa.heads.simple import SimpleHead
from electra_qa.onnx_model import METADATA_KEY

OPSET = 17  # LayerNormalization
MS_DOMAIN = "com.microsoft"  # ONNX Runtime's contrib ops


class _Graph:
    """Nodes and initializers with generated names."""

    def __init__(self, onnx):
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes, self.initializers, self.count = [], [], 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, hint: str = "const") -> str:
        name = self.name(hint)
        array = np.asarray(value)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, outputs: int = 1, domain: str = "", **attrs):
        names = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, inputs, names, name=names[0], domain=domain, **attrs))
        return names[0] if outputs == 1 else names

    def dense(self, x: str, kernel, bias=None, hint: str = "dense") -> str:
        y = self.op("MatMul", [x, self.const(np.asarray(kernel, np.float32), hint + "_kernel")], hint)
        if bias is not None:
            y = self.op("Add", [y, self.const(np.asarray(bias, np.float32), hint + "_bias")], hint)
        return y

    def layer_norm(self, x: str, gamma, beta, eps: float, hint: str = "ln") -> str:
        g = self.const(np.asarray(gamma, np.float32), hint + "_gamma")
        b = self.const(np.asarray(beta, np.float32), hint + "_beta")
        return self.op("LayerNormalization", [x, g, b], hint, axis=-1, epsilon=float(eps))


def _activation(g: _Graph, x: str, bias, kind: str, fused: bool, hint: str) -> str:
    """``activation(x + bias)``: ONNX Runtime's BiasGelu / FastGelu when ``fused``, else standard ops."""
    b = g.const(np.asarray(bias, np.float32), hint + "_bias")
    if fused and kind == "gelu_erf":
        return g.op("BiasGelu", [x, b], hint, domain=MS_DOMAIN)
    if fused and kind == "gelu_tanh":
        return g.op("FastGelu", [x, b], hint, domain=MS_DOMAIN)
    x = g.op("Add", [x, b], hint)
    if kind == "relu":
        return g.op("Relu", [x])
    if kind == "gelu_erf":  # 0.5 x (1 + erf(x / sqrt 2))
        erf = g.op("Erf", [g.op("Mul", [x, g.const(np.float32(1 / math.sqrt(2)))])])
        return g.op("Mul", [g.op("Mul", [x, g.const(np.float32(0.5))]), g.op("Add", [erf, g.const(np.float32(1))])])
    # gelu_tanh: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    cube = g.op("Mul", [g.op("Mul", [x, x]), x])
    inner = g.op("Add", [x, g.op("Mul", [cube, g.const(np.float32(0.044715))])])
    t = g.op("Tanh", [g.op("Mul", [inner, g.const(np.float32(math.sqrt(2 / math.pi)))])])
    return g.op("Mul", [g.op("Mul", [x, g.const(np.float32(0.5))]), g.op("Add", [t, g.const(np.float32(1))])])


def _attention(g: _Graph, x: str, mask: str, w: dict, p: str, config, fused: bool, layer: int) -> str:
    """Self-attention of one layer up to the merged heads' context (before the output dense). ``mask``: the raw 0/1
    attention mask when ``fused``, else the additive bias [batch, 1, 1, seq] (``_mask_bias``)."""
    from electra_qa.models.backbone import MASK_BIAS

    names = {"q": p + "attention/self/query", "k": p + "attention/self/key", "v": p + "attention/self/value"}
    if fused:  # one [H, 3H] product, the scores, masked softmax and context in ONNX Runtime's Attention op
        kernel = np.concatenate([np.asarray(w[n + "/kernel"], np.float32) for n in names.values()], axis=1)
        bias = np.concatenate([np.asarray(w[n + "/bias"], np.float32) for n in names.values()])
        return g.op(
            "Attention",
            [x, g.const(kernel, f"l{layer}_qkv_kernel"), g.const(bias, f"l{layer}_qkv_bias"), mask],
            f"l{layer}_attention",
            domain=MS_DOMAIN,
            num_heads=config.num_attention_heads,
            mask_filter_value=float(MASK_BIAS),  # (1 - mask) * MASK_BIAS added to the scores, as the Keras model does
        )
    split = g.const(np.array([0, 0, config.num_attention_heads, config.head_size]))
    q, k, v = (
        g.op("Reshape", [g.dense(x, w[n + "/kernel"], w[n + "/bias"], f"l{layer}_{part}"), split])
        for part, n in names.items()
    )
    q, v = (g.op("Transpose", [t], perm=[0, 2, 1, 3]) for t in (q, v))
    k = g.op("Transpose", [k], perm=[0, 2, 3, 1])
    scale = g.const(np.float32(1 / math.sqrt(config.head_size)))
    scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask])
    context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    merged = g.const(np.array([0, 0, config.hidden_size]))
    return g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merged])


def _mask_bias(g: _Graph) -> str:
    """(1 - attention_mask) * MASK_BIAS as [batch, 1, 1, seq], added to every layer's scores (unfused graph)."""
    from electra_qa.models.backbone import MASK_BIAS

    mask = g.op("Cast", ["attention_mask"], to=g.onnx.TensorProto.FLOAT)
    bias = g.op("Mul", [g.op("Sub", [g.const(np.float32(1)), mask]), g.const(np.float32(MASK_BIAS))])
    return g.op("Unsqueeze", [bias, g.const(np.array([1, 2]))], "attention_bias")


def _encoder(g: _Graph, w: dict, config, fused: bool) -> str:
    from electra_qa.config import ACTIVATIONS

    c = config
    words = g.op("Gather", [g.const(w["electra/embeddings/word_embeddings"], "word_embeddings"), "input_ids"])
    seq = g.op("Slice", [g.op("Shape", ["input_ids"]), g.const(np.array([1])), g.const(np.array([2]))], "seq")
    positions = g.op(
        "Slice",
        [g.const(w["electra/embeddings/position_embeddings"], "position_embeddings"), g.const(np.array([0])), seq],
    )
    types = g.op("Gather", [g.const(w["electra/embeddings/token_type_embeddings"], "token_type"), "token_type_ids"])
    x = g.op("Add", [g.op("Add", [words, positions]), types])
    x = g.layer_norm(
        x,
        w["electra/embeddings/LayerNorm/gamma"],
        w["electra/embeddings/LayerNorm/beta"],
        c.layer_norm_eps,
        "embeddings_ln",
    )
    if c.embedding_size != c.hidden_size:
        x = g.dense(x, w["electra/embeddings_project/kernel"], w["electra/embeddings_project/bias"], "project")
    kind = ACTIVATIONS[c.hidden_act]
    mask = "attention_mask" if fused else _mask_bias(g)
    for i in range(c.num_hidden_layers):
        p = f"electra/encoder/layer_{i}/"

        def dense(v, part, name, i=i, p=p):
            return g.dense(v, w[p + part + "/kernel"], w[p + part + "/bias"], f"l{i}_{name}")

        context = _attention(g, x, mask, w, p, c, fused, i)
        a = g.op("Add", [x, dense(context, "attention/output/dense", "o")])
        a = g.layer_norm(
            a,
            w[p + "attention/output/LayerNorm/gamma"],
            w[p + "attention/output/LayerNorm/beta"],
            c.layer_norm_eps,
            f"l{i}_ln1",
        )
        ffn1 = g.dense(a, w[p + "intermediate/dense/kernel"], None, f"l{i}_ffn1")
        m = _activation(g, ffn1, w[p + "intermediate/dense/bias"], kind, fused, f"l{i}_ffn1")
        y = g.op("Add", [a, dense(m, "output/dense", "ffn2")])
        x = g.layer_norm(
            y, w[p + "output/LayerNorm/gamma"], w[p + "output/LayerNorm/beta"], c.layer_norm_eps, f"l{i}_ln2"
        )
    return x


def _simple_head(g: _Graph, w: dict, hidden: str, head, config) -> dict:
    logits = g.dense(hidden, w["qa_outputs/kernel"], w["qa_outputs/bias"], "qa_outputs")
    start = g.op("Gather", [logits, g.const(np.array(0, np.int64))], axis=2)
    end = g.op("Gather", [logits, g.const(np.array(1, np.int64))], axis=2)
    return {"start_logits": start, "end_logits": end}


def _joint_head(g: _Graph, w: dict, hidden: str, head, config) -> dict:
    from electra_qa.models.qa_heads import START_MASK_VALUE

    k, h = head.beam_size, config.hidden_size
    p_mask = "p_mask"

    def masked(logits, mask, value):
        # _apply_p_mask: logits * (1 - p_mask) - value * p_mask
        keep = g.op("Sub", [g.const(np.float32(1)), mask])
        return g.op("Sub", [g.op("Mul", [logits, keep]), g.op("Mul", [mask, g.const(np.float32(value))])])

    start_logits = g.op(
        "Squeeze",
        [
            g.dense(hidden, w["start_logits/dense/kernel"], w["start_logits/dense/bias"], "start_dense"),
            g.const(np.array([-1])),
        ],
    )
    start_logits = masked(start_logits, p_mask, START_MASK_VALUE)
    start_log_probs = g.op("LogSoftmax", [start_logits], axis=-1)
    start_top_log_probs, start_top_index = g.op("TopK", [start_log_probs, g.const(np.array([k]))], outputs=2, axis=-1)
    # the start candidates' hidden states [batch, k, H]
    index = g.op("Unsqueeze", [start_top_index, g.const(np.array([-1]))])
    index = g.op("Expand", [index, g.op("Concat", [g.op("Shape", [start_top_index]), g.const(np.array([h]))], axis=0)])
    start_states = g.op("GatherElements", [hidden, index], axis=1)
    kernel = np.asarray(w["end_logits/dense_0/kernel"], np.float32)
    from_tokens = g.op("MatMul", [hidden, g.const(kernel[:h], "end_kernel_tokens")])
    from_starts = g.op(
        "Add",
        [
            g.op("MatMul", [start_states, g.const(kernel[h:], "end_kernel_starts")]),
            g.const(np.asarray(w["end_logits/dense_0/bias"], np.float32), "end_bias"),
        ],
    )
    x = g.op(
        "Tanh",
        [
            g.op(
                "Add",
                [
                    g.op("Unsqueeze", [from_tokens, g.const(np.array([1]))]),
                    g.op("Unsqueeze", [from_starts, g.const(np.array([2]))]),
                ],
            )
        ],
    )
    x = g.layer_norm(
        x, w["end_logits/LayerNorm/gamma"], w["end_logits/LayerNorm/beta"], config.layer_norm_eps, "end_ln"
    )
    end_logits = g.op(
        "Squeeze",
        [g.dense(x, w["end_logits/dense_1/kernel"], w["end_logits/dense_1/bias"], "end_1"), g.const(np.array([-1]))],
    )
    end_logits = masked(end_logits, g.op("Unsqueeze", [p_mask, g.const(np.array([1]))]), head.end_mask_value)
    end_log_probs = g.op("LogSoftmax", [end_logits], axis=-1)
    end_top_log_probs, end_top_index = g.op("TopK", [end_log_probs, g.const(np.array([k]))], outputs=2, axis=-1)
    flat = g.const(np.array([0, k * k]))
    outputs = {
        "start_top_log_probs": start_top_log_probs,
        "start_top_index": g.op("Cast", [start_top_index], to=g.onnx.TensorProto.INT32),
        "end_top_log_probs": g.op("Reshape", [end_top_log_probs, flat]),
        "end_top_index": g.op("Cast", [g.op("Reshape", [end_top_index, flat])], to=g.onnx.TensorProto.INT32),
    }
    if head.version_2:
        start_probs = g.op("Softmax", [start_logits], axis=-1)
        weighted = g.op(
            "Squeeze",
            [
                g.op("MatMul", [g.op("Unsqueeze", [start_probs, g.const(np.array([1]))]), hidden]),
                g.const(np.array([1])),
            ],
        )
        cls = g.op("Gather", [hidden, g.const(np.array(0, np.int64))], axis=1)
        pooled = g.op(
            "Tanh",
            [
                g.dense(
                    g.op("Concat", [weighted, cls], axis=-1),
                    w["answer_class/dense_0/kernel"],
                    w["answer_class/dense_0/bias"],
                    "answer_class_0",
                )
            ],
        )
        outputs["cls_logits"] = g.op(
            "Squeeze",
            [g.dense(pooled, w["answer_class/dense_1/kernel"], None, "answer_class_1"), g.const(np.array([-1]))],
        )
    else:
        batch = g.op("Slice", [g.op("Shape", [hidden]), g.const(np.array([0])), g.const(np.array([1]))])
        outputs["cls_logits"] = g.op(
            "ConstantOfShape", [batch], value=g.onnx.numpy_helper.from_array(np.zeros(1, np.float32))
        )
    return outputs


_HEAD_GRAPHS = {SimpleHead: _simple_head, JointHead: _joint_head}  # each head class's part of the graph


# The matrix products int8 leaves in float32 unless told otherwise: those whose quantization cost accuracy on the
# trained MiniLM SQuAD model (BENCHMARKS.md, "ONNX Runtime": the sweep over layer groups). The FFN output products
# (whose input is the GELU's) change the most answers: int8 everywhere but the head changes 206 of 1,572 answers, -0.72
# F1; with the FFN outputs in float32, 132 and -0.21, at 0.7x the speed. keep_float=("head",) is the faster choice.
KEEP_FLOAT = ("head", "ffn_output")


QUANTIZED_OPS = ("MatMul", "Attention")  # the weight products int8 quantizes (Attention: its [H, 3H] product)


def _matmul_groups(proto, layers: int) -> dict[str, list[str]]:
    """Names of the weight-product nodes (MatMul, fused Attention) by group: "head", "embeddings", "attention",
    "ffn_input", "ffn_output", "layer:N" (every weight product of transformer layer N), and "attention:N",
    "ffn_input:N", "ffn_output:N" (that part of layer N)."""
    groups: dict[str, list[str]] = {}
    parts = {
        "q": "attention",
        "k": "attention",
        "v": "attention",
        "o": "attention",
        "ffn1": "ffn_input",
        "ffn2": "ffn_output",
    }
    for node in proto.graph.node:
        if node.op_type not in QUANTIZED_OPS or not any("kernel" in i for i in node.input):  # weight products only
            continue
        name = node.name
        if name.startswith("l") and "_" in name and name[1 : name.index("_")].isdigit():
            layer, part = name[1:].split("_")[0], name.split("_")[1]
            group = parts.get(part, "attention")
            groups.setdefault(f"layer:{layer}", []).append(name)
            groups.setdefault(group, []).append(name)
            groups.setdefault(f"{group}:{layer}", []).append(name)
        elif name.startswith("project"):
            groups.setdefault("embeddings", []).append(name)
        else:
            groups.setdefault("head", []).append(name)
    groups["last"] = groups.get(f"layer:{layers - 1}", [])
    return groups


def export_onnx(
    model,
    path: str | os.PathLike,
    *,
    fused: bool = True,
    float16: bool = False,
    quantize: str | None = None,
    keep_float: tuple[str, ...] = KEEP_FLOAT,
    per_channel: bool = True,
) -> str:
    """Write ``model`` (a ``QuestionAnswerer`` or an ``ElectraForQuestionAnswering``) as an ONNX file at ``path``
    (its folder made if missing); a ``QuestionAnswerer``'s tokenizer is written beside it (``tokenizer.json``,
    ``vocab.txt``). Returns the path.

    ``fused``: attention and GELU as ONNX Runtime's fused ``com.microsoft`` ops (the default, for ONNX Runtime on CPU
    or CUDA; faster on CPU, BENCHMARKS.md "ONNX Runtime"); ``fused=False``: standard ONNX ops only, for runtimes
    without ONNX Runtime's ops (TensorRT's own parser, OpenVINO). ``float16``: store the weights in float16 (a file
    half the size, for GPUs). ``quantize="int8"``: ONNX Runtime's dynamic quantization (int8 weights,
    ``per_channel`` scales, activations quantized at run time), leaving in float32 the weight products of the groups
    in ``keep_float`` ("head", "embeddings", "attention", "ffn_input", "ffn_output", "last", "layer:N"; default: what
    the measured sweep kept, ``KEEP_FLOAT``)."""
    if quantize not in (None, "int8"):
        raise InputError(f"quantize must be None or 'int8', got {quantize!r}")
    if quantize and float16:  # int8 quantizes float32 weights; float16 ones would be left as they are
        raise InputError("float16=True and quantize='int8' exclude each other (int8 quantizes the float32 weights)")
    try:
        import onnx
    except ImportError:
        raise InputError('export_onnx needs the onnx package: pip install "electra-qa[onnx]"') from None
    from electra_qa.checkpoints.slots import model_weights

    tokenizer = getattr(model, "tokenizer", None)
    settings, calibration = getattr(model, "settings", None), getattr(model, "calibration", None)
    model = getattr(model, "model", model)
    head = getattr(model, "head", None)
    build_head = _HEAD_GRAPHS.get(type(head))
    if build_head is None:
        raise InputError(
            f"export_onnx writes simple- and joint-head question-answering models, got {type(model).__name__}"
            + (f" with {head.title}" if head is not None else "")
        )
    folder = check_output_folder(os.path.dirname(os.path.abspath(path)), "ONNX file's folder")  # made if missing
    path = check_output_file(path, what="ONNX file") if os.path.isdir(folder) else os.fspath(path)
    import keras

    w = {name: keras.ops.convert_to_numpy(v).astype(np.float32) for name, v in model_weights(model).items()}
    g = _Graph(onnx)
    hidden = _encoder(g, w, model.config, fused)
    outputs = build_head(g, w, hidden, head, model.config)
    tp, vi = onnx.TensorProto, onnx.helper.make_tensor_value_info
    types = {"int32": tp.INT32, "float32": tp.FLOAT}
    inputs = [vi(name, types[dtype], ["batch", "sequence"]) for name, (dtype, _) in head.serving_inputs().items()]
    shapes = head.output_shapes("batch", "sequence")
    graph_outputs = []
    for name, node in outputs.items():
        g.nodes.append(onnx.helper.make_node("Identity", [node], [name]))
        dtype = tp.INT32 if name.endswith("_index") else tp.FLOAT
        graph_outputs.append(vi(name, dtype, list(shapes[name])))
    graph = onnx.helper.make_graph(g.nodes, "electra_qa", inputs, graph_outputs, g.initializers)
    opsets = [onnx.helper.make_opsetid("", OPSET)] + ([onnx.helper.make_opsetid(MS_DOMAIN, 1)] if fused else [])
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="electra_qa")
    meta = {
        "head": head.name,
        "options": head.options,
        "config": model.config.to_dict(),
        "format_version": 1,
        "fused": fused,
    }
    if settings is not None:  # a QuestionAnswerer's windows, scoring and calibration: from_onnx starts from them
        meta["pipeline"] = {**settings.to_dict(), "calibration": calibration.to_dict()}
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(meta)})
    if float16:
        proto = _float16_weights(onnx, proto)
    onnx.checker.check_model(proto)
    make_folder(folder, "ONNX file's folder")
    tmp = path + ".part"
    if quantize == "int8":
        _int8(onnx, proto, tmp, keep_float, per_channel, model.config.num_hidden_layers)
    else:
        onnx.save_model(proto, tmp)
    os.replace(tmp, path)
    if tokenizer is not None:
        tokenizer.save(os.path.dirname(os.path.abspath(path)))
    return path


def _int8(onnx, proto, out: str, keep_float, per_channel: bool, layers: int) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise InputError('quantize="int8" needs ONNX Runtime: pip install "electra-qa[onnx]"') from None
    groups = _matmul_groups(proto, layers)
    unknown = [k for k in keep_float if k not in groups and not k.startswith("layer:")]
    if unknown:
        raise InputError(f"keep_float names unknown groups {unknown}; known: {sorted(groups)}")
    excluded = sorted({name for k in keep_float for name in groups.get(k, [])})
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, _without_preprocessing_advice():
        source = os.path.join(tmp, "float.onnx")
        onnx.save_model(proto, source)
        quantize_dynamic(
            source,
            out,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=list(QUANTIZED_OPS),
            nodes_to_exclude=excluded,
            # the fused ops' outputs have no type for ONNX's shape inference; every float tensor here is float32
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


@contextlib.contextmanager
def _without_preprocessing_advice():
    """The quantizer logs advice to run its shape pre-processing on the root logger; our graph needs none (its types
    are given), so the user does not see it. Other messages pass; the filter is removed afterwards."""

    def advice(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def _float16_weights(onnx, proto):
    """The float32 weights stored as float16 and cast back at the first use (a smaller file; the arithmetic stays
    float32 unless the provider fuses the casts)."""
    graph = proto.graph
    replaced = []
    for init in list(graph.initializer):
        array = onnx.numpy_helper.to_array(init)
        if array.dtype == np.float32 and array.size > 1024:
            half = onnx.numpy_helper.from_array(array.astype(np.float16), init.name + "_fp16")
            replaced.append(onnx.helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
            graph.initializer.remove(init)
            graph.initializer.append(half)
    nodes = replaced + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return proto
