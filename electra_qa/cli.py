"""Command line: ``electra-qa answer|ask|index|evaluate|predict|batch|train|export|inspect|convert|download|env``."""

from __future__ import annotations

import argparse
import json
import os
import sys

from electra_qa import hub
from electra_qa.bulk import answer_file
from electra_qa.checkpoints import export_huggingface, inspect_checkpoint, load_model, locate, save_model
from electra_qa.checkpoints.loader import load_qa_model
from electra_qa.documents import PASSAGE_OVERLAP, PASSAGE_WORDS
from electra_qa.errors import ElectraQAError, InputError
from electra_qa.files import check_output_folder
from electra_qa.heads import qa_head_names
from electra_qa.pipeline import QuestionAnswerer, check_text, is_onnx, load_answerer
from electra_qa.precision import PRECISIONS
from electra_qa.recipe import RECIPE
from electra_qa.settings import CHUNK_SIZE, DEFAULT_MAX_SEQ_LENGTH, RETRIEVE_K, TOP_K, QASettings, positive_int
from electra_qa.squad import evaluate_squad, load_squad, predict_squad
from electra_qa.squad.metrics import check_scorable
from electra_qa.tokenization import load_tokenizer


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose the model and its windows (answer, evaluate, predict, batch). Window options left out
    keep the model's settings (a saved folder's, else ``QASettings``' defaults)."""
    parser.add_argument(
        "--checkpoint",
        help="checkpoint folder or file of any supported format (NGC, Hugging Face, "
        "google-research, saved by electra-qa); default: the pretrained NGC "
        "model",
    )
    parser.add_argument("--vocab", help="vocab.txt / tokenizer.json (default: found beside the checkpoint)")
    parser.add_argument(
        "--runtime",
        choices=("auto", "tensorflow", "onnxruntime"),
        default="auto",
        help="auto (default): ONNX Runtime for an .onnx checkpoint (electra-qa export --onnx), else Keras/TensorFlow",
    )
    parser.add_argument("--config", help="config.json (default: beside the checkpoint, else inferred from shapes)")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=RECIPE.precision,
        help="auto (default: mixed_float16 on an NVIDIA GPU, else float32), or a policy",
    )
    parser.add_argument("--max-seq-length", type=int, help=f"default: {DEFAULT_MAX_SEQ_LENGTH} or the model's maximum")
    parser.add_argument("--doc-stride", type=int, help=f"step between window starts (default {QASettings.doc_stride})")
    parser.add_argument("--max-query-length", type=int, help=f"default {QASettings.max_query_length}")


def _batching_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, help=f"windows per model call (default {QASettings.batch_size})")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=CHUNK_SIZE,
        help=f"paragraphs or rows answered together (default {CHUNK_SIZE})",
    )


