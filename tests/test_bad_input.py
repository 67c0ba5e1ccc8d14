"""Issue 7: every reader and command survives what users feed it — clear errors, nothing lost."""
import hashlib
import io
import json
import os
import pickle
import shutil
import zipfile

import pandas as pd
import pytest

import pipeline
from conftest import run_cli
from pipeline.errors import InputError, ModelError
from pipeline.reading import read_labelled, read_report, read_table

TEXT = "一、存在的问题\n一是理论学习不够深入，学用结合不紧。\n二是落实中央八项规定精神有松懈。\n"


def digest_tree(path):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir()) if p.is_file()}


# --- raw reports -----------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (b"", "no text found"),
    (b"  \n\t\r\n\xe3\x80\x80\n", "no text found"),
    (bytes(range(256)) * 40, "binary"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary"),
], ids=["empty", "whitespace", "garbage", "pdf"])
def test_unusable_report_files(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=rf"bad\.txt.*{message}"):
        read_report(path)


def test_nul_byte_inside_text_becomes_a_space(tmp_path):
    path = tmp_path / "nul.txt"
    path.write_bytes("一是理论学习\x00不够深入。\n".encode("utf-8"))
    assert [p.text for p in read_report(path).paragraphs] == ["一是理论学习 不够深入。"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "big5", "utf-16-le-bom", "utf-16-be-bom"],
                         ids=str)
def test_encodings(tmp_path, encoding):
    text = "某縣教育局對照檢查材料\n一是理論學習不夠深入，學用結合不緊。\n二是落實中央八項規定精神有鬆懈。\n" if encoding == "big5" else TEXT
    if encoding.endswith("-bom"):
        codec = encoding[:-4]
        data = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec] + text.encode(codec)
    else:
        data = text.encode(encoding)
    path = tmp_path / "r.txt"
    path.write_bytes(data)
    assert [p.text for p in read_report(path).paragraphs] == text.strip().split("\n")


@pytest.mark.parametrize("newline", ["\r\n", "\r", "mixed"])
def test_line_endings(tmp_path, newline):
    lines = TEXT.strip().split("\n")
    body = "\r\n".join(lines[:2]) + "\r" + lines[2] if newline == "mixed" else newline.join(lines)
    path = tmp_path / "r.txt"
    path.write_bytes(body.encode("utf-8"))
    assert [p.text for p in read_report(path).paragraphs] == lines


def test_rare_characters_survive(tmp_path):
    text = "𠀀𪚥𰻞 面 🚩 學習強國 👍"
    path = tmp_path / "r.txt"
    path.write_text(text, encoding="utf-8")
    assert read_report(path).paragraphs[0].text == text


def test_corrupt_and_mislabelled_docx(tmp_path):
    truncated = tmp_path / "truncated.docx"
    good = tmp_path / "good.docx"
    import docx

    document = docx.Document()
    document.add_paragraph("一是学习不够")
    document.save(good)
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(InputError, match="truncated.docx"):
        read_report(truncated)
    fake = tmp_path / "fake.docx"
    fake.write_text("其实是纯文本", encoding="utf-8")
    with pytest.raises(InputError, match="fake.docx.*docx"):
        read_report(fake)
    notdocx = tmp_path / "zip.docx"
    with zipfile.ZipFile(notdocx, "w") as z:
        z.writestr("hello.txt", "x")
    with pytest.raises(InputError, match="zip.docx"):
        read_report(notdocx)


def test_docx_renamed_to_txt_is_named(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("一是学习不够")
    path = tmp_path / "report.txt"
    document.save(path)
    with pytest.raises(InputError, match=r"report\.txt.*binary"):
        read_report(path)


def test_huge_paragraph_and_many_lines(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("学" * 5_000_000, encoding="utf-8")
    paras = read_report(big).paragraphs
    assert len(paras) == 1 and len(paras[0].text) == 5_000_000
    many = tmp_path / "many.txt"
    many.write_text("\n".join(f"第{i}行内容。" for i in range(200_000)), encoding="utf-8")
    assert len(read_report(many).paragraphs) == 200_000


# --- tables ----------------------------------------------------------------------------------

def write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_table_problems_are_named(tmp_path):
    with pytest.raises(InputError, match=r"t1\.csv.*no column 'text'"):
        read_table(write_csv(tmp_path / "t1.csv", "body,label\n甲,a\n"))
    with pytest.raises(InputError, match=r"t2\.csv.*empty 'text'.*\[3\]"):
        read_labelled([write_csv(tmp_path / "t2.csv", "text,label\n甲,a\n,b\n")])
    with pytest.raises(InputError, match=r"t3\.csv.*empty 'label'.*\[2\]"):
        read_labelled([write_csv(tmp_path / "t3.csv", "text,label\n甲,\n乙,b\n")])
    frame = read_labelled([write_csv(tmp_path / "t4.csv", "text,label\n甲,politics \n乙, politics\n")])
    assert frame["label"].tolist() == ["politics", "politics"]


def test_labels_differing_by_case_are_refused(tmp_path):
    path = write_csv(tmp_path / "case.csv", "text,label\n甲,Politics\n乙,politics\n丙,other\n丁,other\n戊,Politics\n己,politics\n庚,other\n")
    r = run_cli("train", path, "--out", tmp_path / "m")
    assert r.returncode == 2 and "differ only by case" in r.stderr


def test_unknown_labels_at_evaluation_are_reported(tmp_path, model_dir):
    path = write_csv(tmp_path / "eval.csv", "text,label\n一是理论学习不深入,ideology\n加强党风廉政建设,brand_new_label\n")
    metrics = pipeline.evaluate(model_dir, path)
    assert "brand_new_label" in metrics["per_label"] and metrics["per_label"]["brand_new_label"]["recall"] == 0


def test_duplicate_rows_are_kept(tmp_path):
    path = write_csv(tmp_path / "dup.csv", "text,label\n甲,a\n甲,a\n")
    assert len(read_labelled([path])) == 2


def test_excel_with_several_sheets(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"text": ["甲", "乙"], "label": ["a", "b"]}).to_excel(writer, sheet_name="第一批", index=False)
        pd.DataFrame({"text": ["丙"], "label": ["a"]}).to_excel(writer, sheet_name="第二批", index=False)
        pd.DataFrame({"说明": ["本表为标注数据"]}).to_excel(writer, sheet_name="说明", index=False)
    frame = read_table(path)
    assert frame["text"].tolist() == ["甲", "乙", "丙"]
    assert read_table(path, sheet="第二批")["text"].tolist() == ["丙"]


def test_parquet_with_wrong_schema(tmp_path):
    path = tmp_path / "wrong.parquet"
    pd.DataFrame({"content": ["甲"], "cls": [1]}).to_parquet(path)
    with pytest.raises(InputError, match=r"wrong\.parquet.*no column 'text'"):
        read_table(path)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"garbage\.parquet"):
        read_table(garbage)


