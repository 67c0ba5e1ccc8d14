"""The bundled corpus: big and varied enough, labelled consistently, and not repeating itself."""
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import REPO
from pipeline.paragraphs import is_heading_paragraph
from pipeline.paths import SAMPLE_LABELS, SAMPLE_REPORT
from pipeline.preprocess import normalize_text
from pipeline.reading import read_report

sys.path.insert(0, str(REPO / "data"))
from annotated_format import LABELS, read_annotated  # noqa: E402

# The check covers the paragraphs that carry content. Headings (the year's official theme,
# "（一）在深刻领悟'两个确立'决定性意义……方面") and frame lines labelled other (titles, "现将……
# 报告如下", web-copy junk) are formulae real reports share verbatim, so they are left out;
# so are paragraphs under 30 characters: numbered items such as "5.严格执行重大事项请示报告制度。" are
# stock formulae too (real reports share them word for word), and their few 5-grams make Jaccard
# meaningless.
NEAR_DUP_MIN_CHARS = 30
# Two independently written paragraphs on one topic share stock phrases (习近平新时代中国特色社会
# 主义思想 alone is 11 five-grams) but rarely half their 5-grams; at 0.6 one is a light edit of the
# other. Measured on this corpus: no pair of content paragraphs reaches even 0.5.
NEAR_DUP_JACCARD = 0.6


def test_size_and_variety(corpus, raw_corpus_dir):
    files = list(raw_corpus_dir.iterdir())
    assert len(files) >= 400 and corpus["doc_id"].nunique() == len(files)
    assert any(f.suffix == ".docx" for f in files)
    # issue 11's floor: 15,000 paragraphs by 30 writers, every label at least 600
    assert len(corpus) >= 15_000
    assert corpus["writer"].nunique() >= 30
    assert (corpus["writer"] == corpus["doc_id"].str.split("_").str[0]).all()
    counts = corpus["label"].value_counts()
    assert set(counts.index) == set(LABELS) and counts.min() >= 600, counts.to_dict()
    assert corpus["unit_type"].nunique() >= 50
    assert set(range(2013, 2026)) <= set(corpus["year"])  # real reports span 2012-2025
    assert corpus["genre"].nunique() >= 20


def test_labels_table_matches_annotated_sources(corpus):
    for path in sorted((REPO / "data" / "annotated").glob("*.txt")):
        doc = read_annotated(path)
        rows = corpus[corpus["doc_id"] == doc.meta["doc_id"]]
        assert rows["label"].tolist() == [label for label, _, _ in doc.paragraphs], path.name
        assert rows["role"].tolist() == [role for _, role, _ in doc.paragraphs], path.name


def char_ngram_sets(texts, n=5):
    vocab, rows, cols = {}, [], []
    for r, text in enumerate(texts):
        for gram in {text[i:i + n] for i in range(len(text) - n + 1)}:
            rows.append(r)
            cols.append(vocab.setdefault(gram, len(vocab)))
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocab)))


def near_duplicate_pairs(texts, threshold):
    x = char_ngram_sets(texts)
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = (x @ x.T).tocoo()
    upper = inter.row < inter.col
    r, c, shared = inter.row[upper], inter.col[upper], inter.data[upper]
    jaccard = shared / (sizes[r] + sizes[c] - shared)
    hit = jaccard >= threshold
    return list(zip(r[hit], c[hit], jaccard[hit]))


def test_near_duplicate_detector_catches_a_light_edit():
    base = "一是理论学习的主动性还不够强，班子成员的理论学习还不够深入全面，缺少挤劲钻劲，缺乏深度思考。"
    edited = base.replace("班子成员", "个别同志")
    other = "二是落实中央八项规定精神有松懈，个别干部存在违规使用公车、超标准接待等问题，监督检查不到位。"
    pairs = near_duplicate_pairs([base, edited, other], NEAR_DUP_JACCARD)
    assert [(a, b) for a, b, _ in pairs] == [(0, 1)]


def test_no_near_duplicate_paragraphs(corpus):
    texts = [normalize_text(t).replace(" ", "") for t in corpus["text"]]
    formula = (corpus["label"] == "other") & (corpus["role"] == "frame")
    long_content = [i for i, t in enumerate(texts) if len(t) >= NEAR_DUP_MIN_CHARS and not formula[i]]
    keep = [i for i in long_content if not is_heading_paragraph(texts[i])]
    assert len(keep) >= 0.9 * len(long_content)  # the heading test must not exempt content wholesale
    pairs = near_duplicate_pairs([texts[i] for i in keep], NEAR_DUP_JACCARD)
    shown = [(corpus["doc_id"][keep[a]], corpus["doc_id"][keep[b]], round(j, 2), texts[keep[a]][:40]) for a, b, j in pairs[:5]]
    assert not pairs, f"{len(pairs)} near-duplicate pairs, e.g. {shown}"


def _without_spaces(text: str) -> str:
    return "".join(text.split())


def test_raw_files_ingest_back_to_the_labelled_paragraphs(corpus, raw_corpus_dir):
    """The raw files carry hard wraps and other noise; ingest must undo them almost always."""
    matched, total, failed = {}, {}, []
    # Paragraphs are compared without their spaces: a space that fell at a PDF line break is
    # dropped by design (the splitter keeps every non-space character, in order; a property test
    # holds it to that), and what this test checks is where paragraphs begin and end.
    for doc_id, rows in corpus.groupby("doc_id"):
        pdf = rows["layout"].iloc[0].startswith("pdf")
        got = [_without_spaces(p.text) for p in read_report(raw_corpus_dir / rows["file"].iloc[0]).paragraphs]
        expected = [_without_spaces(t) for t in rows["text"]]
        total[pdf] = total.get(pdf, 0) + len(expected)
        matched[pdf] = matched.get(pdf, 0) + len(set(got) & set(expected))
        if got != expected:
            failed.append((doc_id, pdf))
    # Web copies and Word files have their paragraph breaks: every one must come back exactly.
    assert not [d for d, pdf in failed if not pdf], failed
    # A hard-wrapped PDF line that happens to end a sentence exactly at the page edge cannot be
    # told from a paragraph's end without indentation, so some PDF paragraphs split or join
    # wrongly; the longer the paragraphs, the more such lines (real-length paragraphs: ~3.5 %).
    assert matched[True] / total[True] >= 0.95, (matched, total)
    assert sum(matched.values()) / sum(total.values()) >= 0.98, (matched, total)


def test_sample_report_is_labelled_and_never_in_training(corpus):
    sample = pd.read_csv(SAMPLE_LABELS)
    doc = read_report(SAMPLE_REPORT)
    assert [p.text for p in doc.paragraphs] == sample["text"].tolist()
    assert set(sample["label"]) <= set(LABELS)
    assert not set(sample["doc_id"]) & set(corpus["doc_id"])
    train_texts = {normalize_text(t) for t in corpus["text"]}
    assert not [t for t in sample["text"] if len(t) > 30 and normalize_text(t) in train_texts]


def test_sample_report_is_the_shared_original():
    original = REPO.parent / "shared" / "sample_report.txt"
    if not original.exists():
        pytest.skip("../shared is not beside this checkout")
    assert SAMPLE_REPORT.read_bytes() == original.read_bytes()
