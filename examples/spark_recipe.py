"""Answering a Spark DataFrame of questions with electra_qa (a recipe; Spark is not a dependency of the library).

    pip install pyspark            # needs a Java runtime (17 or newer)
    python examples/spark_recipe.py MODEL_FOLDER questions.jsonl answers_folder

``predict_batch_udf`` (pyspark.ml.functions) calls ``make_answerer`` once per Python worker process and caches the
function it returns, so the model is loaded once per worker from MODEL_FOLDER (a path every executor can read);
then each Arrow batch of rows is answered with its windows run through the model together. Rows whose question or
context is empty get an empty answer and an ``error``.
"""

from __future__ import annotations

import sys

import numpy as np

ANSWER_FIELDS = (("answer", "string"), ("start", "int"), ("end", "int"), ("score", "double"), ("error", "string"))


def make_answerer(model_folder: str, **settings):
    """What ``predict_batch_udf`` calls once per worker: load the model, return the batch function."""
    from electra_qa import InputError, QuestionAnswerer

    qa = QuestionAnswerer.from_checkpoint(model_folder, **settings).warm_up()

    def answer_batch(questions: np.ndarray, contexts: np.ndarray) -> list[dict]:
        rows, good = [], []
        for q, c in zip(questions, contexts):
            ok = isinstance(q, str) and isinstance(c, str) and q.strip() and c.strip()
            rows.append(None if ok else {"answer": "", "start": 0, "end": 0, "score": 0.0,
                                         "error": "empty or missing question or context"})
            if ok:
                good.append((q, c))
        try:
            answers = iter(qa.batch(good) if good else [])
        except InputError as e:  # a problem the cheap check above did not catch: report it on every row
            return [r or {"answer": "", "start": 0, "end": 0, "score": 0.0, "error": str(e)} for r in rows]
        return [r or {"answer": a.text, "start": a.start, "end": a.end, "score": a.score, "error": None}
                for r, a in ((r, None if r else next(answers)) for r in rows)]

    return answer_batch


def answer_udf(model_folder: str, batch_size: int = 64, **settings):
    """A Spark column function: ``df.withColumn("a", answer_udf(folder)("question", "context"))``."""
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

    types = {"string": StringType(), "int": IntegerType(), "double": DoubleType()}
    schema = StructType([StructField(name, types[kind]) for name, kind in ANSWER_FIELDS])
    return predict_batch_udf(lambda: make_answerer(model_folder, **settings), return_type=schema,
                             batch_size=batch_size)


def main(model_folder: str, source: str, output: str) -> None:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master("local[2]").appName("electra_qa").getOrCreate()
    df = spark.read.json(source)
    answered = df.withColumn("a", answer_udf(model_folder)("question", "context"))
    answered.select("id", "a.*").write.mode("overwrite").json(output)
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
