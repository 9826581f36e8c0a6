"""The supervisor behind `hotline up`, with real child processes serving HTTP on loopback."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from bot.supervisor import Service, free_port, run_services, wait_for_http

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

# argv: PORT DELAY NEEDS_PORT. Says its pid, and whether NEEDS_PORT is open when it starts (0: no check),
# waits DELAY seconds, then serves HTTP on PORT.
WEB = """
import os, runpy, socket, sys, time
port, delay, needs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
print(f"pid={os.getpid()}", flush=True)
if needs:
    try:
        socket.create_connection(("127.0.0.1", needs), timeout=1).close()
        print(f"port {needs} open", flush=True)
    except OSError:
        print(f"port {needs} closed", flush=True)
time.sleep(delay)
sys.argv = ["http.server", port, "--bind", "127.0.0.1"]
runpy.run_module("http.server", run_name="__main__")
"""

# Runs the services given as JSON in a process of its own, so that a test can signal the supervisor.
DRIVER = """
import json, sys
from bot.supervisor import Service, run_services
services = [Service(**spec) for spec in json.loads(sys.argv[1])]
sys.exit(run_services(services, on_ready=lambda: print("READY", flush=True)))
"""


def web(name: str, port: int, *, delay: float = 0.0, needs: int = 0, prelude: str = "", **kwargs) -> Service:
    return Service(
        name,
        [PY, "-c", prelude + WEB, str(port), str(delay), str(needs)],
        f"http://127.0.0.1:{port}/",
        **kwargs,
    )


def crasher(name: str = "crasher", after: float = 1.0, code: int = 3) -> Service:
    return Service(name, [PY, "-c", f"import time; time.sleep({after}); raise SystemExit({code})"], None)


def entries(log: str) -> list[tuple[str, str]]:
    """(name, message) for each prefixed line of a supervisor's output."""
    found = []
    for line in log.splitlines():
        prefix, sep, message = line.partition(" | ")
        if sep:
            found.append((prefix.strip(), message))
    return found


def said(log: str, name: str = "hotline") -> list[str]:
    return [message for who, message in entries(log) if who == name]


def first_index(log: str, name: str, start: str) -> int:
    return next(i for i, (who, message) in enumerate(entries(log)) if who == name and message.startswith(start))


def pids(log: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\S+) +\| pid=(\d+)$", log, re.M)}


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has finished; only its parent has not looked


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


class Driver:
    """run_services in a subprocess; its output lines are collected as they come."""

    def __init__(self, services: list[dict], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [PY, "-c", DRIVER, json.dumps(services)],
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            encoding="utf-8",
        )
        self.lines: list[str] = []
        self._new: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)

    # Generous: these bound a hang, not a speed; a loaded CI machine starts Python children slowly.
    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(predicate(line) for line in self.lines):
            remaining = deadline - time.monotonic()
            try:
                self._new.get(timeout=max(remaining, 0))
            except queue.Empty:
                pytest.fail("waited in vain; output so far:\n" + self.log)

    def finish(self, timeout: float = 60.0) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def drivers() -> Iterator[list[Driver]]:
    started: list[Driver] = []
    yield started
    for driver in started:  # a failed test must not leave a stack running
        if driver.process.poll() is None:
            driver.process.terminate()
            driver.process.wait(timeout=20)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_starts_in_order_and_a_signal_stops_everything(tmp_path, drivers, signum):
    first, second = free_port(), free_port()
    family = (  # a child with a child of its own: stopping the service must stop both
        "import os, subprocess, sys; child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print(f'pid={os.getpid()}', flush=True); print(f'grandchild={child.pid}', flush=True); child.wait()"
    )
    services = [
        # The delay makes a start that does not wait for health visible: second would find port `first` closed.
        asdict(web("first", first, delay=0.5)),
        asdict(web("second", second, needs=first)),
        {"name": "family", "command": [PY, "-c", family], "health_url": None},
    ]
    driver = Driver(services, tmp_path)
    drivers.append(driver)
    driver.wait_for(lambda line: line == "READY")
    driver.wait_for(lambda line: line.startswith("family ") and "| grandchild=" in line)
    children = pids(driver.log)
    assert set(children) == {"first", "second", "family"}
    grandchild = int(said(driver.log, "family")[-1].removeprefix("grandchild="))

    driver.process.send_signal(signum)
    assert driver.finish() == 0, driver.log

    log = driver.log
    assert first_index(log, "hotline", "first is up") < first_index(log, "second", "pid=")
    assert f"port {first} open" in said(log, "second")
    assert log.index("second is up") < log.index("READY")
    assert f"{signum.name} received" in log
    # Reverse order: the last started is the first stopped.
    stops = [first_index(log, "hotline", f"stopping {name}") for name in ("family", "second", "first")]
    assert stops == sorted(stops)
    assert not any(alive(pid) for pid in [*children.values(), grandchild]), log
    assert not port_open(first)
    assert not port_open(second)


