"""SentencePiece tokenizers: a model trained here, offsets into the original string, answers through the pipeline."""

import io

import pytest
from conftest import same_answers, tiny_config

from electra_qa import ElectraForQuestionAnswering, InputError, QuestionAnswerer, load_tokenizer

spm = pytest.importorskip("sentencepiece")

TEXT = [
    "The Denver Broncos won Super Bowl 50 in February, beating the Carolina Panthers.",
    "Paris is the capital and largest city of France.",
    "Café au lait and naïve résumé writers met in Zürich on a rainy day.",
    "Many people in the city watched the game at night.",
    "The team played many games during the season, and the fans cheered loudly.",
] * 20


@pytest.fixture(scope="module")
def sp_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spm")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXT),
        model_writer=model,
        vocab_size=80,
        user_defined_symbols=["[CLS]", "[SEP]", "[PAD]"],
        minloglevel=2,
    )
    path = folder / "spiece.model"
    path.write_bytes(model.getvalue())
    return path


def test_offsets_cover_the_pieces_text(sp_model):
    tok = load_tokenizer(sp_model)
    text = "  Café au lait\tin   Zürich, beating the Panthers. "
    enc = tok.encode(text)
    assert enc.ids and len(enc.ids) == len(enc.offsets)
    pieces = [tok.id_to_token(i).replace("\u2581", "") for i in enc.ids]
    for (start, end), piece in zip(enc.offsets, pieces):
        assert 0 <= start <= end <= len(text)
        if piece and "<unk>" not in piece:
            assert text[start:end] == piece  # character offsets, whatever the accents
    assert [s for s, _ in enc.offsets] == sorted(s for s, _ in enc.offsets)


def test_answers_are_exact_substrings(sp_model):
    tok = load_tokenizer(sp_model)
    config = tiny_config(tok.vocab_size)
    qa = QuestionAnswerer(ElectraForQuestionAnswering(config, head="simple"), tok, max_seq_length=64, doc_stride=16)
    context = "Café au lait and naïve résumé writers met in Zürich.  " * 6
    answers = qa("Where did they meet?", context, top_k=5)
    assert answers
    for a in answers:
        assert a.text == context[a.start : a.end] and a.text
    qa.save(sp_model.parent / "saved")
    assert (sp_model.parent / "saved" / "spiece.model").is_file()
    again = QuestionAnswerer.from_checkpoint(sp_model.parent / "saved")
    assert same_answers(again("Where did they meet?", context, top_k=5), answers)


def test_model_without_special_pieces_is_refused(tmp_path):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXT), model_writer=model, vocab_size=50, minloglevel=2)
    (tmp_path / "plain.model").write_bytes(model.getvalue())
    with pytest.raises(InputError, match=r"lacks the special pieces \['\[CLS\]', '\[SEP\]', '\[PAD\]'\]"):
        load_tokenizer(tmp_path / "plain.model")


def test_byte_offset_fallback_agrees(sp_model):
    """Older sentencepiece releases only report UTF-8 byte offsets; both paths give the same character offsets."""
    tok = load_tokenizer(sp_model)
    real = tok._sp

    class OldProcessor:
        def encode(self, text, out_type=None, return_type=None):
            if return_type is not None:
                raise TypeError("encode() got an unexpected keyword argument 'return_type'")
            assert out_type == "immutable_proto"
            return real.encode(text, return_type="proto")

    text = "  Café au lait\tin   Zürich, naïve. "
    new = tok.encode(text)
    tok._sp = OldProcessor()
    try:
        old = tok.encode(text)
    finally:
        tok._sp = real
    assert (old.ids, old.offsets) == (new.ids, new.offsets)
