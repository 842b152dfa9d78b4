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
