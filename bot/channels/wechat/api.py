"""WeChat's customer-service message API (客服消息), with one access token for every gateway process.

The token lives in the database (wechat_access_tokens) and is refreshed five minutes before it expires, by
one process at a time: the one that takes the row's lease fetches it, the others wait for the new token (or
for the lease to run out, if its holder died). It is fetched from /cgi-bin/stable_token, by POST: the secret
never appears in a URL, and a refresh does not invalidate the token other processes are still using. The
token itself must travel in the query string (WeChat's API): a log filter masks it in httpx's request lines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.channels.wechat.models import WeChatTokenRow

logger = logging.getLogger(__name__)

#: Refresh this long before the token expires.
REFRESH_MARGIN = timedelta(minutes=5)
#: How long a refresh may hold the lease; a holder that died frees it after this.
LEASE = timedelta(seconds=15)
#: errcodes that mean the token is no good any more (fetch a new one and try once more).
TOKEN_REFUSED = frozenset({40001, 40014, 42001})
#: errcodes that mean the citizen cannot be written to now: out of the 48-hour window, over the quota,
#: unsubscribed, or an OpenID of another account.
UNREACHABLE = frozenset({45015, 45047, 43004, 40003})


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API errcode {errcode}: {errmsg}")
        self.errcode = errcode

    @property
    def unreachable(self) -> bool:
        return self.errcode in UNREACHABLE


class _MaskCredentials(logging.Filter):
    _PATTERN = re.compile(r"(access_token|secret)=[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self._PATTERN.sub(r"\1=***", str(a)) for a in record.args)  # type: ignore[arg-type]
        record.msg = self._PATTERN.sub(r"\1=***", str(record.msg))
        return True


logging.getLogger("httpx").addFilter(_MaskCredentials())


class CustomerServiceApi:
    def __init__(
        self,
        engine: Engine,
        base_url: str,
        appid: str,
        secret: str,
        *,
        timeout_s: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.appid = appid
        self._secret = secret
        self.clock = clock
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send_text(self, openid: str, text: str) -> None:
        """One text message to the citizen; WeChatApiError if WeChat refuses it (see `unreachable`)."""
        await self._call(
            "/cgi-bin/message/custom/send", {"touser": openid, "msgtype": "text", "text": {"content": text}}
        )

    async def typing(self, openid: str) -> None:
        """ "对方正在输入" for 15 seconds (costs none of the quota)."""
        await self._call("/cgi-bin/message/custom/typing", {"touser": openid, "command": "Typing"})

    async def _call(self, path: str, body: dict[str, Any]) -> None:
        token = await self.token()
        for attempt in (1, 2):
            # Raw UTF-8: WeChat shows \\u escapes in message text literally.
            response = await self.http.post(
                path,
                params={"access_token": token},
                content=json.dumps(body, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            response.raise_for_status()
            errcode, errmsg = _error(response.json())
            if errcode == 0:
                return
            if errcode in TOKEN_REFUSED and attempt == 1:
                token = await self.token(refused=token)
                continue
            raise WeChatApiError(errcode, errmsg)

    # -- the access token ----------------------------------------------------------------------------------

    async def token(self, refused: str | None = None) -> str:
        """A valid access token: the cached one, or a fresh one if it expires soon (or WeChat `refused` it)."""
        deadline = self.clock() + LEASE * 2
        while True:
            decision, token = await asyncio.to_thread(self._cached_or_lease, refused)
            if decision == "cached":
                assert token is not None
                return token
            if decision == "refresh":
                return await self._refresh()
            if self.clock() > deadline:
                raise TimeoutError("no access token: another process holds the refresh lease")
            await asyncio.sleep(0.1)  # another process is refreshing it

    def _cached_or_lease(self, refused: str | None) -> tuple[str, str | None]:
        now = self.clock()
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        with Session(self.engine) as session, session.begin():
            session.execute(insert(WeChatTokenRow).values(appid=self.appid).on_conflict_do_nothing())
            row = session.get(WeChatTokenRow, self.appid, with_for_update=True)
            assert row is not None
            fresh = row.token and row.expires_at and row.expires_at - REFRESH_MARGIN > now
            if fresh and row.token != refused:
                return "cached", row.token
            if row.lease_until is not None and row.lease_until > now:
                return "wait", None
            row.lease_until = now + LEASE
            return "refresh", None

    async def _refresh(self) -> str:
        try:
            response = await self.http.post(
                "/cgi-bin/stable_token",
                json={"grant_type": "client_credential", "appid": self.appid, "secret": self._secret},
            )
            response.raise_for_status()
            body = response.json()
            errcode, errmsg = _error(body)
            if errcode or not isinstance(body.get("access_token"), str):
                raise WeChatApiError(errcode or -1, errmsg or "no access_token")
            token, expires_in = body["access_token"], int(body.get("expires_in") or 7200)
        except BaseException:
            await asyncio.to_thread(self._store, None, None)  # free the lease: the next caller tries again
            raise
        await asyncio.to_thread(self._store, token, self.clock() + timedelta(seconds=expires_in))
        return token

    def _store(self, token: str | None, expires_at: datetime | None) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(WeChatTokenRow, self.appid, with_for_update=True)
            assert row is not None
            if token is not None:
                row.token, row.expires_at = token, expires_at
            row.lease_until = None


def _error(body: Any) -> tuple[int, str]:
    if not isinstance(body, dict):
        return -1, "not a JSON object"
    errcode = body.get("errcode", 0)
    return (errcode if isinstance(errcode, int) else -1), str(body.get("errmsg", ""))
