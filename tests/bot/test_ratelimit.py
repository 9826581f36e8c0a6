"""The limiter of ticket checks, on real SQLite and PostgreSQL: its rule, and one count across processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.database import create_ticket_engine, upgrade_schema
from bot.ratelimit import PURGE_AFTER, AttemptLimiter, Policy, RateLimitRow, ticket_check_keys
from tests.bot import limiter_workers
from tests.tickets.conftest import Clock

POLICY = Policy("ticket_check", limit=5, window=timedelta(minutes=15))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_ticket_engine(database_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def limiter(engine: Engine, clock: Clock) -> AttemptLimiter:
    return AttemptLimiter(engine, POLICY, clock=clock)


def wrong_pairs(limiter: AttemptLimiter, n: int, *keys: str) -> list[bool]:
    """`n` attempts that turn out wrong; for each, whether the limiter let it be checked."""
    return [limiter.attempt(*keys) is not None for _ in range(n)]


def test_five_wrong_pairs_lock_the_check_until_the_window_has_passed(limiter: AttemptLimiter, clock: Clock) -> None:
    attempts = [limiter.attempt("conversation:a") for _ in range(5)]
    assert all(attempts)
    assert [a.locked for a in attempts if a] == [False, False, False, False, True]  # the fifth says so
    clock.advance(minutes=14, seconds=59)
    assert limiter.attempt("conversation:a") is None  # even a right pair is not checked now
    clock.advance(seconds=1)
    again = limiter.attempt("conversation:a")
    assert again is not None and not again.locked  # a fresh window


def test_a_lockout_shorter_than_the_window_ends_with_a_fresh_count(engine: Engine, clock: Clock) -> None:
    limiter = AttemptLimiter(engine, Policy("p", 5, timedelta(minutes=15), timedelta(minutes=1)), clock=clock)
    assert wrong_pairs(limiter, 6, "client:x") == [True] * 5 + [False]
    clock.advance(minutes=1)
    attempts = [limiter.attempt("client:x") for _ in range(5)]
    assert [a is not None and a.locked for a in attempts] == [False] * 4 + [True]
    assert limiter.attempt("client:x") is None


def test_a_right_pair_gives_its_count_back(limiter: AttemptLimiter) -> None:
    assert wrong_pairs(limiter, 4, "conversation:a") == [True] * 4
    for _ in range(3):
        right = limiter.attempt("conversation:a")
        assert right is not None
        right.succeeded()
    last = limiter.attempt("conversation:a")
    assert last is not None and last.locked  # still the fifth wrong pair
    assert limiter.attempt("conversation:a") is None


def test_a_right_fifth_pair_lifts_the_lock_it_would_have_set(limiter: AttemptLimiter) -> None:
    wrong_pairs(limiter, 4, "conversation:a")
    fifth = limiter.attempt("conversation:a")
    assert fifth is not None and fifth.locked
    fifth.succeeded()
    assert limiter.attempt("conversation:a") is not None


def test_wrong_pairs_spread_beyond_the_window_do_not_lock(limiter: AttemptLimiter, clock: Clock) -> None:
    assert wrong_pairs(limiter, 4, "conversation:a") == [True] * 4
    clock.advance(minutes=15)
    assert wrong_pairs(limiter, 4, "conversation:a") == [True] * 4


def test_a_client_locked_in_one_conversation_is_locked_in_every_other(limiter: AttemptLimiter) -> None:
    for n in range(5):  # a new conversation for every guess, from one client
        assert limiter.attempt(*ticket_check_keys(conversation_id=f"web-{n}", client="tag-1")) is not None
    assert limiter.attempt(*ticket_check_keys(conversation_id="web-new", client="tag-1")) is None
    assert limiter.attempt(*ticket_check_keys(client="tag-1")) is None  # the rating endpoint counts alike
    # Nothing was counted for the refused attempt: another client in the same conversation is not locked by it.
    assert limiter.attempt(*ticket_check_keys(conversation_id="web-new", client="tag-2")) is not None


def test_policies_and_keys_never_share_a_count(engine: Engine, clock: Clock) -> None:
    checks = AttemptLimiter(engine, POLICY, clock=clock)
    other = AttemptLimiter(engine, Policy("other", limit=5, window=timedelta(minutes=15)), clock=clock)
    wrong_pairs(checks, 5, "client:x")
    assert other.attempt("client:x") is not None
    assert checks.attempt("client:y") is not None
    with Session(engine) as session:
        stored = set(session.scalars(select(RateLimitRow.key)))
    assert all(len(key) == 64 and "client" not in key for key in stored)  # hashed: no tag, no conversation id


def test_rows_that_say_nothing_any_more_are_purged(limiter: AttemptLimiter, engine: Engine, clock: Clock) -> None:
    for n in range(30):
        limiter.attempt(f"client:{n}")
    clock.advance(minutes=15)
    clock.advance(seconds=PURGE_AFTER.total_seconds() + 1)
    limiter.attempt("client:late")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(RateLimitRow)) == 1


def test_bad_policies_and_empty_attempts_are_refused(limiter: AttemptLimiter) -> None:
    with pytest.raises(ValueError):
        Policy("x", limit=0, window=timedelta(minutes=1))
    with pytest.raises(ValueError):
        Policy("x", limit=5, window=timedelta(0))
    with pytest.raises(ValueError):
        Policy("x", limit=5, window=timedelta(minutes=1), lockout=timedelta(0))
    with pytest.raises(ValueError):
        limiter.attempt()
    with pytest.raises(ValueError):
        ticket_check_keys()


def test_processes_guessing_at_once_get_five_tries_between_them(database_url: str) -> None:
    """The gateway and the action server (and their workers) are separate processes: their guesses land in one
    count, and a race between them never lets a sixth attempt through."""
    engine = create_ticket_engine(database_url)
    upgrade_schema(engine)  # as the gateway does on start; the guessers only open the database
    engine.dispose()
    context = multiprocessing.get_context("spawn")
    guessers = 6
    start = context.Barrier(guessers)
    processes, pipes = [], []
    for keys in [ticket_check_keys(client="attacker")] * guessers:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=limiter_workers.guess, args=(database_url, POLICY.limit, 3, keys, start, sender)
        )
        process.start()
        processes.append(process)
        pipes.append(receiver)
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0, "a guesser failed: see its traceback above"
    allowed = [receiver.recv() for receiver in pipes]
    assert sum(allowed) == POLICY.limit, allowed
