"""The research notebooks run top to bottom on a fresh kernel, and are committed with the outputs
of such a run.

Each notebook is executed with nbclient in a temporary working directory (what it exports lands
there; the outputs are discarded, the file in the repo is not touched). Select or skip these with
``-m notebooks`` / ``-m "not notebooks"``. Regenerate the committed outputs with
``python notebooks/run_all.py``.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat  # nbformat, nbclient and ipykernel come with the test extra; no silent skip
import pandas as pd
import pytest

pytestmark = pytest.mark.notebooks

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_corpus.ipynb", "02_train_evaluate.ipynb", "03_errors.ipynb"]


def _runner():
    spec = importlib.util.spec_from_file_location("run_all", NOTEBOOKS / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _images(nb) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)


def test_every_notebook_is_listed():
    # a new notebook must be added here (and so be executed by the tests)
    assert sorted(p.name for p in NOTEBOOKS.glob("[0-9]*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_committed_with_outputs_of_a_clean_run(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    # executed once, top to bottom, in order: 1, 2, 3, ... (regenerate with notebooks/run_all.py)
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert _images(nb) > 0
    assert (NOTEBOOKS / name).stat().st_size < 1_000_000


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, tmp_path):
    # raises CellExecutionError, with the failing cell and its traceback, on any error
    nb = _runner().execute(NOTEBOOKS / name, cwd=tmp_path)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert _images(nb) > 0
    if name == "03_errors.ipynb":
        queue = pd.read_csv(tmp_path / "output" / "review_queue.csv", dtype={"label": str}, keep_default_na=False)
        assert list(queue.columns) == ["doc_id", "para_index", "role", "heading", "text", "predicted", "score",
                                       "runner_up", "runner_up_score", "label"]
        assert len(queue) > 0 and (queue["label"] == "").all()
        assert queue["score"].is_monotonic_increasing
        assert (queue["predicted"] != queue["runner_up"]).all()