def test_a_second_signal_kills_without_waiting(tmp_path, drivers):
    port = free_port()
    stubborn = web("stubborn", port, prelude="import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n")
    driver = Driver([{**asdict(stubborn), "stop_timeout": 30.0}], tmp_path)
    drivers.append(driver)
    driver.wait_for(lambda line: line == "READY")
    driver.process.send_signal(signal.SIGINT)
    driver.wait_for(lambda line: line.endswith("| stopping stubborn"))
    started = time.monotonic()
    driver.process.send_signal(signal.SIGINT)
    assert driver.finish() == 0, driver.log
    assert time.monotonic() - started < 5
    assert "stubborn stopped (SIGKILL)" in said(driver.log)
    assert not alive(pids(driver.log)["stubborn"])


def test_a_child_that_dies_stops_the_others_and_fails(tmp_path):
    port = free_port()
    out = io.StringIO()
    ready: list[bool] = []
    code = run_services([web("web", port, cwd=tmp_path), crasher()], on_ready=lambda: ready.append(True), out=out)
    log = out.getvalue()
    assert code == 1, log
    assert ready == [True]
    assert "crasher exited with code 3" in said(log)
    assert "web stopped (SIGTERM)" in said(log)
    assert said(log)[-1] == "stopped: crasher exited with code 3"  # the reason, last
    assert not port_open(port)
    assert not alive(pids(log)["web"])


def test_a_child_that_ignores_sigterm_is_killed_after_its_stop_timeout(tmp_path):
    port = free_port()
    prelude = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    stubborn = web("stubborn", port, prelude=prelude, cwd=tmp_path, stop_timeout=0.5)
    out = io.StringIO()
    assert run_services([stubborn, crasher(after=0.2)], out=out) == 1
    log = out.getvalue()
    assert "stubborn still running after SIGTERM: killing it" in said(log)
    assert "stubborn stopped (SIGKILL)" in said(log)
    assert not port_open(port)


def test_a_child_that_never_gets_healthy_fails_with_a_clear_message():
    url = f"http://127.0.0.1:{free_port()}/health"
    sleeper = Service(
        "sleeper",
        [PY, "-c", "import os, time; print(f'pid={os.getpid()}', flush=True); time.sleep(60)"],
        url,
        start_timeout=1.0,
    )
    out = io.StringIO()
    ready: list[bool] = []
    started = time.monotonic()
    code = run_services([sleeper, crasher("never-started")], on_ready=lambda: ready.append(True), out=out)
    log = out.getvalue()
    assert code == 1, log
    assert time.monotonic() - started < 5
    assert ready == []
    assert f"sleeper was not healthy within 1 s (GET {url}: ConnectError" in log
    assert "starting never-started" not in log
    assert not alive(pids(log)["sleeper"])


def test_a_child_that_exits_during_startup_is_named():
    failing = Service("rasa", [PY, "-c", "raise SystemExit(2)"], f"http://127.0.0.1:{free_port()}/")
    out = io.StringIO()
    assert run_services([failing], out=out) == 1
    assert "rasa exited with code 2 before it was healthy" in said(out.getvalue())


def test_a_command_that_cannot_start_is_reported():
    out = io.StringIO()
    assert run_services([Service("ghost", ["/nonexistent/ghost"], None)], out=out) == 1
    assert "cannot start ghost: [Errno 2] No such file or directory: '/nonexistent/ghost'" in said(out.getvalue())


def test_nothing_to_run_is_an_error():
    with pytest.raises(ValueError, match="no services"):
        run_services([])


def test_log_lines_are_prefixed_with_the_service_name_and_aligned():
    talk = (
        "import sys; print('你好，12320'); print('to stderr', file=sys.stderr); sys.stdout.flush(); "
        "sys.stdout.buffer.write(b'bad \\xff byte\\n')"
    )
    out = io.StringIO()
    run_services([Service("talker", [PY, "-c", talk], None), crasher("long-named-part", after=5)], out=out)
    lines = out.getvalue().splitlines()
    assert "talker           | 你好，12320" in lines
    assert "talker           | to stderr" in lines
    assert "talker           | bad \ufffd byte" in lines
    assert {line.index(" | ") for line in lines} == {len("long-named-part") + 1}
    assert "hotline          | talker exited with code 0" in lines


def test_wait_for_http(tmp_path):
    port = free_port()
    assert not wait_for_http(f"http://127.0.0.1:{port}/", timeout=0.3)
    server = subprocess.Popen(
        [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/", timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=10)
