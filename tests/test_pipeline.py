"""Pipeline behaviour without shared data: a tiny random model and a vocab made here."""

import string

import numpy as np
import pytest
from conftest import same_answers, tiny_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electra_qa import ElectraForQuestionAnswering, InputError, QuestionAnswerer, load_tokenizer

WORDS = ["the", "river", "bridge", "was", "built", "in", "town", "who", "what", "when", "cafe", "paris", "##ed"]


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation) + ["中", "文", "é"]
    tokens += chars + ["##" + c for c in string.ascii_lowercase + string.digits] + WORDS
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return path


def _qa(vocab, head="joint", **kwargs):
    tok = load_tokenizer(vocab)
    cfg = tiny_config(tok.vocab_size)
    model = ElectraForQuestionAnswering(cfg, head=head)
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(0, 0.5, size=v.shape).astype("float32"))
    return QuestionAnswerer(model, tok, max_seq_length=48, doc_stride=16, max_query_length=12, **kwargs)


@pytest.fixture(scope="module")
def joint(vocab):
    return _qa(vocab, "joint")


@pytest.fixture(scope="module")
def simple(vocab):
    return _qa(vocab, "simple")


texts = st.text(
    alphabet=st.sampled_from(list("abcdé xyz.,\t\n  中文Ünï0123-—'\"") + ["\u00a0", "\u202f", "\u200b"]),
    min_size=1,
    max_size=300,
).filter(lambda s: s.strip())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(context=texts)
def test_answer_is_always_an_exact_substring(joint, simple, context):
    for qa in (joint, simple):
        for a in qa("what was built?", context, top_k=3):
            assert a.text == context[a.start : a.end]
            assert 0 <= a.start <= a.end <= len(context)
            if not a.is_empty:
                assert a.text.strip() and 0 < a.score <= 1


def test_long_context_spans_many_windows(joint):
    context = " ".join(["the river bridge was built in town"] * 120)
    features = joint.features([("when was it built?", context)])[0]
    assert len(features) > 40
    a = joint("when was it built?", context)
    assert a.text == context[a.start : a.end] and a.text


def test_top_k_sorted_and_consistent(joint, simple):
    context = "the river bridge was built in 1610 in the town of paris, cafe owners said."
    for qa in (joint, simple):
        top = qa("when was the bridge built?", context, top_k=5)
        assert 1 <= len(top) <= 5
        assert [a.score for a in top] == sorted((a.score for a in top), reverse=True)
        assert len({a.text for a in top}) == len(top)
        assert same_answers(top[0], qa("when was the bridge built?", context))  # eager vs compiled: float rounding


def test_batch_equals_one_by_one(joint, simple):
    pairs = [
        ("who built it?", "the town built the bridge."),
        ("what?", " ".join(["river town"] * 60)),
        ("when?", "in 1610."),
        ("where is the cafe?", "the cafe is in paris, by the river."),
    ]
    for qa in (joint, simple):
        together = qa.batch(pairs, batch_size=3, top_k=2)
        for (q, c), got in zip(pairs, together):
            single = qa(q, c, top_k=2)
            assert [a.text for a in got] == [a.text for a in single]
            np.testing.assert_allclose([a.score for a in got], [a.score for a in single], rtol=1e-4)


def test_no_surviving_span_gives_an_empty_answer_with_a_reason(joint):
    a = joint("what?", "\u200b\u200b")  # only zero-width characters: no context tokens at all
    assert a.text == "" and a.is_empty and "no span" in a.reason and (a.start, a.end) == (0, 0)


@pytest.mark.parametrize(
    "question, context, words",
    [
        ("", "ctx", "question is empty"),
        ("q", "   ", "context is empty"),
        (3, "ctx", "question must be a string"),
        ("q", None, "context must be a string"),
    ],
)
def test_bad_input_raises_input_error(joint, question, context, words):
    with pytest.raises(InputError, match=words):
        joint(question, context)
    assert issubclass(InputError, ValueError)


def test_bad_top_k(joint):
    with pytest.raises(InputError, match="top_k"):
        joint("q", "c", top_k=0)


def test_vocab_that_does_not_fit_the_model(vocab):
    tok = load_tokenizer(vocab)
    cfg = tiny_config(50)
    with pytest.raises(InputError, match="vocabulary does not fit the checkpoint.*50 rows"):
        QuestionAnswerer(ElectraForQuestionAnswering(cfg), tok)


