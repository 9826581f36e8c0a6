"""The two records that flow through ingestion: a Document and the Chunks cut from it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

#: 文件状态 — a document's legal status. Only 生效 documents answer citizens.
STATUSES = ("生效", "失效", "已修订")
#: 公开属性 — disclosure attribute. Only 主动公开 text is quoted; 依申请公开 documents are named, never
#: quoted; 不公开 never enters an index. index/disclosure.py holds the rule.
DISCLOSURES = ("主动公开", "依申请公开", "不公开")
KINDS = ("disclosure_document", "service_guide", "faq", "health_knowledge")
#: 一次告知: the fields every service guide states, in this order, so a citizen learns all at once.
SERVICE_GUIDE_FIELDS = (
    "办理主体",
    "办理依据",
    "办理条件",
    "申请材料",
    "办理程序",
    "办理时限",
    "办理结果",
    "收费依据与标准",
    "办理地点与时间",
    "监督渠道",
)


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    body: str  # original text, kept for display
    source: str  # path, or path#line for a JSONL record
    kind: str = "disclosure_document"
    #: '' until the document or its folder states it; unknown is never taken as public.
    status: str = ""
    disclosure: str = ""
    doc_number: str = ""  # 发文字号
    issuer: str = ""
    publication_date: str = ""
    effective_date: str = ""
    url: str = ""
    department: str = ""
    question: str = ""  # for FAQ-style records: the question the body answers
    #: 主题词 stated in the metadata: with the title, what a 依申请公开 document is found by.
    keywords: str = ""
    sample: bool = False
    #: Came with curated metadata (front matter or a record), not scraped text: an authority signal.
    curated: bool = False
    #: A record (one Q&A answer) is retrieved and cited whole, never cut into pieces.
    atomic: bool = False
    notes: str = ""

    @property
    def date(self) -> str:
        return self.effective_date or self.publication_date

    @property
    def issue_year(self) -> str:
        """The year in the 发文字号 (中办发〔2011〕22号 → 2011), else the year of the date."""
        match = re.search(r"[〔\[［(（](\d{4})[〕\]］)）]", self.doc_number)
        return match.group(1) if match else self.date[:4]

    def metadata_completeness(self) -> int:
        return sum(bool(v) for v in (self.doc_number, self.issuer, self.publication_date, self.url))


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    section: tuple[str, ...]  # clause path, e.g. ("二、…", "（八）充分发挥“12320”卫生热线作用")
    text: str  # display text
    date: str = ""
    url: str = ""
    kind: str = ""
    doc_number: str = ""
    #: The document's attributes, so a reader can check them whatever built the index ('' = unknown).
    status: str = ""
    disclosure: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def section_label(self) -> str:
        return " > ".join(self.section)

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["section"] = list(self.section)
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Chunk:
        return cls(**{**record, "section": tuple(record["section"])})


@dataclass(frozen=True)
class CatalogueEntry:
    """A 依申请公开 document: what may be said about it (its stated metadata), never its text."""

    doc_id: str
    title: str
    doc_number: str = ""
    issuer: str = ""
    keywords: str = ""
    publication_date: str = ""
    status: str = ""
    disclosure: str = ""

    @classmethod
    def of(cls, document: Document) -> CatalogueEntry:
        return cls(
            document.doc_id,
            document.title,
            document.doc_number,
            document.issuer,
            document.keywords,
            document.publication_date,
            document.status,
            document.disclosure,
        )

    def search_text(self) -> str:
        """What a question is matched against: the title and the stated keywords, nothing of the body."""
        return "\n".join(part for part in (self.title, self.keywords) if part)

    def reference(self) -> str:
        """《title》（发文字号，issuer）: how the document is named to a citizen and on a request."""
        details = "，".join(part for part in (self.doc_number, self.issuer) if part)
        return f"《{self.title}》" + (f"（{details}）" if details else "")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Skipped:
    """An item left out of the index, with why. Never carries the item's text."""

    source: str
    reason: str
