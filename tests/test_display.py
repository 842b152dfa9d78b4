"""Notebook display and explanations: escaped HTML, the highlighted text equals context[start:end], trimming keeps
the answer, top-k tables, summaries, and ``explain`` probabilities (per-window sums, argmax vs the best answer)."""

import html
import re

import numpy as np
import pytest
from conftest import fixture_dir

from electra_qa import QuestionAnswerer, inspect_checkpoint
from electra_qa.display import CONTEXT_CHARS
from electra_qa.postprocess import Answer, Answers

DEMO = ("What food does Harry like?", "My name is Harry and I grew up in Canada. I love apples.")


@pytest.fixture(scope="module")
def qa():
    return QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny_simple"))


def _marked(markup: str) -> str:
    return html.unescape(re.search(r"<mark[^>]*>(.*?)</mark>", markup, re.S).group(1))


def test_answer_html_escapes_and_highlights_exactly_the_span():
    context = "Before <script>alert('x')</script> the answer & more after it."
    start = context.index("the answer")
    answer = Answer("the answer", start, start + 10, 0.5, context=context)
    markup = answer._repr_html_()
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert _marked(markup) == context[answer.start : answer.end]
    assert "0.500" in markup


def test_long_contexts_are_trimmed_around_the_answer():
    context = "word " * 400 + "ANSWER HERE" + " tail" * 400
    start = context.index("ANSWER HERE")
    markup = Answer("ANSWER HERE", start, start + 11, 0.9, context=context)._repr_html_()
    assert _marked(markup) == "ANSWER HERE"
    assert markup.count("&hellip;") == 2 and len(markup) < len(context) // 2 + CONTEXT_CHARS + 600
    edge = Answer("word", 0, 4, 0.9, context=context)._repr_html_()
    assert _marked(edge) == "word" and edge.count("&hellip;") == 1  # nothing cut on the left


def test_empty_answer_says_why():
    markup = Answer("", 0, 0, 1.0, "the model's null score <says> no", context="x")._repr_html_()
    assert "No answer" in markup and "&lt;says&gt;" in markup


def test_answers_from_the_pipeline_know_their_context(qa):
    answer = qa(*DEMO)
    assert answer.context == DEMO[1] and _marked(answer._repr_html_()) == DEMO[1][answer.start : answer.end]
    assert "context" not in answer.to_dict() and "context" not in repr(answer)
    top = qa(*DEMO, top_k=3)
    assert isinstance(top, Answers) and isinstance(top, list) and len(top) == 3
    table = top._repr_html_()
    assert table.count("<tr>") == 4 and html.escape(top[0].text) in table


def test_question_answerer_summary(qa):
    text = repr(qa)
    for expected in (
        "ngc_tiny_simple (tf)",
        "simple",
        "2 layers, hidden 32",
        "parameters:",
        "float32",
        "max_seq_length",
        "n_best_size 20",
    ):
        assert expected in text, expected
    assert "<table>" in qa._repr_html_() and "2 layers, hidden 32" in qa._repr_html_()


def test_inspect_checkpoint_text_and_table():
    info = inspect_checkpoint(fixture_dir("ngc_tiny"))
    assert repr(info) == info.summary() and repr(info).startswith("path:")
    markup = info._repr_html_()
    assert "<table>" in markup and "joint" in markup and "yes" in markup


def test_explain_probabilities_sum_to_one_per_window_and_merge_by_max(qa):
    question = "What is the answer?"
    context = " ".join(["Paris is the capital and largest city of France."] * 12)
    e = qa.explain(question, context)
    assert len(e.windows) > 1  # a long context: several windows
    for w in e.windows:
        assert abs(w.start.sum() - 1) < 1e-9 and abs(w.end.sum() - 1) < 1e-9
    assert len(e.tokens) == len(e.start) == len(e.end) == len(qa.tokenizer.encode(context).ids)
    offsets = np.asarray(qa.tokenizer.encode(context).offsets).reshape(-1, 2)
    np.testing.assert_array_equal(e.spans, offsets)  # the windows' spans, gathered, are the tokenizer's
    assert "".join(e.tokens) == context.replace(" ", "") and np.all((e.start >= 0) & (e.start <= 1))
    assert "<span" in e._repr_html_() and "&lt;" not in e.question


def test_explain_argmax_matches_the_best_simple_answer_in_one_window(qa):
    """Where the likeliest start and end tokens make a valid span (end not before start, short enough), that span
    is the simple head's best answer (its score is start + end logit). Random weights: not every question has one,
    so the fixture's questions are searched and at least one is required."""
    from electra_qa import load_squad

    examples = load_squad(fixture_dir("ngc_tiny_simple") / "squad_dev.json").examples
    pairs = [DEMO] + [(x.question, x.context[:n]) for x in examples for n in (100, 140, 180)]
    checked = 0
    for question, context in pairs:
        e = qa.explain(question, context)
        s, t = int(np.argmax(e.start)), int(np.argmax(e.end))
        if len(e.windows) != 1 or not 0 <= t - s < qa.settings.max_answer_length:
            continue
        best = qa(question, context)
        assert e.best_span() == (best.start, best.end), question
        checked += 1
    assert checked >= 1


def test_explain_joint_head():
    joint = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"))
    e = joint.explain(*DEMO)
    assert e.head == "joint" and abs(e.windows[0].end.sum() - 1) < 1e-9
    best = joint(*DEMO)
    assert e.spans[int(np.argmax(e.start)), 0] == best.start  # the joint answer starts at the likeliest start


def test_explain_plot(qa):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ax = qa.explain(*DEMO).plot()
    assert len(ax.patches) == 2 * len(qa.explain(*DEMO).tokens)
