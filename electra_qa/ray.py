"""Question answering on a Ray cluster with Ray Data (``pip install "electra-qa[ray]"``).

``answer_dataset(ds, checkpoint)`` adds answer columns to a ``ray.data.Dataset`` of questions and contexts: a pool of
``num_workers`` actors, each loading the model once from ``checkpoint`` (a path every node can read; weights are
never shipped inside tasks), answers batch after batch with the windows of each batch run together. The same code
runs on a laptop (``ray.init()``) and on a cluster. ``Answerer`` is the callable class behind it, usable directly
with ``ds.map_batches``.

GPUs: ``num_gpus_per_worker`` (fractions share one GPU among actors). Each actor then turns on TensorFlow's memory
growth in its own process, so that actors sharing a GPU do not each claim all of its memory; the driver's
TensorFlow settings are never touched.
"""

from __future__ import annotations

import os

import numpy as np

from electra_qa.errors import InputError
from electra_qa.files import check_output_folder
from electra_qa.pipeline import check_text, is_onnx, load_answerer
from electra_qa.settings import RETRIEVE_K, positive_int


def _gpu_memory_growth() -> None:
    """Inside a worker process: let TensorFlow take GPU memory as it needs it rather than all at once."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU was initialised already in this process
            pass


class Answerer:
    """A Ray Data callable class: loads the model once (per actor) and answers batches.

    A batch is a ``dict[str, np.ndarray]`` (``batch_format="numpy"``) or a pandas DataFrame; the result is the same
    kind with ``answer``, ``start``, ``end``, ``score`` and ``error`` added (and ``top_k``, a list per row, when
    asked). A bad row (a missing, empty or non-string question or context) does not stop the job: its ``error`` says
    why and its answer is empty (``start == end == 0``, score 0); ``error`` is None for every other row.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike | None = None,
        *,
        question_field: str = "question",
        context_field: str = "context",
        top_k: int | None = None,
        batch_size: int | None = None,
        gpu_memory_growth: bool = True,
        index: str | os.PathLike | None = None,
        retrieve_k: int = RETRIEVE_K,
        **qa_settings,
    ):
        if gpu_memory_growth and not is_onnx(checkpoint):  # ONNX Runtime: TensorFlow is never imported
            _gpu_memory_growth()
        from electra_qa.index import DocumentIndex

        # each actor opens the index file read-only: any number of them read it at once
        self.index = None if index is None else DocumentIndex(index, read_only=True)
        self.retrieve_k = positive_int("retrieve_k", retrieve_k)
        self.qa = load_answerer(checkpoint, **qa_settings)
        self.qa.warm_up()
        self.question_field, self.context_field = question_field, context_field
        self.top_k = None if top_k is None else positive_int("top_k", top_k)
        self.batch_size = batch_size

    def _checked(self, batch) -> tuple[list, list]:
        """Each row's (question, context), or None with the reason in ``errors``."""
        n = len(batch[next(iter(batch))]) if isinstance(batch, dict) else len(batch)

        def value(field, i):
            if field not in batch:
                return None
            column = batch[field]
            return column.iloc[i] if hasattr(column, "iloc") else column[i]

        pairs, errors = [], []
        for i in range(n):
            try:
                question = check_text("question", value(self.question_field, i))
                context = None if self.index is not None else check_text("context", value(self.context_field, i))
                pairs.append((question, context))
                errors.append(None)
            except InputError as e:
                pairs.append(None)
                errors.append(str(e))
        return pairs, errors

    def _asked(self, pairs: list) -> tuple[list, dict]:
        """Answers from the collection (``index``): the best per row, and the extra columns."""
        good = [q for q, _ in (p for p in pairs if p is not None)]
        results = iter(
            self.qa.ask_batch(
                good, self.index, top_k=self.top_k or 1, retrieve_k=self.retrieve_k, batch_size=self.batch_size
            )
            if good
            else []
        )
        results = [next(results) if p is not None else None for p in pairs]
        best = [r[0] if r else None for r in results]
        columns = {
            "doc_id": np.array([a.doc_id if a else None for a in best], dtype=object),
            "retrieval_score": np.array([a.retrieval_score if a else 0.0 for a in best], dtype=np.float64),
            "no_answer_score": np.array([r.no_answer_score if r is not None else 1.0 for r in results]),
        }
        if self.top_k is not None:
            lists = [[a.to_dict() for a in r] if r is not None else [] for r in results]
            columns["top_k"] = np.array(lists + [None], dtype=object)[:-1]
        return best, columns

    def __call__(self, batch):
        pairs, errors = self._checked(batch)
        if self.index is not None:
            best, extra = self._asked(pairs)
            return self._with_columns(batch, best, errors, extra)
        good = [p for p in pairs if p is not None]
        scored = iter(self.qa.score_batch(good, self.batch_size, self.top_k or 1) if good else [])
        results = [next(scored) if p is not None else None for p in pairs]
        best = [s.answers[0] if s is not None else None for s in results]
        extra = {}
        if self.top_k is not None:
            lists = [[a.to_dict() for a in s.answers[: self.top_k]] if s is not None else [] for s in results]
            extra["top_k"] = np.array(lists + [None], dtype=object)[:-1]
        return self._with_columns(batch, best, errors, extra)

    @staticmethod
    def _with_columns(batch, best, errors, extra):
        columns = {
            "answer": np.array([a.text if a else "" for a in best], dtype=object),
            "start": np.array([a.start if a else 0 for a in best], dtype=np.int64),
            "end": np.array([a.end if a else 0 for a in best], dtype=np.int64),
            "score": np.array([a.score if a else 0.0 for a in best], dtype=np.float64),
            "error": np.array(errors, dtype=object),
            **extra,
        }
        if isinstance(batch, dict):
            return {**batch, **columns}
        out = batch.copy()
        for name, values in columns.items():
            out[name] = list(values) if name == "top_k" else values
        return out


