"""Re-execute examples/quickstart.ipynb in place and keep its outputs (what GitHub shows), without TensorFlow's
start-up log lines on stderr:

    .venv/bin/python examples/refresh_notebook.py
"""

import pathlib

import nbformat
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).resolve().parent / "quickstart.ipynb"

nb = nbformat.read(NOTEBOOK, as_version=4)
NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
for cell in nb.cells:
    if cell.cell_type == "code":
        cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
nbformat.write(nb, NOTEBOOK)
