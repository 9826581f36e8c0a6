"""The ticket store's fixtures serve the gateway's other tables too (one database): a clock and ticket drafts."""

from tests.tickets.conftest import clock, make_draft  # noqa: F401
