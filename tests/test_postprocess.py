"""Scoring on hand-built windows and logits, against brute-force references written here: n-best spans, length
limits, max-context and p_mask filtering, the SQuAD 2.0 null decision for both heads, and the masked softmax."""

import math

import numpy as np
import pytest

from electra_qa.features import Feature
from electra_qa.heads import JointHead, SimpleHead
from electra_qa.postprocess import NO_SPAN, NULL_ANSWER, masked_softmax, question_answers
from electra_qa.settings import QASettings

CONTEXT = "alpha beta gamma delta epsilon"
SPANS = np.array([[0, 5], [6, 10], [11, 16], [17, 22], [23, 30]])
QUESTION_TOKENS = 2  # [CLS] q1 q2 [SEP] context... [SEP]
CS = 1 + QUESTION_TOKENS + 1


def _feature(is_max_context=(True,) * 5) -> Feature:
    n = CS + len(SPANS) + 1
    p_mask = np.ones(n, np.float32)
    p_mask[0] = 0
    p_mask[CS : CS + len(SPANS)] = 0
    types = np.zeros(n, np.int32)
    types[CS:] = 1
    return Feature(
        0,
        0,
        np.arange(n, dtype=np.int32),
        types,
        p_mask,
        CS,
        SPANS.copy(),
        np.arange(len(SPANS)),
        np.array(is_max_context),
    )


def _reference_simple(feature, start, end, n_best, max_len):
    """Every allowed (s, e) pair among the n_best starts and ends, best summed logit first, unique texts, softmax."""
    n = feature.length
    starts = sorted(range(n), key=lambda i: -start[i])[:n_best]
    ends = sorted(range(n), key=lambda i: -end[i])[:n_best]
    spans = []
    for s in starts:
        for e in ends:
            inside = CS <= s < CS + len(SPANS) and CS <= e < CS + len(SPANS)
            if inside and feature.is_max_context[s - CS] and s <= e and e - s + 1 <= max_len:
                spans.append((start[s] + end[e], SPANS[s - CS][0], SPANS[e - CS][1]))
    spans.sort(key=lambda t: -t[0])
    kept, seen = [], set()
    for score, a, b in spans:
        if CONTEXT[a:b] not in seen and len(kept) < n_best:
            seen.add(CONTEXT[a:b])
            kept.append((score, a, b))
    total = sum(math.exp(s - kept[0][0]) for s, _, _ in kept)
    return [(CONTEXT[a:b], math.exp(s - kept[0][0]) / total) for s, a, b in kept]


@pytest.mark.parametrize("n_best, max_len", [(20, 30), (3, 30), (20, 2), (5, 1)])
def test_simple_head_n_best_matches_brute_force(n_best, max_len):
    rng = np.random.default_rng(n_best * 10 + max_len)
    feature = _feature()
    start, end = rng.normal(size=feature.length), rng.normal(size=feature.length)
    settings = QASettings(n_best_size=n_best, max_answer_length=max_len)
    scored = question_answers(
        CONTEXT, [feature], [{"start_logits": start, "end_logits": end}], SimpleHead(), settings, n_best
    )
    expected = _reference_simple(feature, start, end, n_best, max_len)
    assert expected  # each case has spans to rank
    assert [a.text for a in scored.answers] == [t for t, _ in expected]
    np.testing.assert_allclose([a.score for a in scored.answers], [p for _, p in expected], rtol=1e-12)
    assert all(len(a.text.split()) <= max_len for a in scored.answers)
    assert sum(a.score for a in scored.answers) == pytest.approx(1.0, abs=1e-12)


def test_spans_start_only_where_the_window_gives_the_token_its_most_context():
    feature = _feature(is_max_context=(False, True, True, True, True))
    start = np.zeros(feature.length)
    start[CS] = 10.0  # "alpha", but another window owns it
    start[CS + 1] = 1.0
    end = np.zeros(feature.length)
    end[CS + 1] = 5.0
    best = question_answers(
        CONTEXT, [feature], [{"start_logits": start, "end_logits": end}], SimpleHead(), QASettings(), 1
    ).answers[0]
    assert best.text == "beta" and (best.start, best.end) == (6, 10)


def test_no_allowed_span_gives_an_empty_answer_with_its_reason():
    feature = _feature(is_max_context=(False,) * 5)
    out = {"start_logits": np.zeros(feature.length), "end_logits": np.zeros(feature.length)}
    answer = question_answers(CONTEXT, [feature], [out], SimpleHead(), QASettings(), 1).answers[0]
    assert (answer.text, answer.start, answer.end, answer.reason) == ("", 0, 0, NO_SPAN) and not answer