def _answer_parser(sub) -> None:
    ans = sub.add_parser("answer", help="answer a question about a context")
    _model_arguments(ans)
    ans.add_argument("-q", "--question", required=True)
    src = ans.add_mutually_exclusive_group()
    src.add_argument("-c", "--context", help="the context text")
    src.add_argument("--context-file", help="read the context from this file ('-' = standard input)")
    ans.add_argument("--top-k", type=int, default=1)
    ans.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _squad_parsers(sub) -> None:
    for name, text in (
        ("evaluate", "answer a SQuAD file and score it (EM/F1, as the official scripts)"),
        ("predict", "answer a SQuAD file and write NVIDIA's prediction files"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("data", help="SQuAD v1.1/v2.0 JSON file, or JSON Lines with id, question, context")
        _model_arguments(cmd)
        cmd.add_argument(
            "--out",
            required=name == "predict",
            help="folder for predictions.json, nbest_predictions.json, null_odds.json (v2), skipped.json",
        )
        _batching_arguments(cmd)
        cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
        cmd.add_argument("--json", action="store_true", help="print the results as JSON")


def _collection_parsers(sub) -> None:
    """``index`` (build and change a document index) and ``ask`` (ask it)."""
    idx = sub.add_parser("index", help="build, change or describe a document index (one SQLite file)")
    idx.add_argument("index", metavar="INDEX.db", help="the index file (made if missing)")
    actions = idx.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add documents: .txt/.md files, JSON Lines/CSV/Parquet tables, folders")
    add.add_argument("files", nargs="+")
    add.add_argument("--passage-words", type=int, help=f"words per passage (a new index only; default {PASSAGE_WORDS})")
    add.add_argument(
        "--passage-overlap", type=int, help=f"words shared by consecutive passages (default {PASSAGE_OVERLAP})"
    )
    rm = actions.add_parser("remove", help="remove documents by id")
    rm.add_argument("ids", nargs="+")
    actions.add_parser("info", help="documents, passages and settings of the index")

    ask = sub.add_parser("ask", help="ask a question of every document in an index")
    ask.add_argument("index", metavar="INDEX.db")
    ask.add_argument("question")
    _model_arguments(ask)
    ask.add_argument("--top-k", type=int, default=TOP_K)
    ask.add_argument(
        "--retrieve-k", type=int, default=RETRIEVE_K, help=f"passages read by the model (default {RETRIEVE_K})"
    )
    ask.add_argument("--min-score", type=float, help="drop answers scored below this probability")
    ask.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _batch_parser(sub) -> None:
    bat = sub.add_parser(
        "batch",
        help="answer every row of a JSON Lines/CSV/Parquet file into a JSON Lines file "
        "(streaming; run again to resume)",
    )
    bat.add_argument("input", help=".jsonl, .csv or .parquet with id, question and context fields")
    bat.add_argument("output", help="JSON Lines output; bad rows go to OUTPUT.errors.jsonl")
    _model_arguments(bat)
    bat.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local (default: streaming, resumable, one process) or ray (Ray Data actors; OUTPUT is "
        "a folder; needs electra-qa[ray])",
    )
    bat.add_argument("--workers", type=int, help="ray: actors, each loading the model once (default 1)")
    bat.add_argument("--gpus-per-worker", type=float, default=0, help="ray: GPUs per actor (0.5: two per GPU)")
    bat.add_argument("--top-k", type=int, help="also write the k best answers per row")
    bat.add_argument(
        "--index",
        metavar="INDEX.db",
        help="answer questions-only rows against this document index (see 'electra-qa index')",
    )
    bat.add_argument(
        "--retrieve-k", type=int, default=RETRIEVE_K, help=f"with --index: passages read per question ({RETRIEVE_K})"
    )
    _batching_arguments(bat)
    bat.add_argument("--id-field", default="id")
    bat.add_argument("--question-field", default="question")
    bat.add_argument("--context-field", default="context")
    bat.add_argument("--no-progress", action="store_true")


def _train_parser(sub) -> None:
    """``electra-qa train``: every default is ``TrainingRecipe``'s (and ``QASettings``' for the windows)."""
    tr = sub.add_parser(
        "train",
        help="fine-tune on SQuAD-style data with NVIDIA's recipe (Keras fit); run again "
        "with --resume to continue after the last finished epoch",
    )
    tr.add_argument(
        "--init",
        required=True,
        help="start: a SQuAD model (continue training) or an ELECTRA/BERT encoder or discriminator (a new head)",
    )
    tr.add_argument("--train", required=True, help="training questions: SQuAD JSON or JSON Lines")
    tr.add_argument("--eval", help="questions to score (EM/F1) after each epoch")
    tr.add_argument("--out", required=True, help="folder for epoch-N model folders and training.json")
    tr.add_argument("--epochs", type=int, default=RECIPE.epochs)
    tr.add_argument("--batch-size", type=int, default=RECIPE.batch_size)
    tr.add_argument(
        "--lr", type=float, default=RECIPE.learning_rate, help=f"peak learning rate (default {RECIPE.learning_rate})"
    )
    tr.add_argument("--layerwise-lr-decay", type=float, default=RECIPE.layerwise_lr_decay)
    tr.add_argument("--warmup-proportion", type=float, default=RECIPE.warmup_proportion)
    tr.add_argument("--weight-decay", type=float, default=RECIPE.weight_decay)
    tr.add_argument("--adam-epsilon", type=float, default=RECIPE.adam_epsilon)
    tr.add_argument(
        "--bias-corrected-epsilon",
        action="store_true",
        default=RECIPE.bias_corrected_epsilon,
        help="add Adam's epsilon to the bias-corrected root, as PyTorch's AdamW (default: as NVIDIA's)",
    )
    tr.add_argument("--precision", choices=PRECISIONS, default=RECIPE.precision)
    tr.add_argument("--head", choices=qa_head_names(), default=RECIPE.head, help="head for an encoder start")
    tr.add_argument("--vocab", help="tokenizer file when none is beside --init")
    tr.add_argument("--seed", type=int, default=RECIPE.seed)
    tr.add_argument("--max-seq-length", type=int, default=DEFAULT_MAX_SEQ_LENGTH)
    tr.add_argument("--doc-stride", type=int, default=QASettings.doc_stride)
    tr.add_argument("--max-query-length", type=int, default=QASettings.max_query_length)
    tr.add_argument("--resume", action="store_true", help="continue from the last epoch folder in --out")
    tr.add_argument("--no-progress", action="store_true")


def _checkpoint_parsers(sub) -> None:
    """export, inspect, convert and download: commands about checkpoints rather than questions."""
    exp = sub.add_parser(
        "export", help="write a TensorFlow SavedModel (serving_default over token ids) for TF Serving or Triton"
    )
    exp.add_argument("checkpoint", help="a question-answering checkpoint of any supported format")
    target = exp.add_mutually_exclusive_group(required=True)
    target.add_argument("--saved-model", metavar="DIR", help="the SavedModel folder to write")
    target.add_argument(
        "--onnx", metavar="FILE", help="an ONNX file to write (tokenizer beside it), for ONNX Runtime, TensorRT, Triton"
    )
    weights = exp.add_mutually_exclusive_group()
    weights.add_argument("--int8", action="store_true", help="--onnx: int8 weights (dynamic quantization)")
    weights.add_argument("--float16", action="store_true", help="--onnx: float16 weights (for GPUs)")
    exp.add_argument(
        "--standard-ops",
        action="store_true",
        help="--onnx: standard ONNX ops only, for runtimes other than ONNX Runtime (TensorRT's parser, OpenVINO); "
        "default: ONNX Runtime's fused attention and GELU",
    )
    exp.add_argument(
        "--precision", choices=PRECISIONS, default=None, help="float32 (default), mixed_float16, mixed_bfloat16, ..."
    )
    exp.add_argument("--config", help="config.json for the checkpoint (default: beside it, else inferred)")

    ins = sub.add_parser("inspect", help="show a checkpoint's format, config, head, size and key fit")
    ins.add_argument("path")
    ins.add_argument("--config", help="config.json to check the checkpoint against")

    conv = sub.add_parser("convert", help="convert a checkpoint into an electra-qa folder or Hugging Face layout")
    conv.add_argument("src")
    conv.add_argument("dst")
    conv.add_argument(
        "--to",
        choices=("keras", "hf"),
        default="keras",
        help="keras: config.json + model.weights.h5 (+ tokenizer), fast to reload (default); "
        "hf: config.json + model.safetensors (simple head, discriminator or encoder)",
    )
    conv.add_argument("--vocab", help="tokenizer file to store with the model (default: found beside SRC)")
    conv.add_argument("--config", help="config.json for SRC (default: beside it, else inferred)")

    dl = sub.add_parser("download", help="download and convert a registered model into the cache")
    dl.add_argument("name", nargs="?", default=hub.DEFAULT_MODEL)
    dl.add_argument("--cache-dir")
    dl.add_argument("--url", help="download from this URL instead of the registered ones")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="electra-qa", description="Extractive question answering with ELECTRA.")
    sub = parser.add_subparsers(dest="command", required=True)
    _answer_parser(sub)
    _squad_parsers(sub)
    _batch_parser(sub)
    _collection_parsers(sub)
    _train_parser(sub)
    _checkpoint_parsers(sub)
    sub.add_parser("env", help="versions, backend, devices, and the precision 'auto' picks (for bug reports)")
    return parser


def _context(args) -> str:
    if args.context is not None:
        return args.context
    if args.context_file and args.context_file != "-":
        try:
            with open(args.context_file, encoding="utf-8") as f:
                return f.read()
        except UnicodeDecodeError as e:
            raise InputError(
                f"--context-file {args.context_file!r} is not UTF-8 text ({e.reason} at byte {e.start})"
            ) from None
    if args.context_file == "-" or not sys.stdin.isatty():
        data = sys.stdin.buffer.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"standard input is not UTF-8 text ({e.reason} at byte {e.start})") from None
    raise InputError("give the context with -c, --context-file FILE, or on standard input")


