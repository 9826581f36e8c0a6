"""`hotline up` on free loopback ports, for tests and benchmarks: one way to start the whole stack.

The child gets this process's environment without any database setting or conversation key (the caller passes
the ones it means), and PYTHONPATH pointing at this checkout, so that its code runs even when the venv's
editable install points at another one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.supervisor import free_port, wait_for_http

ROOT = Path(__file__).resolve().parent.parent
#: The settings that pick the database; a stack is given only the ones its caller means.
DATABASE_VARIABLES = ("DATABASE_URL", "HOTLINE_DATABASE_URL", "HOTLINE_VAR")
#: `hotline up` waits up to 300 s for Rasa alone; on a busy machine the whole start may take longer.
START_TIMEOUT_S = 420.0


class StackDidNotStart(RuntimeError):
    """The gateway never answered its health check; the message ends with the log's tail."""


@contextmanager
def hotline_up(
    index: Path,
    var: Path,
    env: dict[str, str],
    *,
    model: Path | None = None,
    log: Path | None = None,
    ports: tuple[int, int, int] | None = None,
) -> Iterator[str]:
    """`hotline up --no-train --var VAR` (serving `model` if given) until the block ends; yields the gateway's URL.

    `ports` (gateway, Rasa, actions): for a caller that also talks to Rasa or the action server; free ones otherwise.

    No HOTLINE_CONVERSATION_KEY is passed on: `hotline up` generates one into `var`, as on embedded defaults.
    """
    ports = ports or (free_port(), free_port(), free_port())
    log = log or var.parent / f"{var.name}-hotline-up.log"
    command = [str(Path(sys.executable).with_name("hotline")), "up", "--no-train", "--index", str(index)]
    command += ["--var", str(var), "--port", str(ports[0]), "--rasa-port", str(ports[1])]
    command += ["--actions-port", str(ports[2])]
    if model is not None:
        command += ["--model", str(model)]
    inherited = {k: v for k, v in os.environ.items() if k not in (*DATABASE_VARIABLES, "HOTLINE_CONVERSATION_KEY")}
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**inherited, "PYTHONPATH": str(ROOT), **env},
        )
    url = f"http://127.0.0.1:{ports[0]}"
    try:
        if not wait_for_http(f"{url}/healthz", timeout=START_TIMEOUT_S):
            raise StackDidNotStart(f"hotline up did not come up:\n{log.read_text()[-3000:]}")
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # the supervisor stops its children in order
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