@pytest.mark.parametrize("null_logit, threshold, abstains", [(5.0, 0.0, True), (5.0, 4.0, False), (1.0, 0.0, False)])
def test_simple_head_null_decision(null_logit, threshold, abstains):
    """Null odds = [CLS] start + end logit minus the best span's summed logits; abstain above the threshold."""
    feature = _feature()
    start, end = np.zeros(feature.length), np.zeros(feature.length)
    start[0] = end[0] = null_logit / 2
    start[CS + 2], end[CS + 3] = 2.0, 1.5  # "gamma delta": 3.5
    out = {"start_logits": start, "end_logits": end}
    settings = QASettings(version_2_with_negative=True, null_score_diff_threshold=threshold)
    scored = question_answers(CONTEXT, [feature], [out], SimpleHead(), settings, 3)
    assert scored.null_odds == pytest.approx(null_logit - 3.5)
    assert (scored.answers[0].reason == NULL_ANSWER) is abstains
    assert [a.text for a in scored.answers if a][0] == "gamma delta"


def _joint_out(starts, start_lp, ends, end_lp, cls=0.0):
    return {
        "start_top_index": np.array(starts),
        "start_top_log_probs": np.array(start_lp, float),
        "end_top_index": np.array(ends),
        "end_top_log_probs": np.array(end_lp, float),
        "cls_logits": np.float32(cls),
    }


def test_joint_head_pairs_each_start_beam_with_its_own_end_beam():
    """``end_top_*[i * k + j]`` is the j-th end for the i-th start; a pair ending before its start is dropped."""
    feature = _feature()
    out = _joint_out([CS + 1, CS + 3], [-0.1, -0.5], [CS + 2, CS + 4, CS + 1, CS + 3], [-0.2, -0.9, -0.3, -0.4])
    scored = question_answers(CONTEXT, [feature], [out], JointHead(beam_size=2), QASettings(), 20)
    # start beta (-0.1) with ends gamma (-0.2), epsilon (-0.9); start delta (-0.5) with beta (dropped), delta (-0.4)
    expected = [("beta gamma", -0.3), ("delta", -0.9), ("beta gamma delta epsilon", -1.0)]
    assert [a.text for a in scored.answers] == [t for t, _ in expected]
    weights = np.exp([s for _, s in expected])
    np.testing.assert_allclose([a.score for a in scored.answers], weights / weights.sum(), rtol=1e-12)
    assert [(a.start_logit, a.end_logit) for a in scored.answers][0] == pytest.approx((-0.1, -0.2))


@pytest.mark.parametrize("cls, abstains", [(0.7, True), (-0.7, False)])
def test_joint_head_null_decision_reads_the_answer_class_logit(cls, abstains):
    """SQuAD 2.0 joint head: the null score is the smallest cls_logits over windows, compared with the threshold."""
    feature = _feature()
    outs = [_joint_out([CS], [-0.1], [CS + 1], [-0.2], cls=cls), _joint_out([CS], [-0.1], [CS + 1], [-0.2], cls=9.0)]
    settings = QASettings(version_2_with_negative=True, null_score_diff_threshold=0.0)
    scored = question_answers(CONTEXT, [feature, feature], outs, JointHead(version_2=True), settings, 2)
    assert scored.null_odds == pytest.approx(cls)
    assert (scored.answers[0].reason == NULL_ANSWER) is abstains


def test_without_squad_2_scoring_there_is_no_null_answer():
    feature = _feature()
    scored = question_answers(
        CONTEXT,
        [feature],
        [_joint_out([CS], [-0.1], [CS], [-0.2], cls=50.0)],
        JointHead(),
        QASettings(version_2_with_negative=False),
        1,
    )
    assert scored.answers[0].text == "alpha" and scored.null_odds is None


def test_masked_softmax_against_float64_reference():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=12).astype(np.float32) * 4
    allowed = rng.random(12) < 0.6
    allowed[0] = True
    ref = np.zeros(12)
    ex = np.exp(logits[allowed].astype(np.float64) - logits[allowed].max())
    ref[allowed] = ex / ex.sum()
    np.testing.assert_allclose(masked_softmax(logits, allowed), ref, rtol=1e-12, atol=0)
    hf = masked_softmax(logits, allowed, fill=-10000.0, dtype=np.float32)
    assert hf.dtype == np.float32 and np.allclose(hf, ref, atol=1e-6)


def test_allowed_spans_is_span_allowed_for_every_pair():
    """The vectorized span filter the simple head uses equals the per-pair rule the joint head uses, on random
    windows (max-context flags, p_mask, a window with no context tokens)."""
    from electra_qa.heads.base import allowed_spans, span_allowed

    rng = np.random.default_rng(0)
    for trial in range(200):
        window = 0 if trial % 20 == 0 else int(rng.integers(1, 12))
        cs = int(rng.integers(1, 5))
        n = cs + window + 1
        p_mask = (rng.random(n) < 0.2).astype(np.float32)
        feature = Feature(
            0,
            0,
            np.arange(n, dtype=np.int32),
            np.zeros(n, np.int32),
            p_mask,
            cs,
            np.zeros((window, 2), np.int64),
            np.arange(window),
            rng.random(window) < 0.7,
        )
        starts, ends = rng.permutation(n)[: int(rng.integers(1, n + 1))], rng.permutation(n)
        max_len = int(rng.integers(1, 6))
        want = [[span_allowed(feature, int(s), int(e), max_len) for e in ends] for s in starts]
        assert allowed_spans(feature, starts, ends, max_len).tolist() == want