def _prepare_runtime(args) -> None:
    """Check ``--runtime`` against the checkpoint, and import the backend quietly first in a real command-line run
    (not for an ONNX file: ONNX Runtime runs it, and TensorFlow is never imported)."""
    onnx = is_onnx(args.checkpoint)
    if args.runtime == "onnxruntime" and not onnx:
        raise InputError(
            "--runtime onnxruntime runs an ONNX file: export one with 'electra-qa export MODEL --onnx FILE'"
        )
    if args.runtime == "tensorflow" and onnx:
        raise InputError(f"{args.checkpoint} is an ONNX file, which runs on --runtime onnxruntime")
    if args.quiet_backend and not onnx:
        _import_backend_quietly()


def _load_options(args) -> dict:
    """What ``load_answerer`` takes from the model options: vocab, config, precision, and the window options given
    on the command line (the others keep the model's defaults)."""
    windows = {
        "max_seq_length": args.max_seq_length,
        "doc_stride": args.doc_stride,
        "max_query_length": args.max_query_length,
    }
    return {
        "vocab": args.vocab,
        "config": args.config,
        "precision": args.precision,
        **{k: v for k, v in windows.items() if v is not None},
    }


def _load_qa(args, **settings) -> QuestionAnswerer:
    """The model the options name (``_prepare_runtime`` first)."""
    _prepare_runtime(args)
    return load_answerer(args.checkpoint, **_load_options(args), **settings)


