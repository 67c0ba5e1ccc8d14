"""Shared by the labelling tests: input reports, gold labels, and a server run as a user runs it."""
from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

def pick_docs(corpus: pd.DataFrame, small_corpus: pd.DataFrame, txt: int = 2, docx: int = 1) -> tuple[str, ...]:
    """Short reports the small test model never trained on: the shortest ``txt`` plain-text
    reports and ``docx`` Word ones with at least 15 paragraphs (web or Word layouts, whose raw
    files split back into exactly the corpus's paragraphs)."""
    sizes = corpus.groupby("doc_id").size()
    first = corpus.drop_duplicates("doc_id").set_index("doc_id")
    layout = first["layout"] if "layout" in first.columns else pd.Series("web", index=first.index)
    suffix = first["file"].str.rsplit(".", n=1).str[1]
    unseen = sizes[~sizes.index.isin(small_corpus["doc_id"]) & (sizes >= 15)].sort_values(kind="stable")
    plain = [d for d in unseen.index if suffix[d] == "txt" and layout[d] == "web"][:txt]
    word = [d for d in unseen.index if suffix[d] == "docx" and layout[d] == "docx"][:docx]
    return tuple(plain + word)


def copy_reports(corpus: pd.DataFrame, raw_dir: Path, folder: Path, docs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = corpus.drop_duplicates("doc_id").set_index("doc_id")["file"]
    for doc in docs:
        shutil.copy(raw_dir / files[doc], folder / files[doc])
    return folder


def gold_labels(corpus: pd.DataFrame, docs) -> dict:
    """(doc_id, text without spaces) → gold label: what an analyst with the taxonomy would pick."""
    rows = corpus[corpus["doc_id"].isin(docs)]
    return {(d, "".join(str(t).split())): label for d, t, label in zip(rows["doc_id"], rows["text"], rows["label"])}


def gold_for(gold: dict, doc_id: str, text: str, default: str = "other") -> str:
    return gold.get((doc_id, "".join(text.split())), default)


class LabelServer:
    """``python -m pipeline label ...`` in a subprocess, as a user starts it; ``url`` is the line it prints."""

    def __init__(self, args, log_path: Path, timeout: float = 120):
        self.log_path = log_path
        self.log = open(log_path, "a", encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline", "label", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.url = self._first_line(timeout)

    def _first_line(self, timeout: float) -> str | None:
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = self.proc.stdout.readline()
                if line:
                    return line.strip()
            if self.proc.poll() is not None:
                return None
        raise AssertionError(f"the label server printed no URL in {timeout} s; log:\n{self.stderr()}")

    def stderr(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(encoding="utf-8")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self.log.close()
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.kill()
        if not self.log.closed:
            self.log.close()
        return False
