"""examples/quickstart.ipynb runs top to bottom without an error in a fresh kernel of this environment."""

import pathlib

import pytest
from conftest import fixture_dir

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_executes():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    fixture_dir("ngc_tiny")  # the notebook answers with the tiny fixture (skips in a clone without ../shared)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 8 and all(c.outputs for c in code), "stored without outputs: re-run and save it"
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<mark" in h for h in html) and any("<table>" in h for h in html)  # answer and top-k displays
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the explain plot
