"""Command line: ``electra-qa answer --checkpoint DIR --vocab FILE -q QUESTION -c CONTEXT``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="electra-qa", description="Extractive question answering with ELECTRA.")
    sub = parser.add_subparsers(dest="command", required=True)
    ans = sub.add_parser("answer", help="answer a question about a context")
    ans.add_argument("--checkpoint", required=True, help="NGC checkpoint folder, state file or prefix")
    ans.add_argument("--vocab", help="vocab.txt / tokenizer.json (default: found beside the checkpoint)")
    ans.add_argument("--config", help="config.json (default: beside the checkpoint, else inferred from shapes)")
    ans.add_argument("-q", "--question", required=True)
    src = ans.add_mutually_exclusive_group()
    src.add_argument("-c", "--context", help="the context text")
    src.add_argument("--context-file", help="read the context from this file ('-' = standard input)")
    ans.add_argument("--top-k", type=int, default=1)
    ans.add_argument("--max-seq-length", type=int, default=None, help="default: 384 or the model's maximum")
    ans.add_argument("--doc-stride", type=int, default=128)
    ans.add_argument("--max-query-length", type=int, default=64)
    ans.add_argument("--json", action="store_true", help="print machine-readable JSON")
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from electra_qa.errors import ElectraQAError
    from electra_qa.pipeline import QuestionAnswerer

    try:
        context = _context(args)
        qa = QuestionAnswerer.from_checkpoint(args.checkpoint, vocab=args.vocab, config=args.config,
                                              max_seq_length=args.max_seq_length, doc_stride=args.doc_stride,
                                              max_query_length=args.max_query_length)
        answers = qa(args.question, context, top_k=args.top_k)
    except (ElectraQAError, OSError) as e:
        print(f"electra-qa: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([dataclasses.asdict(a) for a in answers], ensure_ascii=False, indent=2))
    else:
        for a in answers:
            shown = a.text if not a.is_empty else f"(no answer: {a.reason})"
            print(f"{shown}\tscore={a.score:.4f}\tchars={a.start}:{a.end}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
