"""Every docstring example in the package runs, on a tiny random-weight model (``folder``) and, where the
reference fixtures are present, NVIDIA's tiny NGC checkpoint (``ngc_folder``), so that no example goes stale."""

import doctest
import importlib
import pathlib

import pytest
from conftest import FIXTURES

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "electra_qa"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found += [(module, t.name) for t in finder.find(importlib.import_module(module)) if t.examples]
    return found


DOCTESTS = _doctests()


@pytest.fixture(scope="module")
def doctest_globals(tmp_path_factory):
    from electra_qa import ElectraConfig, QuestionAnswerer, build_model, load_tokenizer
    from electra_qa.hub import PACKAGED_VOCAB

    config = ElectraConfig(
        hidden_size=32,
        embedding_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    folder = QuestionAnswerer(build_model(config, "simple"), load_tokenizer(PACKAGED_VOCAB)).save(
        tmp_path_factory.mktemp("doctest") / "tiny_qa"
    )
    return {"folder": str(folder), "ngc_folder": str(FIXTURES / "ngc_tiny")}


def test_the_examples_are_found():
    names = {name for _, name in DOCTESTS}
    assert {"QuestionAnswerer", "load_model", "QASettings", "answer"} <= {n.rsplit(".", 1)[-1] for n in names}


@pytest.mark.parametrize("module, name", DOCTESTS, ids=[name for _, name in DOCTESTS])
def test_docstring_example(module, name, doctest_globals):
    test = next(t for t in doctest.DocTestFinder().find(importlib.import_module(module)) if t.name == name)
    if "ngc_folder" in "".join(e.source for e in test.examples) and not (FIXTURES / "ngc_tiny").is_dir():
        pytest.skip(f"reference fixture {FIXTURES / 'ngc_tiny'} is absent (it ships beside the repo in CI)")
    test.globs.update(doctest_globals)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    output = []
    runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)
