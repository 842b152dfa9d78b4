"""The head classes: the registry, a third head added in this file alone, one backbone shared by task models, and
the rule that nothing outside ``electra_qa/heads`` compares head names."""

import ast
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from conftest import tiny_config

from electra_qa import InputError, QuestionAnswerer, build_model, heads, load_model, save_model
from electra_qa.heads import Head, JointHead, SimpleHead, get_head, register, unregister
from electra_qa.heads.base import dense_slots, make_candidate, span_allowed
from electra_qa.hub import PACKAGED_VOCAB
from electra_qa.tokenization import load_tokenizer

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "electra_qa"
CONFIG = tiny_config()


# ------------------------------------------------------------------------------------------------ a third head


@keras.saving.register_keras_serializable(package="electra_qa_tests")
class PointerLayer(keras.layers.Layer):
    """A toy span head: one Dense hidden -> 1 scores each token; the answer is the best single token."""

    def __init__(self, *, hidden_size, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.score = keras.layers.Dense(1, name="score", dtype=self.dtype_policy)

    def build(self, input_shape=None):
        self.score.build((None, None, self.hidden_size))
        self.built = True

    def call(self, hidden, p_mask=None, start_positions=None):
        logits = keras.ops.cast(keras.ops.squeeze(self.score(hidden), -1), "float32")
        return {"token_logits": logits}

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size}


class PointerHead(Head):
    name = "pointer"
    title = "the toy pointer head"
    model_class = "ElectraForQuestionAnswering"
    outputs = ("token_logits",)
    layer_class = "electra_qa_tests>PointerLayer"

    def layer_config(self, config):
        return {"hidden_size": config.hidden_size}

    def weight_slots(self, model):
        return dense_slots("pointer/score", model.qa_head.score)

    def candidates(self, feature, out, n_best_size, max_answer_length):
        logits = out["token_logits"][: feature.length]
        return [
            make_candidate(feature, int(t), int(t), float(logits[t]), 0.0)
            for t in np.argsort(-logits, kind="stable")[:n_best_size]
            if span_allowed(feature, int(t), int(t), max_answer_length)
        ]

    @classmethod
    def detect(cls, has_key):
        return cls() if has_key("pointer/score/kernel") else None


@pytest.fixture
def pointer():
    register(PointerHead)  # the one registry line a new head needs
    yield PointerHead
    unregister("pointer")


def test_a_third_head_is_one_class_and_one_registry_line(pointer, tmp_path):
    model = build_model(CONFIG, "pointer")
    assert model.head == PointerHead() and model.head_type == "pointer"
    qa = QuestionAnswerer(model, load_tokenizer(PACKAGED_VOCAB), max_seq_length=48)
    context = "The bridge was built in 1610 by merchants of the town."
    answer = qa("When was the bridge built?", context)
    assert answer.text == context[answer.start : answer.end] and answer.text.strip() and " " not in answer.text
    # saved and loaded like any head: the folder names it, loading finds it in the registry
    model.qa_head.score.kernel.assign(np.arange(32, dtype="float32").reshape(32, 1) / 100)
    folder = save_model(model, tmp_path / "saved")
    loaded = load_model(folder)
    assert loaded.head == PointerHead()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.qa_head.score.kernel), keras.ops.convert_to_numpy(model.qa_head.score.kernel)
    )


def test_registry_names_and_errors():
    assert tuple(heads.REGISTRY)[:2] == ("simple", "joint") and "encoder" in heads.REGISTRY
    assert heads.qa_head_names() == ("simple", "joint")
    assert get_head("joint", beam_size=8).beam_size == 8
    with pytest.raises(InputError, match="head must be one of"):
        get_head("pointer")
    with pytest.raises(InputError, match="takes no option beam_size"):
        get_head("simple", beam_size=4)
    with pytest.raises(InputError, match="beam_size must be a positive integer"):
        JointHead(beam_size=0)
    with pytest.raises(InputError, match="version_2 must be True or False"):
        JointHead(version_2="no")
    assert JointHead(beam_size=4) == JointHead() and JointHead(version_2=True) != JointHead()
    with pytest.raises(InputError, match="does not answer questions"):
        from electra_qa import ElectraForQuestionAnswering

        ElectraForQuestionAnswering(CONFIG, "discriminator")


