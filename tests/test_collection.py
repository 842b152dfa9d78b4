"""Asking a collection: the document index (SQLite FTS5), passages that map back to their document, answers ranked
across documents with scores that depend on their own passage only, duplicates merged, exactly ``top_k`` answers."""

import json
import random
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import fixture_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electra_qa import DocumentIndex, InputError, Passage, QuestionAnswerer, calibrate
from electra_qa.calibration import (
    Calibration,
    Evidence,
    coverage,
    expected_calibration_error,
    fit,
    question_words,
    reliability_table,
)
from electra_qa.documents import Document, read_documents, split_passages
from electra_qa.index import fts_query

DOCS = [
    ("tesla", "Nikola Tesla was born in Smiljan in 1856. He moved to the United States in 1884 to work for Edison."),
    ("paris", "Paris is the capital of France. The Seine flows through Paris."),
    ("edison", "Thomas Edison invented the phonograph. Edison was born in Milan, Ohio, in 1847."),
    ("warsaw", "Warsaw is the capital of Poland. The Vistula flows through Warsaw."),
    ("apples", "Harry loves apples and pears. He grows apples in his garden in Canada."),
]
QUESTIONS = ["Where was Tesla born?", "What flows through Paris?", "Who invented the phonograph?", "Where is Warsaw?"]


@pytest.fixture(scope="module")
def qa():
    return QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), max_seq_length=64, doc_stride=24)


def _index(docs=DOCS, **kwargs):
    index = DocumentIndex(**kwargs)
    index.add(docs)
    return index


def _flat(results):
    return [[(a.doc_id, a.start, a.end, a.text) for a in r] for r in results]


# ------------------------------------------------------------------ the index


def test_search_ranks_by_bm25_and_ties_never_depend_on_insertion_order():
    forward, backward = _index(DOCS), _index(DOCS[::-1])
    for question in QUESTIONS + ["the", "capital flows"]:
        a, b = forward.search(question, 5), backward.search(question, 5)
        assert [(p.doc_id, p.number) for p in a] == [(p.doc_id, p.number) for p in b]
        np.testing.assert_allclose([p.score for p in a], [p.score for p in b], rtol=0, atol=1e-9)
    assert forward.search("Where was Tesla born?", 1)[0].doc_id == "tesla"


@pytest.mark.parametrize(
    "question",
    [
        '"unbalanced',
        "tesla AND",
        "OR paris",
        "NOT edison",
        "NEAR(tesla paris)",
        "tes*",
        "^tesla",
        "text:tesla",
        "((tesla",
        "tesla)",
        "a - b + c",
        "'; DROP TABLE documents; --",
        "\x00tesla",
        "NEAR(",
        ":",
        "*",
    ],
)
def test_questions_are_words_never_query_syntax(question):
    index = _index()
    found = index.search(question, 5)  # never an error
    words = {w.lower() for w in re.findall(r"\w+", question)}
    for p in found:  # never a changed meaning: every passage found holds one of the question's words
        assert words & {w.lower() for w in re.findall(r"\w+", p.text)} or not words
    assert len(index) == len(DOCS)  # and never a change to the index


def test_the_query_quotes_every_word():
    assert fts_query('Tesla "born" NEAR(x) AND') == '"tesla" OR "born" OR "near" OR "x" OR "and"'
    assert fts_query("?! ...") is None


def test_add_replace_remove_without_a_rebuild(tmp_path):
    index = _index(path=tmp_path / "docs.db")
    assert len(index) == 5 and "tesla" in index
    index.add([("tesla", "Tesla lived in New York.")])  # the same id replaces
    assert len(index) == 5 and index.get("tesla").text == "Tesla lived in New York."
    assert [p.doc_id for p in index.search("Smiljan", 5)] == []
    assert index.remove(["paris", "nowhere"]) == 1 and "paris" not in index
    assert index.search("Seine", 5) == []
    assert index.info()["passages"] == len(index) == 4


def test_a_failed_add_adds_nothing():
    index = _index()
    with pytest.raises(InputError, match="given twice"):
        index.add([("a", "one"), ("b", "two"), ("a", "three")])
    with pytest.raises(InputError, match="non-empty string"):
        index.add([("c", "fine"), ("", "no id")])
    assert len(index) == len(DOCS)


