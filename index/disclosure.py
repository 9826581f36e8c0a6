"""保守秘密: what may be quoted, decided in one place for every format.

Two steps, both here so that the rule is written once:

1. `cut_fences` runs on the text of every format before anything is derived from it (title,
   发文字号, dates). A `<!-- 不公开 -->…<!-- /不公开 -->` block is cut; an unterminated one is cut
   to the end of the document and reported; a closing marker without an opening one rejects the
   document, since what it was meant to close is unknown. Other HTML comments go too: a comment is
   never content. `index.loaders.load_file` applies it to every converter's output and refuses a
   file whose converter lost a fence marker, so a new format cannot forget the fence.
2. `triage` runs on loaded documents. A document's 公开属性 (disclosure) and status come from its
   own metadata, else from its folder's `_defaults.yml`; unknown is never taken as public. Only
   生效 + 主动公开 is answerable. 生效 + 依申请公开 is catalogued by the metadata it states (it may be
   named, never quoted). Everything else is skipped with the reason.

`is_answerable` is the same rule for chunks: the retriever applies it again to whatever index it
is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from index.documents import DISCLOSURES, STATUSES, Document, Skipped

#: A folder's declaration about its files: see knowledge/README.md.
DEFAULTS_FILE = "_defaults.yml"
#: The attributes a folder may give the files that do not state them.
DEFAULT_ATTRIBUTES = ("disclosure", "status")
ANSWERABLE_STATUS = "生效"
ANSWERABLE_DISCLOSURE = "主动公开"
BY_REQUEST = "依申请公开"

_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Any comment that mentions 不公开 is a fence marker, however it is spelled: a marker mistaken for
# an ordinary comment would leave the fenced text in.
_MARKER = re.compile(r"<!--(?:(?!-->).)*不公开(?:(?!-->).)*-->", re.S)
_CLOSING = re.compile(r"<!--\s*/")


class DefaultsError(ValueError):
    """A folder's defaults file that cannot be used; every file it covers is skipped."""


@dataclass(frozen=True)
class FolderDefaults:
    #: disclosure / status for the files of the folder that do not state their own.
    attributes: dict[str, str] = field(default_factory=dict)
    #: Why the folder stays out of builds of a folder above it ('' when it does not).
    exclude: str = ""


def defaults_path(folder: Path) -> Path:
    return folder / DEFAULTS_FILE


def folder_defaults(folder: Path) -> FolderDefaults:
    """The folder's own declaration (no inheritance: a subfolder must declare its own)."""
    path = defaults_path(folder)
    if not path.is_file():
        return FolderDefaults()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DefaultsError(f"{path} cannot be read ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise DefaultsError(f"{path} must be a mapping")
    unknown = sorted(set(data) - {*DEFAULT_ATTRIBUTES, "exclude"})
    if unknown:
        allowed = ", ".join((*DEFAULT_ATTRIBUTES, "exclude"))
        raise DefaultsError(f"{path}: unknown key(s) {', '.join(map(str, unknown))}; allowed: {allowed}")
    attributes: dict[str, str] = {}
    for name, allowed in (("disclosure", DISCLOSURES), ("status", STATUSES)):
        if name in data:
            if data[name] not in allowed:
                raise DefaultsError(f"{path}: {name} {data[name]!r} is not one of {', '.join(allowed)}")
            attributes[name] = data[name]
    exclude = data.get("exclude", "")
    if not isinstance(exclude, str):
        raise DefaultsError(f"{path}: exclude must be the reason, as text")
    return FolderDefaults(attributes, exclude.strip())


# --- step 1: the fence ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cut:
    """Text with its fenced blocks and comments removed, and what went wrong, if anything."""

    text: str
    #: Why part or all of the text was dropped beyond the fences themselves ('' when nothing was).
    problem: str = ""
    #: The whole document is refused (a closing marker without an opening one).
    rejected: bool = False


def count_markers(text: str) -> int:
    return len(_MARKER.findall(text))


def has_comment(text: str) -> bool:
    """Text after the fence step never holds a comment; one that does was not cut."""
    return "<!--" in text


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def cut_fences(text: str) -> Cut:
    kept: list[str] = []
    position = 0
    depth = 0
    opened_at = 0
    for match in _COMMENT.finditer(text):
        if depth == 0:
            kept.append(text[position : match.start()])
        position = match.end()
        if not _MARKER.fullmatch(match.group()):
            continue  # an ordinary comment: dropped, it is not content
        if _CLOSING.match(match.group()):
            if depth == 0:
                line = _line_of(text, match.start())
                return Cut("", f"closing 不公开 fence at line {line} without an opening one (not indexed)", True)
            depth -= 1
        else:
            if depth == 0:
                opened_at = match.start()
            depth += 1  # nested fences close with their outermost marker
    tail = text[position:]
    if depth:
        line = _line_of(text, opened_at)
        return Cut("".join(kept), f"不公开 fence opened at line {line} is never closed: cut to the end of the document")
    unclosed = tail.find("<!--")
    if unclosed >= 0:
        line = _line_of(text, position + unclosed)
        kept.append(tail[:unclosed])
        return Cut("".join(kept), f"comment opened at line {line} is never closed: cut to the end of the document")
    kept.append(tail)
    return Cut("".join(kept))


# --- step 2: the attributes ----------------------------------------------------------------


def is_answerable(status: str, disclosure: str) -> bool:
    """May this text be quoted to a citizen: in force and proactively published (主动公开)."""
    return status == ANSWERABLE_STATUS and disclosure == ANSWERABLE_DISCLOSURE


@dataclass(frozen=True)
class Triage:
    answerable: list[Document]  # may be quoted
    by_request: list[Document]  # 依申请公开: may be named by their stated metadata, never quoted
    skipped: list[Skipped]


def _not_indexed(document: Document) -> str:
    """Why a document may not be quoted ('' when it may)."""
    if document.disclosure not in DISCLOSURES:
        return (
            f"公开属性 unknown ({document.disclosure or 'not stated'}): state `disclosure` in the document "
            f"or in its folder's {DEFAULTS_FILE} (not indexed)"
        )
    if document.disclosure == "不公开":
        return "公开属性为不公开 (not indexed)"
    if document.status not in STATUSES:
        return (
            f"status unknown ({document.status or 'not stated'}): state `status` in the document "
            f"or in its folder's {DEFAULTS_FILE} (not indexed)"
        )
    if document.status == "失效":
        return "文件已失效 (not indexed)"
    if document.status == "已修订":
        return "文件已修订 (not indexed: index the revised version)"
    return ""


def triage(documents: Iterable[Document]) -> Triage:
    answerable: list[Document] = []
    by_request: list[Document] = []
    skipped: list[Skipped] = []
    for document in documents:
        reason = _not_indexed(document)
        if reason:
            skipped.append(Skipped(document.source, reason))
        elif document.disclosure == BY_REQUEST:
            if not document.title:
                reason = "依申请公开 without a title in its metadata: not catalogued, its text is never derived"
                skipped.append(Skipped(document.source, reason))
            else:
                by_request.append(document)
        else:
            answerable.append(document)
    return Triage(answerable, by_request, skipped)
