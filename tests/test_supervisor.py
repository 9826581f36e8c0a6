"""The supervisor behind `hotline up`, with real child processes serving HTTP on loopback, and tiny `python -c`
children that die on cue for the restarts."""

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

from bot.supervisor import DEFAULT_RESTART, RestartPolicy, Service, free_port, run_services, wait_for_http

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

# Runs the services given as JSON in a process of its own, so that a test can signal the supervisor; the
# restart policy as JSON too (null: restarts off).
DRIVER = """
import json, sys
from bot.supervisor import DEFAULT_RESTART, RestartPolicy, Service, run_services
services = [Service(**spec) for spec in json.loads(sys.argv[1])]
policy = json.loads(sys.argv[2])
restart = None if policy is None else RestartPolicy(**policy)
sys.exit(run_services(services, on_ready=lambda: print("READY", flush=True), restart=restart))
"""
#: Fast enough for a test, and the doubling still visible: 0.2, 0.4, 0.8, 0.8 …
QUICK = RestartPolicy(initial=0.2, maximum=0.8, stable_after=30.0, crash_loop_after=3)


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

    def __init__(self, services: list[dict], cwd: Path, restart: RestartPolicy | None = DEFAULT_RESTART) -> None:
        policy = None if restart is None else asdict(restart)
        self.process = subprocess.Popen(
            [PY, "-c", DRIVER, json.dumps(services), json.dumps(policy)],
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            encoding="utf-8",
        )
        self.lines: list[str] = []
        self.arrivals: list[float] = []  # time.monotonic() when each line was read
        self._new: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.arrivals.append(time.monotonic())
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)

    # Generous: these bound a hang, not a speed; a loaded CI machine starts Python children slowly.
    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 60.0, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while sum(1 for line in self.lines if predicate(line)) < count:
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
    assert time.monotonic() - started < 5, driver.log
    assert "stubborn stopped (SIGKILL)" in said(driver.log)
    assert not alive(pids(driver.log)["stubborn"])


def test_with_restarts_off_a_child_that_dies_stops_the_others_and_fails(tmp_path):
    port = free_port()
    out = io.StringIO()
    ready: list[bool] = []
    services = [web("web", port, cwd=tmp_path), crasher()]
    code = run_services(services, on_ready=lambda: ready.append(True), out=out, restart=None)
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
    assert run_services([stubborn, crasher(after=0.2)], out=out, restart=None) == 1
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
    assert time.monotonic() - started < 5, log
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
    services = [Service("talker", [PY, "-c", talk], None), crasher("long-named-part", after=5)]
    run_services(services, out=out, restart=None)
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