def test_documents_from_files_and_folders(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("Tesla was born in Smiljan.", encoding="utf-8")
    (tmp_path / "notes" / "b.md").write_text("# Paris\n\nParis is in France.", encoding="utf-8")
    (tmp_path / "rows.jsonl").write_text(json.dumps({"id": "r1", "text": "Warsaw is in Poland.", "year": 2020}) + "\n")
    (tmp_path / "rows.csv").write_text("id,text,source\nc1,Edison was born in Milan.,wiki\n", encoding="utf-8-sig")
    docs = list(read_documents([tmp_path / "notes", tmp_path / "rows.jsonl", str(tmp_path / "rows.csv")]))
    assert [d.id for d in docs] == ["a.txt", "b.md", "r1", "c1"]
    assert docs[2].metadata == {"year": 2020} and docs[3].metadata == {"source": "wiki"}
    assert list(read_documents(["A bare text.", {"id": 7, "text": "x"}]))[1].id == "7"
    with pytest.raises(InputError, match="documents come from"):
        list(read_documents(tmp_path / "rows.xlsx"))


def test_passages_overlap_and_point_into_their_document():
    text = "  ".join(f"w{i}é" for i in range(50)) + "\n\n end."
    passages = split_passages(Document("d", text), words=20, overlap=5)
    assert [p.number for p in passages] == [0, 1, 2, 3]
    for p in passages:
        assert text[p.start : p.start + len(p.text)] == p.text
    assert passages[1].text.split()[:5] == passages[0].text.split()[-5:]
    assert passages[-1].text.endswith("end.")
    assert split_passages(Document("e", "   \n ")) == []


def test_reopened_in_another_process_the_ranking_is_the_same(tmp_path):
    path = tmp_path / "docs.db"
    with _index(path=path) as index:
        here = [[(p.doc_id, p.number, p.score) for p in index.search(q, 5)] for q in QUESTIONS]
    code = textwrap.dedent(f"""
        import json
        from electra_qa.index import DocumentIndex
        index = DocumentIndex({str(path)!r}, read_only=True)
        print(json.dumps([[(p.doc_id, p.number, p.score) for p in index.search(q, 5)] for q in {QUESTIONS!r}]))
    """)
    there = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert [[(d, n) for d, n, _ in r] for r in there] == [[(d, n) for d, n, _ in r] for r in here]
    np.testing.assert_allclose([s for r in there for *_, s in r], [s for r in here for *_, s in r], atol=1e-9)


def test_readers_while_a_writer_adds(tmp_path):
    path = tmp_path / "docs.db"
    writer = _index(path=path)
    reader = DocumentIndex(path, read_only=True)
    with writer._db:  # a write transaction in progress
        writer._insert(Document("late", "Tesla also lived in Colorado Springs."))
        assert len(reader) == len(DOCS)  # the reader sees the last committed state, and is not blocked
    assert len(reader) == len(DOCS) + 1
    with pytest.raises(InputError, match="read-only"):
        reader.add(["x"])


def test_files_that_are_not_an_index(tmp_path):
    (tmp_path / "x.db").write_text("not sqlite")
    with pytest.raises(InputError, match="not a usable document index"):
        DocumentIndex(tmp_path / "x.db")
    with pytest.raises(InputError, match="is a folder"):
        DocumentIndex(tmp_path)
    _index(path=tmp_path / "docs.db").close()
    with pytest.raises(InputError, match="passages of 150 words"):
        DocumentIndex(tmp_path / "docs.db", passage_words=50)


# ------------------------------------------------------------------ asking


def test_answers_point_into_the_original_documents(qa):
    result = qa.ask("Where was Tesla born?", _index(), top_k=5)
    texts = dict(DOCS)
    assert 1 <= len(result) <= 5
    for a in result:
        assert texts[a.doc_id][a.start : a.end] == a.text and a.text
        assert a.passage.doc_id == a.doc_id and 0 <= a.score <= 1
    assert result.no_answer_score == pytest.approx(1 - result[0].score)
    assert [a.score for a in result] == sorted((a.score for a in result), reverse=True)


def test_shuffled_documents_give_the_identical_answer_list(qa):
    shuffled = list(DOCS)
    random.Random(3).shuffle(shuffled)
    a = qa.ask_batch(QUESTIONS, _index(DOCS), top_k=4)
    b = qa.ask_batch(QUESTIONS, _index(shuffled), top_k=4)
    assert _flat(a) == _flat(b)
    np.testing.assert_allclose([x.score for r in a for x in r], [x.score for r in b for x in r], rtol=0, atol=1e-6)


def test_an_unrelated_document_changes_no_other_answers_score(qa):
    before = qa.ask_batch(QUESTIONS, _index(DOCS), top_k=500, retrieve_k=20)
    unrelated = ("ocean", "The Pacific Ocean is the largest ocean. Tesla coils hum; Paris, Warsaw and Edison appear.")
    after = qa.ask_batch(QUESTIONS, _index(DOCS + [unrelated]), top_k=500, retrieve_k=20)
    assert any(x.doc_id == "ocean" for r in after for x in r)  # it was retrieved and read
    for b, a in zip(before, after):
        old = {(x.doc_id, x.start, x.end): x.score for x in b}
        new = {(x.doc_id, x.start, x.end): x.score for x in a if x.doc_id != "ocean"}
        assert old.keys() == new.keys()
        assert max(abs(old[k] - new[k]) for k in old) < 1e-5


def test_batch_size_one_and_sixty_four_agree(qa):
    one = qa.ask_batch(QUESTIONS, _index(), top_k=3, batch_size=1)
    many = qa.ask_batch(QUESTIONS, _index(), top_k=3, batch_size=64)
    assert _flat(one) == _flat(many)
    np.testing.assert_allclose([x.score for r in one for x in r], [x.score for r in many for x in r], atol=1e-5)


def test_overlapping_spans_of_one_document_appear_once(qa):
    long_text = " ".join(f"Sentence {i} says that Tesla was born in Smiljan in the year 1856." for i in range(30))
    index = DocumentIndex(passage_words=40, passage_overlap=20)  # every word is in two passages, read in 3 windows
    index.add([("long", long_text)])
    result = qa.ask("Where was Tesla born?", index, top_k=50)
    spans = sorted((a.start, a.end) for a in result)
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert e1 <= s2, f"overlapping answers {s1}:{e1} and {s2}:{e2}"
    assert all(long_text[a.start : a.end] == a.text for a in result)


def test_exactly_min_of_top_k_and_the_candidates(qa):
    index = _index()
    question = "Where is the capital, who was born, what flows?"
    everything = qa.ask(question, index, top_k=1000)
    assert len(everything) == len({(a.doc_id, a.start, a.end) for a in everything}) > 3
    for k in (1, 3, len(everything), len(everything) + 5):
        result = qa.ask(question, index, top_k=k)
        assert len(result) == min(k, len(everything))
        assert _flat([result]) == _flat([everything[:k]])  # the best k of them, in the same order
    assert len(qa.ask("zzz qqq", index, top_k=3)) == 0  # nothing retrieved: no answer
    assert qa.ask("zzz qqq", index, top_k=3).no_answer_score == 1.0


def test_min_score_returns_nothing_rather_than_a_weak_answer(qa):
    qa2 = QuestionAnswerer(qa.model, qa.tokenizer, qa.settings, calibration=Calibration(-50.0))
    assert len(qa2.ask("Where was Tesla born?", _index(), min_score=0.5)) == 0
    assert len(qa2.ask("Where was Tesla born?", _index())) >= 1  # without min_score: the answers, scored low


def test_documents_may_be_given_directly_and_retrievers_plugged_in(qa):
    direct = qa.ask("Where was Tesla born?", DOCS, top_k=2)
    assert _flat([direct]) == _flat([qa.ask("Where was Tesla born?", _index(), top_k=2)])

    class Mine:  # the Retriever protocol: any search
        def retrieve(self, question, k):
            return [Passage("tesla", 0, 0, DOCS[0][1], score=1.0)]

    result = qa.ask("Where was Tesla born?", Mine(), top_k=3)
    assert {a.doc_id for a in result} == {"tesla"} and all(a.retrieval_score == 1.0 for a in result)

    class Broken:
        def retrieve(self, question, k):
            return ["not a passage"]

    with pytest.raises(InputError, match="must return a list of"):
        qa.ask("Where?", Broken())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(st.text(alphabet=st.sampled_from("aéßЖ中😀b1"), min_size=1, max_size=6), min_size=1, max_size=60),
    gaps=st.lists(st.sampled_from([" ", "  ", "\n", "\t \n", "\u3000", " \u00a0 "]), min_size=60, max_size=60),
)
def test_offsets_into_multibyte_and_whitespace_heavy_documents(qa, words, gaps):
    text = "\n " + "".join(w + g for w, g in zip(words, gaps))
    index = DocumentIndex(passage_words=12, passage_overlap=4)
    index.add([("d", text)])
    result = qa.ask(" ".join(words[:3]) + "?", index, top_k=5)
    for a in result:
        assert text[a.start : a.end] == a.text


