"""Every figure against the seeded database (tests/analytics/seed.py), on SQLite and PostgreSQL: exact counts,
rates, percentiles and shares, worked out by hand from the seed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, text

from bot.analytics import FIGURES, Analytics, Period, PeriodError, to_csv, to_markdown
from bot.analytics.handoffs import percentile
from bot.analytics.topics import UNROUTED
from bot.tickets.routing import CALLBACK_DESK, INTAKE_CENTRE
from tests.analytics.seed import (
    HEALTH_COMMISSION,
    HOUSING_COMMISSION,
    PERIOD,
    PERSONAL_NUMBERS,
    Seeded,
)


def rows(analytics: Analytics, name: str, period: Period = PERIOD) -> list[dict]:
    return analytics.rows(name, period)


def test_the_registry_names_every_figure_once_with_its_columns() -> None:
    names = [figure.name for figure in FIGURES]
    assert len(names) == len(set(names)) == 11
    assert {figure.section for figure in FIGURES} == {"知识盲区", "热点问题", "转人工", "限时办结", "满意度"}
    for figure in FIGURES:
        keys = [column.key for column in figure.columns]
        assert len(keys) == len(set(keys)) and all(column.title for column in figure.columns)
        chart_keys = {figure.chart.x, *figure.chart.y, figure.chart.series} - {"", None}
        assert chart_keys <= set(keys), figure.name


def test_tickets_by_local_day_and_week(analytics: Analytics) -> None:
    # T1 was filed at 07:00 on the 23rd in Beijing, the 22nd in UTC: it is the 23rd's. T0, T0b are before.
    assert [tuple(r.values()) for r in rows(analytics, "tickets_by_day")] == [
        ("2026-11-23", "医疗", "投诉", 2),
        ("2026-11-24", "医疗", "投诉", 1),
        ("2026-11-24", "城建", "建议", 1),
        ("2026-11-25", UNROUTED, "政府信息公开申请", 1),
        ("2026-11-25", UNROUTED, "举报", 1),
        ("2026-11-26", "城建", "投诉", 1),
        ("2026-11-30", UNROUTED, "留言（回电）", 1),
    ]
    assert [tuple(r.values()) for r in rows(analytics, "tickets_by_week")] == [
        ("2026-11-23", "医疗", "投诉", 3),
        ("2026-11-23", "城建", "投诉", 1),
        ("2026-11-23", "城建", "建议", 1),
        ("2026-11-23", UNROUTED, "政府信息公开申请", 1),
        ("2026-11-23", UNROUTED, "举报", 1),
        ("2026-11-30", UNROUTED, "留言（回电）", 1),
    ]
    # Sunday the 22nd alone: the two tickets filed that evening in Beijing, in the week of Monday the 16th.
    sunday = Period(date(2026, 11, 22), date(2026, 11, 23), PERIOD.today)
    assert [tuple(r.values()) for r in rows(analytics, "tickets_by_week", sunday)] == [
        ("2026-11-16", "城建", "投诉", 2)
    ]


def test_hot_spots_are_the_ticket_services(analytics: Analytics, seeded: Seeded) -> None:
    spots = {spot.id: spot for spot in seeded.service.hotspots()}
    clinic, pothole = rows(analytics, "hotspots")
    assert (clinic["domain"], clinic["in_period"], clinic["total"]) == ("医疗", 3, 3)
    assert (pothole["domain"], pothole["in_period"], pothole["total"]) == ("城建", 1, 3)  # two from before
    # The same spots, titles and tickets as the service's own listing; the title's phone number masked.
    assert clinic["title"] == spots[clinic["hotspot"]].title == "诊所挂号费多收了二十块，还不给发票，电话[电话]"
    assert len(spots[pothole["hotspot"]].ticket_numbers) == 3
    before = Period(date(2026, 11, 16), date(2026, 11, 23), PERIOD.today)
    [only] = rows(analytics, "hotspots", before)
    assert (only["hotspot"], only["in_period"], only["total"]) == (pothole["hotspot"], 2, 2)


def test_handoff_rate_and_reasons(analytics: Analytics) -> None:
    assert rows(analytics, "handoff_rate") == [
        {"channel": "短信", "conversations": 1, "handed_off": 1, "rate": 1.0},
        {"channel": "网页", "conversations": 6, "handed_off": 4, "rate": pytest.approx(4 / 6)},
        {"channel": "微信", "conversations": 1, "handed_off": 1, "rate": 1.0},
        {"channel": "合计", "conversations": 8, "handed_off": 6, "rate": 0.75},
    ]
    assert rows(analytics, "handoff_reasons") == [
        {"reason": "市民要求转人工", "code": "requested", "handoffs": 3, "share": 0.5},
        {"reason": "市民情绪激动", "code": "angry", "handoffs": 1, "share": pytest.approx(1 / 6)},
        {"reason": "连续未能解答，转人工", "code": "offered_after_failures", "handoffs": 1,
         "share": pytest.approx(1 / 6)},
        {"reason": "敏感事项：医疗纠纷", "code": "sensitive:医疗纠纷", "handoffs": 1, "share": pytest.approx(1 / 6)},
    ]  # fmt: skip


def test_time_to_the_first_human_reply(analytics: Analytics) -> None:
    # wang: 90, 30, 120 s; li took c3 and released it unanswered (wang's later reply is not li's), then 300 s.
    assert rows(analytics, "first_reply") == [
        {"operator": "li", "takes": 2, "replied": 1, "p50_s": 300.0, "p90_s": 300.0},
        {"operator": "wang", "takes": 3, "replied": 3, "p50_s": 90.0, "p90_s": 114.0},
        {"operator": "合计", "takes": 5, "replied": 4, "p50_s": 105.0, "p90_s": 246.0},
    ]


def test_percentiles_are_postgresqls_percentile_cont(seeded: Seeded) -> None:
    waits = [30.0, 90.0, 120.0, 300.0, 7.5]
    assert [percentile(waits, f) for f in (0.0, 0.5, 0.9, 1.0)] == [7.5, 90.0, 228.0, 300.0]
    assert percentile([], 0.5) is None and percentile([42.0], 0.9) == 42.0
    if seeded.engine.dialect.name != "postgresql":
        return
    with seeded.engine.connect() as connection:
        values = ", ".join(f"({w})" for w in waits)
        within = "WITHIN GROUP (ORDER BY w)"
        sql = f"SELECT percentile_cont(0.5) {within}, percentile_cont(0.9) {within} FROM (VALUES {values}) AS t(w)"
        assert list(connection.execute(text(sql)).one()) == [percentile(waits, 0.5), percentile(waits, 0.9)]


def test_abandoned_waits_count_only_the_queues(analytics: Analytics) -> None:
    # c4 gave up in the queue and c5 left a message; c2's abandon was from an operator (the citizen went silent).
    assert rows(analytics, "abandoned_waits") == [
        {"outcome": "市民长时间未回复，会话结束", "code": "abandon", "waits": 1, "share": pytest.approx(1 / 6)},
        {"outcome": "改为留言", "code": "leave_message", "waits": 1, "share": pytest.approx(1 / 6)},
        {"outcome": "合计", "code": "", "waits": 2, "share": pytest.approx(2 / 6)},
    ]


def test_deadlines_stop_the_clock_at_the_first_answer_by_local_day(analytics: Analytics) -> None:
    keys = ("department", "due", "on_time", "late", "overdue_open", "pending", "escalated", "on_time_share")
    assert [tuple(r[k] for k in keys) for r in rows(analytics, "deadlines")] == [
        (INTAKE_CENTRE, 1, 0, 0, 0, 1, 0, None),  # T5, due today: not yet late
        (CALLBACK_DESK, 1, 1, 0, 0, 0, 0, 1.0),  # T6: the first answer was in time; the reopen does not undo it
        # T4 answered at 07:00 on the 16th in Beijing (the 15th in UTC), due the 15th: late. T0, T0b overdue.
        (HOUSING_COMMISSION, 4, 0, 1, 2, 1, 2, 0.0),
        (HEALTH_COMMISSION, 3, 1, 1, 1, 0, 1, pytest.approx(1 / 3)),
        ("合计", 9, 2, 2, 3, 2, 3, pytest.approx(2 / 7)),
    ]


def test_satisfaction_by_operator_and_by_department(analytics: Analytics) -> None:
    def scores(row: dict) -> tuple:
        return (row["group"], row["ratings"], row["mean"], *(row[f"s{n}"] for n in range(1, 6)))

    assert [scores(r) for r in rows(analytics, "conversation_satisfaction")] == [
        ("li", 1, 1.0, 1, 0, 0, 0, 0),
        ("wang", 2, 4.0, 0, 0, 1, 0, 1),
        ("机器人（未转人工）", 1, 4.0, 0, 0, 0, 1, 0),
        ("合计", 4, 3.25, 1, 0, 1, 1, 1),
    ]
    assert [scores(r) for r in rows(analytics, "ticket_satisfaction")] == [
        (CALLBACK_DESK, 1, 5.0, 0, 0, 0, 0, 1),
        (HOUSING_COMMISSION, 1, 4.0, 0, 0, 0, 1, 0),
        (HEALTH_COMMISSION, 1, 2.0, 0, 1, 0, 0, 0),
        ("合计", 3, 3.67, 0, 1, 0, 1, 1),
    ]


def test_knowledge_gaps_count_every_unanswered_question_once(analytics: Analytics) -> None:
    groups = rows(analytics, "knowledge_gaps")
    # c1, c2 (2), c3 (2), c4; not c8 (before), c7's purged turn, answered turns or turns of unknown outcome.
    assert sum(g["asked"] for g in groups) == 6
    assert sum(g["fallback"] for g in groups) == 1
    assert sum(g["not_found"] for g in groups) == 3
    assert sum(g["handoff"] for g in groups) == 2
    assert {link for g in groups for link in g["links"]} == {f"/console/conversations/c{n}" for n in (1, 2, 3, 4)}


def test_knowledge_gaps_group_paraphrases_with_e5(seeded: Seeded, embedder) -> None:
    groups = Analytics(seeded.engine, embedder).rows("knowledge_gaps", PERIOD)
    assert [(g["question"], g["asked"], g["fallback"], g["not_found"], g["handoff"], g["links"]) for g in groups] == [
        ("出生医学证明丢了怎么补办", 2, 1, 1, 0, ["/console/conversations/c2", "/console/conversations/c1"]),
        ("我要转人工", 1, 0, 0, 1, ["/console/conversations/c2"]),
        ("医保卡丢了怎么补办，我电话[电话]", 1, 0, 1, 0, ["/console/conversations/c3"]),
        ("你们到底管不管，我身份证号[身份证号]", 1, 0, 0, 1, ["/console/conversations/c3"]),
        ("狂犬疫苗在哪里打", 1, 0, 1, 0, ["/console/conversations/c4"]),
    ]


def test_no_personal_number_reaches_rows_csv_or_markdown(analytics: Analytics) -> None:
    computed = analytics.all(PERIOD)
    assert computed[0][1], "the seed has knowledge gaps"
    outputs = [repr(rows) for _, rows in computed]
    outputs += [to_csv(figure, rows) for figure, rows in computed]
    outputs.append(to_markdown(PERIOD, computed))
    for output in outputs:
        for number in PERSONAL_NUMBERS:
            assert number not in output
    assert "[电话]" in outputs[-1] and "[身份证号]" in outputs[-1]


def test_csv_is_utf8_with_a_bom_and_chinese_headings(analytics: Analytics) -> None:
    figure = next(f for f in FIGURES if f.name == "handoff_rate")
    data = to_csv(figure, analytics.rows(figure, PERIOD)).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == "渠道,有市民发言的会话,其中转人工的会话,转人工率"
    assert lines[-1] == "合计,8,6,0.7500"


def test_a_period_without_data_has_only_empty_totals(analytics: Analytics) -> None:
    quiet = Period(date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 12))
    computed = {figure.name: rows for figure, rows in analytics.all(quiet)}
    empty = {"knowledge_gaps", "tickets_by_day", "tickets_by_week", "hotspots", "handoff_reasons"}
    assert {name for name, rows in computed.items() if not rows} == empty
    assert computed["handoff_rate"] == [{"channel": "合计", "conversations": 0, "handed_off": 0, "rate": None}]
    assert computed["first_reply"] == [{"operator": "合计", "takes": 0, "replied": 0, "p50_s": None, "p90_s": None}]
    assert [r["waits"] for r in computed["abandoned_waits"]] == [0, 0, 0]
    assert computed["deadlines"][-1]["due"] == 0 and computed["deadlines"][-1]["on_time_share"] is None
    assert computed["ticket_satisfaction"] == [
        {"group": "合计", "ratings": 0, "mean": None, "s1": 0, "s2": 0, "s3": 0, "s4": 0, "s5": 0}
    ]


def test_periods_are_checked() -> None:
    with pytest.raises(PeriodError, match="必须晚于"):
        Period(date(2026, 12, 1), date(2026, 12, 1), date(2026, 12, 1))
    with pytest.raises(PeriodError, match="最长"):
        Period(date(2025, 1, 1), date(2026, 12, 1), date(2026, 12, 1))
    period = Period.of(date(2026, 11, 1))
    assert period.until == period.today + timedelta(days=1)


def test_each_figure_is_one_sql_query(analytics: Analytics, seeded: Seeded) -> None:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(seeded.engine, "before_cursor_execute", count)
    try:
        for figure in FIGURES:
            statements.clear()
            analytics.rows(figure, PERIOD)
            # SQLite's BEGIN DEFERRED comes from bot/database.py's begin hook: a transaction, not a query.
            queries = [s for s in statements if not s.startswith("BEGIN")]
            assert len(queries) == 1 and queries[0].lstrip().startswith("SELECT"), (figure.name, statements)
    finally:
        event.remove(seeded.engine, "before_cursor_execute", count)
