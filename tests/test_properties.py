"""Property tests: the splitter never loses or reorders text; normalisation is idempotent."""
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.paragraphs import outline, split_paragraphs
from pipeline.preprocess import normalize_text

# Report-like text: CJK, digits, heading markers, punctuation, every kind of line break and space,
# mixed with arbitrary Unicode.
report_alphabet = st.sampled_from(list("一二三四五六七八九十是、（）()．.。，；：！？…“”的学习政治纪律作风ABC123１２３\u3000 \t\n\r\n")) | st.characters()
report_text = st.lists(report_alphabet, max_size=400).map("".join)
wrapped = st.lists(st.text(alphabet="学习政治纪律作风组织，。", min_size=1, max_size=40), max_size=30).map("\n".join)
SPACE = re.compile(r"\s+")


def non_space(text):
    return SPACE.sub("", text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(report_text, wrapped, st.text()))
def test_splitter_keeps_every_non_space_character_in_order(text):
    paragraphs = split_paragraphs(text)
    assert non_space("".join(paragraphs)) == non_space(text)
    assert all(p.strip() == p and p for p in paragraphs)
    assert [p.text for p in outline(paragraphs)] == paragraphs


@settings(max_examples=400, deadline=None)
@given(st.one_of(report_text, st.text()))
def test_normalisation_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once
