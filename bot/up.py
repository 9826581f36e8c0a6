"""`hotline up`: the Rasa server, the action server and the gateway, started and watched together.

Every child reads the same settings (bot/settings.py); `--var` reaches them as HOTLINE_VAR, so the ticket
database (unless a database URL is set) and Rasa's trackers both move with it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from bot import nlu
from bot.conversation.conversation_ids import load_or_create_key
from bot.settings import load_settings
from bot.supervisor import Service, run_services

ROOT = Path(__file__).resolve().parent.parent
APP_PYTHON = Path(sys.executable)


@dataclass(frozen=True)
class Ports:
    gateway: int = 8000
    rasa: int = 5005
    actions: int = 5055


#: `--tracker-store` choices: the class endpoints.yml's `type: ${HOTLINE_TRACKER_STORE}` loads.
TRACKER_STORES = {
    # Rasa's SQLTrackerStore behind a per-process cache; only new events are written (rasa_addons/tracker_store.py)
    "cached": "rasa_addons.tracker_store.CachedSQLTrackerStore",
    "sql": "SQL",  # Rasa's own SQLTrackerStore, as before
}


@dataclass(frozen=True)
class RasaOptions:
    workers: int = 1  # Rasa processes; the gateway pins each sender to one
    tracker_store: str = "cached"  # a key of TRACKER_STORES
    sqlite_wal: bool = False  # the tracker database in WAL mode, commits not waiting for the disk


def rasa_ports(ports: Ports, workers: int) -> list[int]:
    """Worker i listens on the Rasa port + i."""
    return [ports.rasa + i for i in range(workers)]


def services(
    host: str,
    ports: Ports,
    model: Path,
    var: Path,
    index: Path,
    rasa: RasaOptions | None = None,
    *,
    conversation_key: str | None = None,
) -> list[Service]:
    """Rasa first (the gateway needs it), then actions (Rasa calls them), then the gateway.

    `conversation_key`: HOTLINE_CONVERSATION_KEY for the gateway, if the environment does not set it.
    """
    rasa = rasa or RasaOptions()
    state = {"HOTLINE_VAR": str(var)}  # every process derives its default database from it
    workers = [
        Service(
            name="rasa" if rasa.workers == 1 else f"rasa-{i}",
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
                str(port),
            ],
            health_url=f"http://127.0.0.1:{port}/webhooks/hotline/",
            env={
                **nlu.rasa_env(),
                **state,
                "HOTLINE_ACTIONS_PORT": str(ports.actions),
                # One database for every worker: a sender's events are written by the worker it is pinned to.
                "HOTLINE_TRACKER_DB": str(var / "rasa-trackers.db"),
                "HOTLINE_TRACKER_STORE": TRACKER_STORES[rasa.tracker_store],
                "HOTLINE_TRACKER_SQLITE_WAL": str(rasa.sqlite_wal).lower(),
            },
            cwd=ROOT,
            start_timeout=300.0,  # ~30 s on a quiet machine, minutes on a busy one
        )
        for i, port in enumerate(rasa_ports(ports, rasa.workers))
    ]
    actions = Service(
        name="actions",
        command=[str(APP_PYTHON), "-m", "actions.server", "--port", str(ports.actions)],
        health_url=f"http://127.0.0.1:{ports.actions}/health",
        env={**state, "HOTLINE_INDEX": str(index)},
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
            # The app decides whose X-Forwarded-For to believe (HOTLINE_TRUSTED_PROXIES); uvicorn's own
            # default would believe any local process.
            "--no-proxy-headers",
        ],
        health_url=f"http://127.0.0.1:{ports.gateway}/healthz",
        env={
            **state,
            "HOTLINE_RASA_URL": ",".join(f"http://127.0.0.1:{port}" for port in rasa_ports(ports, rasa.workers)),
            "HOTLINE_INDEX": str(index),  # reduced mode answers from it while Rasa is down
            # The retention purge anonymises the conversations Rasa keeps there.
            "HOTLINE_TRACKER_DATABASE_URL": f"sqlite:///{var / 'rasa-trackers.db'}",
            **({"HOTLINE_CONVERSATION_KEY": conversation_key} if conversation_key else {}),
        },
        cwd=ROOT,
    )
    return [*workers, actions, gateway]


def register(commands: argparse._SubParsersAction) -> None:
    up = commands.add_parser(
        "up", help="run Rasa, the action server and the gateway together, restarting any that dies"
    )
    # Defaults that come from settings are None here and resolved in _up: a bad setting must not break `--help`.
    up.add_argument("--host", default=None, help="the gateway's address (default: $HOTLINE_HOST, else 127.0.0.1)")
    up.add_argument("--port", type=int, default=None, help="the gateway's port (default: $HOTLINE_PORT, else 8000)")
    up.add_argument("--rasa-port", type=int, default=5005, help="the first Rasa worker's; worker i gets this + i")
    up.add_argument(
        "--rasa-workers", type=int, default=1, help="Rasa processes (~1.4 GB RAM each); senders are pinned to one"
    )
    up.add_argument("--tracker-store", choices=sorted(TRACKER_STORES), default=RasaOptions.tracker_store)
    up.add_argument(
        "--sqlite-wal",
        action="store_true",
        help="tracker database in WAL mode without an fsync per turn (survives restarts, not power cuts)",
    )
    up.add_argument("--actions-port", type=int, default=5055)
    up.add_argument("--index", type=Path, default=None, help="default: $HOTLINE_INDEX, else var/index/knowledge")
    up.add_argument(
        "--var",
        type=Path,
        default=None,
        help="where state lives: the ticket database (unless HOTLINE_DATABASE_URL or DATABASE_URL names one) and "
        "Rasa's tracker database; sets HOTLINE_VAR for every process (default: $HOTLINE_VAR, else var/)",
    )
    up.add_argument("--no-train", action="store_true", help="use the existing model as it is")
    up.add_argument(
        "--model",
        type=Path,
        default=None,
        help="serve this Rasa model instead of models/hotline.tar.gz, as it is (implies --no-train)",
    )
    up.set_defaults(handler=_up)


def _up(args: argparse.Namespace) -> int:
    # The settings every child will read, checked here first: a missing secret stops startup, named, before
    # any process starts (a child that failed on it would only be restarted, and fail again).
    overrides = {"var": args.var} if args.var is not None else {}
    settings = load_settings(**overrides)
    index = (args.index or settings.index).resolve()
    if not (index / "manifest.json").exists():
        raise FileNotFoundError(f"no knowledge index at {index}: run `hotline index ensure` (or `make run`)")
    if args.rasa_workers < 1:
        raise ValueError("--rasa-workers must be at least 1")
    if args.model is not None:  # a model chosen by path is served as it is
        model: Path = args.model.resolve()
    elif args.no_train:
        model = nlu.model_path()
    else:
        model = nlu.train()
    if not model.exists():
        raise FileNotFoundError(f"no model at {model}: run `hotline nlu train`")
    settings.var.mkdir(parents=True, exist_ok=True)
    # Embedded defaults: a key generated into var/ once, unless the environment brings one.
    key = None if settings.conversation_key else load_or_create_key(settings.var / "conversation.key")
    host, port = args.host or settings.host, args.port or settings.port
    ports = Ports(port, args.rasa_port, args.actions_port)
    address = f"http://{host}:{port}"
    return run_services(
        services(
            host,
            ports,
            model,
            settings.var,
            index,
            RasaOptions(args.rasa_workers, args.tracker_store, args.sqlite_wal),
            conversation_key=key,
        ),
        on_ready=lambda: print(
            f"hotline  | ready: web chat on {address}/ , operator console on {address}/console , "
            f"API on {address}/api/chat",
            flush=True,
        ),
    )