def test_question_too_long_for_the_window(vocab):
    # Issue 15: a query budget that could leave no room for context is cut once, at construction (it used to fail
    # per question with "leaves no room for context").
    tok = load_tokenizer(vocab)
    cfg = tiny_config(tok.vocab_size)
    qa = QuestionAnswerer(ElectraForQuestionAnswering(cfg), tok, max_seq_length=48, max_query_length=64)
    assert qa.max_query_length == 22
    a = qa(" ".join(["river"] * 60), "the town")
    assert a.text == "the town"[a.start : a.end]


def test_unreadable_vocab(tmp_path):
    with pytest.raises(InputError, match="cannot read vocab"):
        load_tokenizer(tmp_path / "missing.txt")
    (tmp_path / "v.txt").write_text("a\nb\n")
    with pytest.raises(InputError, match="no \\[UNK\\]"):
        load_tokenizer(tmp_path / "v.txt")


def test_compiled_shapes_are_bounded(monkeypatch):
    """Windows are padded to length buckets; on compile-per-shape backends batches are padded to powers of two."""
    import keras

    from electra_qa import runner

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert [runner.batch_rows(n) for n in (1, 2, 3, 5, 8, 9, 31, 32)] == [1, 2, 4, 8, 8, 16, 32, 32]
    assert {runner.bucket(n, 384) for n in range(1, 385)} == {64, 128, 192, 256, 320, 384}
    assert runner.bucket(300, 300) == 300
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")  # one shape-relaxed graph for any batch
    assert [runner.batch_rows(n) for n in (1, 3, 31)] == [1, 3, 31]


def test_hundred_thousand_word_context_is_just_more_windows(joint):
    """Windows cover every context token and each token has exactly one max-context window."""
    words = ["the", "river", "bridge", "was", "built", "in", "town", "by", "merchants", "1610"]
    context = " ".join(words[i % len(words)] for i in range(100_000))
    features = joint.features([("when was it built?", context)])[0]
    covered = np.zeros(len(context), bool)
    owners = {}
    for f in features:
        for (s, e), best in zip(f.char_spans, f.is_max_context):
            covered[s:e] = True
            if best:
                assert (s, e) not in owners
                owners[(s, e)] = f.window_index
    assert covered[[i for i, ch in enumerate(context) if ch != " "]].all()
    assert len(owners) == len({(int(s), int(e)) for f in features for s, e in f.char_spans})
    assert features[-1].char_spans[-1][1] == len(context)


def test_small_calls_run_eagerly_until_their_budget_is_spent(vocab, monkeypatch):
    """Compiling costs about as much as a few eager calls: small calls run op by op (padded only to a multiple of 8)
    until they have taken EAGER_BUDGET_S, then every call is compiled (length buckets). Both give the same answers."""
    from electra_qa import runner

    padded, compiled = [], []
    pad_batch = runner.pad_batch
    monkeypatch.setattr(
        runner, "pad_batch", lambda f, length, rows: padded.append(length) or pad_batch(f, length, rows)
    )
    qa = _qa(vocab, "simple")
    predict = qa.model.predict_on_batch
    monkeypatch.setattr(qa.model, "predict_on_batch", lambda x: compiled.append(x["input_ids"].shape) or predict(x))
    question, context = "who built the bridge?", "the bridge was built in paris by the river"
    length = qa.features([(question, context)])[0][0].length

    monkeypatch.setattr(runner, "EAGER_BUDGET_S", 1e9)
    eager = [qa(question, context, top_k=3) for _ in range(3)]
    assert compiled == [] and padded == [-(-length // 8) * 8] * 3 and length % 8
    monkeypatch.setattr(runner, "EAGER_BUDGET_S", 0.5)
    qa.runner.eager_seconds = 0.6  # spent
    graph = qa(question, context, top_k=3)
    assert compiled == [(1, 48)]  # the bucket (64) capped at max_seq_length
    monkeypatch.setattr(runner, "EAGER_BUDGET_S", 1e9)
    qa(question, context)
    assert len(compiled) == 2  # once compiled, always compiled
    assert [(a.start, a.end) for a in eager[0]] == [(a.start, a.end) for a in graph]
    np.testing.assert_allclose([a.score for a in eager[0]], [a.score for a in graph], rtol=1e-5)
