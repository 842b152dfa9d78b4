"""``predict_squad``: answer every question of a SQuAD file, streaming, and write the files NVIDIA's run writes.

Questions are answered in chunks of ``chunk_size`` paragraphs: each context is tokenized once for all its questions,
the windows of a chunk are batched by length, and only one chunk's windows are held at a time, so memory stays flat
as the file grows. With ``output_dir``: ``predictions.json`` ({id: text}), ``nbest_predictions.json`` (per question
its n-best spans: ``text``, ``probability``, ``start_logit``, ``end_logit`` as NVIDIA's file, plus our ``start``/``end``
character offsets), ``null_odds.json`` for SQuAD 2.0 scoring (``evaluate-v2.0.py --na-prob-file``), and
``skipped.json`` (records not answered, with the reason).
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from electra_qa.errors import InputError
from electra_qa.files import check_output_folder, json_line, make_folder, os_error, write_files
from electra_qa.pipeline import QuestionAnswerer, load_answerer
from electra_qa.postprocess import Answer
from electra_qa.progress import progress_bar
from electra_qa.settings import CHUNK_SIZE, positive_int
from electra_qa.squad.data import Skipped, SquadExample, load_squad

PREDICTIONS = "predictions.json"
NBEST = "nbest_predictions.json"
NULL_ODDS = "null_odds.json"
SKIPPED = "skipped.json"


class SquadPredictions(dict):
    """``{question id: answer text}``, with what the run found: ``skipped`` records, ``null_odds`` (SQuAD 2.0
    scoring), counts (``questions``, ``windows``, ``peak_windows`` held at once), ``seconds``, and ``files``."""

    def __init__(self):
        super().__init__()
        self.skipped: list[Skipped] = []
        self.null_odds: dict[str, float] = {}
        self.questions = self.windows = self.peak_windows = 0
        self.seconds = 0.0
        self.files: dict[str, str] = {}

    @property
    def questions_per_second(self) -> float:
        return self.questions / self.seconds if self.seconds else 0.0


def _chunks(examples: list[SquadExample], chunk_size: int):
    """Consecutive examples covering at most ``chunk_size`` distinct contexts each."""
    chunk, contexts = [], set()
    for example in examples:
        if example.context not in contexts and len(contexts) == chunk_size:
            yield chunk
            chunk, contexts = [], set()
        contexts.add(example.context)
        chunk.append(example)
    if chunk:
        yield chunk


def _nbest_entry(answer: Answer) -> dict:
    return {
        "text": answer.text,
        "probability": answer.score,
        "start_logit": answer.start_logit,
        "end_logit": answer.end_logit,
        "start": answer.start,
        "end": answer.end,
    }


class _Writer:
    """Writes the n-best file entry by entry, then everything else at the end: the files appear together, each one
    complete, and a failure leaves the folder as it was."""

    def __init__(self, output_dir):
        self.dir = None if output_dir is None else make_folder(output_dir)
        self.nbest = None
        if self.dir is not None:
            part = os.path.join(self.dir, NBEST + ".part")
            try:
                self.nbest = open(part, "w", encoding="utf-8")
            except OSError as e:
                raise os_error(e, "write", part) from None
            self.nbest.write("{")
            self.first = True

    def add(self, qid: str, answers: list[Answer]) -> None:
        if self.nbest is None:
            return
        entries = [_nbest_entry(a) for a in answers if a.reason is None]
        self.nbest.write(("\n" if self.first else ",\n") + json.dumps(qid) + ": " + json_line(entries))
        self.first = False

    def finish(self, result: SquadPredictions, version_2: bool) -> None:
        if self.nbest is None:
            return
        self.nbest.write("\n}\n")
        self.nbest.close()
        files = {PREDICTIONS: dict(result), SKIPPED: [s.to_dict() for s in result.skipped]}
        if version_2:
            files[NULL_ODDS] = result.null_odds
        paths = {name: os.path.join(self.dir, name) for name in files}
        write_files({paths[name]: _json_text(value) for name, value in files.items()})
        os.replace(os.path.join(self.dir, NBEST + ".part"), os.path.join(self.dir, NBEST))
        result.files = {
            "predictions": paths[PREDICTIONS],
            "nbest": os.path.join(self.dir, NBEST),
            "skipped": paths[SKIPPED],
            **({"null_odds": paths[NULL_ODDS]} if version_2 else {}),
        }

    def abort(self) -> None:
        if self.nbest is not None:
            self.nbest.close()
            with contextlib.suppress(OSError):
                os.unlink(self.nbest.name)


def _json_text(value) -> str:
    """Indented JSON; ids that are not valid Unicode (lone surrogates) are written escaped."""
    text = json.dumps(value, indent=4, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, indent=4)
    return text + "\n"


def predict_squad(
    qa,
    source,
    output_dir: str | os.PathLike | None = None,
    *,
    batch_size: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: bool = True,
) -> SquadPredictions:
    """Answer every question of ``source`` (anything ``load_squad`` reads) with ``qa`` (a ``QuestionAnswerer``, or a
    checkpoint path loaded with default settings).

    Returns ``{question id: answer text}`` (a ``SquadPredictions``: ``.skipped``, ``.null_odds``, counts, timing).
    ``output_dir``: also write ``predictions.json``, ``nbest_predictions.json``, ``skipped.json`` and, when ``qa``
    scores SQuAD 2.0 (``version_2_with_negative``), ``null_odds.json``. ``chunk_size``: paragraphs answered together
    (memory is bounded by one chunk's windows). ``progress``: a progress bar (``tqdm.auto``: a bar in a terminal, a
    widget in Jupyter) with questions done, questions/s and the time left.

    >>> import tempfile
    >>> from electra_qa import QuestionAnswerer
    >>> qa = QuestionAnswerer.from_checkpoint(folder)
    >>> out = tempfile.mkdtemp()
    >>> predictions = predict_squad(qa, ngc_folder + "/squad_dev.json", out, progress=False)
    >>> sorted(predictions) == sorted(json.load(open(out + "/predictions.json")))
    True
    >>> sorted(os.listdir(out))
    ['nbest_predictions.json', 'predictions.json', 'skipped.json']
    """
    chunk_size = positive_int("chunk_size", chunk_size)
    if output_dir is not None:
        check_output_folder(output_dir)
    data = load_squad(source)  # a bad file fails before a model is loaded
    if isinstance(qa, (str, os.PathLike)):
        qa = load_answerer(qa)
    if not isinstance(qa, QuestionAnswerer):
        raise InputError(f"predict_squad needs a QuestionAnswerer or a checkpoint path, got {type(qa).__name__}")
    result = SquadPredictions()
    result.skipped = list(data.skipped)
    version_2 = bool(qa.settings.version_2_with_negative)
    bar = progress_bar("Answering", total=len(data.examples), unit="q", enabled=progress)
    writer = _Writer(output_dir)
    start = time.perf_counter()
    try:
        for chunk in _chunks(data.examples, chunk_size):
            scored = qa.score_batch([(e.question, e.context) for e in chunk], batch_size)
            windows = sum(s.windows for s in scored)
            result.windows += windows
            result.peak_windows = max(result.peak_windows, windows)
            for example, s in zip(chunk, scored):
                result[example.id] = s.answers[0].text
                if s.null_odds is not None:
                    result.null_odds[example.id] = s.null_odds
                writer.add(example.id, s.answers)
            result.questions += len(chunk)
            bar.update(len(chunk))
            bar.set_postfix(windows=result.windows, refresh=False)
        result.seconds = time.perf_counter() - start
        writer.finish(result, version_2)
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    return result
