"""Read and check the annotated corpus sources in ``data/annotated/``.

Each source is one report, written for this project, in a plain format that authors can
type and reviewers can read::

    #doc_id: a1_01_county_tax_2019
    #genre: 班子对照检查材料
    #unit_type: 税务局
    #unit: 某县税务局
    #year: 2019
    other|frame<TAB>某县税务局领导班子2019年度专题民主生活会对照检查材料
    politics|problem<TAB>一是……

One paragraph per line: ``label|role``, a tab, then the paragraph text. Blank lines are
ignored. ``python data/annotated_format.py FILE...`` checks files and prints counts.
"""
from __future__ import annotations

import collections
import sys
from dataclasses import dataclass, field
from pathlib import Path

LABELS = ("politics", "ideology", "organization", "work_style", "discipline", "performance", "other")
ROLES = ("frame", "problem", "cause", "measure")
META_KEYS = ("doc_id", "genre", "unit_type", "unit", "year")


@dataclass
class AnnotatedDoc:
    path: Path
    meta: dict[str, str]
    paragraphs: list[tuple[str, str, str]] = field(default_factory=list)  # (label, role, text)


class FormatError(ValueError):
    pass


def read_annotated(path: Path) -> AnnotatedDoc:
    meta: dict[str, str] = {}
    doc = AnnotatedDoc(path=path, meta=meta)
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if not sep:
                raise FormatError(f"{where}: metadata line needs 'key: value'")
            meta[key.strip()] = value.strip()
            continue
        tag, sep, text = line.partition("\t")
        if not sep:
            raise FormatError(f"{where}: expected 'label|role<TAB>text', found no tab")
        label, bar, role = tag.strip().partition("|")
        if not bar or label not in LABELS or role not in ROLES:
            raise FormatError(f"{where}: bad tag {tag!r}; label in {LABELS}, role in {ROLES}")
        if "\t" in text or not text.strip():
            raise FormatError(f"{where}: paragraph text must be non-empty and contain no tab")
        doc.paragraphs.append((label, role, text.strip()))
    missing = [k for k in META_KEYS if not meta.get(k)]
    if missing:
        raise FormatError(f"{path}: missing metadata {missing}")
    if meta["doc_id"] != path.stem:
        raise FormatError(f"{path}: doc_id {meta['doc_id']!r} must equal the file name stem")
    if not meta["year"].isdigit():
        raise FormatError(f"{path}: year must be a number, got {meta['year']!r}")
    if len(doc.paragraphs) < 8:
        raise FormatError(f"{path}: only {len(doc.paragraphs)} paragraphs; a report has more")
    return doc


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(Path(__file__).parent.joinpath("annotated").glob("*.txt"))
    labels: collections.Counter[str] = collections.Counter()
    failures = 0
    n_docs = 0
    for path in paths:
        try:
            doc = read_annotated(path)
        except (FormatError, UnicodeDecodeError) as exc:
            print(f"ERROR {exc}")
            failures += 1
            continue
        n_docs += 1
        labels.update(label for label, _, _ in doc.paragraphs)
    print(f"{n_docs} documents, {sum(labels.values())} paragraphs")
    for label in LABELS:
        print(f"  {label:12s} {labels[label]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
