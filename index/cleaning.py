"""Cleaning of scraped government pages: site chrome, wrapped lines, repeated headings, compilations.

Every function takes and returns display text; nothing here normalises characters for search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Navigation and advertising lines that scraping drags in. Each pattern matches a whole line.
_CHROME_LINES = [
    re.compile(r"^\s*登录\s*[|｜]\s*注册\s*$"),
    re.compile(r"^\s*美章网\s+资料文库\b.*$"),
    re.compile(r"^\s*本站小编为你精心准备了.*$"),
    re.compile(r"^\s*(政策百科|转载自).{0,40}$"),
    re.compile(r"^.{0,40}\s*>>\s*.{0,40}>>.*$"),  # breadcrumb: 专栏 >> 单位 >> 栏目
]
# A line starting with one of these is a numbered clause or bullet, never the tail of a wrapped line.
CLAUSE_MARKER = re.compile(
    r"^\s*(?:"
    r"第[一二三四五六七八九十百零〇\d]+[篇章节条]"
    r"|[一二三四五六七八九十]+、"
    r"|[（(][一二三四五六七八九十]+[）)]"
    r"|[0-9０-９]+[．.、]"
    r"|[（(][0-9０-９]+[）)]"
    r"|[①-⑳○●■◆□]"
    r"|问[:：]|答[:：]"
    r"|#"
    r")"
)
_SENTENCE_END = "。！？；：…”」』）)!?;:"
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,8}[〔\[［(（„][0-9０-９]{4}[〕\]］)）‟][0-9０-９]+号")
_WRAP_MIN_WIDTH = 18  # scraped PDFs wrap at ~20 characters or more; shorter lines are titles


def strip_site_chrome(text: str) -> str:
    kept = [line for line in text.splitlines() if not any(p.match(line) for p in _CHROME_LINES)]
    return "\n".join(kept)


def repair_doc_number_brackets(text: str) -> str:
    """Some sources mis-encode 〔 〕 as „ ‟ (卫办发„2012‟18号)."""
    return re.sub(r"„(\d{4})‟", r"〔\1〕", text)


def rejoin_wrapped_lines(text: str) -> str:
    """Join lines that a PDF or page layout broke mid-sentence.

    A line continues the previous one when the previous line is long, has no sentence-final
    punctuation and the line does not start a new clause. Blank lines always separate.
    """
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if (
            out
            and line
            and out[-1]
            and len(out[-1]) >= _WRAP_MIN_WIDTH
            and out[-1][-1] not in _SENTENCE_END
            and not out[-1].startswith("#")  # a heading is never wrapped
            and not CLAUSE_MARKER.match(line)
            and not _DOC_NUMBER.fullmatch(line)
        ):
            out[-1] += line
        else:
            out.append(line)
    return "\n".join(out)


def _heading_key(line: str) -> str:
    """A heading with its numbering removed: （二）推进… and （2） 推进… share a key."""
    return re.sub(r"^\s*[（(]?[0-9０-９一二三四五六七八九十]+[）)．.、]?\s*", "", line).strip()


def collapse_repeated_headings(text: str) -> str:
    """Drop a heading that repeats the previous heading, as 标准目录 pages print each one twice.

    Only short lines count as headings, and only when nothing but blank lines separates the twins,
    so a clause that legitimately restates a title later in the text stays.
    """
    out: list[str] = []
    last_heading_key: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            out.append(line)
            continue
        is_heading = len(stripped) <= 40 and stripped[-1] not in "。；;"
        key = _heading_key(stripped) if is_heading else None
        if key and key == last_heading_key:
            # Keep the better-numbered twin: （二） over （2）.
            if re.match(r"^\s*[（(][一二三四五六七八九十]+[）)]", stripped):
                for i in range(len(out) - 1, -1, -1):
                    if out[i].strip():
                        out[i] = stripped
                        break
            continue
        last_heading_key = key
        out.append(line)
    return "\n".join(out)


def squeeze_blank_lines(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def clean_scraped_text(text: str) -> str:
    """The whole cleaning pass for scraped plain text, in order.

    Split a compilation with `split_compilation` first: wrapped-line joining must not run across
    two articles.
    """
    text = text.replace("\r\n", "\n").replace("\ufeff", "")
    text = strip_site_chrome(text)
    text = repair_doc_number_brackets(text)
    text = collapse_repeated_headings(text)
    text = rejoin_wrapped_lines(text)
    return squeeze_blank_lines(text)


@dataclass(frozen=True)
class Part:
    """One article of a compilation page (第一篇 … 第五篇)."""

    number: int
    title: str
    body: str


_PART_HEADER = re.compile(r"^\s*第([一二三四五六七八九十]+)篇[:：]\s*(.+?)\s*$", re.MULTILINE)
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")}


def chinese_number(text: str) -> int:
    """一 → 1, 十二 → 12, 二十 → 20 (enough for article and clause numbers)."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return int("".join(str(_CN_DIGITS[c]) for c in text))


def split_compilation(text: str) -> list[Part]:
    """Split a page that reprints several articles under 第X篇 headers; one Part if there are none."""
    headers = list(_PART_HEADER.finditer(text))
    if len(headers) < 2:
        return []
    parts: dict[int, Part] = {}
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        end = following.start() if following else len(text)
        number = chinese_number(header.group(1))
        title = re.split(r"[○●]|\.\.\.|…", header.group(2))[0].strip("《》 ")
        part = Part(number, title, text[header.end() : end].strip("\n"))
        # A page often opens with a teaser of its first article: keep the fuller twin.
        if number not in parts or len(part.body) > len(parts[number].body):
            parts[number] = part
    return [parts[n] for n in sorted(parts)] if len(parts) >= 2 else []


_CN_DATE = re.compile(
    r"^\s*([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日\s*$", re.M
)
_ISO_DATE = re.compile(r"[（(]?\s*(\d{4})年(\d{1,2})月(\d{1,2})日\s*[）)]?")


def signature_date(text: str) -> str:
    """The 落款 date of a document (二〇一二年三月二十一日 on its own line) as ISO, or ''."""
    matches = list(_CN_DATE.finditer(text))
    if not matches:
        return ""
    year, month, day = matches[-1].groups()
    year_digits = "".join(str(_CN_DIGITS["〇" if c == "零" else c]) for c in year)
    return f"{year_digits}-{chinese_number(month):02d}-{chinese_number(day):02d}"


def find_doc_number(text: str, within_chars: int = 400) -> str:
    """The 发文字号 printed near the top of a document, e.g. 中办发〔2011〕22号."""
    match = _DOC_NUMBER.search(text[:within_chars])
    return repair_doc_number_brackets(match.group(0)) if match else ""
