"""`hotline up`: the Rasa server, the action server and the gateway, started and watched together."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bot import nlu
from bot.supervisor import Service, run_services

ROOT = Path(__file__).resolve().parent.parent
APP_PYTHON = Path(sys.executable)


@dataclass(frozen=True)
class Ports:
    gateway: int = 8000
    rasa: int = 5005
    actions: int = 5055


def services(host: str, ports: Ports, model: Path, var: Path, index: Path) -> list[Service]:
    """Rasa first (the gateway needs it), then actions (Rasa calls them), then the gateway."""
    rasa = Service(
        name="rasa",
        command=[
            str(nlu.rasa_venv() / "bin" / "rasa"),
            "run",
            "--model",
            str(model),
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            "credentials.yml",
            "--interface",
            "127.0.0.1",  # Rasa is internal: only the gateway faces citizens
            "--port",
            str(ports.rasa),
        ],
        health_url=f"http://127.0.0.1:{ports.rasa}/webhooks/hotline/",
        env={
            **nlu.rasa_env(),
            "HOTLINE_ACTIONS_PORT": str(ports.actions),
            "HOTLINE_TRACKER_DB": str(var / "rasa-trackers.db"),
        },
        cwd=ROOT,
    )
    actions = Service(
        name="actions",
        command=[str(APP_PYTHON), "-m", "actions.server", "--port", str(ports.actions)],
        health_url=f"http://127.0.0.1:{ports.actions}/health",
        env={"HOTLINE_INDEX": str(index)},
        cwd=ROOT,
    )
    gateway = Service(
        name="gateway",
        command=[
            str(APP_PYTHON),
            "-m",
            "uvicorn",
            "bot.app:create_app",
            "--factory",
            "--host",
            host,
            "--port",
            str(ports.gateway),
            "--no-access-log",  # access logs would carry sender ids; the gateway logs what matters
        ],
        health_url=f"http://127.0.0.1:{ports.gateway}/healthz",
        env={"HOTLINE_RASA_URL": f"http://127.0.0.1:{ports.rasa}"},
        cwd=ROOT,
    )
    return [rasa, actions, gateway]


def register(commands: argparse._SubParsersAction) -> None:
    up = commands.add_parser("up", help="run Rasa, the action server and the gateway together")
    up.add_argument("--host", default=os.environ.get("HOTLINE_HOST", "127.0.0.1"))
    up.add_argument("--port", type=int, default=int(os.environ.get("HOTLINE_PORT", "8000")))
    up.add_argument("--rasa-port", type=int, default=5005)
    up.add_argument("--actions-port", type=int, default=5055)
    up.add_argument("--index", type=Path, default=ROOT / "var" / "index" / "knowledge")
    up.add_argument("--var", type=Path, default=ROOT / "var", help="where state lives (trackers, the database)")
    up.add_argument("--no-train", action="store_true", help="use the existing model as it is")
    up.set_defaults(handler=_up)


def _up(args: argparse.Namespace) -> int:
    if not (args.index / "manifest.json").exists():
        raise FileNotFoundError(f"no knowledge index at {args.index}: run `hotline index ensure` (or `make run`)")
    model = nlu.model_path() if args.no_train else nlu.train()
    if not model.exists():
        raise FileNotFoundError(f"no model at {model}: run `hotline nlu train`")
    args.var.mkdir(parents=True, exist_ok=True)
    ports = Ports(args.port, args.rasa_port, args.actions_port)
    address = f"http://{args.host}:{args.port}"
    return run_services(
        services(args.host, ports, model, args.var.resolve(), args.index.resolve()),
        on_ready=lambda: print(f"hotline  | ready: web chat on {address}/ , API on {address}/api/chat", flush=True),
    )
