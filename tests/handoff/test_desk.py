"""The handoff desk on real databases: every move and its event, the queue's order and waits, the atomic take,
the timeouts, and emergencies in every state."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from bot.auth import Principal, Role
from bot.conversation.transcript import Speaker, TranscriptStore
from bot.database import create_ticket_engine, upgrade_schema
from bot.handoff.desk import ABANDON_NOTE, HandoffDesk, NotYours, TakenByAnother, UnknownConversation, expected_wait
from bot.handoff.policy import HandoffPolicy, WorkingHours
from bot.handoff.workflow import MOVES, InvalidMove, Move, Owner, Priority, allowed_moves, check_move

ALICE = Principal("alice", Role.OPERATOR)
BOB = Principal("bob", Role.OPERATOR)
CHIEF = Principal("chief", Role.SUPERVISOR)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_ticket_engine(database_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(engine: Engine, clock: Clock) -> HandoffDesk:
    policy = HandoffPolicy(operator_reply_timeout_s=180, citizen_silence_s=900, queue_abandon_s=3600)
    return HandoffDesk(engine, policy=policy, clock=clock)


# --- the state machine ----------------------------------------------------------------------------------------


def test_every_owner_has_a_way_on_and_a_refusal_says_what_is_allowed() -> None:
    for owner in Owner:
        assert allowed_moves(owner), owner
    assert check_move(Move.TAKE, Owner.QUEUE) is Owner.OPERATOR
    with pytest.raises(InvalidMove) as refused:
        check_move(Move.TAKE, Owner.BOT)
    assert "转人工（handoff）" in str(refused.value) and "排队中" not in str(refused.value)
    assert {target for _, target in MOVES.values()} == set(Owner)


def test_a_conversation_goes_round_and_every_move_is_on_record(desk: HandoffDesk, clock: Clock) -> None:
    desk.request("c1", "web", "requested")
    clock.advance(seconds=30)
    desk.take("c1", ALICE)
    desk.release("c1", ALICE)
    desk.take("c1", BOB)
    desk.handback("c1", BOB)
    desk.request("c1", "web", "offered_after_failures")
    desk.take("c1", ALICE)
    desk.close("c1", ALICE, "已告知办理流程")
    desk.resume("c1")

    events = desk.events("c1")
    assert [(e.move, e.from_owner, e.to_owner) for e in events] == [
        ("handoff", "bot", "queue"),
        ("take", "queue", "operator"),
        ("release", "operator", "queue"),
        ("take", "queue", "operator"),
        ("handback", "operator", "bot"),
        ("handoff", "bot", "queue"),
        ("take", "queue", "operator"),
        ("close", "operator", "closed"),
        ("resume", "closed", "bot"),
    ]
    assert [e.actor for e in events][:3] == ["bot", "operator:alice", "operator:alice"]
    assert events[0].reason == "requested" and events[5].reason == "offered_after_failures"
    assert events[1].at == events[0].at + timedelta(seconds=30)
    assert events[7].note == "已告知办理流程"
    assert desk.get("c1").owner is Owner.BOT


def test_moves_out_of_turn_are_refused_and_leave_no_trace(desk: HandoffDesk) -> None:
    with pytest.raises(UnknownConversation):
        desk.take("nobody", ALICE)
    desk.request("c1", "web", "requested")
    with pytest.raises(InvalidMove):
        desk.handback("c1", ALICE)  # nobody holds it yet
    desk.take("c1", ALICE)
    with pytest.raises(NotYours):
        desk.release("c1", BOB)
    with pytest.raises(ValueError, match="处理结果"):
        desk.close("c1", ALICE, "  ")
    desk.release("c1", CHIEF)  # a supervisor may act on anyone's conversation
    assert [e.move for e in desk.events("c1")] == ["handoff", "take", "release"]


# --- the queue ------------------------------------------------------------------------------------------------


def test_the_queue_is_urgent_first_then_longest_waiting_with_masked_last_messages(
    desk: HandoffDesk, engine: Engine, clock: Clock
) -> None:
    transcript = TranscriptStore(engine)
    for sender in ("first", "second", "third"):
        desk.request(sender, "web", "requested")
        transcript.record(sender, Speaker.CITIZEN, f"{sender}：我的电话是13912345678")
        clock.advance(seconds=60)
    desk.escalate("third", "web")  # an emergency jumps the queue
    queue = desk.queue()
    assert [e.conversation_id for e in queue] == ["third", "first", "second"]
    assert [e.position for e in queue] == [1, 2, 3]
    assert queue[0].priority is Priority.URGENT and queue[1].waiting_s == 180
    assert all("13912345678" not in (e.last_message or "") for e in queue)
    assert queue[1].last_message.startswith("first：")


def test_a_released_conversation_goes_back_to_its_old_place(desk: HandoffDesk, clock: Clock) -> None:
    for sender in ("a", "b", "c"):
        desk.request(sender, "web", "requested")
        clock.advance(seconds=10)
    desk.take("a", ALICE)
    assert [e.conversation_id for e in desk.queue()] == ["b", "c"]
    desk.release("a", ALICE)
    assert [e.conversation_id for e in desk.queue()] == ["a", "b", "c"]


def test_the_expected_wait_comes_from_recent_handling_times(desk: HandoffDesk, clock: Clock) -> None:
    # Nothing handled yet: the policy's default (240 s) per conversation, one operator.
    desk.request("w1", "web", "requested")
    assert desk.place("w1").expected_wait_s == expected_wait(1, 240, 1) == 120
    # Two conversations handled in 60 s and 180 s: 120 s on average.
    for sender, seconds in (("h1", 60), ("h2", 180)):
        desk.request(sender, "web", "requested")
        desk.take(sender, ALICE)
        clock.advance(seconds=seconds)
        desk.close(sender, ALICE, "已解答")
    desk.request("w2", "web", "requested")
    assert [(e.position, e.expected_wait_s) for e in desk.queue()] == [(1, 60), (2, 180)]
    assert expected_wait(3, 120, 2) == 180  # two operators: the third waits one and a half rounds


# --- the take race --------------------------------------------------------------------------------------------


def test_two_operators_taking_at_once_get_one_success_and_one_refusal(database_url: str, engine: Engine) -> None:
    # Two desks on two engines: as two gateway workers would be.
    other_engine = create_ticket_engine(database_url)
    desks = [HandoffDesk(engine), HandoffDesk(other_engine)]
    try:
        for round_ in range(10):
            sender = f"race-{round_}"
            desks[0].request(sender, "web", "requested")
            barrier = threading.Barrier(2)
            outcomes: dict[str, str] = {}

            def take(
                desk: HandoffDesk,
                operator: Principal,
                sender: str = sender,
                barrier: threading.Barrier = barrier,
                outcomes: dict[str, str] = outcomes,
            ) -> None:
                barrier.wait()
                try:
                    desk.take(sender, operator)
                    outcomes[operator.name] = "taken"
                except TakenByAnother as refused:
                    outcomes[operator.name] = f"refused:{refused.operator}"

            threads = [threading.Thread(target=take, args=(d, p)) for d, p in zip(desks, (ALICE, BOB), strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            winner = desks[0].get(sender).operator
            loser = "bob" if winner == "alice" else "alice"
            assert outcomes == {winner: "taken", loser: f"refused:{winner}"}
            assert [e.move for e in desks[0].events(sender)] == ["handoff", "take"]
    finally:
        other_engine.dispose()


# --- timeouts -------------------------------------------------------------------------------------------------


def test_an_operator_who_does_not_answer_loses_the_conversation_to_its_old_place(
    desk: HandoffDesk, clock: Clock
) -> None:
    desk.request("slow", "web", "requested")
    clock.advance(seconds=5)
    desk.request("later", "web", "requested")
    desk.take("slow", ALICE)
    clock.advance(seconds=179)
    assert desk.sweep() == []
    desk.operator_replied("slow", ALICE)  # answering stops the clock
    clock.advance(seconds=100)
    desk.citizen_wrote("slow")  # …and the citizen's next message starts it again
    clock.advance(seconds=181)
    (timeout,) = desk.sweep()
    assert (timeout.sender_id, timeout.move, timeout.operator) == ("slow", Move.TIMEOUT, "alice")
    assert [e.conversation_id for e in desk.queue()] == ["slow", "later"]
    assert desk.events("slow")[-1].actor == "system" and desk.events("slow")[-1].reason == "operator_reply_timeout"


def test_a_silent_citizen_ends_the_conversation_with_a_note(desk: HandoffDesk, clock: Clock) -> None:
    desk.request("quiet", "web", "requested")
    desk.take("quiet", ALICE)
    desk.operator_replied("quiet", ALICE)
    clock.advance(seconds=899)
    assert desk.sweep() == []
    clock.advance(seconds=2)
    (timeout,) = desk.sweep()
    assert timeout.move is Move.ABANDON
    conversation = desk.get("quiet")
    assert conversation.owner is Owner.CLOSED and conversation.resolution_note == ABANDON_NOTE
    # A waiting citizen is not "silent": only a very long wait counts as abandoned.
    desk.request("waiting", "web", "requested")
    clock.advance(seconds=1800)
    assert desk.sweep() == []
    clock.advance(seconds=1801)
    assert [t.sender_id for t in desk.sweep()] == ["waiting"]


# --- emergencies ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("owner", [Owner.BOT, Owner.QUEUE, Owner.OPERATOR, Owner.CLOSED])
def test_an_emergency_raises_the_priority_in_every_state(desk: HandoffDesk, owner: Owner) -> None:
    if owner is not Owner.BOT:
        desk.request("e", "web", "requested")
    if owner in (Owner.OPERATOR, Owner.CLOSED):
        desk.take("e", ALICE)
    if owner is Owner.CLOSED:
        desk.close("e", ALICE, "已解答")
    after = desk.escalate("e", "web")
    conversation = desk.get("e")
    assert conversation.priority is Priority.URGENT
    # Whoever holds it keeps it, flagged; the bot's (or a closed) conversation goes to the queue.
    assert after is (owner if owner in (Owner.QUEUE, Owner.OPERATOR) else Owner.QUEUE)
    assert desk.events("e")[-1].reason == "emergency"


def test_working_hours() -> None:
    hours = WorkingHours.parse("08:00-20:00")
    beijing = lambda h, m=0: datetime(2026, 11, 23, h, m, tzinfo=UTC) - timedelta(hours=8)  # noqa: E731
    assert hours.is_open(beijing(8)) and hours.is_open(beijing(19, 59))
    assert not hours.is_open(beijing(20)) and not hours.is_open(beijing(7, 59))
    assert WorkingHours.parse("00:00-24:00").is_open(beijing(3))
    night = WorkingHours.parse("20:00-08:00")
    assert night.is_open(beijing(23)) and night.is_open(beijing(3)) and not night.is_open(beijing(12))
    with pytest.raises(ValueError, match="HH:MM"):
        WorkingHours.parse("9点到5点")
    assert hours.spoken() == "每天08:00至20:00"


# --- live events between gateways -----------------------------------------------------------------------------


def test_postgresql_hub_carries_events_between_gateways(database_url: str) -> None:
    import asyncio

    from bot.handoff.pubsub import QUEUE_TOPIC, PostgresHub, open_hub

    if not database_url.startswith("postgresql"):
        with pytest.raises(ValueError, match="PostgreSQL"):
            open_hub(database_url, "postgresql")  # LISTEN/NOTIFY is PostgreSQL's: refused, not silently local
        return

    first, second = PostgresHub(database_url), PostgresHub(database_url)

    async def exchange() -> tuple[dict[str, object], dict[str, object]]:
        async with second.subscribe(QUEUE_TOPIC) as remote, first.subscribe(QUEUE_TOPIC) as local:
            first.publish(QUEUE_TOPIC, {"type": "owner", "conversation_id": "c1", "owner": "operator"})
            return await asyncio.wait_for(remote.get(), 10), await asyncio.wait_for(local.get(), 10)

    try:
        remote, local = asyncio.run(exchange())
    finally:
        first.close()
        second.close()
    assert remote == local == {"type": "owner", "conversation_id": "c1", "owner": "operator"}


def test_a_citizen_who_leaves_the_queue_ends_the_wait_at_once(desk: HandoffDesk) -> None:
    desk.request("caller", "voice", "requested")
    assert desk.citizen_left("caller").owner is Owner.CLOSED
    assert [(e.move, e.actor, e.reason) for e in desk.events("caller")][-1] == ("abandon", "citizen", "citizen_left")
    assert desk.citizen_left("caller").owner is Owner.CLOSED  # gone already: nothing more
    assert len(desk.events("caller")) == 2
