"""Whose address the limiter counts: the socket's peer, or X-Forwarded-For only from a proxy the settings trust.
Over real HTTP with the rating endpoint, which counts wrong pairs per client."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from bot.app import serve_in_thread
from bot.client_address import client_address, client_tag, parse_trusted_proxies, request_scheme
from bot.settings import Settings
from bot.supervisor import free_port
from bot.tickets import TicketDraft, open_ticket_service

TRUSTED = parse_trusted_proxies("10.0.0.5, 192.168.0.0/16, ::1")


@pytest.mark.parametrize(
    ("peer", "forwarded_proto", "scheme"),
    [
        ("203.0.113.7", ["https"], "http"),  # not a proxy: it may say anything about itself
        ("10.0.0.5", ["https"], "https"),
        ("10.0.0.5", ["HTTPS"], "https"),
        ("10.0.0.5", ["http, https"], "https"),  # the right-most is what the trusted peer wrote
        ("10.0.0.5", ["https", "http"], "http"),
        ("10.0.0.5", ["gopher"], "http"),  # nonsense leaves the socket's scheme
        ("10.0.0.5", [], "http"),
        (None, ["https"], "http"),
    ],
)
def test_the_scheme_comes_from_a_trusted_proxy_only(peer: str | None, forwarded_proto: list[str], scheme: str) -> None:
    assert request_scheme(peer, forwarded_proto, "http", TRUSTED) == scheme


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),  # not a proxy: its X-Forwarded-For is its own invention
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),  # the left part may be forged by the client
        ("10.0.0.5", ["198.51.100.1, 192.168.3.3"], "198.51.100.1"),  # a chain of trusted proxies
        ("10.0.0.5", ["1.2.3.4", "198.51.100.1"], "198.51.100.1"),  # several headers are one list
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", ["192.168.1.1"], "192.168.1.1"),  # only proxies: as far as we can see
        ("::1", ["2001:db8::1"], "2001:db8::1"),
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_the_client_is_the_peer_unless_a_trusted_proxy_forwards(
    peer: str | None, forwarded_for: list[str], client: str
) -> None:
    assert client_address(peer, forwarded_for, TRUSTED) == client


def test_without_trusted_proxies_forwarded_for_is_ignored() -> None:
    assert parse_trusted_proxies("") == ()
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"


def test_a_typo_in_the_trusted_proxies_is_an_error_that_names_it() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.300'")):
        parse_trusted_proxies("127.0.0.1, 10.0.0.300")


def test_the_tag_is_stable_keyed_and_not_the_address() -> None:
    tag = client_tag("198.51.100.1", "k" * 32)
    assert tag == client_tag("198.51.100.1", "k" * 32) and "198" not in tag
    assert tag != client_tag("198.51.100.1", "j" * 32) != client_tag("198.51.100.2", "k" * 32)


@contextmanager
def gateway(database_url: str, trusted_proxies: str) -> Iterator[str]:
    settings = Settings(
        database_url=database_url, rasa_url=f"http://127.0.0.1:{free_port()}", trusted_proxies=trusted_proxies
    )
    with serve_in_thread(settings, start_timeout=30) as url:
        yield url


def wrong_ratings(url: str, number: str, addresses: list[str]) -> list[int]:
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as http:
        return [
            http.post(
                f"/api/tickets/{number}/rating",
                json={"phone_last4": "0000", "score": 5},
                headers={"X-Forwarded-For": address},
            ).status_code
            for address in addresses
        ]


def test_by_default_a_guesser_cannot_pose_as_many_clients(
    database_url: str, make_draft: Callable[..., TicketDraft]
) -> None:
    service = open_ticket_service(database_url)
    number = service.create(make_draft(phone="13912345678")).number
    with gateway(database_url, trusted_proxies="") as url:
        codes = wrong_ratings(url, number, [f"198.51.100.{i}" for i in range(7)])
    service.close()
    assert codes == [404] * 5 + [429] * 2


def test_behind_a_trusted_proxy_each_client_has_its_own_count(
    database_url: str, make_draft: Callable[..., TicketDraft]
) -> None:
    service = open_ticket_service(database_url)
    number = service.create(make_draft(phone="13912345678")).number
    with gateway(database_url, trusted_proxies="127.0.0.1") as url:
        others = wrong_ratings(url, number, [f"198.51.100.{i}" for i in range(7)])
        one = wrong_ratings(url, number, ["203.0.113.9"] * 6)
    service.close()
    assert others == [404] * 7  # seven citizens behind the office's nginx, one wrong pair each
    assert one == [404] * 5 + [429]
