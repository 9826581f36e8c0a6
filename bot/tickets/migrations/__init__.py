"""Alembic migrations for the ticket store; `bot.tickets.database.upgrade_schema` applies them."""
