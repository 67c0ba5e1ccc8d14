import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.paragraphs import display_width, outline, split_paragraphs
from pipeline.reading import decode_bytes, ingest, read_labelled, read_report, read_table

PARAGRAPH = ("一是理论学习的主动性还不够强。体现在班子成员的理论学习还不够深入全面，缺少挤劲、钻劲，缺乏深度思考，"
             "学习更多停留于掌握知识层面，理论和工作实践融合上欠功夫，深度消化吸收和学懂弄通做实要求有差距。")


def wrap(text, n):
    return [text[i:i + n] for i in range(0, len(text), n)]


def test_hard_wrapped_lines_reflow_into_paragraphs():
    second = "二是政治大局的敏感性还不够强。班子成员从政治上把大局、看问题、想事情还没有完全形成自觉，抓分管工作也多是从具体问题上考虑。"
    lines = ["一、检视存在的主要问题", *wrap(PARAGRAPH, 30), *wrap(second, 30), "二、剖析问题产生的根源"]
    assert split_paragraphs("\n".join(lines)) == ["一、检视存在的主要问题", PARAGRAPH, second, "二、剖析问题产生的根源"]


def test_indented_pdf_paragraphs_split_at_the_indent():
    first = "会前，局党组通过集中学习和个人自学等方式，认真学习了党的十九大精神和习近平总书记重要讲话。" * 2
    second = "采取座谈走访、网络征询、书面征求意见等方式，共征求意见建议四十二条，梳理归并为五个方面十六条。" * 2
    lines = []
    for para in (first, second):
        body = wrap("\u3000\u3000" + para, 30)
        lines += body
    assert split_paragraphs("\n".join(lines)) == [first, second]


def test_a_line_with_hung_closing_punctuation_still_continues():
    # A typesetter hangs closing punctuation at the end of a line rather than start the next
    # one with it, so a wrapped line can run a few columns past the page width (here 60).
    lines = ["三是队伍专业化建设滞后，教育训练重体能轻法律，被民警们称为“",
             "体能过关就行、法律慢慢再学、考试临时突击、实战全靠老民警经验”，",  # ”， hung
             "这些问题在基层所队表现得尤为突出。"]
    assert [display_width(line) for line in lines] == [59, 63, 34]
    text = "\n".join(["（三）队伍建设方面", *wrap(PARAGRAPH, 30), *lines])
    assert split_paragraphs(text) == ["（三）队伍建设方面", PARAGRAPH, "".join(lines)]


def test_a_numbered_looking_line_after_a_mid_sentence_wrap_continues():
    # "第一议题" starts like a heading marker (第一), but the line before broke mid-sentence.
    lines = ["二是对党忠诚的品格锤炼还不够，请示报告制度落实有差距，健全“",
             "第一议题”学习后的督办清单落实不及时，每季度检查一次的要求",
             "没有做到。"]
    assert [display_width(line) for line in lines[:2]] == [59, 57]
    text = "\n".join([*wrap(PARAGRAPH, 30), *lines])
    assert split_paragraphs(text) == [PARAGRAPH, "".join(lines)]


def test_unwrapped_lines_are_not_joined():
    text = "（四）落实全面从严治党责任方面\n机构合并后，党委落实主体责任的制度衔接不够及时，责任分解存在空档期近两个月。\n短句。"
    assert split_paragraphs(text) == ["（四）落实全面从严治党责任方面", "机构合并后，党委落实主体责任的制度衔接不够及时，责任分解存在空档期近两个月。", "短句。"]


