"""The gateway's /healthz is about the gateway: 200 while it serves, and it says when Rasa does not answer."""

from __future__ import annotations

import httpx

from bot.app import serve_in_thread
from bot.settings import Settings
from bot.supervisor import free_port


def test_healthz_stays_200_and_says_degraded_while_rasa_is_down(tmp_path) -> None:
    # Nothing listens on these ports: both Rasa workers are down. (Rasa up: tests/test_up.py, the real stack.)
    rasa = ",".join(f"http://127.0.0.1:{free_port()}" for _ in range(2))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hotline.db'}", rasa_url=rasa)
    with serve_in_thread(settings, start_timeout=30) as url:
        response = httpx.get(f"{url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "rasa": "down"}
