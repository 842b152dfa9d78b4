"""Tokenizers with character offsets into the caller's original string.

``WordPieceTokenizer`` is BERT-uncased WordPiece built with the ``tokenizers`` library (lower-casing, accent stripping,
punctuation and CJK splitting as the reference's BasicTokenizer does); ``SentencePieceTokenizer`` wraps a
``sentencepiece`` model for ELECTRA variants that ship one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from electra_qa import filenames
from electra_qa.errors import InputError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclasses.dataclass
class Encoding:
    """Token ids of one text and, for each token, its [start, end) character span in that text and the index of the
    pre-tokenizer word it belongs to (``words``; None where the tokenizer has no word information)."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    words: list[int | None] | None = None


def _without_added_tokens(tokenizer):
    """The same model, normalizer and pre-tokenizer, but no "added tokens": ``tokenizers`` matches those in raw text
    (a typed "[SEP]" would become the separator), which user text must never do."""
    from tokenizers import Tokenizer

    if not tokenizer.get_added_tokens_decoder():
        return tokenizer
    plain = Tokenizer(tokenizer.model)
    plain.normalizer = tokenizer.normalizer
    plain.pre_tokenizer = tokenizer.pre_tokenizer
    return plain


def _max_id(tokenizer) -> int:
    """The largest token id, without building the 30,000-entry vocabulary dict (4 MiB that Python keeps): a vocab
    whose ids run 0..n-1 ends at n-1; only one with gaps needs the dict."""
    size = tokenizer.get_vocab_size(with_added_tokens=False)
    added = list(tokenizer.get_added_tokens_decoder())
    if size and tokenizer.id_to_token(size - 1) is not None and tokenizer.id_to_token(size) is None:
        return max([size - 1, *added])
    return max(tokenizer.get_vocab(with_added_tokens=True).values())


