"""The ticket store's fixtures serve the gateway's other tables too (one database): SQLite and PostgreSQL, a clock."""

from tests.tickets.conftest import clock, database_url  # noqa: F401
