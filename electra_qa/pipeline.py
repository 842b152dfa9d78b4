"""The user-facing API: ``QuestionAnswerer`` and ``answer()``: orchestration only (windows in ``features``, scoring
in ``postprocess``, settings in ``settings``, loading in ``checkpoints``; whole SQuAD files in ``squad``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from electra_qa import display, hub, postprocess
from electra_qa.calibration import DEFAULT as DEFAULT_CALIBRATION
from electra_qa.calibration import Calibration
from electra_qa.checkpoints.find import locate
from electra_qa.checkpoints.formats.keras_folder import read_section, save_model
from electra_qa.checkpoints.loader import load_qa_model
from electra_qa.errors import InputError
from electra_qa.features import Feature, build_features, context_token_spans, pad_batch
from electra_qa.model_cache import ModelCache
from electra_qa.runner import ModelRunner
from electra_qa.settings import RETRIEVE_K, TOP_K, QASettings, positive_int
from electra_qa.tokenization import load_tokenizer
from electra_qa.validate import check_text

if TYPE_CHECKING:
    from electra_qa.explain import Explanation


def _pairs(pairs) -> list[tuple]:
    try:
        pairs = [tuple(p) for p in pairs]
    except TypeError:
        raise InputError("pairs must be (question, context) pairs") from None
    bad = next((i for i, p in enumerate(pairs) if len(p) != 2), None)
    if bad is not None:
        raise InputError(f"pair {bad} has {len(pairs[bad])} items; each must be (question, context)")
    return pairs


# Longer than ~150 lines: the public façade, whose methods are short and delegate (windows to ``runner``, scoring to
# ``postprocess`` and the head, loading to ``checkpoints``, its summary to ``summary``); most lines are docstrings.
class QuestionAnswerer:
    """Answers questions about a context with an ELECTRA SQuAD model.

    >>> qa = QuestionAnswerer.from_checkpoint(folder)     # any checkpoint with a SQuAD head (random weights here)
    >>> context = "My name is Harry and I grew up in Canada. I love apples."
    >>> a = qa("What food does Harry like?", context)
    >>> a.text == context[a.start:a.end]
    True
    >>> len(qa("What food does Harry like?", context, top_k=3))
    3

    Args:
        model: an ``ElectraForQuestionAnswering`` (joint or simple head).
        tokenizer: from ``electra_qa.tokenization`` (``load_tokenizer(path)``).
        settings: a ``QASettings``; the keyword arguments below override its fields.
        max_seq_length, doc_stride, max_query_length: windowing, as the reference (384, 128, 64); max_seq_length
            defaults to 384, or less if the model has fewer positions.
        n_best_size: candidate spans kept per question (20); max_answer_length: in tokens (30).
        version_2_with_negative: allow "no answer" (SQuAD 2.0); default: True for a joint head with an answer-class
            pooler, else False. null_score_diff_threshold: the reference's threshold for that decision.
        batch_size: windows per model call.
        scoring: "squad" (default): NVIDIA's/SQuAD's post-processing, spans start at a token in its max-context
            window, score = probability among the question's n-best. "hf_pipeline": the Hugging Face
            question-answering pipeline's scoring for simple-head models (per-window p_start * p_end, equal texts
            merged by adding scores, null answer from [CLS] when version_2_with_negative); add ``doc_overlap=128``
            for the pipeline's windows.
        align_to_words: with "hf_pipeline", widen spans to whole tokenizer words (the pipeline's default).
        doc_overlap: if set, consecutive windows overlap by this many tokens (the Hugging Face pipeline's
            ``doc_stride``, 128 there by default) instead of starting every ``doc_stride`` tokens.

    The settings are attributes too (``qa.n_best_size``, also settable) and together ``qa.settings``.
    """

    def __init__(
        self,
        model,
        tokenizer,
        settings: QASettings | None = None,
        *,
        calibration: Calibration | dict | None = None,
        **overrides,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.settings = (settings or QASettings()).replace(**overrides).for_model(model, tokenizer)
        self.calibration = DEFAULT_CALIBRATION if calibration is None else calibration

    @property
    def runner(self) -> ModelRunner:
        """What runs this answerer's model over windows (``electra_qa.runner``), made anew if ``model`` changes."""
        runner = self.__dict__.get("_runner")
        if runner is None or runner.model is not self.model:
            runner = self.__dict__["_runner"] = ModelRunner(self.model)
        return runner

    def __getattr__(self, name: str):
        settings = self.__dict__.get("settings")
        if settings is not None and name in QASettings.__dataclass_fields__:
            return getattr(settings, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value):
        if name in QASettings.__dataclass_fields__:  # qa.batch_size = 64: validated like the constructor's
            value = self.settings.replace(**{name: value}).for_model(self.model, self.tokenizer)
            name = "settings"
        elif name == "calibration":  # what ask() scores answers with (electra_qa.calibration)
            value = Calibration.from_dict(value) if isinstance(value, dict) else value
            if not isinstance(value, Calibration):
                raise InputError(f"calibration must be a Calibration or its dict, got {type(value).__name__}")
        elif name == "settings":  # qa.settings = QASettings(...) or a dict of its fields, validated the same way
            if isinstance(value, dict):
                value = QASettings.from_dict(value)
            if not isinstance(value, QASettings):
                raise InputError(f"settings must be a QASettings or a dict of its fields, got {type(value).__name__}")
            if "model" in self.__dict__:
                value = value.for_model(self.model, self.tokenizer)
        super().__setattr__(name, value)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        vocab: str | os.PathLike | None = None,
        config=None,
        beam_size: int = 4,
        do_lower_case: bool = True,
        dtype=None,
        precision: str | None = "auto",
        **kwargs,
    ) -> QuestionAnswerer:
        """Load a question-answering checkpoint of any supported format (see ``load_model``) and its tokenizer.

        ``path``: an NGC checkpoint folder, a Hugging Face folder (``model.safetensors`` or ``tf_model.h5``), a folder
        written by :meth:`save`, or the weights file itself. ``vocab``: a vocab.txt, tokenizer.json or sentencepiece
        model; default: one found beside the weights (the NGC download has none: pass the BERT-uncased vocab.txt).
        ``precision``: "auto" (default: mixed float16 on an NVIDIA GPU of compute capability >= 7.0, else float32),
        "float32", "mixed_float16", "mixed_bfloat16", "float16" or "bfloat16" (see ``electra_qa.precision``);
        ``dtype=`` (a Keras dtype policy) overrides it. Other keyword arguments go to the constructor; a folder
        written by :meth:`save` supplies its saved settings as defaults.

        >>> QuestionAnswerer.from_checkpoint(ngc_folder).model.head_type   # NVIDIA's joint head, vocab.txt beside it
        'joint'
        """
        located = locate(path)
        model = load_qa_model(
            located, config=config, beam_size=beam_size, dtype=dtype, precision=None if dtype is not None else precision
        )
        settings = QASettings()
        if located.kind == "keras":  # a folder saved by QuestionAnswerer.save carries its settings and calibration
            settings = _saved_pipeline(read_section(located.folder)[1].get("pipeline", {}), kwargs)
        if vocab is None:
            try:
                tokenizer = load_tokenizer(located.folder, do_lower_case)
            except InputError as e:
                raise InputError(
                    f"no usable tokenizer beside {os.fspath(path)!r} ({e}): pass vocab= (the NGC "
                    "ELECTRA model uses the BERT-uncased vocab.txt, 30522 lines)"
                ) from None
        else:
            tokenizer = load_tokenizer(vocab, do_lower_case)
        qa = cls(model, tokenizer, settings, **kwargs)
        qa.remember_source(
            path,
            located.kind,
            vocab=vocab,
            config=config,
            beam_size=beam_size,
            do_lower_case=do_lower_case,
            dtype=dtype,
            precision=precision,
        )
        return qa

    def remember_source(self, path: str | os.PathLike, kind: str, **load_arguments) -> None:
        """Record that this answerer is what ``from_checkpoint(path, **load_arguments)`` loads (``kind``: the
        checkpoint's format): shown by ``repr``, and how it pickles (see ``__reduce_ex__``)."""
        where = os.path.realpath(os.fspath(path))
        self._loaded_from = f"{os.fspath(path)} ({kind})"  # as given: a notebook's stored output names no machine
        self._source = {
            "path": where,
            **{k: _real(v) if k in ("vocab", "config") else v for k, v in load_arguments.items()},
        }

    def summary_rows(self) -> list[list]:
        """What this answerer is, as (field, value) rows: where the model came from, its head and sizes, parameters,
        precision and device, and the windowing and scoring settings."""
        from electra_qa.summary import answerer_rows

        return answerer_rows(self)

    def __repr__(self) -> str:
        return "\n".join([f"{type(self).__name__}"] + [f"  {k + ':':<13}{v}" for k, v in self.summary_rows()])

    def _repr_html_(self) -> str:
        return display.table_html(["", type(self).__name__], self.summary_rows())

    def __copy__(self) -> QuestionAnswerer:
        """A second answerer sharing this one's model and tokenizer (settings can then differ)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def __reduce_ex__(self, protocol):
        """Pickled as its checkpoint path and settings when it was loaded from a path that still exists (it is loaded
        again on the other side: what a Ray or Spark worker wants), else with its weights (Keras serialization)."""
        source = self.__dict__.get("_source")
        if source is not None and os.path.exists(source["path"]):
            return _from_source, (source, {**self.settings.to_dict(), "calibration": self.calibration.to_dict()})
        return object.__reduce_ex__(self, protocol)

    def _remember_onnx(self, path, **load_arguments) -> None:
        """An ONNX answerer pickles as its file (``_from_source`` loads it again with ``from_onnx``)."""
        self._loaded_from = f"{os.fspath(path)} (onnx)"
        self._source = {"path": os.path.realpath(os.fspath(path)), "runtime": "onnxruntime", **load_arguments}

    @classmethod
    def from_pretrained(
        cls,
        name: str | os.PathLike = hub.DEFAULT_MODEL,
        *,
        cache_dir: str | os.PathLike | None = None,
        url: str | None = None,
        progress: bool = True,
        timeout: float = 60.0,
        **kwargs,
    ) -> QuestionAnswerer:
        """A registered model (default: NVIDIA's NGC ELECTRA-base SQuAD 1.1, 20.07.0_amp), downloaded and converted
        once into the cache (see ``electra_qa.hub``); a local path; or a Hugging Face hub id (needs huggingface_hub).
        ``timeout``: seconds to wait for each network read of the download.

        Example (downloads 1.23 GB on first use, then loads the cached folder)::

            qa = QuestionAnswerer.from_pretrained()
        """
        if os.path.exists(name):
            return cls.from_checkpoint(name, **kwargs)
        if name in hub.REGISTRY:
            return cls.from_checkpoint(
                hub.fetch(name, cache_dir=cache_dir, url=url, progress=progress, timeout=timeout), **kwargs
            )
        return cls.from_checkpoint(hub.from_huggingface_hub(os.fspath(name), cache_dir=cache_dir), **kwargs)

    @classmethod
    def from_onnx(
        cls,
        path: str | os.PathLike,
        vocab: str | os.PathLike | None = None,
        *,
        providers: list[str] | None = None,
        threads: int | None = None,
        do_lower_case: bool = True,
        **kwargs,
    ) -> QuestionAnswerer:
        """An answerer that runs an ONNX file written by ``export_onnx`` with ONNX Runtime: no TensorFlow or Keras
        is imported (``pip install "electra-qa[onnx]"``). ``vocab``: default the tokenizer beside the file.
        ``providers``: ONNX Runtime execution providers in order of preference (default
        ``$ELECTRA_QA_ONNX_PROVIDERS``, else ONNX Runtime's); ``threads``: its intra-op threads. Other keyword
        arguments are ``QASettings``; the exporting answerer's settings and calibration are the defaults."""
        from electra_qa.onnx_model import OnnxModel

        model = OnnxModel(path, providers=providers, threads=threads)
        tokenizer = load_tokenizer(
            vocab if vocab is not None else os.path.dirname(os.path.abspath(path)), do_lower_case
        )
        qa = cls(model, tokenizer, _saved_pipeline(model.pipeline, kwargs), **kwargs)
        qa._remember_onnx(path, vocab=_real(vocab), providers=providers, threads=threads, do_lower_case=do_lower_case)
        return qa

    def save(self, folder: str | os.PathLike) -> str:
        """Write model (Keras ``model.weights.h5`` + ``config.json``), tokenizer and settings into one folder that
        :meth:`from_checkpoint` reloads. Returns the folder.

        >>> import tempfile
        >>> qa = QuestionAnswerer.from_checkpoint(folder, n_best_size=5)
        >>> saved = qa.save(tempfile.mkdtemp())
        >>> QuestionAnswerer.from_checkpoint(saved).settings == qa.settings
        True
        """
        pipeline = {**self.settings.to_dict(), "calibration": self.calibration.to_dict()}
        folder = save_model(self.model, folder, pipeline=pipeline)
        self.tokenizer.save(folder)
        return folder

    # ------------------------------------------------------------------ running

    def features(self, pairs: Sequence[tuple[str, str]]) -> list[list[Feature]]:
        """The window features of each (question, context) pair; a context shared by several questions is tokenized
        once."""
        questions = self.tokenizer.encode_batch([q for q, _ in pairs])
        unique = list(dict.fromkeys(c for _, c in pairs))
        encoded = dict(zip(unique, self.tokenizer.encode_batch(unique)))
        return [
            build_features(
                i,
                q,
                encoded[c],
                c,
                cls_id=self.tokenizer.cls_id,
                sep_id=self.tokenizer.sep_id,
                max_seq_length=self.settings.max_seq_length,
                doc_stride=self.settings.doc_stride,
                max_query_length=self.settings.max_query_length,
                doc_overlap=self.settings.doc_overlap,
            )
            for i, (q, (_, c)) in enumerate(zip(questions, pairs))
        ]

    def warm_up(self) -> QuestionAnswerer:
        """Compile the model now (two dummy batches of different shapes): later calls skip the first-call compile
        and all run the same compiled graph, whatever their shapes and order, so a long job gives the same numbers
        however it is split (``answer_file`` relies on this). Returns ``self``."""
        self.runner.warm_up(self.settings.max_seq_length)
        return self

    def run_model(self, features: list[Feature], batch_size: int | None = None) -> list[dict]:
        """Model outputs (numpy, one dict per feature), batching windows of similar length together."""
        batch_size = self.settings.batch_size if batch_size is None else positive_int("batch_size", batch_size)
        return self.runner.run(features, batch_size, self.settings.max_seq_length)

    def score_batch(
        self, pairs: Sequence[tuple[str, str]], batch_size: int | None = None, top_k: int | None = None
    ) -> list[postprocess.Scored]:
        """Each pair's answers (all ``n_best_size`` of them unless ``top_k`` is given, best first) with its SQuAD
        2.0 null odds; the windows of all pairs run through the model together."""
        if batch_size is not None:
            positive_int("batch_size", batch_size)
        pairs = [(check_text("question", q), check_text("context", c)) for q, c in _pairs(pairs)]
        per_pair = self.features(pairs)
        outputs = self.run_model([f for fs in per_pair for f in fs], batch_size)
        results, pos = [], 0
        for (_, context), fs in zip(pairs, per_pair):
            results.append(
                postprocess.question_answers(
                    context,
                    fs,
                    outputs[pos : pos + len(fs)],
                    self.model.head,
                    self.settings,
                    top_k or self.settings.n_best_size,
                )
            )
            pos += len(fs)
        return results

    def batch(self, pairs: Iterable[tuple[str, str]], batch_size: int | None = None, top_k: int | None = None) -> list:
        """Answer many (question, context) pairs, running all their windows through the model together.

        Returns one ``Answer`` per pair, or a list (``Answers``, a table in a notebook) of up to ``top_k`` answers
        per pair when ``top_k`` is given.
        """
        top_k = None if top_k is None else positive_int("top_k", top_k)
        scored = self.score_batch(list(pairs), batch_size, top_k or 1)
        return [s.answers[0] if top_k is None else postprocess.Answers(s.answers[:top_k]) for s in scored]

    def ask(
        self,
        question: str,
        source,
        *,
        top_k: int = TOP_K,
        retrieve_k: int = RETRIEVE_K,
        min_score: float | None = None,
        batch_size: int | None = None,
    ):
        """Ask a whole collection: the ``retrieve_k`` passages that ``source`` retrieves for ``question`` are read
        together, and the ``top_k`` best answers across all documents come back (``electra_qa.collection.AskResult``, a
        table in a notebook). ``source``: a ``DocumentIndex`` (or its ``.db`` path), any ``Retriever``, or documents
        (texts, ``(id, text)`` pairs, dicts, files or folders; indexed in memory for this call).

        Each answer has ``text``, ``doc_id``, ``start``/``end`` in the original document, its ``passage``, the
        document's ``metadata``, ``score`` (the probability it is right, by ``qa.calibration``: it depends on its own
        passage only, so scores compare across documents) and ``retrieval_score``. Overlapping spans of one document
        appear once; exactly ``min(top_k, distinct spans)`` answers. ``min_score``: drop answers scored below it
        (an off-topic question then gets none). The result's ``no_answer_score`` is the probability that none is
        right.

        >>> docs = [("tesla", "Nikola Tesla was born in Smiljan in 1856."), ("paris", "Paris is in France.")]
        >>> result = QuestionAnswerer.from_checkpoint(folder).ask("Where was Tesla born?", docs, top_k=2)
        >>> all(dict(docs)[a.doc_id][a.start:a.end] == a.text for a in result)
        True
        """
        from electra_qa.collection import ask_many

        return ask_many(
            self,
            [question],
            source,
            top_k=top_k,
            retrieve_k=retrieve_k,
            min_score=min_score,
            batch_size=batch_size,
        )[0]

    def ask_batch(self, questions: Sequence[str], source, **kwargs) -> list:
        """``ask`` for many questions, all their passages' windows through the model together."""
        from electra_qa.collection import ask_many

        return ask_many(self, list(questions), source, **kwargs)

    def explain(self, question: str, context: str) -> Explanation:
        """Start and end probability of every context token (see ``electra_qa.explain``): data (``.tokens``,
        ``.spans``, ``.start``, ``.end``), a heat-map over the context in a notebook, ``.plot()`` with matplotlib.

        >>> context = "My name is Harry and I grew up in Canada. I love apples."
        >>> e = QuestionAnswerer.from_checkpoint(folder).explain("What food does Harry like?", context)
        >>> len(e.tokens) == len(e.start) == len(e.end), round(float(e.windows[0].start.sum()), 6)
        (True, 1.0)
        """
        from electra_qa.explain import explain_windows

        question, context = check_text("question", question), check_text("context", context)
        features = self.features([(question, context)])[0]
        inputs = pad_batch(features, max(f.length for f in features))
        start_logits, end_logits = self.model.head.token_logits(self.model, inputs, self.model(inputs))
        return explain_windows(
            question, context, context_token_spans(features), features, start_logits, end_logits, self.model.head.name
        )

    def __call__(self, question: str, context: str, top_k: int | None = None):
        """The best ``Answer`` to ``question`` in ``context``, or a list of the ``top_k`` best."""
        return self.batch([(question, context)], top_k=top_k)[0]


def _saved_pipeline(saved: dict, kwargs: dict) -> QASettings:
    """The settings a saved answerer carries (``save``'s folder, ``export_onnx``'s file); its calibration goes into
    ``kwargs`` unless the caller gives one."""
    saved = dict(saved)
    calibration = saved.pop("calibration", None)
    if calibration is not None:
        kwargs.setdefault("calibration", calibration)
    return QASettings.from_dict(saved)


def _real(path):
    """An absolute path for a path argument (so that a pickle loads in another working directory), else as given."""
    return os.path.realpath(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else path


def _from_source(source: dict, settings: dict) -> QuestionAnswerer:
    """A ``QuestionAnswerer`` unpickled from its checkpoint path (see ``QuestionAnswerer.__reduce_ex__``)."""
    source = dict(source)
    if source.pop("runtime", None) == "onnxruntime":
        return QuestionAnswerer.from_onnx(source.pop("path"), **source, **settings)
    return QuestionAnswerer.from_checkpoint(source.pop("path"), **source, **settings)


_CACHE = ModelCache()


def clear_cache() -> None:
    """Forget the models ``answer()`` keeps loaded."""
    _CACHE.clear()


def set_cache_size(size: int) -> None:
    """How many models ``answer()`` keeps loaded (default 4; the least recently used goes first)."""
    _CACHE.resize(size)


def load_answerer(checkpoint: str | os.PathLike | None = None, **kwargs) -> QuestionAnswerer:
    """The answerer for a checkpoint path (an ``.onnx`` file runs on ONNX Runtime), or for the pretrained default model
    when ``checkpoint`` is None: the one place that decides between them (``answer``, ``answer_file``, Ray actors and
    the command line use it).
    ``kwargs`` go to ``QuestionAnswerer.from_checkpoint`` / ``from_pretrained``."""
    if checkpoint is None:
        return QuestionAnswerer.from_pretrained(**kwargs)
    if is_onnx(checkpoint):  # runs on ONNX Runtime; the TensorFlow load options mean nothing to it
        options = {k: v for k, v in kwargs.items() if k not in ("config", "precision", "dtype", "beam_size")}
        return QuestionAnswerer.from_onnx(checkpoint, **options)
    return QuestionAnswerer.from_checkpoint(checkpoint, **kwargs)


def is_onnx(checkpoint) -> bool:
    """Whether ``checkpoint`` names an ONNX file (``export_onnx``), which ``load_answerer`` runs with ONNX Runtime."""
    return isinstance(checkpoint, (str, os.PathLike)) and os.fspath(checkpoint).lower().endswith(".onnx")


def _cache_key(checkpoint, vocab, config, kwargs) -> tuple:
    def where(path):
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise InputError(f"checkpoint and vocab must be paths, got {type(path).__name__}")
        return None if path is None else os.path.realpath(os.fspath(path))

    return (
        "pretrained" if checkpoint is None else where(checkpoint),
        where(vocab),
        repr(config),
        tuple(sorted((k, repr(v)) for k, v in kwargs.items())),
    )


def ask(question: str, source, checkpoint: str | os.PathLike | None = None, *, top_k: int = TOP_K, **kwargs):
    """``QuestionAnswerer.ask`` with a cached model (as ``answer``): without ``checkpoint``, the pretrained default.
    ``kwargs``: ``retrieve_k``, ``min_score``, ``batch_size``, and the model's load settings."""
    asking = {k: kwargs.pop(k) for k in ("retrieve_k", "min_score", "batch_size") if k in kwargs}

    def load():
        return load_answerer(checkpoint, **kwargs)

    return _CACHE.get(_cache_key(checkpoint, None, None, kwargs), load).ask(question, source, top_k=top_k, **asking)


def answer(
    question: str,
    context: str,
    checkpoint: str | os.PathLike | None = None,
    vocab=None,
    config=None,
    *,
    top_k: int | None = None,
    **kwargs,
):
    """One-off question answering; the loaded model is cached per (checkpoint, vocab, settings).

    Without ``checkpoint`` it uses ``QuestionAnswerer.from_pretrained()`` (NVIDIA's NGC ELECTRA-base SQuAD 1.1,
    downloaded once into the cache). The cache keeps the 4 most recently used models (``set_cache_size``,
    ``clear_cache``) and keys them on the resolved path, so two spellings of one folder load it once.
    ``top_k``: a list of the best answers instead of one.

    >>> a = answer("Who won?", "The Broncos won.", checkpoint=folder)   # loads once, then cached
    >>> a.text == "The Broncos won."[a.start:a.end]
    True

    ``answer("Who won?", "The Broncos won.")`` uses the pretrained NGC model (downloaded on first use).
    """
    check_text("question", question)
    check_text("context", context)
    if top_k is not None:
        positive_int("top_k", top_k)

    def load():
        return load_answerer(checkpoint, vocab=vocab, config=config, **kwargs)

    return _CACHE.get(_cache_key(checkpoint, vocab, config, kwargs), load)(question, context, top_k=top_k)
