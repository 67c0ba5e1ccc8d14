"""Reading: raw reports (.txt, .md, .docx) and tables of paragraphs (CSV, TSV, JSONL, Parquet, XLSX).

Every reader returns plain data (a ``Document`` or a ``DataFrame``) and raises ``InputError``
naming the file, and the row or column where one applies. Inputs are only ever read.
"""
from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from .errors import InputError
from .paragraphs import Paragraph, outline, split_paragraphs

REPORT_SUFFIXES = (".txt", ".md", ".docx")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet", ".xlsx")

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


@dataclass
class Document:
    doc_id: str
    path: str
    paragraphs: list[Paragraph] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "doc_id": self.doc_id,
                "para_index": [p.para_index for p in self.paragraphs],
                "text": [p.text for p in self.paragraphs],
                "heading": [p.heading for p in self.paragraphs],
                "role": [p.role for p in self.paragraphs],
            }
        )


def decode_bytes(data: bytes, source: str | os.PathLike) -> str:
    """Decode a text file whose encoding we are not told.

    A byte-order mark decides first; then strict UTF-8 (which almost never decodes text in
    another encoding by accident); otherwise charset-normalizer detects the encoding
    (GBK/GB18030, Big5, …) from the bytes.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(f"{source}: starts with a {encoding} byte-order mark but does not decode: {exc}") from None
    if _looks_binary(data):
        raise InputError(f"{source}: looks like a binary file, not text (expected UTF-8, GBK or another text encoding)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InputError(f"{source}: cannot detect the text encoding; save it as UTF-8 and retry")
    return str(best)


_CONTROL_BYTES = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32), 127])


def _looks_binary(data: bytes) -> bool:
    """Text in any encoding we read has almost no C0 control bytes; binary formats are full of them."""
    sample = data[:8192]
    if not sample:
        return False
    # Magic numbers of formats that get renamed to .txt by mistake (PDF, zip/docx, PNG, OLE/doc, ELF, GIF, JPEG).
    if sample.startswith((b"%PDF", b"PK\x03\x04", b"\x89PNG", b"\xd0\xcf\x11\xe0", b"\x7fELF", b"GIF8", b"\xff\xd8\xff")):
        return True
    controls = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    return controls > max(2, len(sample) // 50)


def read_text_file(path: str | os.PathLike) -> str:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    return decode_bytes(data, path)


def _docx_blocks(path: Path) -> list[str]:
    """Paragraph texts of a .docx in reading order; each table row counts as one paragraph."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph as DocxParagraph

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .docx file ({exc.__class__.__name__}: {exc})") from None
    except Exception as exc:  # python-docx raises assorted errors on corrupt XML parts
        raise InputError(f"{path}: corrupt .docx file ({exc.__class__.__name__}: {exc})") from None
    blocks = []
    for item in document.iter_inner_content():
        if isinstance(item, DocxParagraph):
            blocks.extend(line for line in item.text.split("\n"))
            blocks.append("")
        elif isinstance(item, Table):
            for row in item.rows:
                cells = []
                for cell in row.cells:
                    text = " ".join(cell.text.split())
                    if text and (not cells or cells[-1] != text):  # merged cells repeat
                        cells.append(text)
                blocks.append(" ".join(cells))
                blocks.append("")
    return blocks


def read_report(path: str | os.PathLike, doc_id: str | None = None) -> Document:
    """One raw report file → a ``Document`` of outlined paragraphs."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise InputError(f"{path}: unsupported report type {suffix or '(none)'}; expected one of {', '.join(REPORT_SUFFIXES)}")
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if suffix == ".docx":
        # Word paragraphs are real paragraphs: blank lines between them stop any rejoining.
        text = "\n".join(_docx_blocks(path))
    else:
        text = read_text_file(path).replace("\x00", " ")
    paragraphs = outline(split_paragraphs(text))
    if not paragraphs:
        raise InputError(f"{path}: no text found (the file is empty or whitespace only)")
    return Document(doc_id=doc_id or path.stem, path=str(path), paragraphs=paragraphs)


def iter_report_paths(inputs: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Report files named directly, or found (recursively, sorted) in folders."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES
                              and not p.name.startswith((".", "~$")))
        else:
            yield path


def ingest(inputs: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Raw reports (files or folders) → paragraph table: doc_id, para_index, text, heading, role."""
    frames = [read_report(p, doc_id=_doc_id(p)).to_frame() for p in iter_report_paths(inputs)]
    if not frames:
        raise InputError("no report files (.txt, .md, .docx) found in the given inputs")
    return pd.concat(frames, ignore_index=True)


def _doc_id(path: Path) -> str:
    return path.stem