class WordPieceTokenizer:
    """BERT WordPiece (``vocab.txt`` or ``tokenizer.json``), no special tokens added, offsets into the input.

    User text never becomes a special token: a literal "[SEP]" in a question or context is split like any other text,
    whichever file the tokenizer came from.
    """

    def __init__(self, tokenizer, cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]"):
        self._saved = tokenizer  # what save() writes
        ids = {t: tokenizer.token_to_id(t) for t in (cls_token, sep_token, pad_token)}
        missing = [t for t, i in ids.items() if i is None]
        if missing:
            raise InputError(f"the vocabulary lacks the special tokens {missing}")
        self.cls_id, self.sep_id, self.pad_id = ids[cls_token], ids[sep_token], ids[pad_token]
        self.max_id = _max_id(tokenizer)
        self.vocab_size = self.max_id + 1  # rows the embedding table needs
        self._tokenizer = _without_added_tokens(tokenizer)

    @classmethod
    def from_vocab(cls, path: str | os.PathLike, do_lower_case: bool = True) -> WordPieceTokenizer:
        """From a BERT ``vocab.txt`` (one token per line, line number = id)."""
        from tokenizers import Tokenizer, normalizers, pre_tokenizers
        from tokenizers.models import WordPiece

        try:
            with open(path, encoding="utf-8") as f:
                tokens = [line.rstrip("\n").rstrip("\r") for line in f]
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read vocab file {os.fspath(path)!r}: {e}") from None
        vocab = {}
        for i, token in enumerate(tokens):
            if token:
                vocab[token] = i
        if "[UNK]" not in vocab:
            raise InputError(f"{os.fspath(path)!r} is not a BERT vocab.txt: it has no [UNK] line")
        tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
        tokenizer.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=do_lower_case
        )
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        return cls(tokenizer)

    @classmethod
    def from_tokenizer_json(cls, path: str | os.PathLike) -> WordPieceTokenizer:
        """From a Hugging Face ``tokenizer.json``; its post-processor is not used (we add [CLS]/[SEP] ourselves)."""
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(os.fspath(path))
        except Exception as e:  # the Rust side raises a generic Exception
            raise InputError(f"cannot read tokenizer file {os.fspath(path)!r}: {e}") from None
        # Files saved for sentence embedding often fix truncation/padding (e.g. 128); windows are our job.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return cls(tokenizer)

    def encode_batch(self, texts: Sequence[str]) -> list[Encoding]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [Encoding(e.ids, e.offsets, e.word_ids) for e in encodings]

    def encode(self, text: str) -> Encoding:
        return self.encode_batch([text])[0]

    def id_to_token(self, i: int) -> str | None:
        return self._tokenizer.id_to_token(i)

    def save(self, folder: str | os.PathLike) -> list[str]:
        """Write ``tokenizer.json`` (exact settings) and ``vocab.txt`` into ``folder``; returns the paths."""
        folder = os.fspath(folder)
        json_path = os.path.join(folder, filenames.TOKENIZER_JSON)
        self._saved.save(json_path)
        vocab = self._saved.get_vocab(with_added_tokens=True)
        lines = [""] * (self.max_id + 1)
        for token, i in vocab.items():
            lines[i] = token
        vocab_path = os.path.join(folder, filenames.VOCAB_TXT)
        with open(vocab_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return [json_path, vocab_path]


class SentencePieceTokenizer:
    """A ``sentencepiece`` model; ids are the model's, offsets are characters of the input string."""

    def __init__(self, processor, cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]"):
        self._sp = processor
        ids = {t: processor.piece_to_id(t) for t in (cls_token, sep_token, pad_token)}
        unk = processor.unk_id()
        missing = [t for t, i in ids.items() if i == unk]
        if missing:
            raise InputError(f"the sentencepiece model lacks the special pieces {missing}")
        self.cls_id, self.sep_id, self.pad_id = ids[cls_token], ids[sep_token], ids[pad_token]
        self.vocab_size = processor.get_piece_size()
        self.max_id = self.vocab_size - 1

    @classmethod
    def from_file(cls, path: str | os.PathLike, **kwargs) -> SentencePieceTokenizer:
        import sentencepiece

        processor = sentencepiece.SentencePieceProcessor()
        try:
            processor.Load(os.fspath(path))
        except (OSError, RuntimeError) as e:
            raise InputError(f"cannot read sentencepiece model {os.fspath(path)!r}: {e}") from None
        return cls(processor, **kwargs)

    def encode(self, text: str) -> Encoding:
        try:  # sentencepiece >= 0.2.1 reports character offsets itself
            result = self._sp.encode(text, return_type="offset_mapping")
            ids, spans = result["ids"], result["offsets"]
        except (TypeError, ValueError):
            ids, spans = self._encode_with_byte_offsets(text)
        offsets = []
        for start, end in spans:
            while start < end and text[start].isspace():  # the "▁" piece prefix covers the space before a word
                start += 1
            offsets.append((start, end))
        return Encoding(list(ids), offsets)

    def _encode_with_byte_offsets(self, text: str):
        proto = self._sp.encode(text, out_type="immutable_proto")
        byte_to_char, pos = {}, 0
        for ci, ch in enumerate(text):
            byte_to_char[pos] = ci
            pos += len(ch.encode("utf-8"))
        byte_to_char[pos] = len(text)
        return (
            [p.id for p in proto.pieces],
            [(byte_to_char.get(p.begin, 0), byte_to_char.get(p.end, len(text))) for p in proto.pieces],
        )

    def encode_batch(self, texts: Sequence[str]) -> list[Encoding]:
        return [self.encode(t) for t in texts]

    def id_to_token(self, i: int) -> str | None:
        return self._sp.id_to_piece(i)

    def save(self, folder: str | os.PathLike) -> list[str]:
        """Write the model as ``spiece.model`` into ``folder``; returns the path."""
        path = os.path.join(os.fspath(folder), filenames.SENTENCEPIECE[0])
        with open(path, "wb") as f:
            f.write(self._sp.serialized_model_proto())
        return [path]


def load_tokenizer(path: str | os.PathLike, do_lower_case: bool = True):
    """A tokenizer from ``vocab.txt``, ``tokenizer.json``, a sentencepiece ``.model``, or a folder holding one."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"a vocab must be a path, got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in (filenames.TOKENIZER_JSON, filenames.VOCAB_TXT, *filenames.SENTENCEPIECE):
            if os.path.isfile(os.path.join(path, name)):
                return load_tokenizer(os.path.join(path, name), do_lower_case)
        raise InputError(f"no vocab.txt, tokenizer.json or sentencepiece model in {path!r}")
    if path.endswith(".json"):
        return WordPieceTokenizer.from_tokenizer_json(path)
    if path.endswith(".model"):
        return SentencePieceTokenizer.from_file(path)
    return WordPieceTokenizer.from_vocab(path, do_lower_case)