def test_outline_assigns_headings_and_roles():
    paras = ["某局对照检查材料", "一、检视存在的主要问题", "（一）政治建设方面", "一是政治站位不高。", "二、剖析问题产生的根源",
             "一是理想信念不坚定。", "三、今后努力方向和整改措施", "一是加强理论学习。"]
    got = [(p.role, p.heading) for p in outline(paras)]
    assert got == [
        ("frame", ""), ("frame", ""), ("frame", "一、检视存在的主要问题"), ("problem", "（一）政治建设方面"),
        ("frame", ""), ("cause", "二、剖析问题产生的根源"), ("frame", ""), ("measure", "三、今后努力方向和整改措施"),
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_report_encodings_are_detected(tmp_path, encoding):
    text = "某县教育局班子对照检查材料\n" + PARAGRAPH + "\n二是纪律规矩意识不强，落实中央八项规定精神有松懈。\n"
    path = tmp_path / f"r_{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    doc = read_report(path)
    assert [p.text for p in doc.paragraphs] == text.strip().split("\n")


def test_gbk_csv_reads_correctly(tmp_path):
    frame = pd.DataFrame({"doc_id": ["d1", "d1", "d2"], "text": ["落实八项规定精神不严格", PARAGRAPH, "教师队伍结构性缺编"],
                          "label": ["discipline", "ideology", "organization"]})
    path = tmp_path / "gbk.csv"
    path.write_bytes(frame.to_csv(index=False).encode("gbk"))
    got = read_table(path)
    assert got["text"].tolist() == frame["text"].tolist()
    assert got["label"].tolist() == frame["label"].tolist()


def test_utf8_bom_csv_has_clean_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("text,label\n两个维护,politics\n".encode("utf-8-sig"))
    got = read_table(path)
    assert list(got.columns) == ["text", "label"] and got["text"][0] == "两个维护"


def test_custom_column_names(tmp_path):
    path = tmp_path / "t.tsv"
    pd.DataFrame({"段落": ["甲", "乙"], "类别": ["politics", "other"], "文件": ["a", "b"]}).to_csv(path, sep="\t", index=False)
    got = read_labelled([path], text_col="段落", label_col="类别", group_col="文件")
    assert got[["text", "label", "doc_id"]].values.tolist() == [["甲", "politics", "a"], ["乙", "other", "b"]]


def test_missing_text_column_names_file_and_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("body,label\n甲,politics\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"x\.csv.*'text'"):
        read_table(path)


def test_empty_label_names_the_row(tmp_path):
    path = tmp_path / "y.csv"
    path.write_text("text,label\n甲,politics\n乙,\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"y\.csv.*line\(s\) \[3\]"):
        read_labelled([path])


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".xlsx"])
def test_other_table_formats(tmp_path, suffix):
    frame = pd.DataFrame({"text": ["甲", "乙"], "label": ["a", "b"], "extra": ["x", "y"]})
    path = tmp_path / f"t{suffix}"
    {".jsonl": lambda: frame.to_json(path, orient="records", lines=True, force_ascii=False),
     ".parquet": lambda: frame.to_parquet(path), ".xlsx": lambda: frame.to_excel(path, index=False)}[suffix]()
    got = read_table(path)
    assert got[["text", "label", "extra"]].values.tolist() == frame.values.tolist()


def test_docx_paragraphs_and_table_rows(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("一、存在的问题")
    document.add_paragraph(PARAGRAPH)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "问题：学习不深入"
    table.rows[0].cells[1].text = "措施：每月集中学习"
    path = tmp_path / "r.docx"
    document.save(path)
    doc = read_report(path)
    assert [p.text for p in doc.paragraphs] == ["一、存在的问题", PARAGRAPH, "问题：学习不深入 措施：每月集中学习"]
    assert doc.paragraphs[1].role == "problem"


def test_ingest_folder(tmp_path):
    (tmp_path / "a.txt").write_text("标题\n正文一段。\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("另一份\n", encoding="utf-8")
    frame = ingest([tmp_path])
    assert frame[["doc_id", "para_index", "text"]].values.tolist() == [["a", 0, "标题"], ["a", 1, "正文一段。"], ["b", 0, "另一份"]]


def test_decode_rejects_binary():
    with pytest.raises(InputError, match="binary"):
        decode_bytes(b"\x00\x01\x02" * 100, "junk.txt")
