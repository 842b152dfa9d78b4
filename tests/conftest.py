import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib

import pytest

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures"


def fixture_dir(name: str) -> pathlib.Path:
    """A folder of ../shared/fixtures, or skip the test with the reason when it is not there (a user's clone)."""
    path = FIXTURES / name
    if not path.is_dir():
        pytest.skip(f"reference fixture {path} is absent (it ships beside the repo in CI, not in a clone)")
    return path


def same_answers(a, b, rel=1e-6) -> bool:
    """Answers equal in text and offsets, scores equal to float rounding (eager and compiled calls may differ in the
    last bits)."""
    a = a if isinstance(a, list) else [a]
    b = b if isinstance(b, list) else [b]
    return len(a) == len(b) and all(
        (x.text, x.start, x.end, x.reason) == (y.text, y.start, y.end, y.reason)
        and x.score == pytest.approx(y.score, rel=rel, abs=1e-12)
        for x, y in zip(a, b)
    )


def tiny_config(vocab_size: int = 30522):
    """The one-layer ElectraConfig (hidden 32, embedding 16, 64 positions) the pipeline-level tests build models
    with."""
    from electra_qa import ElectraConfig

    return ElectraConfig(
        vocab_size=vocab_size,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