def _answer(args) -> int:
    context = _context(args)
    if args.top_k < 1:
        raise InputError(f"--top-k must be a positive integer, got {args.top_k}")
    check_text("question", args.question)  # cheap checks first: loading a model takes seconds
    check_text("context", context)
    qa = _load_qa(args)
    answers = qa(args.question, context, top_k=args.top_k)
    if args.json:
        print(json.dumps([a.to_dict() for a in answers], ensure_ascii=False, indent=2))
    else:
        for a in answers:
            shown = a.text if not a.is_empty else f"(no answer: {a.reason})"
            print(f"{shown}\tscore={a.score:.4f}\tchars={a.start}:{a.end}")
    return 0


def _squad(args) -> int:
    data = load_squad(args.data)  # a bad file fails here, before the model is loaded
    if args.out is not None:
        check_output_folder(args.out)
    if args.command == "evaluate":
        check_scorable(data, every_question_answered=True)
    if args.batch_size is not None:
        positive_int("batch_size", args.batch_size)  # before the model loads
    qa = _load_qa(args, **({"version_2_with_negative": True} if data.version == "2.0" else {}))
    predictions = predict_squad(
        qa, data, args.out, batch_size=args.batch_size, chunk_size=args.chunk_size, progress=not args.no_progress
    )
    result = {
        "questions": predictions.questions,
        "windows": predictions.windows,
        "questions_per_second": round(predictions.questions_per_second, 3),
        "skipped": len(predictions.skipped),
    }
    if args.command == "evaluate":
        scores = evaluate_squad(data, predictions, na_probs=predictions.null_odds or None)
        result = {**scores, **result}
    result["files"] = predictions.files
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for key, value in result.items():
        if key == "files":
            for path in value.values():
                print(f"{'wrote':<22}{path}")
        else:
            print(f"{key:<22}{value:.4f}" if isinstance(value, float) else f"{key:<22}{value}")
    for s in predictions.skipped[:10]:
        print(f"skipped record {s.index} (id {s.id}): {s.reason}", file=sys.stderr)
    return 0


def _batch(args) -> int:
    job = {  # what both engines take from the command line
        "id_field": args.id_field,
        "question_field": args.question_field,
        "context_field": args.context_field,
        "top_k": args.top_k,
        "index": args.index,
        "retrieve_k": args.retrieve_k,
        **_load_options(args),
    }
    if args.engine == "ray":
        try:
            from electra_qa.ray import answer_path
        except ImportError:
            raise InputError("--engine ray needs Ray: pip install 'electra-qa[ray]'") from None
        counts = answer_path(
            args.input,
            args.output,
            args.checkpoint,
            num_workers=args.workers,
            num_gpus_per_worker=args.gpus_per_worker,
            **job,
            **({"batch_size": args.batch_size} if args.batch_size else {}),
        )
        print(
            f"{counts['answered']} rows answered, {counts['errors']} bad rows (their 'error' column says why); "
            f"output: {counts['output']}"
        )
        return 0
    _prepare_runtime(args)
    summary = answer_file(  # checks the input and output before it loads the model
        args.input,
        args.output,
        args.checkpoint,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
        **job,
    )
    print(summary)
    return 0


