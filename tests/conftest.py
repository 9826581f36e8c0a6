"""Shared fixtures: the real seeds, the real corpus, and one real index built per session."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The gateway refuses to start without it (bot/app.py); one random key per test session.
os.environ.setdefault("HOTLINE_CONVERSATION_KEY", secrets.token_urlsafe(32))

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
KNOWLEDGE = ROOT / "knowledge"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed documents not found at {SEEDS}")
    return SEEDS


@pytest.fixture(scope="session")
def embedder():
    from index.embedders import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def embedding_cache_path(tmp_path_factory) -> Path:
    # One cache for the session: the knowledge index is embedded once, later builds reuse it.
    return tmp_path_factory.mktemp("cache") / "embeddings.sqlite"


@pytest.fixture(scope="session")
def knowledge_index(tmp_path_factory, embedder, embedding_cache_path) -> Path:
    from index.builder import build_index
    from index.embedding_cache import EmbeddingCache

    out = tmp_path_factory.mktemp("index") / "knowledge"
    cache = EmbeddingCache(embedding_cache_path)
    build_index([KNOWLEDGE], out, embedder, cache)
    cache.close()
    return out


@pytest.fixture(scope="session")
def retriever(knowledge_index, embedder):
    from index.retriever import Retriever

    return Retriever(knowledge_index, embedder=embedder)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from bot import nlu

    if not (nlu.rasa_venv() / "bin" / "rasa").exists():
        pytest.skip("run `make setup` to create .venv-rasa")
    # Rasa fingerprints data and config: unchanged, this reuses the last model in seconds.
    return nlu.train()


#: How long the stack locks ticket checks after five wrong pairs: short, so that a test can wait for it to pass.
STACK_TICKET_CHECK_LOCKOUT_S = 60.0


@dataclass(frozen=True)
class Stack:
    """`hotline up` on loopback: real Rasa, real action server, real gateway, a fresh database.

    The gateway believes X-Forwarded-For from loopback (tests play clients at different addresses), and it
    has no HOTLINE_CONVERSATION_KEY from the environment: `hotline up` generates one into `var`.
    """

    url: str
    database_url: str
    log: Path
    var: Path


@pytest.fixture(scope="session")
def hotline_stack(tmp_path_factory, trained_model, knowledge_index) -> Iterator[Stack]:
    from bot.supervisor import free_port, wait_for_http

    var = tmp_path_factory.mktemp("var")
    database_url = f"sqlite:///{var / 'hotline.db'}"
    ports = [free_port() for _ in range(3)]
    log = var / "hotline-up.log"
    command = [str(Path(sys.executable).with_name("hotline")), "up", "--no-train", "--index", str(knowledge_index)]
    command += ["--var", str(var), "--port", str(ports[0]), "--rasa-port", str(ports[1])]
    command += ["--actions-port", str(ports[2])]
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # PYTHONPATH: this checkout's code, even when the venv's editable install points at another one.
            env={
                **{name: value for name, value in os.environ.items() if name != "HOTLINE_CONVERSATION_KEY"},
                "PYTHONPATH": str(ROOT),
                "DATABASE_URL": database_url,
                "HOTLINE_TRUSTED_PROXIES": "127.0.0.1",
                "HOTLINE_TICKET_CHECK_LOCKOUT_S": str(STACK_TICKET_CHECK_LOCKOUT_S),
            },
        )
    url = f"http://127.0.0.1:{ports[0]}"
    try:
        if not wait_for_http(f"{url}/healthz", timeout=300):
            pytest.fail(f"hotline up did not come up:\n{log.read_text()[-3000:]}")
        yield Stack(url, database_url, log, var)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