def test_restart_delays_double_up_to_the_maximum():
    policy = RestartPolicy(initial=1.0, maximum=60.0)
    assert [policy.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    with pytest.raises(ValueError, match="initial"):
        RestartPolicy(initial=0)
    with pytest.raises(ValueError, match="initial"):
        RestartPolicy(initial=5, maximum=1)


def restarts(log: str, name: str) -> list[str]:
    """The supervisor's lines about `name` dying and being restarted."""
    return [line for line in said(log) if line.startswith(f"{name} ") and "restarting it in" in line]


def test_a_child_that_dies_is_restarted_alone_with_backoff_and_its_crash_loop_reported(tmp_path, drivers):
    port = free_port()
    flaky = "import os, time; print(f'pid={os.getpid()}', flush=True); time.sleep(0.3); raise SystemExit(3)"
    services = [asdict(web("steady", port)), {"name": "flaky", "command": [PY, "-c", flaky], "health_url": None}]
    driver = Driver(services, tmp_path, restart=QUICK)
    drivers.append(driver)
    driver.wait_for(lambda line: line == "READY")
    steady = pids(driver.log)["steady"]
    driver.wait_for(lambda line: "flaky exited with code 3" in line, count=5)
    assert port_open(port), "the other child kept serving"
    driver.process.send_signal(signal.SIGTERM)
    assert driver.finish() == 0, driver.log

    log = driver.log
    dying = restarts(log, "flaky")[:5]
    assert dying[0] == "flaky exited with code 3: restarting it in 0.2 s"
    assert dying[1:] == [
        "flaky exited with code 3, 2 times in a row: restarting it in 0.4 s",
        "flaky exited with code 3, 3 times in a row: restarting it in 0.8 s",
        "flaky exited with code 3, 4 times in a row: restarting it in 0.8 s",
        "flaky exited with code 3, 5 times in a row: restarting it in 0.8 s",
    ]
    crash_loop = [line for line in said(log) if "crash-looping" in line]
    assert crash_loop == [
        "flaky is crash-looping: it died 3 times without staying up 30 s; still restarting it, every 0.8 s at most"
    ]
    assert "status: steady up, flaky restarting" in said(log)
    # Each restart waited its delay at least: measured from the death line to the next start line.
    deaths = [i for i, line in enumerate(driver.lines) if "| flaky exited with code 3" in line]
    starts = [i for i, line in enumerate(driver.lines) if "| starting flaky: " in line]
    for death, delay in zip(deaths[:4], [0.2, 0.4, 0.8, 0.8], strict=True):
        start = next(i for i in starts if i > death)
        assert driver.arrivals[start] - driver.arrivals[death] >= delay - 0.05, log
    # steady was never touched: one pid, started once.
    assert sum(line.startswith("starting steady: ") for line in said(log)) == 1
    assert re.findall(r"^steady +\| pid=(\d+)$", log, re.M) == [str(steady)]
    assert not alive(steady)


def test_a_child_that_stayed_up_starts_the_backoff_again(tmp_path, drivers):
    # Dies after 0.6 s each time, and 0.3 s of being up counts as stable: every death is a first one.
    dies = "import time; time.sleep(0.6); raise SystemExit(4)"
    policy = RestartPolicy(initial=0.2, maximum=5.0, stable_after=0.3)
    driver = Driver([{"name": "worker", "command": [PY, "-c", dies], "health_url": None}], tmp_path, restart=policy)
    drivers.append(driver)
    driver.wait_for(lambda line: "worker exited with code 4" in line, count=3)
    driver.process.send_signal(signal.SIGINT)
    assert driver.finish() == 0, driver.log
    assert restarts(driver.log, "worker")[:3] == ["worker exited with code 4: restarting it in 0.2 s"] * 3


def test_a_killed_child_comes_back_healthy_with_a_new_pid(tmp_path, drivers):
    first, second = free_port(), free_port()
    driver = Driver([asdict(web("rasa", first)), asdict(web("gateway", second))], tmp_path, restart=QUICK)
    drivers.append(driver)
    driver.wait_for(lambda line: line == "READY")
    before = pids(driver.log)
    os.kill(before["rasa"], signal.SIGKILL)
    driver.wait_for(lambda line: "| rasa is up again (pid " in line)
    assert port_open(first) and port_open(second)
    driver.process.send_signal(signal.SIGTERM)
    assert driver.finish() == 0, driver.log

    log = driver.log
    rasa_pids = [int(pid) for pid in re.findall(r"^rasa +\| pid=(\d+)$", log, re.M)]
    assert len(rasa_pids) == 2 and rasa_pids[0] == before["rasa"] and rasa_pids[1] != before["rasa"]
    assert f"rasa is up again (pid {rasa_pids[1]}," in log
    assert "rasa was killed by SIGKILL: restarting it in 0.2 s" in said(log)
    assert re.findall(r"^gateway +\| pid=(\d+)$", log, re.M) == [str(before["gateway"])]  # never restarted
    assert "status: rasa restarting, gateway up" in said(log)
    assert "status: rasa up, gateway up" in said(log)
    assert not any(alive(pid) for pid in [*rasa_pids, before["gateway"]])


def test_a_restart_that_never_gets_healthy_is_killed_and_tried_again(tmp_path, drivers):
    port = free_port()
    # Serves on its first run only; later runs hang without serving, as a Rasa stuck loading would.
    prelude = (
        "import os, pathlib, time\n"
        "marker = pathlib.Path('served')\n"
        "if marker.exists():\n"
        "    print(f'pid={os.getpid()}', flush=True); time.sleep(600)\n"
        "marker.touch()\n"
    )
    stuck = web("stuck", port, prelude=prelude, cwd=tmp_path, start_timeout=1.0)
    driver = Driver([{**asdict(stuck), "cwd": str(tmp_path)}], tmp_path, restart=QUICK)
    drivers.append(driver)
    driver.wait_for(lambda line: line == "READY")
    os.kill(pids(driver.log)["stuck"], signal.SIGKILL)
    driver.wait_for(lambda line: "stuck was killed by SIGKILL, 2 times in a row" in line)
    driver.process.send_signal(signal.SIGTERM)
    assert driver.finish() == 0, driver.log
    assert f"stuck was not healthy within 1 s of its restart (GET http://127.0.0.1:{port}/: ConnectError" in (
        driver.log
    )


def test_a_signal_stops_at_once_while_a_restart_is_pending(tmp_path, drivers):
    # The second death waits 30 s; SIGTERM during that wait must not wait it out.
    dies = "import time; time.sleep(0.2); raise SystemExit(5)"
    policy = RestartPolicy(initial=30.0, maximum=30.0)
    driver = Driver([{"name": "gone", "command": [PY, "-c", dies], "health_url": None}], tmp_path, restart=policy)
    drivers.append(driver)
    driver.wait_for(lambda line: "gone exited with code 5: restarting it in 30 s" in line)
    started = time.monotonic()
    driver.process.send_signal(signal.SIGTERM)
    assert driver.finish() == 0, driver.log
    assert time.monotonic() - started < 10
    assert sum(line.startswith("starting gone: ") for line in said(driver.log)) == 1


def test_a_signal_stops_a_restarted_child_still_getting_healthy(tmp_path, drivers):
    port = free_port()
    # The first run serves at once; a restart takes 60 s before it serves, and is stopped meanwhile.
    prelude = (
        "import pathlib, sys\nmarker = pathlib.Path('served')\nif marker.exists(): sys.argv[2] = '60'\nmarker.touch()\n"
    )
    slow = web("slow", port, prelude=prelude, start_timeout=120.0)
    driver = Driver([{**asdict(slow), "cwd": str(tmp_path)}], tmp_path, restart=QUICK)
    drivers.append(driver)
    driver.wait_for(lambda line: line == "READY")
    os.kill(pids(driver.log)["slow"], signal.SIGKILL)
    driver.wait_for(lambda line: line.startswith("slow ") and "| pid=" in line, count=2)
    restarted = int(re.findall(r"^slow +\| pid=(\d+)$", driver.log, re.M)[1])
    started = time.monotonic()
    driver.process.send_signal(signal.SIGINT)
    assert driver.finish() == 0, driver.log
    assert time.monotonic() - started < 15
    assert "slow stopped (SIGTERM)" in said(driver.log)
    assert not alive(restarted)
