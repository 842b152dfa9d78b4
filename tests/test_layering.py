"""The package's layering: import-linter's contracts (pyproject.toml) hold, and every module imports on its own in a
fresh process, so that no cycle is masked by the order in which modules happen to be imported."""

import concurrent.futures
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "electra_qa"


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_import_linter_contracts_hold():
    pytest.importorskip("importlinter", reason="import-linter is in the test extra: pip install -e '.[test]'")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
            "--no-cache",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and " kept" in result.stdout


def test_the_module_list_is_complete():
    modules = _modules()
    assert "electra_qa.checkpoints.formats.ngc" in modules and "electra_qa.cli" in modules
    assert len(modules) >= 30


def test_every_module_imports_alone_in_a_fresh_process():
    # Keras' numpy backend: the model modules need Keras at import, not TensorFlow (1.5 s a process less).
    env = dict(os.environ, KERAS_BACKEND="numpy", TF_CPP_MIN_LOG_LEVEL="3")

    def imports(module):
        result = subprocess.run(
            [sys.executable, "-c", f"import {module}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        return module, result.returncode, result.stderr[-1500:]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        failed = [(m, err) for m, code, err in pool.map(imports, _modules()) if code != 0]
    assert not failed, failed