def answer_dataset(
    ds,
    checkpoint: str | os.PathLike | None = None,
    *,
    num_workers: int | None = None,
    num_gpus_per_worker: float = 0,
    num_cpus_per_worker: float = 1,
    batch_size: int = 256,
    question_field: str = "question",
    context_field: str = "context",
    top_k: int | None = None,
    answerer=Answerer,
    index: str | os.PathLike | None = None,
    retrieve_k: int = RETRIEVE_K,
    **qa_settings,
):
    """``ds`` (a ``ray.data.Dataset`` with question and context columns) with the answer columns added.

    ``num_workers`` actors (default 1) each load the model from ``checkpoint`` once; ``batch_size`` rows go to an
    actor at a time; ``num_gpus_per_worker`` places actors on GPUs (0.5: two actors per GPU);
    ``num_cpus_per_worker``: the CPUs Ray reserves per actor (leave some for the tasks that read the data: actors
    holding every CPU of a cluster starve them). ``qa_settings`` go to
    ``QuestionAnswerer.from_checkpoint``; ``answerer`` is the callable class (subclass ``Answerer`` to customise).
    ``index``: a ``DocumentIndex`` file that each actor opens read-only; the rows then need no context column, each
    question is asked against the collection (``retrieve_k`` passages) and ``doc_id``, ``retrieval_score`` and
    ``no_answer_score`` are added.
    """
    workers = 1 if num_workers is None else positive_int("num_workers", num_workers)
    remote = {"num_cpus": num_cpus_per_worker, **({"num_gpus": num_gpus_per_worker} if num_gpus_per_worker else {})}
    return ds.map_batches(
        answerer,
        batch_size=positive_int("batch_size", batch_size),
        batch_format="numpy",
        concurrency=workers,
        fn_constructor_args=(checkpoint,),
        fn_constructor_kwargs={
            "question_field": question_field,
            "context_field": context_field,
            "top_k": top_k,
            **({"index": os.fspath(index), "retrieve_k": retrieve_k} if index is not None else {}),
            **qa_settings,
        },
        **remote,
    )


def _ray():
    """The ``ray`` package, or an InputError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 (reached as an attribute)
    except ImportError:
        raise InputError("the Ray engine needs Ray: pip install 'electra-qa[ray]'") from None
    return ray


def _count_errors(batch: dict) -> dict:
    return {"errors": np.array([sum(e is not None for e in batch["error"])], dtype=np.int64)}


def answer_path(
    input: str | os.PathLike,
    output: str | os.PathLike,
    checkpoint: str | os.PathLike | None = None,
    *,
    num_workers: int | None = None,
    num_gpus_per_worker: float = 0,
    id_field: str = "id",
    question_field: str = "question",
    context_field: str = "context",
    top_k: int | None = None,
    batch_size: int = 256,
    index: str | os.PathLike | None = None,
    retrieve_k: int = RETRIEVE_K,
    **qa_settings,
) -> dict:
    """``electra-qa batch --engine ray``: read ``input`` (a JSON Lines, CSV or Parquet file or folder of them) with
    Ray Data, answer it with ``answer_dataset``, and write the folder ``output`` (Parquet files when its name ends in
    ``.parquet``, else JSON Lines) with ``id``, ``answer``, ``start``, ``end``, ``score``, ``error`` (and ``top_k``).
    Starts a local Ray instance unless one is running (or ``RAY_ADDRESS`` names a cluster). Returns row counts."""
    source, output = os.fspath(input), os.fspath(output)
    if not os.path.exists(source):
        raise InputError(f"no input {source!r}")
    check_output_folder(output)
    ray = _ray()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    lower = source.lower()
    if lower.endswith(".csv"):
        ds = ray.data.read_csv(source)
    elif lower.endswith(".parquet"):
        ds = ray.data.read_parquet(source)
    elif lower.endswith((".jsonl", ".json", ".ndjson")):
        ds = ray.data.read_json(source, lines=True)
    else:
        raise InputError(f"{source}: the input must be .jsonl, .csv or .parquet")
    answered = answer_dataset(
        ds,
        checkpoint,
        num_workers=num_workers,
        num_gpus_per_worker=num_gpus_per_worker,
        batch_size=batch_size,
        question_field=question_field,
        context_field=context_field,
        top_k=top_k,
        index=index,
        retrieve_k=retrieve_k,
        **qa_settings,
    )
    names = (id_field, "answer", "doc_id", "start", "end", "score", "retrieval_score", "no_answer_score", "error")
    keep = [c for c in names if index is not None or c not in ("doc_id", "retrieval_score", "no_answer_score")]
    keep += ["top_k"] if top_k is not None else []
    result = answered.select_columns(keep).materialize()
    if output.lower().endswith(".parquet"):
        result.write_parquet(output)
    else:
        result.write_json(output)
    total = result.count()
    errors = int(result.map_batches(_count_errors, batch_format="numpy").sum("errors") or 0) if total else 0
    return {"rows": total, "answered": total - errors, "errors": errors, "output": output}
