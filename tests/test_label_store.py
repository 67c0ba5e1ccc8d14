"""The labelling page's plain parts: the queue order and the labels file."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.labelling.queue import SPREAD, document_order, margins, uncertain_order
from pipeline.labelling.store import LABEL_COLUMNS, LabelStore, SkipStore, complete_csv_prefix


# --------------------------------------------------------------------------- ordering

def test_margins_are_the_gap_between_the_two_best_scores():
    proba = np.array([[0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [0.9, 0.05, 0.05], [0.1, 0.1, 0.8]])
    assert margins(proba) == pytest.approx([0.2, 0.01, 0.85, 0.7])
    assert margins(np.ones((2, 1))).tolist() == [1.0, 1.0]
    assert margins(np.zeros((0, 3))).shape == (0,)


def test_uncertain_order_is_smallest_margin_first_within_one_document():
    margin = [0.5, 0.1, 0.9, 0.0, 0.3]
    assert uncertain_order(margin, ["d"] * 5) == [3, 1, 4, 0, 2]


def test_uncertain_order_ties_go_to_the_earlier_paragraph():
    assert uncertain_order([0.2, 0.2, 0.2], ["a", "b", "c"]) == [0, 1, 2]


def test_uncertain_order_spreads_documents():
    # Document a holds the ten most uncertain paragraphs; the order still does not show it twice
    # within SPREAD consecutive picks while the other documents have paragraphs left.
    docs = ["a"] * 10 + [f"d{i}" for i in range(8) for _ in range(3)]
    margin = [0.01 * i for i in range(10)] + [0.5 + 0.01 * i for i in range(24)]
    order = uncertain_order(margin, docs)
    assert sorted(order) == list(range(len(docs)))
    assert order[0] == 0  # the least sure paragraph of all comes first
    picked = [docs[i] for i in order]
    for p in range(len(picked)):
        documents_left = len(set(picked[p:]))
        window = min(SPREAD, documents_left - 1)
        assert picked[p] not in picked[max(p - window, 0):p], (p, picked[max(p - window, 0):p + 1])
    assert picked[:SPREAD + 1].count("a") == 1
    # Within each document, its own paragraphs still come least sure first.
    for doc in set(docs):
        mine = [margin[i] for i in order if docs[i] == doc]
        assert mine == sorted(mine)


def test_uncertain_order_with_fewer_documents_than_the_spread_alternates():
    docs = ["a"] * 4 + ["b"] * 4
    order = uncertain_order([0, 0.1, 0.2, 0.3, 0.9, 0.91, 0.92, 0.93], docs)
    assert [docs[i] for i in order] == ["a", "b"] * 4


def test_uncertain_order_checks_its_inputs():
    with pytest.raises(ValueError):
        uncertain_order([0.1, 0.2], ["a"])
    assert uncertain_order([], []) == []
    assert document_order(3) == [0, 1, 2]


# --------------------------------------------------------------------------- the labels file

def _row(i, label="politics", text=None):
    return {"doc_id": f"doc{i % 3}", "para_index": i, "text": text or f"第{i}段，含“引号”, 逗号和\n换行",
            "label": label, "heading": "一、标题", "role": "problem", "file": "r.txt",
            "labelled_at": f"2025-01-01T00:00:{i:02d}.000+00:00", "model_label": "other", "model_score": 0.51}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_store_round_trip_change_and_remove(tmp_path, suffix):
    path = tmp_path / f"labels{suffix}"
    store = LabelStore(path)
    for i in range(5):
        store.put(_row(i))
    store.put(_row(2, label="ideology"))  # a change: same paragraph, new label
    store.remove(("doc1", "4"))
    again = LabelStore(path).load()
    assert list(again.rows) == [("doc0", "0"), ("doc1", "1"), ("doc2", "2"), ("doc0", "3")]
    assert again.rows[("doc2", "2")]["label"] == "ideology"
    assert again.rows[("doc0", "0")]["text"] == _row(0)["text"]  # quotes, commas, newline intact
    frame = again.frame()
    assert list(frame.columns) == list(LABEL_COLUMNS) and len(frame) == 4
    # An ordinary labelled table: what train reads.
    from pipeline.reading import read_labelled

    table = read_labelled([path])
    assert table["label"].tolist() == ["politics", "politics", "ideology", "politics"]
    assert table["doc_id"].tolist() == ["doc0", "doc1", "doc2", "doc0"]


def test_csv_store_appends_one_record_per_decision(tmp_path):
    path = tmp_path / "labels.csv"
    store = LabelStore(path)
    store.put(_row(0))
    size = path.stat().st_size
    store.put(_row(1))
    grown = path.read_bytes()
    assert len(grown) > size and grown.count(b"doc_id") == 1  # appended after the one header
    assert pd.read_csv(path).shape == (2, len(LABEL_COLUMNS))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_record_cut_short_is_dropped_and_the_file_repaired(tmp_path, suffix):
    path = tmp_path / f"labels{suffix}"
    store = LabelStore(path)
    for i in range(3):
        store.put(_row(i))
    whole = path.read_bytes()
    # A kill in the middle of the last append: part of a record, cut inside a character.
    LabelStore(tmp_path / f"one{suffix}").put(_row(9))
    partial = (tmp_path / f"one{suffix}").read_bytes()
    if suffix == ".csv":
        partial = partial.split(b"\n", 1)[1]
    path.write_bytes(whole + partial[: len(partial) // 2 + 1])
    again = LabelStore(path).load()
    assert len(again.rows) == 3 and "half-written" in again.notes[0]
    assert path.read_bytes() == whole  # repaired before anything is appended to it
    again.put(_row(5))
    assert len(LabelStore(path).load().rows) == 4


def test_complete_csv_prefix_knows_quoted_newlines():
    text = 'a,b\n1,"x\ny"\n2,"z\n'
    assert text[:complete_csv_prefix(text)] == 'a,b\n1,"x\ny"\n'


def test_store_refuses_a_file_it_did_not_write(tmp_path, small_csv):
    with pytest.raises(InputError, match="not a labels file written by `label`"):
        LabelStore(small_csv).load()
    with pytest.raises(InputError, match="unsupported labels file type"):
        LabelStore(tmp_path / "labels.xlsx")


def test_duplicate_rows_keep_the_later_label(tmp_path):
    path = tmp_path / "labels.jsonl"
    lines = [json.dumps(_row(1, "politics"), ensure_ascii=False), json.dumps(_row(1, "ideology"), ensure_ascii=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = LabelStore(path).load()
    assert [r["label"] for r in store.rows.values()] == ["ideology"] and "twice" in store.notes[0]
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1


def test_skips_are_kept_beside_the_labels(tmp_path):
    skips = SkipStore(tmp_path / "labels.csv")
    skips.add(("d", "1"))
    skips.add(("d", "2"))
    skips.discard(("d", "1"))
    assert list(SkipStore(tmp_path / "labels.csv").load().keys) == [("d", "2")]
    assert skips.path.name == ".labels.csv.skipped.jsonl"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_store_survives_kill_9_in_a_burst_of_writes(tmp_path, suffix):
    """A process writing decisions as fast as it can is SIGKILLed; every decision it reported
    done is in the file, which reads back whole."""
    path = tmp_path / f"labels{suffix}"
    script = textwrap.dedent(f"""
        import sys
        from pipeline.labelling.store import LabelStore
        store = LabelStore({str(path)!r})
        i = 0
        while True:
            store.put({{"doc_id": "d", "para_index": i, "text": "段落" * 200 + str(i), "label": "x",
                        "heading": "", "role": "", "file": "", "labelled_at": "", "model_label": "", "model_score": None}})
            print(i, flush=True)
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    done = -1
    for line in proc.stdout:
        done = int(line)
        if done >= 60:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for line in proc.stdout:  # what it printed before dying is done too
        done = int(line)
    rows = LabelStore(path).load().rows
    indices = sorted(int(k[1]) for k in rows)
    assert indices == list(range(len(indices)))  # no gap, no duplicate
    assert done + 1 <= len(indices) <= done + 2  # every reported decision, and at most the one in flight
