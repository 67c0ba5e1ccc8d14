"""Build the bundled corpus from its annotated sources.

    python data/build_corpus.py [--corpus-dir DIR]

reads ``data/annotated/*.txt`` (see ``annotated_format.py``), writes each report as the raw
file a user would hold (``data/corpus/<doc_id>.txt`` or ``.docx``; generated, not kept in git)
and the label table ``data/labels.csv`` (kept in git: it is what ``train`` reads). Every
paragraph row carries its ``writer``, the prefix of its doc_id, so folds can hold writers out. Raw files carry the noise real files do, applied deterministically per
document (seeded by its id): PDF-style hard wraps (some indented), blank lines between
paragraphs or none, full-width digits, stray spaces, CRLF line ends, GB18030 encoding.
``labels.csv`` holds each paragraph as it appears in its raw file, once unwrapped, so
``ingest`` of the raw file should give back exactly these paragraphs (a test measures how
often it does).
"""
from __future__ import annotations

import hashlib
import random
import shutil
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from annotated_format import read_annotated  # noqa: E402

HERE = Path(__file__).parent
ANNOTATED = HERE / "annotated"
CORPUS = HERE / "corpus"
LABELS = HERE / "labels.csv"

_FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
# A line never starts with these in Chinese typesetting; they stay on the line before.
_NO_LINE_START = set("，。、；：？！）》」』”’%）,.;:?!)")


def _rng(doc_id: str) -> random.Random:
    return random.Random(int(hashlib.sha256(doc_id.encode()).hexdigest()[:16], 16))


def _width(ch: str) -> int:
    import unicodedata

    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def hard_wrap(text: str, width: int) -> list[str]:
    """Wrap like a PDF page: fill lines to ``width`` columns, no line starting with closing punctuation."""
    lines, line, cols = [], [], 0
    for ch in text:
        w = _width(ch)
        if cols + w > width and line and ch not in _NO_LINE_START:
            lines.append("".join(line))
            line, cols = [], 0
        line.append(ch)
        cols += w
    if line:
        lines.append("".join(line))
    return lines


def add_text_noise(paragraphs: list[str], rng: random.Random) -> list[str]:
    """Full-width digits and stray spaces, in some documents, as web and OCR copies have."""
    fullwidth = rng.random() < 0.25
    stray = rng.random() < 0.3
    result = []
    for text in paragraphs:
        if fullwidth and rng.random() < 0.7:
            text = text.translate(_FULLWIDTH_DIGITS)
        if stray and len(text) > 20 and rng.random() < 0.15:
            cut = rng.randrange(5, len(text) - 5)
            text = text[:cut] + " " + text[cut:]
        result.append(text)
    return result


def render_text(paragraphs: list[str], rng: random.Random) -> tuple[str, str]:
    """Lay the paragraphs out as a raw text file; returns (text, a short description of the layout)."""
    style = rng.choices(["web", "web_blank", "pdf", "pdf_indent"], weights=[35, 25, 20, 20])[0]
    if style.startswith("pdf"):
        width = rng.choice([56, 58, 60, 62, 64])
        indent = "\u3000\u3000" if style == "pdf_indent" else ""
        lines = []
        for text in paragraphs:
            # The first line of an indented paragraph is shorter by the indent.
            wrapped = hard_wrap(indent + text, width) if indent else hard_wrap(text, width)
            lines.extend(wrapped)
        body = "\n".join(lines)
        style = f"{style}@{width}"
    else:
        sep = "\n\n" if style == "web_blank" else "\n"
        body = sep.join(paragraphs)
    newline = "\r\n" if rng.random() < 0.15 else "\n"
    return body.replace("\n", newline) + newline, style


def write_docx(paragraphs: list[str], path: Path) -> None:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.core_properties.author = "report-topics corpus"
    # A fixed timestamp keeps rebuilt files byte-identical.
    from datetime import datetime

    document.core_properties.created = document.core_properties.modified = datetime(2025, 1, 1)
    document.save(str(path))


def writer_of(doc_id: str) -> str:
    """The writer of a corpus document: its doc_id's prefix (``a17`` of ``a17_03_…``)."""
    return doc_id.split("_", 1)[0]


def build(corpus_dir: Path = CORPUS, labels_path: Path | None = LABELS) -> pd.DataFrame:
    """Write the raw files into ``corpus_dir`` (replacing it) and the table to ``labels_path``."""
    docs = [read_annotated(p) for p in sorted(ANNOTATED.glob("*.txt"))]
    shutil.rmtree(corpus_dir, ignore_errors=True)
    corpus_dir.mkdir(parents=True)
    rows = []
    for n, doc in enumerate(docs):
        doc_id = doc.meta["doc_id"]
        rng = _rng(doc_id)
        texts = add_text_noise([t for _, _, t in doc.paragraphs], rng)
        if rng.random() < 0.08:
            path = corpus_dir / f"{doc_id}.docx"
            write_docx(texts, path)
            layout, encoding = "docx", "docx"
        else:
            path = corpus_dir / f"{doc_id}.txt"
            body, layout = render_text(texts, rng)
            encoding = "gb18030" if rng.random() < 0.1 else "utf-8"
            try:
                data = body.encode(encoding)
            except UnicodeEncodeError:
                encoding, data = "utf-8", body.encode("utf-8")
            path.write_bytes(data)
        for i, ((label, role, _), text) in enumerate(zip(doc.paragraphs, texts)):
            rows.append({
                "doc_id": doc_id, "para_index": i, "text": text, "label": label, "role": role, "writer": writer_of(doc_id),
                "genre": doc.meta["genre"], "unit_type": doc.meta["unit_type"], "unit": doc.meta["unit"],
                "year": int(doc.meta["year"]), "file": path.name, "layout": layout, "encoding": encoding,
            })
    frame = pd.DataFrame(rows)
    if labels_path is not None:
        frame.to_csv(labels_path, index=False, encoding="utf-8")
    return frame


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-dir", type=Path, default=CORPUS, help=f"where the raw files go (default: {CORPUS})")
    args = parser.parse_args()
    table = build(args.corpus_dir)
    print(f"{table['doc_id'].nunique()} documents by {table['writer'].nunique()} writers, {len(table)} paragraphs "
          f"→ {args.corpus_dir}, {LABELS}")
    print(table["label"].value_counts().to_string())