def is_table(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def read_table(path: str | os.PathLike, *, text_col: str = "text", label_col: str | None = "label",
               group_col: str | None = "doc_id", require_label: bool = False, sheet: str | int | None = None) -> pd.DataFrame:
    """A table of paragraphs → DataFrame with columns ``text`` (and ``label``, ``doc_id``) renamed
    from the given names; every other column is carried through unchanged.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        if suffix in (".csv", ".tsv"):
            text = read_text_file(path)
            frame = pd.read_csv(io.StringIO(text), sep="\t" if suffix == ".tsv" else ",", dtype=str,
                                keep_default_na=False, na_values=[""])
        elif suffix == ".jsonl":
            frame = pd.read_json(io.StringIO(read_text_file(path)), lines=True, dtype=False)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".xlsx":
            frame = _read_excel(path, sheet, text_col)
        else:
            raise InputError(f"{path}: unsupported table type {suffix or '(none)'}; expected one of {', '.join(TABLE_SUFFIXES)}")
    except InputError:
        raise
    except Exception as exc:  # each parser has its own error types; all mean "bad file"
        raise InputError(f"{path}: cannot parse as {suffix[1:]} table: {exc}") from None
    return _select_columns(frame, path, text_col, label_col, group_col, require_label)


def _read_excel(path: Path, sheet: str | int | None, text_col: str) -> pd.DataFrame:
    sheets = pd.read_excel(path, sheet_name=None, dtype=str)
    if sheet is not None:
        if sheet not in sheets:
            raise InputError(f"{path}: no sheet {sheet!r}; sheets are {list(sheets)}")
        return sheets[sheet]
    # Several sheets: read those that have the text column, in order, so a notes sheet is skipped.
    usable = [df for df in sheets.values() if text_col in [str(c).strip() for c in df.columns]]
    if not usable:
        return next(iter(sheets.values()), pd.DataFrame())  # the column check names what is missing
    return pd.concat(usable, ignore_index=True)


def _select_columns(frame: pd.DataFrame, path: Path, text_col: str, label_col: str | None,
                    group_col: str | None, require_label: bool) -> pd.DataFrame:
    frame.columns = [str(c).strip() for c in frame.columns]
    if text_col not in frame.columns:
        raise InputError(f"{path}: no column {text_col!r} (columns are {list(frame.columns)}); name the text column with --text-col")
    if require_label and (label_col is None or label_col not in frame.columns):
        raise InputError(f"{path}: no label column {label_col!r} (columns are {list(frame.columns)}); name it with --label-col")
    renames = {text_col: "text"}
    if label_col and label_col in frame.columns:
        renames[label_col] = "label"
    if group_col and group_col in frame.columns:
        renames[group_col] = "doc_id"
    clashes = [new for old, new in renames.items() if old != new and new in frame.columns]
    if clashes:
        raise InputError(f"{path}: column(s) {clashes} already exist; rename them or pick other --*-col names")
    frame = frame.rename(columns=renames)
    bad = frame["text"].map(lambda v: not isinstance(v, str))
    if bad.any():
        # Missing text stays missing (NaN); numbers and the like become strings.
        frame.loc[bad, "text"] = frame.loc[bad, "text"].map(lambda v: None if pd.isna(v) else str(v))
    if "doc_id" in frame.columns:
        frame["doc_id"] = frame["doc_id"].astype(str)
    return frame.reset_index(drop=True)


def read_labelled(paths: Iterable[str | os.PathLike], *, text_col: str = "text", label_col: str = "label",
                  group_col: str | None = "doc_id") -> pd.DataFrame:
    """Training or evaluation data from one or more tables: rows with text and label, checked.

    Rows without text or label are errors naming the row (1-based, as a spreadsheet shows it);
    labels are stripped of surrounding whitespace so "politics " and "politics" are one label.
    """
    frames = []
    for path in paths:
        frame = read_table(path, text_col=text_col, label_col=label_col, group_col=group_col, require_label=True)
        text_missing = frame["text"].isna() | (frame["text"].astype(str).str.strip() == "")
        label_missing = frame["label"].isna() | (frame["label"].astype(str).str.strip() == "")
        for name, missing in (("text", text_missing), (label_col, label_missing)):
            if missing.any():
                rows = (missing[missing].index[:5] + 2).tolist()  # +1 for 1-based, +1 for the header line
                raise InputError(f"{path}: {int(missing.sum())} row(s) with empty {name!r}, first at line(s) {rows}; "
                                 "fill or drop them")
        frame["label"] = frame["label"].astype(str).str.strip()
        if "doc_id" not in frame.columns:
            # Without document ids each row is its own group, so cross-validation can only split by
            # paragraph; the ids say so (path:row) wherever they are reported.
            frame["doc_id"] = f"{Path(path).stem}:" + frame.index.astype(str)
        frame["source"] = str(path)
        frames.append(frame)
    if not frames:
        raise InputError("no training data given")
    return pd.concat(frames, ignore_index=True)