def test_saved_sections_name_their_head():
    assert (
        heads.saved_head(
            {
                "model": "ElectraForQuestionAnswering",
                "head": "simple",
                "beam_size": 4,
                "version_2": False,
                "end_mask_value": 65500.0,
            }
        )
        == SimpleHead()
    )
    old_joint = {"model": "ElectraForQuestionAnswering", "head": "joint", "beam_size": 3, "amp": False}
    assert heads.saved_head(old_joint) == JointHead(beam_size=3, end_mask_value=1e30)
    assert heads.saved_head({"model": "ElectraDiscriminator"}).name == "discriminator"  # round-2 folders
    with pytest.raises(InputError, match="not registered"):
        heads.saved_head({"model": "ElectraForQuestionAnswering", "head": "nope"})


def test_task_models_share_one_backbone():
    """A QA model on a discriminator's backbone uses the same variables: no copy."""
    from electra_qa import ElectraForQuestionAnswering

    discriminator = build_model(CONFIG, "discriminator")
    qa_model = ElectraForQuestionAnswering(discriminator.backbone, "simple")
    assert qa_model.backbone is discriminator.backbone
    shared = {id(v) for v in discriminator.backbone.weights}
    assert shared <= {id(v) for v in qa_model.weights}
    discriminator.backbone.embeddings.word_embeddings.assign(np.ones((30522, 16), "float32"))
    ids = {"input_ids": np.array([[101, 2000, 102]], np.int32)}
    np.testing.assert_allclose(discriminator(ids)["sequence_output"], qa_model(ids)["sequence_output"], atol=1e-6)


def _head_name_comparisons(tree: ast.AST, names: set[str]) -> list[int]:
    """Lines where a registered head name is compared as a string (==, !=, in, not in) or used as a dict key."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            strings = set()
            for operand in operands:
                if isinstance(operand, ast.Constant):
                    strings.add(operand.value)
                elif isinstance(operand, (ast.Tuple, ast.List, ast.Set)):
                    strings |= {e.value for e in operand.elts if isinstance(e, ast.Constant)}
            if strings & names:
                lines.append(node.lineno)
        elif isinstance(node, ast.Dict):
            if {k.value for k in node.keys if isinstance(k, ast.Constant)} & names:
                lines.append(node.lineno)
    return lines


def test_no_head_name_is_compared_outside_the_heads_package():
    names = set(heads.REGISTRY)
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "heads" in path.relative_to(PACKAGE).parts:
            continue
        lines = _head_name_comparisons(ast.parse(path.read_text(encoding="utf-8")), names)
        if lines:
            found[str(path.relative_to(PACKAGE))] = lines
    assert found == {}


def test_the_check_finds_comparisons():
    """The AST check above is not vacuous: it flags the forms it looks for."""
    code = 'a == "joint"\nb in ("simple", "x")\n{"encoder": 1}\nc != "other"\n'
    assert _head_name_comparisons(ast.parse(code), set(heads.REGISTRY)) == [1, 2, 3]


def test_heads_and_scoring_import_no_keras():
    """Decoding and scoring run where Keras and TensorFlow cannot be imported (an ONNX Runtime or remote client)."""
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("keras", "tensorflow", "jax", "torch"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import numpy as np
        from electra_qa import heads, postprocess
        from electra_qa.features import Feature
        from electra_qa.settings import QASettings
        f = Feature(0, 0, np.arange(6, dtype=np.int32), np.zeros(6, np.int32),
                    np.array([0, 1, 1, 0, 0, 1], np.float32), 3, np.array([[0, 2], [3, 5]]), np.arange(2),
                    np.array([True, True]))
        out = {"start_logits": np.array([0, 0, 0, 3, 1, 0.]), "end_logits": np.array([0, 0, 0, 0, 2, 0.])}
        scored = postprocess.question_answers("ab cd", [f], [out], heads.SimpleHead(), QASettings(), 1)
        print(scored.answers[0].text)
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ab cd"
