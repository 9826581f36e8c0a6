"""Structure-aware chunking on Chinese clause numbering.

Every chunk knows its section path, the chain of clause headings above it, so that an answer can
cite “卫生部关于深化卫生政务公开加强卫生政务服务的意见 · 二、… > （八）…”.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.documents import Chunk, Document

_QUESTION = re.compile(r"^问[:：]")  # 政策解读 pages: each question is a section, its 答 the text
# Clause markers from outermost to innermost. Markdown headings rank above all numbering of the
# same text; the rank of a marker decides what it closes: a new （二） closes （一） and its 1. 2.
_MARKERS: list[tuple[int, re.Pattern[str]]] = [
    (10, re.compile(r"^第[一二三四五六七八九十百零〇\d]+[编篇]")),
    (11, re.compile(r"^第[一二三四五六七八九十百零〇\d]+章")),
    (12, re.compile(r"^第[一二三四五六七八九十百零〇\d]+节")),
    (13, re.compile(r"^第[一二三四五六七八九十百零〇\d]+条")),
    (19, _QUESTION),
    (20, re.compile(r"^[一二三四五六七八九十]+[、．.]")),
    (21, re.compile(r"^[（(][一二三四五六七八九十]+[）)]")),
    (22, re.compile(r"^[0-9０-９]+(?:[．.、](?![0-9０-９])|\s)")),
    (23, re.compile(r"^[（(][0-9０-９]+[）)]")),
    (24, re.compile(r"^[①-⑳]")),
]
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BOLD_LINE = re.compile(r"^\*\*(.+)\*\*$")
_HEADING_MAX_CHARS = 60
MERGE_ITEM_MAX_CHARS = 150
_LABEL_MAX_CHARS = 40


#: A chunk shorter than this (a guide's "八、收费依据与标准：不收费。") says too little to be found or to answer
#: alone: it is merged with a neighbouring clause of the same family.
ORPHAN_MAX_CHARS = 40


@dataclass(frozen=True)
class ChunkingConfig:
    max_chars: int = 600  # a section longer than this is cut at its sub-clauses, then at sentence ends
    #: Chunks under this many characters are merged with their clause (0: never).
    orphan_chars: int = ORPHAN_MAX_CHARS


def clause_rank(line: str) -> int | None:
    for rank, pattern in _MARKERS:
        if pattern.match(line):
            return rank
    return None


def clause_label(line: str) -> str:
    """The heading a clause line contributes to the section path.

    A short line is a heading by itself. A long numbered paragraph — （八）充分发挥“12320”卫生热线作用。
    各地… — contributes its marker and first sentence.
    """
    if len(line) <= _HEADING_MAX_CHARS and (line[-1] not in "。；;" or _QUESTION.match(line)):
        return line  # a 政策解读 question is its own label, even one that ends in 。 (问：请简要介绍…。)
    first = re.split(r"[。；;：:]", line, maxsplit=1)[0]
    return first if len(first) <= _LABEL_MAX_CHARS else first[:_LABEL_MAX_CHARS] + "…"


@dataclass
class _Block:
    section: tuple[str, ...]
    heading: str  # the line that opened this section, '' for text that continues one
    lines: list[str]

    def size(self, depth: int) -> int:
        """Characters this block adds to a chunk rooted `depth` levels down its path."""
        own_heading = len(self.heading) if len(self.section) > depth else 0
        return own_heading + sum(len(line) for line in self.lines)


def _blocks(body: str, title: str) -> list[_Block]:
    """Split a document into blocks, each under the section path that is open where it appears.

    A heading that repeats the document title is not a section: the citation already names the title.
    """
    stack: list[tuple[int, str]] = []  # (rank, label)
    blocks: list[_Block] = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line or line.startswith(">") or line in ("---", "***"):
            continue
        heading = _MD_HEADING.match(line)
        bold = _BOLD_LINE.match(line)
        text = heading.group(2).strip() if heading else bold.group(1).strip() if bold else line
        if (heading or bold) and title.strip("《》 ").startswith(text.strip("《》 ")):
            continue
        if heading:
            # Markdown levels outrank numbering, but a numbered heading keeps its clause rank, so
            # that "## 二、…" closes "## 一、…" and its （一）.
            rank = clause_rank(text) or len(heading.group(1))
            is_heading_only = True
        elif bold and len(text) <= _HEADING_MAX_CHARS:
            rank, is_heading_only = clause_rank(text) or 9, True
        else:
            rank, is_heading_only = clause_rank(text), False
        if rank is None:
            if blocks and blocks[-1].section == tuple(label for _, label in stack):
                blocks[-1].lines.append(text)
            else:
                blocks.append(_Block(tuple(label for _, label in stack), "", [text]))
            continue
        while stack and stack[-1][0] >= rank:
            stack.pop()
        stack.append((rank, clause_label(text)))
        section = tuple(label for _, label in stack)
        if is_heading_only or text == clause_label(text):
            blocks.append(_Block(section, text, []))
        else:  # a numbered paragraph: its first sentence names the section, the whole is text
            blocks.append(_Block(section, "", [text]))
    return blocks


def _group_by_fitting_root(blocks: list[_Block], max_chars: int) -> list[tuple[tuple[str, ...], list[_Block]]]:
    """Group consecutive blocks under the widest section whose whole text fits in one chunk.

    A service guide's 四、申请材料 with its numbered items becomes one chunk; a long opinion is cut
    at its （八）-level clauses. Bigger coherent chunks answer better than orphaned list items.
    """

    def subtree_size(prefix: tuple[str, ...]) -> int:
        """Size if the subtree can merge, else a size that never fits.

        Only short items merge (a guide's 1. 2. 3. list); substantive clauses such as the opinion's
        （十五）（十六）stay apart, so a citation names the clause, not just its part.
        """
        below = [b for b in blocks if b.section[: len(prefix)] == prefix]
        if any(len(b.section) > len(prefix) and b.size(len(prefix)) > MERGE_ITEM_MAX_CHARS for b in below):
            return max_chars + 1
        return sum(b.size(len(prefix)) for b in below)

    sizes: dict[tuple[str, ...], int] = {}
    groups: list[tuple[tuple[str, ...], list[_Block]]] = []
    # A document with headings keeps its top-level sections apart, because citations name them. A
    # short answer whose only structure is 1、2、 stays whole: its items mean little on their own
    # (measured on MSGABench: splitting them cost ~3 points of R@5).
    min_depth = 1 if any(b.heading for b in blocks) else 0
    for block in blocks:
        root = block.section
        for depth in range(min(min_depth, len(block.section)), len(block.section) + 1):
            prefix = block.section[:depth]
            if prefix not in sizes:
                sizes[prefix] = subtree_size(prefix)
            if sizes[prefix] <= max_chars:
                root = prefix
                break
        if groups and groups[-1][0] == root:
            groups[-1][1].append(block)
        else:
            groups.append((root, [block]))
    return groups


_SENTENCE = re.compile(r"[^。！？；!?;\n]*[。！？；!?;]?")


def _split_long(text: str, max_chars: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in (s for s in _SENTENCE.findall(text) if s):
        if current and len(current) + len(sentence) > max_chars:
            pieces.append(current)
            current = ""
        # A single sentence longer than the limit is cut hard; rare in government prose.
        while len(sentence) > max_chars:
            pieces.append(sentence[:max_chars])
            sentence = sentence[max_chars:]
        current += sentence
    if current:
        pieces.append(current)
    return pieces


@dataclass
class _Piece:
    """A chunk in the making, with the clauses it holds: (section path, text) each, in document order."""

    clauses: list[tuple[tuple[str, ...], str]]

    @property
    def section(self) -> tuple[str, ...]:
        """Every label of every clause held, in order: the gold contract matches a clause label against it."""
        labels: list[str] = []
        for section, _ in self.clauses:
            labels.extend(label for label in section if label not in labels)
        return tuple(labels)

    @property
    def text(self) -> str:
        parts: list[str] = []
        for index, (section, text) in enumerate(self.clauses):
            heading = section[-1] if section else ""
            # A later clause is introduced by its heading, unless its text opens with it (a numbered paragraph).
            if index and heading and heading not in self.section_before(index) and not _opens_with(text, heading):
                parts.append(heading)
            parts.append(text)
        return "\n".join(parts)

    def section_before(self, index: int) -> set[str]:
        return {label for section, _ in self.clauses[:index] for label in section}


def _opens_with(text: str, label: str) -> bool:
    return text.startswith(label.removesuffix("…"))


def _related(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One clause holds the other, or both sit under the same parent (siblings)."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter] or (len(a) == len(b) and a[:-1] == b[:-1])


def merge_orphans(pieces: list[_Piece], min_chars: int, max_chars: int) -> list[_Piece]:
    """Merge every piece shorter than `min_chars` into a related neighbour while the result fits.

    The previous neighbour is preferred (a guide's 八、收费 joins 七、办理结果, the field before it); the
    next one is taken when there is no previous one of the same family or it is full.
    """
    pieces = list(pieces)
    changed = True
    while changed:
        changed = False
        for index, piece in enumerate(pieces):
            if len(piece.text) >= min_chars:
                continue
            for other in (index - 1, index + 1):
                if not 0 <= other < len(pieces):
                    continue
                first, second = sorted((index, other))
                merged = _Piece(pieces[first].clauses + pieces[second].clauses)
                if (
                    _related(pieces[first].clauses[-1][0], pieces[second].clauses[0][0])
                    and len(merged.text) <= max_chars
                ):
                    pieces[first : second + 1] = [merged]
                    changed = True
                    break
            if changed:
                break
    return pieces


def chunk_document(document: Document, config: ChunkingConfig | None = None) -> list[Chunk]:
    config = config or ChunkingConfig()
    pieces: list[tuple[tuple[str, ...], str]] = []
    if document.atomic:
        # Pieces of one answer compete with whole answers and win by number, not by relevance
        # (measured on MSGABench: −2 points R@5). The embedder reads the head; BM25 all of it.
        groups = []
        pieces.append(((), document.body.strip()))
    else:
        groups = _group_by_fitting_root(_blocks(document.body, document.title), config.max_chars)
    for root, members in groups:
        lines: list[str] = []
        for block in members:
            if block.heading and len(block.section) > len(root):
                lines.append(block.heading)
            lines.extend(block.lines)
        text = "\n".join(lines).strip()
        if not text:
            continue
        pieces.extend((root, piece) for piece in _split_long(text, config.max_chars))
    merged = merge_orphans([_Piece([(s, t.strip())]) for s, t in pieces], config.orphan_chars, config.max_chars)
    return [
        Chunk(
            chunk_id=f"{document.doc_id}#{number}",
            doc_id=document.doc_id,
            title=document.title,
            section=piece.section,
            text=piece.text.strip(),
            date=document.date,
            url=document.url,
            kind=document.kind,
            doc_number=document.doc_number,
            status=document.status,
            disclosure=document.disclosure,
            extra=_extra(document, piece),
        )
        for number, piece in enumerate(merged)
    ]


def _extra(document: Document, piece: _Piece) -> dict[str, object]:
    extra: dict[str, object] = {"question": document.question} if document.question else {}
    if len(piece.clauses) > 1:
        # What each merged clause said, so that a guide's card can still show every field under its heading.
        extra["clauses"] = [[list(section), text] for section, text in piece.clauses]
    return extra
