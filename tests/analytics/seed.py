"""A database with known counts for the analytics figures: tickets filed through the ticket service on a
clock the seed moves, and conversations (turns, handoff events, ratings) written as the desk and the
transcript write them. Every expected number in tests/analytics is worked out from this file by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.analytics import Period
from bot.conversation.ratings import RatingRow
from bot.conversation.transcript import Outcome, Speaker, TranscriptStore
from bot.handoff.models import ConversationRow, HandoffEventRow
from bot.handoff.workflow import MOVES, Move, Owner, Priority
from bot.tickets import TicketDraft, TicketKind, TicketService, open_ticket_service
from bot.tickets.domain import RoutingDecision
from bot.tickets.numbering import CHINA_TZ
from bot.tickets.routing import CALLBACK_DESK, load_routing_table

#: The figures' period: four weeks from Monday 23 November 2026 (local days), seen on 16 December.
PERIOD = Period(since=date(2026, 11, 23), until=date(2026, 12, 21), today=date(2026, 12, 16))
#: Personal numbers the seed puts in a citizen's turns and a ticket's description: no figure may show them.
PHONE = "13812345678"
TICKET_PHONE = "13912340000"
ID_NUMBER = "110101199003071234"
PERSONAL_NUMBERS = (PHONE, TICKET_PHONE, ID_NUMBER)
HEALTH_COMMISSION = "市卫生健康委员会"
HOUSING_COMMISSION = "市住房和城乡建设委员会"


def local(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in Beijing time in 2026."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=CHINA_TZ)


class SeedClock:
    def __init__(self) -> None:
        self.now = local(11, 1, 9)

    def __call__(self) -> datetime:
        return self.now


_KEYWORDS = {"诊所": "医疗", "大坑": "城建", "路灯": "城建"}
_TABLE = load_routing_table()


def keyword_router(draft: TicketDraft) -> RoutingDecision:
    """Kind-aware like bot/tickets/routing.py DomainRouter, with the domain from a keyword (known in advance)."""
    domain = next((d for word, d in _KEYWORDS.items() if word in draft.description), None)
    if draft.kind is TicketKind.DISCLOSURE_REQUEST:
        return RoutingDecision(domain, _TABLE.disclosure)
    if draft.kind is TicketKind.CALLBACK:
        return RoutingDecision(domain, CALLBACK_DESK)
    return RoutingDecision(domain, _TABLE.department_for(domain))


@dataclass
class Seeded:
    database_url: str
    service: TicketService
    numbers: dict[str, str]  # the seed's ticket names (T0 …) → 受理编号

    @property
    def engine(self) -> Engine:
        return self.service.engine


def seed(database_url: str) -> Seeded:
    clock = SeedClock()
    service = open_ticket_service(database_url, clock=clock, router=keyword_router)
    numbers = _seed_tickets(service, clock)
    _seed_conversations(service.engine)
    return Seeded(database_url, service, numbers)


def _seed_tickets(service: TicketService, clock: SeedClock) -> dict[str, str]:
    counter = iter(range(1000))

    def file(name: str, at: datetime, kind: TicketKind, description: str, due: date) -> None:
        clock.now = at
        n = next(counter)
        receipt = service.create(
            TicketDraft(
                kind=kind, description=description, location="某区", occurred_at="最近", subject="某单位",
                name="市民", phone=f"137{n:04d}5678", consent_to_contact=True, channel="web",
                sender_id=f"seed-{name}", idempotency_key=f"seed-{name}",
            )
        )  # fmt: skip
        assert receipt.created and receipt.due_date == due, (name, receipt)
        numbers[name] = receipt.number

    def move(name: str, at: datetime, *statuses: str) -> None:
        clock.now = at
        for status in statuses:
            service.transition(numbers[name], status, "clerk:zhao")

    def reply(name: str, at: datetime) -> None:
        clock.now = at
        service.reply(numbers[name], "已核实处理，答复如下。", "clerk:zhao")

    def rate(name: str, at: datetime, score: int) -> None:
        clock.now = at
        assert service.rate(numbers[name], "5678", score) is not None

    numbers: dict[str, str] = {}
    pothole = "幸福路上有个大坑，下雨天积水，车都过不去"
    clinic = "诊所挂号费多收了二十块，还不给发票"
    # Sunday 22 November, before the period: two citizens on one pothole form a hot spot (H0).
    file("T0", local(11, 22, 20), TicketKind.COMPLAINT, pothole, date(2026, 12, 11))
    file("T0b", local(11, 22, 23, 30), TicketKind.COMPLAINT, pothole, date(2026, 12, 11))
    # 07:00 on the 23rd in Beijing is the 22nd in UTC: the ticket is the 23rd's.
    file("T1", local(11, 23, 7), TicketKind.COMPLAINT, f"{clinic}，电话{TICKET_PHONE}", date(2026, 12, 14))
    file("T2", local(11, 23, 10), TicketKind.COMPLAINT, clinic, date(2026, 12, 14))  # hot spot H1 with T1
    file("T3", local(11, 24, 10), TicketKind.COMPLAINT, clinic, date(2026, 12, 15))  # joins H1
    file("T4", local(11, 24, 11), TicketKind.SUGGESTION, "建议在小区门口加装路灯，晚上太黑", date(2026, 12, 15))
    file("T5", local(11, 25, 9), TicketKind.REPORT, "有人在小区里无证行医", date(2026, 12, 16))
    file("T7", local(11, 25, 10), TicketKind.DISCLOSURE_REQUEST, "申请公开本区卫生服务站迁址的批复文件",
         date(2026, 12, 23))  # fmt: skip
    file("T8", local(11, 26, 9), TicketKind.COMPLAINT, pothole, date(2026, 12, 17))  # joins H0
    file("T6", local(11, 30, 9), TicketKind.CALLBACK, "请回电，想问体检报告的事", date(2026, 12, 1))

    # T6, the call back: answered the next day, reopened, answered again (its first answer was in time).
    move("T6", local(11, 30, 10), "assigned", "in_progress")
    reply("T6", local(12, 1, 15))
    move("T6", local(12, 2, 9), "in_progress")
    reply("T6", local(12, 3, 9))
    move("T6", local(12, 3, 10), "closed")
    rate("T6", local(12, 4, 9), 5)
    # T1 in time (due the 14th), then closed and rated; T2 answered a day late.
    move("T1", local(12, 1, 9), "assigned", "in_progress")
    reply("T1", local(12, 10, 16))
    move("T1", local(12, 11, 9), "closed")
    rate("T1", local(12, 12, 9), 2)
    move("T2", local(12, 1, 9), "assigned", "in_progress")
    reply("T2", local(12, 15, 9))
    # T4 due the 15th, answered at 07:00 on the 16th in Beijing (still the 15th in UTC): late.
    move("T4", local(12, 1, 9), "assigned", "in_progress")
    reply("T4", local(12, 16, 7))
    move("T4", local(12, 16, 8), "closed")
    rate("T4", local(12, 16, 9), 4)
    # T0, T0b and T3 stay open past their due dates: the supervisor is sent them on the 16th.
    clock.now = local(12, 16, 9)
    escalated = {view.number for view in service.escalate_overdue(today=PERIOD.today)}
    assert escalated == {numbers["T0"], numbers["T0b"], numbers["T3"]}, escalated
    return numbers


def _seed_conversations(engine: Engine) -> None:
    transcript = TranscriptStore(engine)
    owners: dict[str, Owner] = {}

    def conversation(sender_id: str, channel: str, at: datetime) -> None:
        owners[sender_id] = Owner.BOT
        with Session(engine) as session, session.begin():
            session.add(ConversationRow(sender_id=sender_id, channel=channel, created_at=at, updated_at=at))

    def citizen(sender_id: str, at: datetime, text: str, outcome: Outcome | None) -> None:
        transcript.record(sender_id, Speaker.CITIZEN, text, outcome=outcome, at=at)
        transcript.record(sender_id, Speaker.BOT, "抱歉，这个问题我暂时回答不了。", at=at + timedelta(seconds=1))

    def operator(sender_id: str, at: datetime, name: str, text: str = "您好，我是人工客服，请讲。") -> None:
        transcript.record(sender_id, Speaker.OPERATOR, text, operator=name, at=at)

    def event(sender_id: str, at: datetime, move: Move, *, reason: str | None = None, name: str | None = None) -> None:
        sources, target = MOVES[move]
        current = owners[sender_id]
        assert current in sources, (sender_id, move, current)
        with Session(engine) as session, session.begin():
            session.add(
                HandoffEventRow(
                    sender_id=sender_id, at=at, actor=name or "citizen", move=move, from_owner=current,
                    to_owner=target, reason=reason, operator=name, priority=Priority.NORMAL,
                )
            )  # fmt: skip
        owners[sender_id] = target

    def rating(sender_id: str, at: datetime, score: int, name: str | None, channel: str = "web") -> None:
        with Session(engine) as session, session.begin():
            session.add(
                RatingRow(sender_id=sender_id, asked_at=at - timedelta(minutes=1), at=at, score=score,
                          operator=name, channel=channel)
            )  # fmt: skip

    # c8, before the period: a gap, a handoff and a rating that no figure counts.
    conversation("c8", "web", local(11, 20, 9))
    citizen("c8", local(11, 20, 9), "出生证丢了去哪补", Outcome.NOT_FOUND)
    event("c8", local(11, 20, 9, 1), Move.HANDOFF, reason="requested")
    rating("c8", local(11, 20, 9, 30), 2, None)

    conversation("c1", "web", local(11, 23, 10))
    citizen("c1", local(11, 23, 10), "出生医学证明丢了怎么补办", Outcome.NOT_FOUND)

    # c2: not understood, asks for a person; wang answers in 90 s; the citizen goes silent.
    conversation("c2", "web", local(11, 24, 10))
    citizen("c2", local(11, 24, 10), "孩子的出生证明遗失了，怎么重新办", Outcome.FALLBACK)
    citizen("c2", local(11, 24, 10, 0, 30), "我要转人工", Outcome.HANDOFF)
    event("c2", local(11, 24, 10, 1), Move.HANDOFF, reason="requested")
    event("c2", local(11, 24, 10, 3), Move.TAKE, name="wang")
    operator("c2", local(11, 24, 10, 4, 30), "wang")
    event("c2", local(11, 24, 10, 30), Move.ABANDON, name="system")  # from the operator: not a wait abandoned
    rating("c2", local(11, 24, 10, 31), 5, "wang")

    # c3 (WeChat): numbers in the citizen's words; li takes it and releases it unanswered, wang answers in 30 s.
    conversation("c3", "wechat", local(11, 25, 9))
    citizen("c3", local(11, 25, 9), f"医保卡丢了怎么补办，我电话{PHONE}", Outcome.NOT_FOUND)
    citizen("c3", local(11, 25, 9, 0, 20), f"你们到底管不管，我身份证号{ID_NUMBER}", Outcome.HANDOFF)
    event("c3", local(11, 25, 9, 0, 30), Move.HANDOFF, reason="angry")
    event("c3", local(11, 25, 9, 1), Move.TAKE, name="li")
    event("c3", local(11, 25, 9, 2), Move.RELEASE, name="li")
    event("c3", local(11, 25, 9, 5), Move.TAKE, name="wang")
    operator("c3", local(11, 25, 9, 5, 30), "wang", f"已收到，您的电话{PHONE}我们记下了。")
    event("c3", local(11, 25, 9, 10), Move.HANDBACK, name="wang")
    rating("c3", local(11, 25, 9, 11), 3, "wang", "wechat")

    # c4: two failures, offered a person, gives up waiting.
    conversation("c4", "web", local(11, 26, 9))
    citizen("c4", local(11, 26, 9), "狂犬疫苗在哪里打", Outcome.NOT_FOUND)
    event("c4", local(11, 26, 9, 1), Move.HANDOFF, reason="offered_after_failures")
    event("c4", local(11, 26, 9, 20), Move.ABANDON, name="system")

    # c5 (SMS): a sensitive matter goes to a person at once; the citizen leaves a message instead.
    conversation("c5", "sms", local(11, 27, 9))
    citizen("c5", local(11, 27, 9), "我要投诉医院手术出了事故", Outcome.ANSWERED)
    event("c5", local(11, 27, 9, 0, 5), Move.HANDOFF, reason="sensitive:医疗纠纷")
    event("c5", local(11, 27, 9, 3), Move.LEAVE_MESSAGE)

    # c6: answered by the bot, rated.
    conversation("c6", "web", local(11, 27, 10))
    citizen("c6", local(11, 27, 10), "12320几点上班", Outcome.ANSWERED)
    rating("c6", local(11, 27, 10, 5), 4, None)

    # c7: li answers after 300 s, closes, is rated 1.
    conversation("c7", "web", local(11, 28, 10))
    citizen("c7", local(11, 28, 10), "帮我转人工", None)  # outcome unknown: not a gap
    transcript.record("c7", Speaker.CITIZEN, "", outcome=Outcome.FALLBACK, at=local(11, 28, 10, 0, 10))  # purged
    event("c7", local(11, 28, 10, 0, 30), Move.HANDOFF, reason="requested")
    event("c7", local(11, 28, 10, 1), Move.TAKE, name="li")
    operator("c7", local(11, 28, 10, 6), "li")
    event("c7", local(11, 28, 10, 20), Move.CLOSE, name="li")
    rating("c7", local(11, 28, 10, 21), 1, "li")

    # c10: wang answers in 120 s.
    conversation("c10", "web", local(12, 1, 9))
    citizen("c10", local(12, 1, 9, 58), "转人工", Outcome.ANSWERED)
    event("c10", local(12, 1, 9, 59), Move.HANDOFF, reason="requested")
    event("c10", local(12, 1, 10), Move.TAKE, name="wang")
    operator("c10", local(12, 1, 10, 2), "wang")
