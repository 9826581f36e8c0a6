"""`hotline up` through the real stack: every process reads one database whichever variable names it, `--var` moves
the state out of the repo, and a Rasa killed under it comes back while the gateway keeps answering.

Each stack takes about a minute to start: one per database variable, and the kill test reuses the third.
The DATABASE_URL + SQLite case is the shared `hotline_stack` of tests/conftest.py (every chat test uses it).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bot.tickets import open_ticket_service
from tests.chat_client import Citizen, texts
from tests.conftest import ROOT, Stack, running_stack
from tests.stack import DATABASE_VARIABLES
from tests.test_chat_api import FORM_ANSWERS

REPO_VAR = ROOT / "var"
RASA_UP = re.compile(r"^hotline +\| rasa is up(?: again)? \(pid (\d+),", re.M)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file under `folder` with its size and modification time: anything written there changes it."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def postgresql_schema(stack: ExitStack) -> str:
    """A fresh schema on TEST_DATABASE_URL, dropped when `stack` closes."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema = f"test_up_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    stack.callback(admin.dispose)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

    stack.callback(drop)
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _hotline_database_url(tmp: Path, _: ExitStack) -> tuple[dict[str, str], str]:
    url = f"sqlite:///{tmp / 'elsewhere' / 'tickets.db'}"
    return {"HOTLINE_DATABASE_URL": url}, url


def _database_url_on_postgresql(_: Path, resources: ExitStack) -> tuple[dict[str, str], str]:
    url = postgresql_schema(resources)
    return {"DATABASE_URL": url}, url


def _var_only(tmp: Path, _: ExitStack) -> tuple[dict[str, str], str]:
    return {}, f"sqlite:///{tmp / 'var' / 'hotline.db'}"  # no URL at all: the database in --var


#: How each variant names its database: (its environment, where its tickets must land), in a fresh folder.
VARIANTS: dict[str, Callable[[Path, ExitStack], tuple[dict[str, str], str]]] = {
    "HOTLINE_DATABASE_URL": _hotline_database_url,
    "DATABASE_URL-postgresql": _database_url_on_postgresql,
    "HOTLINE_VAR": _var_only,
}


