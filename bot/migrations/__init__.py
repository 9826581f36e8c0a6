"""Alembic migrations for the ticket store; `bot.database.upgrade_schema` applies them."""
