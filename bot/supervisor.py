"""Start the hotline's processes in order, show their logs as one stream, and stop them together.

The engine of `hotline up`: Rasa, the action server and the gateway each run as a child process. A service
counts as started once its health URL answers 2xx, and only then does the next one start (the gateway needs
Rasa). If any child exits on its own, the others are stopped and the exit code is non-zero: a half-running
hotline must never pass for a working one.
"""

from __future__ import annotations

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
class _Exited:
    service: Service
    code: int


@dataclass(frozen=True)
class _Signalled:
    signum: int


_Event = _Exited | _Signalled


def run_services(
    services: Sequence[Service],
    *,
    on_ready: Callable[[], None] | None = None,
    out: TextIO | None = None,
) -> int:
    """Run `services` until one exits or SIGINT/SIGTERM arrives; 0 after a requested stop, 1 on a failure.

    `out` defaults to the sys.stdout of the moment of the call. SIGINT and SIGTERM are handled only when
    called from the main thread (Python allows handlers nowhere else); elsewhere only a failing child ends
    the run.
    """
    if not services:
        raise ValueError("no services to run")  # else it would wait for a signal with nothing to watch
    supervisor = _Supervisor(services, out if out is not None else sys.stdout)
    with _signals_to(supervisor.events):
        try:
            code = supervisor.start_all()
            if code is None:
                if on_ready is not None:
                    on_ready()
                code = supervisor.handle(supervisor.events.get())
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
    def __init__(self, services: Sequence[Service], out: TextIO) -> None:
        self.services = services
        self.out = out
        self.width = max(len(name) for name in [SUPERVISOR_NAME, *(s.name for s in services)])
        # SimpleQueue, because a signal handler puts into it: its put is reentrant, a Queue's lock is not.
        self.events: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self.running: list[tuple[Service, subprocess.Popen[bytes]]] = []
        self.readers: list[threading.Thread] = []
        self.print_lock = threading.Lock()
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

    def start_all(self) -> int | None:
        """None once every service is up, else the exit code of the run."""
        for service in self.services:
            code = self.start(service)
            if code is not None:
                return code
        return None

    def start(self, service: Service) -> int | None:
        self.say(f"starting {service.name}: {shlex.join(service.command)}")
        started = time.monotonic()
        try:
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
        except OSError as exc:
            return self.fail(f"cannot start {service.name}: {exc}")
        self.running.append((service, process))
        assert process.stdout is not None
        reader = threading.Thread(target=self.pump, args=(service, process.stdout), daemon=True)
        reader.start()
        self.readers.append(reader)
        threading.Thread(target=self.watch, args=(service, process), daemon=True).start()

        if service.health_url is None:
            self.say(f"{service.name} started (no health check)")
            return None
        deadline = started + service.start_timeout
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
                return self.handle(event, starting=service)
        self.say(f"{service.name} is up ({time.monotonic() - started:.1f} s)")
        return None

    def handle(self, event: _Event, starting: Service | None = None) -> int:
        if isinstance(event, _Signalled):
            self.say(f"{signal.Signals(event.signum).name} received: stopping (again to kill at once)")
            return 0
        when = " before it was healthy" if event.service is starting else ""
        return self.fail(f"{event.service.name} {_describe_exit(event.code)}{when}")

    def pump(self, service: Service, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                self.write_line(service.name, raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    def watch(self, service: Service, process: subprocess.Popen[bytes]) -> None:
        self.events.put(_Exited(service, process.wait()))

    def stop_all(self) -> None:
        # Reverse order: the gateway goes before Rasa, so it never serves while Rasa is gone.
        for service, process in reversed(self.running):
            self.stop(service, process)
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
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
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