class Stacks:
    """The stack of one variant at a time (each holds a Rasa of ~1.4 GB), kept while tests ask for the same one."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, index: Path) -> None:
        self.tmp_path_factory, self.index = tmp_path_factory, index
        self.variant: str | None = None
        self.current: tuple[Stack, dict[str, str]] | None = None
        self.resources = ExitStack()  # the current stack, then its database: closed in that order
        self.repo_var_before: dict[str, tuple[int, int]] = {}

    def get(self, variant: str) -> tuple[Stack, dict[str, str]]:
        if variant != self.variant or self.current is None:
            self.close()
            tmp = self.tmp_path_factory.mktemp(variant.lower())
            database_env, database_url = VARIANTS[variant](tmp, self.resources)
            self.repo_var_before = snapshot(REPO_VAR)
            stack = self.resources.enter_context(running_stack(self.index, tmp / "var", database_env, database_url))
            self.variant, self.current = variant, (stack, database_env)
        return self.current

    def close(self) -> None:
        self.variant, self.current = None, None
        self.resources.close()
        self.resources = ExitStack()


@pytest.fixture(scope="module")
def stacks(tmp_path_factory, trained_model, knowledge_index) -> Iterator[Stacks]:
    started = Stacks(tmp_path_factory, knowledge_index)
    try:
        yield started
    finally:
        started.close()


def file_complaint(citizen: Citizen, description: str) -> str:
    opening, _, *rest = FORM_ANSWERS["complaint"]
    for text in [opening, description, *rest, "13912345678", "同意"]:
        turn = citizen.say(text)
    number = citizen.say("确认")["ticket_id"]
    assert number, texts(turn)
    return number


def issue_token(database_env: dict[str, str], var: Path) -> str:
    """`hotline tickets token issue` as an operator runs it, with the stack's database settings."""
    env = {k: v for k, v in os.environ.items() if k not in DATABASE_VARIABLES}
    # The CLI is not started by `hotline up`; its --var reaches the CLI as HOTLINE_VAR.
    env |= {"PYTHONPATH": str(ROOT), "HOTLINE_VAR": str(var), **database_env}
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "tickets", "token", "issue", f"operator-{uuid.uuid4().hex[:6]}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_ticket_filed_in_chat_is_read_through_the_operator_api(stacks: Stacks, variant: str) -> None:
    stack, database_env = stacks.get(variant)
    description = f"市第三医院挂号处多收了我50元挂号费，还不给退（{variant}）"
    number = file_complaint(Citizen(stack.url), description)

    token = issue_token(database_env, stack.var)
    response = httpx.get(f"{stack.url}/api/tickets/{number}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    ticket = response.json()
    assert ticket["number"] == number and ticket["description"] == description

    # The action server filed it where the test said, the same database the gateway and the CLI read.
    service = open_ticket_service(stack.database_url)
    try:
        assert service.get(number) is not None
    finally:
        service.close()
    assert (stack.var / "rasa-trackers.db").exists()
    assert snapshot(REPO_VAR) == stacks.repo_var_before, "hotline up --var wrote under the repo's var/"


def test_rasa_killed_under_hotline_up_comes_back_while_the_gateway_serves(stacks: Stacks) -> None:
    stack, _ = stacks.get("HOTLINE_VAR")
    citizen = Citizen(stack.url)
    opening, _, *rest = FORM_ANSWERS["complaint"]
    description = "社区医院药房把过期的药卖给了我"
    citizen.say(opening)
    citizen.say(description)  # a form half filled in when Rasa dies

    [first_pid] = [int(pid) for pid in RASA_UP.findall(stack.log.read_text())]
    os.kill(first_pid, signal.SIGKILL)
    # Rasa takes ~30 s to come back: meanwhile a question is answered from retrieval, with its citation.
    reduced = Citizen(stack.url).say("被狗咬了要不要打狂犬疫苗")
    assert reduced["reduced_mode"] is True, "Rasa came back before the reduced-mode turn"
    assert reduced["messages"][0]["citations"] and "狂犬" in reduced["messages"][0]["text"]

    # Until Rasa is back, /healthz answers 200 every time and says Rasa is down.
    seen: list[dict[str, str]] = []
    deadline = time.monotonic() + 600
    with httpx.Client(base_url=stack.url, timeout=10) as http:
        while len(RASA_UP.findall(stack.log.read_text())) < 2:
            assert time.monotonic() < deadline, stack.log.read_text()[-3000:]
            health = http.get("/healthz")
            assert health.status_code == 200
            seen.append(health.json())
            time.sleep(0.5)
        assert {"status": "degraded", "rasa": "down"} in seen
        assert http.get("/healthz").json() == {"status": "ok", "rasa": "up"}

    log = stack.log.read_text()
    second_pid = int(RASA_UP.findall(log)[1])
    assert second_pid != first_pid
    assert "rasa was killed by SIGKILL: restarting it in 1 s" in log
    assert len(re.findall(r"^hotline +\| starting gateway:", log, re.M)) == 1, "the gateway was never restarted"

    # A new question is answered again, and the conversation Rasa kept in the tracker store goes on.
    answer = Citizen(stack.url).say("被狗咬了要不要打狂犬疫苗")
    assert answer["messages"][0]["citations"] and "狂犬" in answer["messages"][0]["text"]
    # Another phone than the other tests': the same citizen's repeat would join their ticket (service.py).
    for text in [*rest, "13700001111", "同意"]:
        citizen.say(text)
    number = citizen.say("确认")["ticket_id"]
    assert number
    service = open_ticket_service(stack.database_url)
    try:
        filed = service.get(number)
        assert filed is not None and filed.description == description
    finally:
        service.close()
