"""Execute the notebooks top to bottom on a fresh kernel and save them with their outputs.

    python notebooks/run_all.py                      # every notebooks/*.ipynb, in place
    python notebooks/run_all.py 02_train_evaluate    # only the ones named (with or without .ipynb)

Run it after changing a notebook or the package, so the committed notebooks show the outputs of
a clean run. Each notebook runs with the ``notebooks/`` folder as its working directory (as when
opened in Jupyter); what they export goes to ``notebooks/output/``, which git ignores. A notebook
that fails is reported and left unchanged on disk, and the script exits non-zero.
Needs the ``test`` extra (nbclient, nbformat, ipykernel).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parent
CELL_TIMEOUT = 300  # seconds; each notebook as a whole takes well under a minute
SIZE_LIMIT = 1_000_000  # bytes; outputs are meant to stay lean enough to read on a code host


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    if not names:
        return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    paths = []
    for name in names:
        path = NOTEBOOKS / (name if name.endswith(".ipynb") else f"{name}.ipynb")
        if not path.is_file():
            raise SystemExit(f"{path}: no such notebook")
        paths.append(path)
    return paths


def execute(path: Path, cwd: Path | None = None, timeout: int = CELL_TIMEOUT):
    """Run ``path`` on a fresh ``python3`` kernel with ``cwd`` as working directory; return the
    executed notebook (the file itself is not touched). Raises CellExecutionError on a failing cell."""
    nb = nbformat.read(path, as_version=4)
    # record_timing=False: no per-cell timestamps in the metadata, so a re-run only changes
    # what the notebook actually shows.
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(cwd or path.parent)}})
    client.execute()
    return nb


def save(nb, path: Path) -> int:
    """Write atomically (temp file, then rename); return the size in bytes."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    args = parser.parse_args(argv)
    failed = []
    for path in notebook_paths(args.names):
        start = time.perf_counter()
        try:
            nb = execute(path)
        except CellExecutionError as exc:
            print(f"FAILED {path.name}: {str(exc).strip().splitlines()[-1]}", file=sys.stderr)
            failed.append(path.name)
            continue
        size = save(nb, path)
        note = "  (over 1 MB: trim the outputs)" if size > SIZE_LIMIT else ""
        stderr = sum(out.get("name") == "stderr" for cell in nb.cells for out in cell.get("outputs", []))
        if stderr:
            note += f"  ({stderr} cell output(s) on stderr, e.g. warnings: look at them)"
        print(f"{path.name}: {time.perf_counter() - start:.1f} s, {size / 1000:.0f} kB{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