def _index(args) -> int:
    from electra_qa.index import DocumentIndex

    if args.action == "info" and not os.path.isfile(args.index):
        raise InputError(f"no index file {args.index!r}")
    options = {}
    if args.action == "add":
        options = {"passage_words": args.passage_words, "passage_overlap": args.passage_overlap}
    with DocumentIndex(args.index, **options) as index:
        if args.action == "add":
            import time

            start = time.perf_counter()
            count = index.add(args.files)
            print(f"added {count} documents in {time.perf_counter() - start:.1f} s; {len(index)} in {args.index}")
        elif args.action == "remove":
            print(f"removed {index.remove(args.ids)} documents; {len(index)} in {args.index}")
        else:
            for key, value in index.info().items():
                print(f"{key:<18}{value}")
    return 0


def _ask(args) -> int:
    from electra_qa.index import DocumentIndex

    check_text("question", args.question)
    if args.top_k < 1 or args.retrieve_k < 1:
        raise InputError("--top-k and --retrieve-k must be positive integers")
    if not os.path.isfile(args.index):
        raise InputError(f"no index file {args.index!r}")
    index = DocumentIndex(args.index, read_only=True)  # before the model loads
    qa = _load_qa(args)
    result = qa.ask(args.question, index, top_k=args.top_k, retrieve_k=args.retrieve_k, min_score=args.min_score)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    for rank, a in enumerate(result, 1):
        print(f"{rank}. {a.text}\tscore={a.score:.3f}\t{a.doc_id} chars {a.start}:{a.end}")
    if not result:
        print("(no answer" + (f" scored {args.min_score} or more" if args.min_score is not None else "") + ")")
    print(f"no-answer score {result.no_answer_score:.3f}")
    return 0


def _train(args) -> int:
    from electra_qa.training import fine_tune

    qa = fine_tune(
        args.init,
        args.train,
        eval_data=args.eval,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        layerwise_lr_decay=args.layerwise_lr_decay,
        warmup_proportion=args.warmup_proportion,
        weight_decay=args.weight_decay,
        adam_epsilon=args.adam_epsilon,
        bias_corrected_epsilon=args.bias_corrected_epsilon,
        precision=args.precision,
        output_dir=args.out,
        seed=args.seed,
        max_seq_length=args.max_seq_length,
        doc_stride=args.doc_stride,
        max_query_length=args.max_query_length,
        head=args.head,
        vocab=args.vocab,
        resume=args.resume,
        progress=not args.no_progress,
    )
    for record in qa.training_log["history"]:
        print(json.dumps(record))
    print(f"model: {qa.training_log['last_folder']}")
    return 0


def _export(args) -> int:
    from electra_qa.serving import export_saved_model, signature_inputs

    if args.onnx:
        from electra_qa.onnx_export import export_onnx

        check_output_folder(os.path.dirname(os.path.abspath(args.onnx)), "ONNX file's folder")
        qa = QuestionAnswerer.from_checkpoint(args.checkpoint, config=args.config, precision="float32")
        path = export_onnx(
            qa,
            args.onnx,
            fused=not args.standard_ops,
            float16=args.float16,
            quantize="int8" if args.int8 else None,
        )
        size = os.path.getsize(path) / 2**20
        print(f"ONNX: {path} ({size:.0f} MiB, {qa.model.head.name} head), tokenizer beside it")
        for name, (dtype, shape) in signature_inputs(qa.model.head).items():
            print(f"  input  {name:<16}{dtype:<9}{shape}")
        return 0
    check_output_folder(args.saved_model, "SavedModel folder")  # before the model loads
    model = load_qa_model(locate(args.checkpoint), config=args.config, precision=args.precision)
    folder = export_saved_model(model, args.saved_model)
    print(f"SavedModel: {folder} (signature serving_default, {model.head.name} head)")
    for name, (dtype, shape) in signature_inputs(model.head).items():
        print(f"  input  {name:<16}{dtype:<9}{shape}")
    return 0


