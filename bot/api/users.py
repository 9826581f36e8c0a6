"""/api/users: the console's accounts, for admins (tokens or the console session)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from bot.api.access import Admin
from bot.console.accounts import AccountStore

router = APIRouter(prefix="/api")


@router.get("/users")
def list_users(request: Request, _admin: Admin) -> list[dict[str, Any]]:
    accounts: AccountStore = request.app.state.accounts
    return [asdict(user) for user in accounts.list()]
