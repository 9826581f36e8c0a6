"""Which department a new ticket goes to.

A classifier (domain_classifier.py) picks the domain of the description; a routing table
(routing_table.yml, or the file HOTLINE_ROUTING_TABLE names) maps domain → department. When the
classifier is unsure the ticket goes to the triage queue, where a person assigns it. 依申请公开
requests always go to the disclosure office: the law names who answers them, not the topic.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

import yaml

from bot.tickets.domain import RoutingDecision, TicketDraft, TicketKind
from bot.tickets.domain_classifier import DomainClassifier, load_classifier

INTAKE_CENTRE = "12320 受理中心（待分派）"
DISCLOSURE_OFFICE = "政府信息公开办公室"
#: 留言回电: the hotline's own operators call the citizen back, whatever the topic.
CALLBACK_DESK = "12320 热线坐席（留言回电）"
TABLE_PATH = Path(__file__).with_name("routing_table.yml")
TABLE_ENV = "HOTLINE_ROUTING_TABLE"

logger = logging.getLogger(__name__)

#: Below this fused probability (13 domains: chance is .08) the domain counts as unknown and the ticket goes
#: to triage. Set before measuring, not tuned on MSGABench; benchmarks/results/routing.md shows other values.
CONFIDENCE_THRESHOLD = 0.30


@dataclass(frozen=True)
class RoutingTable:
    """Domain → department (主办单位), plus where unknown and disclosure requests go."""

    departments: Mapping[str, str]
    triage: str = INTAKE_CENTRE
    disclosure: str = DISCLOSURE_OFFICE
    source: str = "<built-in>"

    def department_for(self, domain: str | None) -> str:
        return self.departments[domain] if domain is not None else self.triage


def load_routing_table(path: str | Path | None = None) -> RoutingTable:
    """Read a table; a missing file or a malformed one raises an error that names the file and the problem."""
    path = Path(path or os.environ.get(TABLE_ENV) or TABLE_PATH)
    if not path.is_file():
        raise FileNotFoundError(f"routing table {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"routing table {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"routing table {path}: expected a mapping with `triage` and `departments`")
    departments = data.get("departments")
    if not isinstance(departments, dict) or not departments:
        raise ValueError(f"routing table {path}: `departments` must map each domain to a department")
    for domain, department in departments.items():
        if not isinstance(department, str) or not department.strip():
            raise ValueError(f"routing table {path}: domain {domain!r} has no department")
    for key in ("triage", "disclosure"):
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            raise ValueError(f"routing table {path}: `{key}` must name a department")
    if "triage" not in data:
        raise ValueError(f"routing table {path}: `triage` (where unknown domains go) is missing")
    return RoutingTable(
        departments=MappingProxyType({str(d): dept.strip() for d, dept in departments.items()}),
        triage=data["triage"].strip(),
        disclosure=data.get("disclosure", DISCLOSURE_OFFICE).strip(),
        source=str(path),
    )


class DomainRouter:
    """Classifier + table. Load once (`load_router`); the model is the slow part."""

    def __init__(
        self, classifier: DomainClassifier, table: RoutingTable, threshold: float = CONFIDENCE_THRESHOLD
    ) -> None:
        unmapped = [label for label in classifier.labels if label not in table.departments]
        if unmapped:
            raise ValueError(f"routing table {table.source}: no department for domain(s) {', '.join(unmapped)}")
        self.classifier = classifier
        self.table = table
        self.threshold = threshold

    def route_texts(self, texts: Sequence[str]) -> list[RoutingDecision]:
        decisions = []
        for score in self.classifier.score_texts(texts):
            domain = score.domain if score.confidence >= self.threshold else None
            decisions.append(RoutingDecision(domain, self.table.department_for(domain), round(score.confidence, 4)))
        return decisions

    def route_text(self, text: str) -> RoutingDecision:
        return self.route_texts([text])[0]

    def route(self, draft: TicketDraft) -> RoutingDecision:
        """Kind-aware: a disclosure request goes to the disclosure office whatever its topic."""
        # The party complained about (涉及的单位: "XX物业公司", "XX医院") often names the domain outright.
        decision = self.route_text(f"{draft.description} {draft.subject}".strip())
        if draft.kind is TicketKind.DISCLOSURE_REQUEST:
            return RoutingDecision(decision.domain, self.table.disclosure, decision.confidence)
        if draft.kind is TicketKind.CALLBACK:
            return RoutingDecision(decision.domain, CALLBACK_DESK, decision.confidence)
        return decision


def load_router(table_path: str | Path | None = None) -> DomainRouter:
    """The shipped classifier with the given table (default: $HOTLINE_ROUTING_TABLE, else routing_table.yml)."""
    table = load_routing_table(table_path)
    return DomainRouter(load_classifier(), table)


# Without the classifier: by kind alone.
DEPARTMENT_BY_KIND: Mapping[TicketKind, str] = MappingProxyType(
    {
        TicketKind.COMPLAINT: INTAKE_CENTRE,
        TicketKind.REPORT: INTAKE_CENTRE,
        TicketKind.SUGGESTION: INTAKE_CENTRE,
        TicketKind.DISCLOSURE_REQUEST: DISCLOSURE_OFFICE,
        TicketKind.CALLBACK: CALLBACK_DESK,
    }
)

Router = Callable[[TicketDraft], RoutingDecision]


def route(draft: TicketDraft) -> RoutingDecision:
    """The department by kind alone, no classifier: for tests and tools that do not load the model."""
    return RoutingDecision(domain=None, department=DEPARTMENT_BY_KIND[draft.kind])


@cache
def shipped_router() -> DomainRouter:
    return load_router()


def route_by_domain(draft: TicketDraft) -> RoutingDecision:
    """The shipped classifier and table, loaded on first use. If they cannot be used the ticket still gets
    filed, by kind (complaints to the triage desk): a routing fault must never lose a citizen's ticket."""
    try:
        return shipped_router().route(draft)
    except Exception:
        logger.exception("routing failed; filing by kind for the triage desk")
        return route(draft)
