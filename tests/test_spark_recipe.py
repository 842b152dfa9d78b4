"""examples/spark_recipe.py: its batch function answers as qa.batch does and reports bad rows (always run), and the
whole recipe on a local Spark session (only where pyspark and a Java runtime are installed; CI has neither)."""

import importlib.util
import pathlib
import shutil
import sys

import numpy as np
import pytest
from conftest import fixture_dir

from electra_qa import QuestionAnswerer

RECIPE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "spark_recipe.py"
SETTINGS = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}
ROWS = [
    ("What food does Harry like?", "My name is Harry and I grew up in Canada. I love apples."),
    ("", "An empty question."),
    ("Who won?", "The Broncos won the game in February."),
]


def _recipe():
    spec = importlib.util.spec_from_file_location("spark_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(results, qa):
    assert results[1]["error"] and results[1]["answer"] == ""
    for i in (0, 2):
        want = qa(*ROWS[i])
        assert (results[i]["answer"], results[i]["start"], results[i]["end"]) == (want.text, want.start, want.end)
        assert abs(results[i]["score"] - want.score) < 1e-6 and results[i]["error"] is None


def test_the_batch_function_answers_as_qa_batch():
    folder = fixture_dir("ngc_tiny")
    predict = _recipe().make_answerer(str(folder), **SETTINGS)
    questions, contexts = (np.array(list(c), dtype=object) for c in zip(*ROWS))
    columns = predict(questions, contexts)
    rows = [{k: v[i] for k, v in columns.items()} for i in range(len(ROWS))]
    _check(rows, QuestionAnswerer.from_checkpoint(folder, **SETTINGS))


def test_the_recipe_on_a_local_spark_session(monkeypatch):
    pytest.importorskip("pyspark", reason="pyspark is not installed (the recipe's own dependency, not ours)")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    from pyspark.sql import SparkSession

    folder = fixture_dir("ngc_tiny")
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # Spark's Python workers: this environment's Python
    spark = SparkSession.builder.master("local[1]").appName("electra_qa_test").getOrCreate()
    try:
        df = spark.createDataFrame([(i, q, c) for i, (q, c) in enumerate(ROWS)], ["id", "question", "context"])
        out = df.withColumn("a", _recipe().answer_udf(str(folder), **SETTINGS)("question", "context"))
        rows = {r["id"]: r["a"].asDict() for r in out.select("id", "a").collect()}
    finally:
        spark.stop()
    _check([rows[i] for i in range(len(ROWS))], QuestionAnswerer.from_checkpoint(folder, **SETTINGS))