# ------------------------------------------------------------------ calibration


def _evidence(rng, n):
    return [
        Evidence(s, z, lp, po, so)
        for s, z, lp, po, so in zip(
            rng.normal(8, 3, n), rng.normal(0, 2, n), -rng.exponential(1, n), rng.random(n), rng.random(n)
        )
    ]


def test_the_fit_recovers_known_parameters():
    """Against a known logistic model: labels drawn from it, the fit finds its weights (float64 Newton steps)."""
    rng = np.random.default_rng(0)
    evidence = _evidence(rng, 30000)
    truth = Calibration(-3.0, span=0.2, margin=0.5, local=0.3, passage_overlap=-1.0, span_overlap=1.5)
    p = np.array([truth.probability(e) for e in evidence])
    y = rng.random(len(p)) < p
    got = fit(evidence, y, l2=0.0)
    np.testing.assert_allclose([got.bias, *got.weights], [truth.bias, *truth.weights], atol=0.2)
    assert expected_calibration_error(p, y) < 0.02  # the true probabilities are calibrated
    assert expected_calibration_error(np.clip(p + 0.3, 0, 1), y) > 0.1  # shifted ones are not
    rows = reliability_table(p, y, bins=10)
    assert sum(r["count"] for r in rows) == len(p)
    assert all(r["low"] <= r["mean_score"] <= r["high"] for r in rows if r["count"])