def _inspect(args) -> int:
    info = inspect_checkpoint(args.path, config=args.config)
    print(info.summary())
    return 0 if info.fit.ok else 1


def _convert(args) -> int:
    check_output_folder(args.dst)  # before the model loads
    located = locate(args.src)
    model = load_model(located, config=args.config)
    try:
        tokenizer = load_tokenizer(args.vocab or located.folder)
    except InputError:
        if args.vocab:
            raise
        tokenizer = None
    if args.to == "hf":
        export_huggingface(model, args.dst)
    else:
        save_model(model, args.dst)
    if tokenizer is not None:
        tokenizer.save(args.dst)
    print(f"wrote {type(model).__name__} to {args.dst}" + ("" if tokenizer else " (no tokenizer found: pass --vocab)"))
    return 0


def environment() -> dict:
    """What ``electra-qa env`` reports: versions, the Keras backend, the device found, what "auto" picks and why."""
    import importlib.metadata
    import platform

    from electra_qa import __version__
    from electra_qa.precision import auto_precision, auto_reason, detect_device

    def version(package):
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    device = detect_device()
    packages = (
        "keras",
        "tensorflow",
        "jax",
        "jaxlib",
        "torch",
        "numpy",
        "tokenizers",
        "sentencepiece",
        "h5py",
        "crc32c",
        "apsw",
        "tqdm",
        "ray",
        "onnx",
        "onnxruntime",
        "onnxruntime-gpu",
    )
    return {
        "electra-qa": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{name: version(name) for name in packages},
        "keras backend": device.backend,
        "device": device.name,
        "device platform": device.platform,
        "compute capability": ".".join(map(str, device.compute_capability)) if device.compute_capability else "none",
        "precision 'auto'": auto_precision(device),
        "why": auto_reason(device),
        "runtimes": ", ".join(_runtimes()),
        "onnx providers": ", ".join(_onnx_providers()) or "none (pip install 'electra-qa[onnx]')",
    }


def _runtimes() -> list[str]:
    import importlib.util

    found = ["keras/tensorflow"] if importlib.util.find_spec("tensorflow") else []
    return found + (["onnxruntime"] if importlib.util.find_spec("onnxruntime") else [])


def _onnx_providers() -> list[str]:
    """ONNX Runtime's execution providers here (CPU, CUDA, TensorRT, ...), in its order of preference."""
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def _env(args) -> int:
    if args.quiet_backend:
        _import_backend_quietly()
    for key, value in environment().items():
        print(f"{key + ':':22}{'not installed' if value is None else value}")
    return 0


def _download(args) -> int:
    print(hub.fetch(args.name, cache_dir=args.cache_dir, url=args.url))
    return 0


def _import_backend_quietly() -> None:
    """Import Keras and its backend with file descriptor 2 pointed at /dev/null: TensorFlow 2.2x writes C++ start-up
    lines to stderr before any log setting applies. Only the command line does this, in its own process; Python
    errors still surface as exceptions."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.quiet_backend = argv is None  # a real command-line run, not a call from Python code
    if args.quiet_backend and args.command in ("inspect", "convert", "download"):
        if args.command != "download":
            try:
                locate(args.path if args.command == "inspect" else args.src)  # a wrong path fails before the import
            except ElectraQAError as e:
                print(f"electra-qa: {e}", file=sys.stderr)
                return 2
        _import_backend_quietly()
    command = {
        "answer": _answer,
        "evaluate": _squad,
        "predict": _squad,
        "batch": _batch,
        "index": _index,
        "ask": _ask,
        "train": _train,
        "export": _export,
        "inspect": _inspect,
        "convert": _convert,
        "download": _download,
        "env": _env,
    }[args.command]
    try:
        return command(args)
    except ElectraQAError as e:
        print(f"electra-qa: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        where = f" {e.filename!r}" if e.filename else ""
        print(f"electra-qa: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("electra-qa: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug of ours: one line for the user, the traceback on request
        if os.environ.get("ELECTRA_QA_TRACEBACK"):
            raise
        print(
            f"electra-qa: internal error ({type(e).__name__}: {e}); please report it, with the traceback that "
            "ELECTRA_QA_TRACEBACK=1 prints",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
