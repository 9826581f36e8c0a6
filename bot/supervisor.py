"""Start the hotline's processes in order, show their logs as one stream, keep them running, stop them together.

The engine of `hotline up`: Rasa, the action server and the gateway each run as a child process. A service
counts as started once its health URL answers 2xx, and only then does the next one start (the gateway needs
Rasa). A child that dies during that first start fails the run: a stack that never came up is a
configuration to fix, not a process to retry.

Once everything is up, a child that dies is started again, alone, after a backoff (RestartPolicy): the others
keep serving, so the gateway still answers while Rasa reloads its model. Each death and restart is logged, and
a child that keeps dying is reported as crash-looping, but never given up on. SIGINT or SIGTERM stops every
child, in reverse order, at any moment, a pending restart included.
"""

from __future__ import annotations

import enum
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

import httpx

SUPERVISOR_NAME = "hotline"  # the log prefix of the supervisor's own lines
POLL_INTERVAL = 0.25
PROBE_TIMEOUT = 1.0
KILL_WAIT = 5.0  # after SIGKILL only an unkillable (D-state) process is still there


@dataclass(frozen=True)
class Service:
    """One child process of `hotline up`."""

    name: str  # the log prefix: "rasa", "actions", "gateway"
    command: Sequence[str]  # argv; no shell, so nothing is quoted twice
    health_url: str | None  # GET until 2xx; None: started as soon as it is spawned
    env: Mapping[str, str] = field(default_factory=dict)  # added to os.environ
    cwd: Path | None = None
    start_timeout: float = 120.0  # Rasa takes ~30 s to load a model
    stop_timeout: float = 10.0  # grace between SIGTERM and SIGKILL


@dataclass(frozen=True)
class RestartPolicy:
    """When a child that died after the stack was up is started again.

    The first restart waits `initial` seconds and each death in a row doubles the wait, up to `maximum`. A child
    that stayed healthy for `stable_after` seconds before it died starts the count again. At `crash_loop_after`
    deaths in a row the child is reported as crash-looping (and still restarted).
    """

    initial: float = 1.0
    maximum: float = 60.0
    stable_after: float = 60.0
    crash_loop_after: int = 5

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("a restart policy needs 0 < initial <= maximum")

    def delay(self, deaths_in_a_row: int) -> float:
        """The wait before the restart that follows death number `deaths_in_a_row` (1, 2, …)."""
        return min(self.initial * 2 ** max(deaths_in_a_row - 1, 0), self.maximum)


DEFAULT_RESTART = RestartPolicy()


class ChildState(enum.StrEnum):
    STARTING = "starting"  # spawned, its health URL not yet answering
    UP = "up"
    RESTARTING = "restarting"  # dead, waiting out its backoff
    STOPPED = "stopped"


@dataclass(eq=False)
class _Child:
    """A service and its current process; the process changes with each restart."""

    service: Service
    process: subprocess.Popen[bytes] | None = None
    state: ChildState = ChildState.STOPPED
    spawned_at: float = 0.0
    up_since: float | None = None
    deaths_in_a_row: int = 0
    restart_at: float | None = None


@dataclass(frozen=True)
class _Exited:
    child: _Child
    process: subprocess.Popen[bytes]
    code: int


@dataclass(frozen=True)
class _Healthy:
    child: _Child
    process: subprocess.Popen[bytes]


@dataclass(frozen=True)
class _NotHealthy:
    child: _Child
    process: subprocess.Popen[bytes]
    problem: str


@dataclass(frozen=True)
class _Signalled:
    signum: int


_Event = _Exited | _Healthy | _NotHealthy | _Signalled