def test_the_probability_against_float64():
    c = Calibration(-1.5, span=0.1, margin=0.3, local=0.2, passage_overlap=0.4, span_overlap=0.5)
    e = Evidence(9.0, 1.0, -0.7, 0.5, 0.25)
    z = -1.5 + 0.1 * 9.0 + 0.3 * 8.0 + 0.2 * -0.7 + 0.4 * 0.5 + 0.5 * 0.25
    assert c.probability(e) == pytest.approx(1 / (1 + np.exp(-z)), abs=1e-15)
    assert Calibration(-800.0).probability(e) == 0.0 and Calibration(800.0).probability(e) == 1.0  # no overflow
    assert Calibration.from_dict(c.to_dict()) == c


def test_question_words_and_coverage():
    words = question_words("Where was Nikola Tesla born?")
    assert words == {"nikola", "tesla", "born"}
    assert coverage(words, "Tesla was born in Smiljan.") == pytest.approx(2 / 3)
    assert question_words("What is it?") == {"what", "is", "it"}  # only function words: keep them


def test_fit_refuses_what_it_cannot_learn():
    e = _evidence(np.random.default_rng(1), 20)
    with pytest.raises(InputError, match="right and wrong"):
        fit(e, [True] * 20)
    with pytest.raises(InputError, match="finite"):
        Calibration(float("nan"))
    with pytest.raises(InputError, match="a calibration is a dict"):
        Calibration.from_dict({"bias": 0.0, "bogus": 1.0})


