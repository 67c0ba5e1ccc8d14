"""Split a report's text into paragraphs as a reader sees them, and place each in the outline.

Text copied out of PDFs arrives hard-wrapped every ~30 characters; web copies arrive one
paragraph per line; Word files arrive as real paragraphs. ``split_paragraphs`` rejoins lines
that were wrapped mid-paragraph and keeps numbered headings (一、 （一） 1. 一是 …) as
paragraphs of their own. ``outline`` then records, for each paragraph, the heading it sits
under and its role in the report (frame / problem / cause / measure).

The splitter only ever joins or separates lines: every non-space character of the input
comes out, in order (a property test checks this).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from collections import Counter

_CN_NUM = "一二三四五六七八九十百零〇"
# Heading markers, outermost level first. The level lets ``outline`` keep a stack of headings.
HEADING_PATTERNS: tuple[tuple[int, re.Pattern], ...] = (
    (1, re.compile(rf"^第[{_CN_NUM}]+(部分|章|节)")),
    (1, re.compile(rf"^[{_CN_NUM}]+\s*[、.．]")),
    (2, re.compile(rf"^[（(]\s*[{_CN_NUM}]+\s*[）)]")),
    (3, re.compile(r"^\d{1,2}\s*[、.．](?!\d)")),
    (4, re.compile(r"^[（(]\s*\d{1,2}\s*[）)]")),
    (4, re.compile(r"^[①-⑳]")),
    (5, re.compile(rf"^(第[{_CN_NUM}]+|[{_CN_NUM}]是|首先|其次|再次|最后)[，,、：:]?")),
)
# Sentence-final punctuation: a line ending in one of these usually ends a paragraph.
_TERMINAL = tuple("。！？!?；;…")
# Punctuation a typesetter never starts a line with: at a wrap it is hung at the end of the
# line before, which can then run a few columns past the page width.
_CLOSING = "，。、；：？！,.;:?!…”’）》」』】〕)]%"
_INDENT = re.compile(r"^[ \t\u3000\u00a0]{2,}|^\u3000")

ROLE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Order matters: "问题产生的根源" names a problem but is about causes.
    ("cause", ("根源", "原因", "剖析", "症结")),
    ("measure", ("整改措施", "整改方向", "努力方向", "改进措施", "整改举措", "措施", "下一步", "下步",
                 "今后", "打算", "整改落实", "整改目标", "任务清单")),
    ("problem", ("问题", "不足", "差距", "检视", "查摆", "反馈意见")),
)


@dataclass(frozen=True)
class Paragraph:
    para_index: int
    text: str
    heading: str
    role: str
    is_heading: bool


def display_width(text: str) -> int:
    """Columns a line takes on a page: CJK characters are two columns wide."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def heading_level(line: str) -> int | None:
    """The outline level of a line that starts with a heading marker, else None."""
    for level, pattern in HEADING_PATTERNS:
        if pattern.match(line):
            return level
    return None


def is_heading_paragraph(text: str) -> bool:
    """A heading, as opposed to a numbered paragraph that merely starts with 一是 …

    Headings are short, or end with a colon, and do not read as full sentences.
    """
    level = heading_level(text)
    if level is None:
        return False
    if text.endswith((":", "：")):
        return len(text) <= 120
    if level == 5:
        return len(text) <= 30 and not text.endswith(_TERMINAL[:3])
    return len(text) <= 60 and not text.endswith(_TERMINAL[:3])