def run_services(
    services: Sequence[Service],
    *,
    on_ready: Callable[[], None] | None = None,
    out: TextIO | None = None,
    restart: RestartPolicy | None = DEFAULT_RESTART,
) -> int:
    """Run `services` until SIGINT/SIGTERM arrives; 0 after a requested stop, 1 on a failure.

    `restart=None` ends the run (exit code 1) when a child dies, instead of restarting it. `out` defaults to the
    sys.stdout of the moment of the call. SIGINT and SIGTERM are handled only when called from the main thread
    (Python allows handlers nowhere else); elsewhere only a failure ends the run.
    """
    if not services:
        raise ValueError("no services to run")  # else it would wait for a signal with nothing to watch
    supervisor = _Supervisor(services, out if out is not None else sys.stdout, restart)
    with _signals_to(supervisor.events):
        try:
            code = supervisor.start_all()
            if code is None:
                if on_ready is not None:
                    on_ready()
                code = supervisor.supervise()
        finally:
            # Also on an exception of ours or of on_ready: children must never outlive the supervisor.
            supervisor.stop_all()
    if supervisor.failure is not None:
        # Repeated last, because the shutdown lines push the first report out of sight.
        supervisor.say(f"stopped: {supervisor.failure}")
    return code


def wait_for_http(url: str, timeout: float) -> bool:
    """Poll `url` with GET until it answers 2xx (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    with _health_client() as client:
        while _probe(client, url) is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(POLL_INTERVAL, remaining))
    return True


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now; another process may take it before it is used, which tests accept."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Supervisor:
    def __init__(self, services: Sequence[Service], out: TextIO, restart: RestartPolicy | None) -> None:
        self.children = [_Child(service) for service in services]
        self.out = out
        self.restart = restart
        self.width = max(len(name) for name in [SUPERVISOR_NAME, *(s.name for s in services)])
        # SimpleQueue, because a signal handler puts into it: its put is reentrant, a Queue's lock is not.
        self.events: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self.readers: list[threading.Thread] = []
        self.print_lock = threading.Lock()
        self.stopping = threading.Event()  # ends the health probes of restarted children
        self.failure: str | None = None
        self.hurry = False  # a second signal during shutdown: kill the rest without waiting

    def say(self, line: str) -> None:
        self.write_line(SUPERVISOR_NAME, line)

    def write_line(self, name: str, line: str) -> None:
        prefix = f"{name:<{self.width}}  | "
        with self.print_lock:
            # A line of ours may hold a newline (a `python -c` script in a command); each part gets the prefix.
            self.out.write("".join(f"{prefix}{part}\n" for part in line.split("\n")))
            self.out.flush()  # a pipe to `tee` or a test must see each line as it happens

    def fail(self, reason: str) -> int:
        self.failure = reason
        self.say(reason)
        return 1

    # The first start: in order, each waited for, any trouble ends the run.

    def start_all(self) -> int | None:
        """None once every service is up, else the exit code of the run."""
        for child in self.children:
            code = self.start(child)
            if code is not None:
                return code
        return None

    def start(self, child: _Child) -> int | None:
        service = child.service
        try:
            process = self.spawn(child)
        except OSError as exc:
            return self.fail(f"cannot start {service.name}: {exc}")
        if service.health_url is None:
            self.mark_up(child, f"{service.name} started (pid {process.pid}, no health check)")
            return None
        deadline = child.spawned_at + service.start_timeout
        with _health_client() as client:
            while (problem := _probe(client, service.health_url)) is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self.fail(
                        f"{service.name} was not healthy within {service.start_timeout:g} s "
                        f"(GET {service.health_url}: {problem})"
                    )
                try:
                    event = self.events.get(timeout=min(POLL_INTERVAL, remaining))
                except queue.Empty:
                    continue
                if isinstance(event, _Signalled):
                    return self.stop_requested(event)
                if isinstance(event, _Exited):
                    when = " before it was healthy" if event.child is child else ""
                    return self.fail(f"{event.child.service.name} {_describe_exit(event.code)}{when}")
        self.mark_up(child, f"{service.name} is up (pid {process.pid}, {time.monotonic() - child.spawned_at:.1f} s)")
        return None

    # Then: watch, and restart what dies.

    def supervise(self) -> int:
        """Handle events until a stop is requested (0), or a child dies with restarts off (1)."""
        while True:
            event = self.next_event(self.next_restart_in())  # None: a restart is due
            if isinstance(event, _Signalled):
                return self.stop_requested(event)
            before = self.states()
            # Events about a process already replaced (a probe of it, its exit) are stale: nothing to do.
            if isinstance(event, _Exited) and event.process is event.child.process:
                if self.restart is None:
                    return self.fail(f"{event.child.service.name} {_describe_exit(event.code)}")
                self.died(event.child, event.process, event.code, self.restart)
            elif isinstance(event, _Healthy) and event.process is event.child.process:
                child = event.child
                took = time.monotonic() - child.spawned_at
                self.mark_up(child, f"{child.service.name} is up again (pid {event.process.pid}, {took:.1f} s)")
            elif isinstance(event, _NotHealthy) and event.process is event.child.process:
                service = event.child.service
                self.say(
                    f"{service.name} was not healthy within {service.start_timeout:g} s of its restart "
                    f"(GET {service.health_url}: {event.problem}): killing it"
                )
                _signal_group(event.process, signal.SIGKILL)  # its _Exited schedules the next try
            self.restart_due()
            if self.states() != before:
                self.say("status: " + ", ".join(f"{name} {state}" for name, state in self.states().items()))

    def next_event(self, timeout: float | None) -> _Event | None:
        """The next event, or None after `timeout` seconds (None: no limit).

        Waits in short slices: a signal that the kernel hands to another thread does not wake the main thread,
        whose Python handler then runs only when it next wakes up by itself.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = POLL_INTERVAL if deadline is None else min(POLL_INTERVAL, deadline - time.monotonic())
            if remaining <= 0:
                return None
            try:
                return self.events.get(timeout=remaining)
            except queue.Empty:
                continue

    def states(self) -> dict[str, ChildState]:
        return {child.service.name: child.state for child in self.children}

    def died(self, child: _Child, process: subprocess.Popen[bytes], code: int, policy: RestartPolicy) -> None:
        now = time.monotonic()
        _signal_group(process, signal.SIGKILL)  # a stray of its own could hold its port and fail the restart
        stayed_up = child.up_since is not None and now - child.up_since >= policy.stable_after
        child.deaths_in_a_row = 1 if stayed_up else child.deaths_in_a_row + 1
        self.schedule_restart(child, f"{child.service.name} {_describe_exit(code)}", policy)

    def schedule_restart(self, child: _Child, what: str, policy: RestartPolicy) -> None:
        delay = policy.delay(child.deaths_in_a_row)
        child.process, child.up_since = None, None
        child.state, child.restart_at = ChildState.RESTARTING, time.monotonic() + delay
        in_a_row = f", {child.deaths_in_a_row} times in a row" if child.deaths_in_a_row > 1 else ""
        self.say(f"{what}{in_a_row}: restarting it in {delay:g} s")
        if child.deaths_in_a_row == policy.crash_loop_after:
            self.say(
                f"{child.service.name} is crash-looping: it died {child.deaths_in_a_row} times without staying up "
                f"{policy.stable_after:g} s; still restarting it, every {policy.maximum:g} s at most"
            )

    def next_restart_in(self) -> float | None:
        due = [child.restart_at for child in self.children if child.restart_at is not None]
        return max(min(due) - time.monotonic(), 0.0) if due else None

    def restart_due(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is None or child.restart_at > now:
                continue
            child.restart_at = None
            assert self.restart is not None  # only scheduled with a policy
            try:
                process = self.spawn(child)
            except OSError as exc:
                child.deaths_in_a_row += 1
                self.schedule_restart(child, f"cannot start {child.service.name}: {exc}", self.restart)
                continue
            if child.service.health_url is None:
                self.mark_up(child, f"{child.service.name} started again (pid {process.pid}, no health check)")
            else:
                threading.Thread(target=self.probe_until_healthy, args=(child, process), daemon=True).start()

    def probe_until_healthy(self, child: _Child, process: subprocess.Popen[bytes]) -> None:
        """In a thread: tell the main loop when a restarted child answers, or that it never did."""
        service = child.service
        assert service.health_url is not None
        deadline = child.spawned_at + service.start_timeout
        with _health_client() as client:
            while (problem := _probe(client, service.health_url)) is not None:
                if process.poll() is not None or self.stopping.is_set():
                    return  # its _Exited, or the stop, is the main loop's news
                if time.monotonic() >= deadline:
                    self.events.put(_NotHealthy(child, process, problem))
                    return
                self.stopping.wait(POLL_INTERVAL)
        self.events.put(_Healthy(child, process))

    def mark_up(self, child: _Child, line: str) -> None:
        child.state, child.up_since = ChildState.UP, time.monotonic()
        self.say(line)

    def spawn(self, child: _Child) -> subprocess.Popen[bytes]:
        """Start the child's process, with a log reader and a watcher; OSError if it cannot start."""
        service = child.service
        self.say(f"starting {service.name}: {shlex.join(service.command)}")
        child.spawned_at = time.monotonic()
        process = subprocess.Popen(
            list(service.command),
            cwd=service.cwd,
            # Unbuffered: the children are Python, and a block-buffered pipe would hold their logs back.
            env={**os.environ, "PYTHONUNBUFFERED": "1", **service.env},
            stdin=subprocess.DEVNULL,  # the terminal's input is not theirs to read
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one pipe keeps stdout and stderr lines in the order written
            start_new_session=True,  # its own process group: signalled as a whole, deaf to the terminal's ^C
        )
        child.process, child.state = process, ChildState.STARTING
        assert process.stdout is not None
        reader = threading.Thread(target=self.pump, args=(service, process.stdout), daemon=True)
        reader.start()
        self.readers.append(reader)
        threading.Thread(target=self.watch, args=(child, process), daemon=True).start()
        return process

    def stop_requested(self, event: _Signalled) -> int:
        self.say(f"{signal.Signals(event.signum).name} received: stopping (again to kill at once)")
        return 0

    def pump(self, service: Service, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                self.write_line(service.name, raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    def watch(self, child: _Child, process: subprocess.Popen[bytes]) -> None:
        self.events.put(_Exited(child, process, process.wait()))

    # The end.

    def stop_all(self) -> None:
        self.stopping.set()
        # Reverse order: the gateway goes before Rasa, so it never serves while Rasa is gone.
        for child in reversed(self.children):
            child.restart_at = None
            if child.process is not None:
                self.stop(child.service, child.process)
            child.state = ChildState.STOPPED
        for reader in self.readers:
            reader.join(timeout=2.0)  # the last lines; a stray holding the pipe open must not hang us

    def stop(self, service: Service, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            self.say(f"stopping {service.name}")
            _signal_group(process, signal.SIGTERM)
            if not self.wait_for_exit(process, 0.0 if self.hurry else service.stop_timeout):
                self.say(f"{service.name} still running after SIGTERM: killing it")
                _signal_group(process, signal.SIGKILL)
                try:
                    process.wait(timeout=KILL_WAIT)
                except subprocess.TimeoutExpired:
                    self.say(f"{service.name} (pid {process.pid}) survived SIGKILL")
                    return
            self.say(f"{service.name} stopped ({_code_name(process.returncode)})")
        # The service's own process is gone; whatever is left in its group is a stray child of it.
        _signal_group(process, signal.SIGKILL)

    def wait_for_exit(self, process: subprocess.Popen[bytes], timeout: float) -> bool:
        """Wait on the event queue, not in waitpid, so that a second Ctrl-C is heard at once."""
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            event = self.next_event(remaining)
            if event is None:
                return False
            if isinstance(event, _Signalled):
                self.hurry = True
                return False
        return True


@contextmanager
def _signals_to(events: queue.SimpleQueue[_Event]) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into events for the main loop while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, _frame: object) -> None:
        events.put(_Signalled(signum))

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler not set from Python; the default is the closest we can restore.
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _health_client() -> httpx.Client:
    # trust_env=False: a proxy from the environment must not stand between us and our own loopback services.
    return httpx.Client(trust_env=False, timeout=PROBE_TIMEOUT)


def _probe(client: httpx.Client, url: str) -> str | None:
    """None when `url` answers 2xx, else why not (kept for the message if it never does)."""
    try:
        response = client.get(url)
    except httpx.TransportError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if response.is_success else f"HTTP {response.status_code}"


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    # With start_new_session the child leads its own group, whose id is its pid. No such group: all are gone.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _describe_exit(code: int) -> str:
    return f"was killed by {_code_name(code)}" if code < 0 else f"exited with code {code}"


def _code_name(code: int) -> str:
    """A Popen returncode in words: -15 is SIGTERM, 3 is exit code 3."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"