def test_calibrate_on_real_squad_questions_then_save_and_reload(tmp_path):
    """The trained MiniLM model of ../shared/models on 40 questions of article 30 (which it has not seen), asked
    against that article's paragraphs: the fit has right and wrong answers to learn from, and travels with the
    model through save, load and pickle."""
    import pickle

    model = fixture_dir("ngc_tiny").parent.parent / "models" / "minilm-squad-0-29"
    if not model.is_dir():
        pytest.skip(f"{model} is absent")
    squad = json.loads((model.parent.parent / "squad" / "dev-v1.1-a.json").read_text(encoding="utf-8"))
    article = squad["data"][30]
    records = [
        {"id": q["id"], "question": q["question"], "context": p["context"], "answers": q["answers"]}
        for p in article["paragraphs"][:12]
        for q in p["qas"]
    ][:40]
    qa = QuestionAnswerer.from_checkpoint(model, max_seq_length=192)
    fitted = calibrate(qa, records, top_k=3)
    assert len(records) == 40 and qa.calibration == fitted and fitted.fitted_on.startswith("40 questions")
    assert fitted.margin > 0  # a span far above its passage's null score is more often right
    folder = qa.save(tmp_path / "saved")
    reloaded = QuestionAnswerer.from_checkpoint(folder)
    assert reloaded.calibration == fitted
    assert pickle.loads(pickle.dumps(reloaded)).calibration == fitted


# ------------------------------------------------------------------ command line, files of questions, Ray


def test_cli_index_ask_and_batch(tmp_path, capsys):
    from electra_qa.cli import main

    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in DOCS))
    db, folder = str(tmp_path / "docs.db"), str(fixture_dir("ngc_tiny"))
    assert main(["index", db, "add", str(tmp_path / "docs.jsonl")]) == 0
    assert "added 5 documents" in capsys.readouterr().out
    assert main(["index", db, "remove", "paris"]) == 0 and "removed 1" in capsys.readouterr().out
    assert main(["index", db, "info"]) == 0 and "documents         4" in capsys.readouterr().out
    assert main(["ask", db, "Where was Tesla born?", "--checkpoint", folder, "--max-seq-length", "64", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 1 <= len(result["answers"]) <= 5
    assert all(dict(DOCS)[a["doc_id"]][a["start"] : a["end"]] == a["text"] for a in result["answers"])
    rows = tmp_path / "questions.jsonl"
    rows.write_text("".join(json.dumps({"id": f"q{i}", "question": q}) + "\n" for i, q in enumerate(QUESTIONS)))
    out = tmp_path / "answers.jsonl"
    argv = ["batch", str(rows), str(out), "--index", db, "--checkpoint", folder, "--max-seq-length", "64"]
    assert main([*argv, "--top-k", "2", "--no-progress"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["q0", "q1", "q2", "q3"]
    for r in lines:
        assert dict(DOCS)[r["doc_id"]][r["start"] : r["end"]] == r["answer"] and 1 <= len(r["top_k"]) <= 2
    assert main(["ask", str(tmp_path / "missing.db"), "Who?", "--checkpoint", folder]) == 2
    assert "no index file" in capsys.readouterr().err


def test_module_level_ask_uses_the_model_cache(qa):
    from electra_qa import ask

    result = ask("Where was Tesla born?", DOCS, checkpoint=fixture_dir("ngc_tiny"), max_seq_length=64, doc_stride=24)
    expected = qa.ask("Where was Tesla born?", DOCS)
    assert _flat([result]) == _flat([expected])


def test_ray_actors_read_the_index_file(tmp_path, qa):
    from electra_qa.ray import Answerer

    db = tmp_path / "docs.db"
    _index(path=db).close()
    actor = Answerer(str(fixture_dir("ngc_tiny")), index=str(db), top_k=2, max_seq_length=64, doc_stride=24)
    batch = {"question": np.array(QUESTIONS + [""], dtype=object)}
    out = actor(batch)
    assert out["error"][-1] and all(e is None for e in out["error"][:-1])
    expected = qa.ask_batch(QUESTIONS, _index(), top_k=2)
    assert list(out["answer"][:-1]) == [r[0].text for r in expected]
    assert list(out["doc_id"][:-1]) == [r[0].doc_id for r in expected]
