"""Answering a Spark DataFrame of questions with electra_qa (a recipe; Spark is not a dependency of the library).

    pip install pyspark            # needs a Java runtime (17 or newer)
    python examples/spark_recipe.py MODEL_FOLDER questions.jsonl answers_folder

``predict_batch_udf`` (pyspark.ml.functions) calls ``make_answerer`` once per Python worker process and caches the
function it returns, so the model is loaded once per worker from MODEL_FOLDER (a path every executor can read);
then each Arrow batch of rows is answered with its windows run through the model together. Rows whose question or
context is empty get an empty answer and an ``error``.
"""

from __future__ import annotations

import os
import sys

import numpy as np

ANSWER_FIELDS = (("answer", "string"), ("start", "int"), ("end", "int"), ("score", "double"), ("error", "string"))


def make_answerer(model_folder: str, **settings):
    """What ``predict_batch_udf`` calls once per worker: load the model, return the batch function."""
    from electra_qa import InputError, QuestionAnswerer

    qa = QuestionAnswerer.from_checkpoint(model_folder, **settings).warm_up()

    def answer_batch(questions: np.ndarray, contexts: np.ndarray) -> dict[str, np.ndarray]:
        """One Arrow batch: a column per answer field (what predict_batch_udf takes for a struct)."""
        rows = []
        ok = [
            isinstance(q, str) and isinstance(c, str) and bool(q.strip()) and bool(c.strip())
            for q, c in zip(questions, contexts)
        ]
        good = [(q, c) for q, c, k in zip(questions, contexts, ok) if k]
        try:
            answers, problem = iter(qa.batch(good) if good else []), None
        except InputError as e:  # a problem the cheap check above did not catch: reported on every row
            answers, problem = iter([]), str(e)
        for k in ok:
            a = next(answers) if k and problem is None else None
            rows.append(
                (a.text, a.start, a.end, a.score, None)
                if a
                else ("", 0, 0, 0.0, problem or "empty or missing question or context")
            )
        columns = list(zip(*rows)) if rows else [[]] * 5
        kinds = (object, np.int32, np.int32, np.float64, object)
        return {name: np.array(col, dtype=kind) for (name, _), col, kind in zip(ANSWER_FIELDS, columns, kinds)}

    return answer_batch


def answer_udf(model_folder: str, batch_size: int = 64, **settings):
    """A Spark column function: ``df.withColumn("a", answer_udf(folder)("question", "context"))``."""
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

    types = {"string": StringType(), "int": IntegerType(), "double": DoubleType()}
    schema = StructType([StructField(name, types[kind]) for name, kind in ANSWER_FIELDS])
    return predict_batch_udf(lambda: make_answerer(model_folder, **settings), return_type=schema, batch_size=batch_size)


def main(model_folder: str, source: str, output: str) -> None:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # local mode: workers use this Python (with electra_qa)
    spark = SparkSession.builder.master("local[2]").appName("electra_qa").getOrCreate()
    df = spark.read.json(source)
    answered = df.withColumn("a", answer_udf(model_folder)("question", "context"))
    answered.select("id", "a.*").write.mode("overwrite").json(output)
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
