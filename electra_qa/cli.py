"""Command line: ``electra-qa answer|inspect|convert|download``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from electra_qa import hub
from electra_qa.checkpoints import export_huggingface, inspect_checkpoint, load_model, locate, save_model
from electra_qa.errors import ElectraQAError, InputError
from electra_qa.pipeline import QuestionAnswerer
from electra_qa.tokenization import load_tokenizer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="electra-qa", description="Extractive question answering with ELECTRA.")
    sub = parser.add_subparsers(dest="command", required=True)

    ans = sub.add_parser("answer", help="answer a question about a context")
    ans.add_argument("--checkpoint", help="checkpoint folder or file of any supported format (NGC, Hugging Face, "
                                          "google-research, saved by electra-qa); default: the pretrained NGC model")
    ans.add_argument("--vocab", help="vocab.txt / tokenizer.json (default: found beside the checkpoint)")
    ans.add_argument("--config", help="config.json (default: beside the checkpoint, else inferred from shapes)")
    ans.add_argument("-q", "--question", required=True)
    src = ans.add_mutually_exclusive_group()
    src.add_argument("-c", "--context", help="the context text")
    src.add_argument("--context-file", help="read the context from this file ('-' = standard input)")
    ans.add_argument("--top-k", type=int, default=1)
    ans.add_argument("--max-seq-length", type=int, help="default: 384 or the model's maximum")
    ans.add_argument("--doc-stride", type=int, help="step between window starts (default 128)")
    ans.add_argument("--max-query-length", type=int, help="default 64")
    ans.add_argument("--json", action="store_true", help="print machine-readable JSON")

    ins = sub.add_parser("inspect", help="show a checkpoint's format, config, head, size and key fit")
    ins.add_argument("path")
    ins.add_argument("--config", help="config.json to check the checkpoint against")

    conv = sub.add_parser("convert", help="convert a checkpoint into an electra-qa folder or Hugging Face layout")
    conv.add_argument("src")
    conv.add_argument("dst")
    conv.add_argument("--to", choices=("keras", "hf"), default="keras",
                      help="keras: config.json + model.weights.h5 (+ tokenizer), fast to reload (default); "
                           "hf: config.json + model.safetensors (simple head, discriminator or encoder)")
    conv.add_argument("--vocab", help="tokenizer file to store with the model (default: found beside SRC)")
    conv.add_argument("--config", help="config.json for SRC (default: beside it, else inferred)")

    dl = sub.add_parser("download", help="download and convert a registered model into the cache")
    dl.add_argument("name", nargs="?", default=hub.DEFAULT_MODEL)
    dl.add_argument("--cache-dir")
    dl.add_argument("--url", help="download from this URL instead of the registered ones")
    return parser


def _context(args) -> str:
    if args.context is not None:
        return args.context
    if args.context_file and args.context_file != "-":
        with open(args.context_file, encoding="utf-8") as f:
            return f.read()
    if args.context_file == "-" or not sys.stdin.isatty():
        return sys.stdin.read()
    raise SystemExit("electra-qa: give the context with -c, --context-file FILE, or on standard input")


def _answer(args) -> int:
    context = _context(args)
    settings = {k: v for k, v in (("max_seq_length", args.max_seq_length), ("doc_stride", args.doc_stride),
                                  ("max_query_length", args.max_query_length)) if v is not None}
    if args.checkpoint is None:
        qa = QuestionAnswerer.from_pretrained(**settings)
    else:
        qa = QuestionAnswerer.from_checkpoint(args.checkpoint, vocab=args.vocab, config=args.config, **settings)
    answers = qa(args.question, context, top_k=args.top_k)
    if args.json:
        print(json.dumps([dataclasses.asdict(a) for a in answers], ensure_ascii=False, indent=2))
    else:
        for a in answers:
            shown = a.text if not a.is_empty else f"(no answer: {a.reason})"
            print(f"{shown}\tscore={a.score:.4f}\tchars={a.start}:{a.end}")
    return 0


def _inspect(args) -> int:
    info = inspect_checkpoint(args.path, config=args.config)
    print(info.summary())
    return 0 if info.fit.ok else 1


def _convert(args) -> int:
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
    if argv is None:  # a real command-line run, not a call from Python code
        _import_backend_quietly()
    command = {"answer": _answer, "inspect": _inspect, "convert": _convert, "download": _download}[args.command]
    try:
        return command(args)
    except (ElectraQAError, OSError) as e:
        print(f"electra-qa: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