def test_nan_text_in_prediction_table_gives_a_row(tmp_path, model_dir):
    path = write_csv(tmp_path / "p.csv", "id,text\n1,一是理论学习不深入\n2,\n3,加强党风廉政建设\n")
    out = tmp_path / "out.csv"
    r = run_cli("predict", model_dir, path, "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert pd.read_csv(out)["id"].tolist() == [1, 2, 3]


# --- training data ---------------------------------------------------------------------------

def test_single_label_and_singleton_label_messages(tmp_path):
    one = write_csv(tmp_path / "one.csv", "text,label\n甲,a\n乙,a\n丙,a\n")
    r = run_cli("train", one, "--out", tmp_path / "m1")
    assert r.returncode == 2 and "at least two labels" in r.stderr and "Traceback" not in r.stderr
    rare = write_csv(tmp_path / "rare.csv", "text,label\n甲,a\n乙,a\n丙,a\n丁,a\n戊,b\n")
    r = run_cli("train", rare, "--out", tmp_path / "m2")
    assert r.returncode == 2 and "'b'" in r.stderr and "at least" in r.stderr
    assert not (tmp_path / "m1").exists() and not (tmp_path / "m2").exists()


# --- model folders ---------------------------------------------------------------------------

@pytest.fixture
def model_copy(model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    return copy


def test_missing_parts(model_copy):
    (model_copy / "card.json").unlink()
    with pytest.raises(ModelError, match="card.json.*missing"):
        pipeline.load(model_copy)


def test_missing_model_file(model_copy):
    (model_copy / "arrays.npz").unlink()
    with pytest.raises(ModelError, match="arrays.npz.*missing"):
        pipeline.load(model_copy)


def test_newer_format_is_refused(model_copy):
    card = json.loads((model_copy / "card.json").read_text(encoding="utf-8"))
    card["format_version"] = 99
    (model_copy / "card.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelError, match="newer"):
        pipeline.load(model_copy)


class _Payload:
    """Unpickling this runs code: it creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pickle_never_runs(model_copy, tmp_path):
    """A pickle swapped in without updating the card fails its checksum. (With the card updated
    too, the safe format still never unpickles it: tests/test_safe_format.py.)"""
    marker = tmp_path / "PWNED"
    (model_copy / "arrays.npz").write_bytes(pickle.dumps(_Payload(str(marker))))
    r = run_cli("predict", model_copy, tmp_path / "x.txt", "--out", tmp_path / "o.csv")
    assert r.returncode == 2 and "sha256" in r.stderr
    with pytest.raises(ModelError, match="sha256"):
        pipeline.load(model_copy)
    assert not marker.exists()
    # The payload is live: unpickled directly, it does run.
    pickle.loads((model_copy / "arrays.npz").read_bytes()).close()
    assert marker.exists()


# --- nothing lost ----------------------------------------------------------------------------

def test_inputs_never_modified_and_no_partial_output(tmp_path, model_dir):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "good.txt").write_text(TEXT, encoding="utf-8")
    (inputs / "empty.txt").write_bytes(b"")
    (inputs / "table.csv").write_text("text\n甲\n", encoding="utf-8")
    before = digest_tree(inputs)
    for args in (["ingest", inputs, "--out", tmp_path / "out" / "p.csv"],
                 ["predict", model_dir, inputs, "--out", tmp_path / "out" / "q.csv"],
                 ["train", inputs / "table.csv", "--out", tmp_path / "out" / "m"],
                 ["evaluate", model_dir, inputs / "table.csv", "--report", tmp_path / "out" / "r"]):
        run_cli(*args)
    assert digest_tree(inputs) == before
    out = tmp_path / "out"
    leftovers = [p.name for p in out.rglob("*") if ".partial" in p.name or p.name.startswith(".")] if out.exists() else []
    assert not leftovers
    assert not (out / "m").exists()