def _wrap_width(lines: list[str]) -> int | None:
    """The width at which a document was hard-wrapped, if it was.

    In a wrapped document many lines stop at the same page width without ending a sentence,
    and almost none is wider; in an unwrapped one, line widths are paragraph lengths, which
    rarely repeat and often exceed any page.
    """
    all_widths = [display_width(s) for s in lines]
    widths = [w for s, w in zip(lines, all_widths) if not s.endswith(_TERMINAL) and w >= 24]
    if len(widths) < 3:
        return None
    counts = Counter(widths)
    # Lines of a wrapped page reach the full width or fall one or two columns short of it
    # (a half-width digit, or a punctuation mark that would not start the next line).
    best, best_count = None, 0
    for width in counts:
        count = sum(counts.get(w, 0) for w in (width, width - 1, width - 2))
        if count > best_count or (count == best_count and best is not None and width > best):
            best, best_count = width, count
    if best is None or best_count < 3 or best_count < 0.25 * len(widths):
        return None
    # Hung closing punctuation may overrun the width; anything else wider is not a wrapped page.
    wider = sum(1 for s, w in zip(lines, all_widths) if w > best + 2 and display_width(s.rstrip(_CLOSING)) > best + 2)
    return best if wider <= 0.05 * len(all_widths) else None


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of a report, with hard-wrapped lines rejoined and headings kept apart."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    stripped = [line.strip() for line in lines]
    # Widths are measured with the leading indent: it takes room on the page line.
    width = _wrap_width([line.rstrip() for line in lines if line.strip()])
    indented = sum(1 for raw, s in zip(lines, stripped) if s and _INDENT.match(raw))
    uses_indent = indented >= 3

    paragraphs: list[str] = []
    current: list[str] = []
    current_joinable = False  # may the next line continue the current paragraph?
    for raw, line in zip(lines, stripped):
        if not line:
            if current:
                paragraphs.append("".join(current))
            current, current_joinable = [], False
            continue
        # A heading marker (一是, 第一, 1.) after a line wrapped mid-sentence is text that happens
        # to start the next page line ("健全“" / "第一议题”学习……"), not a new paragraph.
        mid_sentence = current_joinable and not current[-1].endswith(_TERMINAL + ("：", ":"))
        starts_new = (
            not current
            or not current_joinable
            or (heading_level(line) is not None and not mid_sentence)
            or (uses_indent and _INDENT.match(raw) is not None)
        )
        if starts_new:
            if current:
                paragraphs.append("".join(current))
            current = [line]
        else:
            # Between CJK characters or digits a wrap adds nothing; between two Latin words it was a space.
            if _needs_space(current[-1], line):
                current.append(" ")
            current.append(line)
        current_joinable = _looks_wrapped(raw.rstrip(), width, uses_indent)
    if current:
        paragraphs.append("".join(current))
    return paragraphs


def _looks_wrapped(line: str, width: int | None, uses_indent: bool) -> bool:
    if width is None:
        return False
    w = display_width(line)
    if w > width + 2:  # hung closing punctuation ("”，") may overrun the page width
        w = display_width(line.rstrip(_CLOSING))
    if not width - 3 <= w <= width + 2:
        return False
    # A full line that ends a sentence is ambiguous; where paragraphs are indented, the next
    # line's missing indent tells us it continues, so we may join.
    return uses_indent or not line.endswith(_TERMINAL)


def _needs_space(left: str, right: str) -> bool:
    return left[-1:].isascii() and left[-1:].isalpha() and right[:1].isascii() and right[:1].isalpha()


def role_of_heading(text: str) -> str | None:
    for role, keywords in ROLE_KEYWORDS:
        if any(k in text for k in keywords):
            return role
    return None


def outline(paragraphs: list[str]) -> list[Paragraph]:
    """Attach to each paragraph the heading it sits under and its role in the report.

    Headings form a stack by level (一、 above （一） above 1. …); a paragraph's heading is
    the innermost open one, and its role comes from the innermost heading that names one
    (检视问题 → problem, 剖析根源 → cause, 整改措施 → measure). Before any such heading,
    and for headings themselves, the role is ``frame``.
    """
    stack: list[tuple[int, str]] = []
    result = []
    for index, text in enumerate(paragraphs):
        heading_here = is_heading_paragraph(text)
        if heading_here:
            level = heading_level(text) or 9
            while stack and stack[-1][0] >= level:
                stack.pop()
            parent = stack[-1][1] if stack else ""
            stack.append((level, text))
            result.append(Paragraph(index, text, parent, "frame", True))
            continue
        heading = stack[-1][1] if stack else ""
        role = "frame"
        for _, head in reversed(stack):
            found = role_of_heading(head)
            if found:
                role = found
                break
        result.append(Paragraph(index, text, heading, role, False))
    return result
