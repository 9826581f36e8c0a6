"""WeChat's half of benchmarks/channels.py: the webhook under 20 concurrent users against WeChat's 5-second limit,
beside /api/chat in the same run, and duplicates under WeChat's retries.

Method. One `hotline up --no-train` (the trained model in models/, the index in var/index/knowledge, a fresh
database) with the WeChat channel on, sending to a local fake of WeChat's API (tests/channels/wechat_platform.py,
which also signs and encrypts every message with wechatpy, as WeChat's servers do; half the messages in safe
mode). Simulated citizens are closed loops, one message after the other with no think time, N at once (asyncio +
httpx). The messages are greetings, questions answered from the index (passages and long 一次告知 cards), out of
scope and thanks; no complaint (it would leave a form open), no anger or emergency (they hand off). /api/chat
gets the same scripts from as many web citizens; the phases run chat, WeChat, WeChat, chat, so that drift on
the shared machine hits both alike.

- Response time: from POST to the webhook's response. Passive: the response carried the answer (its first
  part, for a long card) within 4.5 s. Otherwise the webhook said "success" and the answer came through the
  API; the time until it arrived is reported too.
- Retries: every message of this phase is retried as WeChat does when it sees no response, in two ways: the
  response to the first two tries is lost and the third is read ("lost replies"), and a retry sent while the
  first try is still being answered ("retry while running"). The citizen's view is the read response's text plus
  whatever the API sent; it must equal the answer's parts exactly once (the ledger's row holds the parts), and
  the transcript must hold one citizen turn per message. A duplicate is a second turn or a part seen twice.

    python benchmarks/channels_wechat.py [--users 20] [--rounds 12] [--retry-rounds 3]

The function `wechat_section(...)` returns the report's section for benchmarks/channels.py to include.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import percentile_ms, publish_report, table

from bot.channels.wechat.models import WeChatMessageRow
from bot.conversation.conversation_ids import channel_id
from bot.conversation.transcript import TurnRow
from bot.supervisor import free_port
from tests.channels.wechat_channel.wechat_platform import (
    FakeWeChatApi,
    WeChatPlatform,
    new_openid,
    text_xml,
    wechat_env,
)
from tests.chat_client import say_async
from tests.stack import hotline_up

ROOT = Path(__file__).resolve().parents[1]
PASSIVE_BUDGET_S = 4.5
WECHAT_LIMIT_S = 5.0
TARGET_PASSIVE_SHARE = 0.999
SCRIPTS: list[list[str]] = [
    ["您好", "出生医学证明怎么补办", "好的，谢谢"],
    ["在吗", "打完狂犬疫苗能喝酒吗", "狂犬疫苗要打几针", "谢谢"],
    ["你好", "12320能投诉吗", "帮我订一张去上海的火车票", "多谢"],
    ["你好", "预防接种证丢了在哪补", "明天天气怎么样", "多谢"],
    ["您好", "高血压平时饮食要注意什么", "医保异地就医怎么备案"],
]
_msg_ids = itertools.count(int(time.time()) * 1000)


@dataclass
class WeChatSample:
    seconds: float  # the webhook's response time
    passive: bool  # the response carried the answer
    api_seconds: float | None = None  # "success": until the answer came through the API


@dataclass
class RetryResult:
    messages: int = 0
    second_turns: int = 0
    parts_twice: int = 0
    missing: int = 0
    by_mode: Counter[str] = field(default_factory=Counter)


@dataclass
class Stack:
    url: str
    database_url: str
    conversation_key: str
    api: FakeWeChatApi


def script_for(user: int, rounds: int) -> list[str]:
    texts: list[str] = []
    for n in range(rounds):
        texts += SCRIPTS[(user + n) % len(SCRIPTS)]
    return texts


async def wechat_load(stack: Stack, users: int, rounds: int) -> list[WeChatSample]:
    platform = WeChatPlatform()
    samples: list[WeChatSample] = []
    limits = httpx.Limits(max_connections=users * 2, max_keepalive_connections=users * 2)
    async with httpx.AsyncClient(timeout=60, trust_env=False, limits=limits) as http:

        async def citizen(user: int) -> None:
            openid = new_openid()
            for n, text in enumerate(script_for(user, rounds)):
                before = len(stack.api.sent_to(openid))
                xml = text_xml(openid, text, next(_msg_ids))
                pushed = await platform.push_async(http, stack.url, xml, safe=(user + n) % 2 == 1)
                assert pushed.response.status_code == 200, pushed.response.text
                sample = WeChatSample(pushed.seconds, pushed.reply is not None)
                if not sample.passive:
                    started = time.perf_counter()
                    while len(stack.api.sent_to(openid)) == before and time.perf_counter() - started < 60:
                        await asyncio.sleep(0.02)
                    sample.api_seconds = pushed.seconds + time.perf_counter() - started
                samples.append(sample)

        await asyncio.gather(*(citizen(user) for user in range(users)))
    return samples


async def chat_load(url: str, users: int, rounds: int) -> list[float]:
    seconds: list[float] = []
    limits = httpx.Limits(max_connections=users * 2, max_keepalive_connections=users * 2)
    async with httpx.AsyncClient(timeout=60, trust_env=False, limits=limits) as http:

        async def citizen(user: int) -> None:
            conversation_id = None
            for text in script_for(user, rounds):
                started = time.perf_counter()
                conversation_id, _ = await say_async(http, url, conversation_id, text)
                seconds.append(time.perf_counter() - started)

        await asyncio.gather(*(citizen(user) for user in range(users)))
    return seconds


async def retries(stack: Stack, users: int, rounds: int) -> RetryResult:
    platform = WeChatPlatform()
    result = RetryResult()
    engine = create_engine(stack.database_url)
    async with httpx.AsyncClient(timeout=60, trust_env=False) as http:

        async def citizen(user: int) -> None:
            openid = new_openid()
            for n, text in enumerate(script_for(user, rounds)):
                mode = "lost replies" if n % 2 == 0 else "retry while running"
                msg_id = next(_msg_ids)
                xml = text_xml(openid, text, msg_id)
                safe = user % 2 == 1
                before = len(stack.api.sent_to(openid))
                if mode == "lost replies":
                    for _ in range(2):
                        await platform.push_async(http, stack.url, xml, safe=safe)  # WeChat never read these
                    read = await platform.push_async(http, stack.url, xml, safe=safe)
                else:
                    first = asyncio.create_task(platform.push_async(http, stack.url, xml, safe=safe))
                    await asyncio.sleep(0.05)
                    read = await platform.push_async(http, stack.url, xml, safe=safe)
                    await first  # its response reaches nobody
                parts = await _settled(engine, f"msg:{msg_id}")
                seen = [read.reply] if read.reply is not None else []
                expected = len(parts) - len(seen)
                deadline = time.perf_counter() + 60
                while len(stack.api.sent_to(openid)) - before < expected and time.perf_counter() < deadline:
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)  # room for a duplicate to show up
                seen += stack.api.sent_to(openid)[before:]
                result.messages += 1
                result.by_mode[mode] += 1
                if sorted(seen) != sorted(parts):
                    if len(seen) > len(parts) or len(set(seen)) < len(seen):
                        result.parts_twice += 1
                    else:
                        result.missing += 1
            conversation_id = channel_id("wechat", openid, stack.conversation_key)
            with Session(engine) as session:
                turns = session.scalar(
                    select(func.count()).where(TurnRow.sender_id == conversation_id, TurnRow.speaker == "citizen")
                )
            result.second_turns += max(int(turns or 0) - len(script_for(user, rounds)), 0)

        await asyncio.gather(*(citizen(user) for user in range(users)))
    engine.dispose()
    return result


async def _settled(engine: Engine, key: str) -> list[str]:
    """The answer's parts once the ledger says where it went (passive, or pushed through the API)."""
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        with Session(engine) as session:
            row = session.get(WeChatMessageRow, key)
            if row is not None and row.state in ("passive", "pushed", "failed") and row.parts is not None:
                return list(row.parts)
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{key} never settled")


def wechat_section(
    chat_s: list[float], wechat: list[WeChatSample], retry: RetryResult, users: int
) -> tuple[str, dict[str, float]]:
    """The markdown section (and the headline figures) of one run."""
    webhook_s = [s.seconds for s in wechat]
    passive = sum(1 for s in wechat if s.passive and s.seconds <= PASSIVE_BUDGET_S)
    share = passive / len(wechat)
    async_s = [s.api_seconds for s in wechat if s.api_seconds is not None]
    over_limit = sum(1 for s in webhook_s if s > WECHAT_LIMIT_S)

    def row(name: str, seconds: list[float], note: str) -> list[object]:
        return [
            name,
            len(seconds),
            f"{percentile_ms(seconds, 50):.0f}",
            f"{percentile_ms(seconds, 95):.0f}",
            f"{percentile_ms(seconds, 99):.0f}",
            f"{max(seconds) * 1000:.0f}",
            note,
        ]

    rows = [
        row("/api/chat (reference)", chat_s, ""),
        row("POST /channels/wechat (webhook response)", webhook_s, f"{over_limit} over WeChat's 5 s"),
    ]
    if async_s:
        rows.append(row("  answers through the API (until received)", async_s, 'after "success"'))
    duplicates = retry.second_turns + retry.parts_twice
    figures = {"passive_share": share, "duplicates": float(duplicates), "missing": float(retry.missing)}
    lines = [
        f"## WeChat: {users} concurrent users, closed loop",
        table(["endpoint", "messages", "p50 ms", "p95 ms", "p99 ms", "max ms", "note"], rows),
        table(
            ["figure", "measured", "target", "met"],
            [
                [
                    "answered passively within 4.5 s",
                    f"{share:.2%} ({passive} of {len(wechat)})",
                    f"{TARGET_PASSIVE_SHARE:.1%}",
                    "yes" if share >= TARGET_PASSIVE_SHARE else "**no**",
                ],
                [
                    f"duplicates under retries ({retry.messages} messages, each retried)",
                    f"{duplicates} (second turns {retry.second_turns}, parts seen twice {retry.parts_twice})",
                    "0",
                    "yes" if duplicates == 0 else "**no**",
                ],
                ["answers missing under retries", str(retry.missing), "0", "yes" if retry.missing == 0 else "**no**"],
            ],
        ),
        "Retry modes: "
        + ", ".join(f"{mode} {count}" for mode, count in sorted(retry.by_mode.items()))
        + ". A long 一次告知 card is two or three messages (2048 bytes each): the first is the passive reply, "
        "the rest follow through the customer-service API; they count as passive here.",
    ]
    return "\n\n".join(lines), figures


def measure(users: int, rounds: int, retry_rounds: int, index: Path) -> tuple[str, str, dict[str, float]]:
    """The WeChat cells in their own stack (the WeChat channel on): a note, the section, the figures."""
    api = FakeWeChatApi()
    with tempfile.TemporaryDirectory(prefix="bench-wechat-") as tmp:
        var = Path(tmp) / "var"
        database_url = f"sqlite:///{var / 'hotline.db'}"
        env = {"DATABASE_URL": database_url, **wechat_env(api.url)}
        ports = (free_port(), free_port(), free_port())
        with hotline_up(index, var, env, ports=ports, log=Path(tmp) / "hotline-up.log") as url:
            key = (var / "conversation.key").read_text(encoding="ascii").strip()
            stack = Stack(url, database_url, key, api)
            asyncio.run(wechat_load(stack, 4, 1))  # warm-up: Rasa, the actions' index, the token
            asyncio.run(chat_load(url, 4, 1))
            half = max(rounds // 2, 1)
            chat_s = asyncio.run(chat_load(url, users, half))
            wechat = asyncio.run(wechat_load(stack, users, half))
            wechat += asyncio.run(wechat_load(stack, users, half))
            chat_s += asyncio.run(chat_load(url, users, half))
            retry = asyncio.run(retries(stack, users, retry_rounds))
            load = Path("/proc/loadavg").read_text().split()[:3]
    api.close()
    section, figures = wechat_section(chat_s, wechat, retry, users)
    note = (
        f"One `hotline up` (default: one Rasa worker, cached tracker store) on this machine, shared with other "
        f"agents: load average {' '.join(load)} at the end. The fake WeChat API answers on loopback."
    )
    return note, section, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=12, help="scripts per user per phase (about 3.5 messages each)")
    parser.add_argument("--retry-rounds", type=int, default=2)
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index" / "knowledge")
    args = parser.parse_args()
    if not args.index.is_dir():
        raise SystemExit(f"no index at {args.index}: run `make index` (or cp -r the main checkout's var/index)")
    note, section, figures = measure(args.users, args.rounds, args.retry_rounds, args.index)
    publish_report("channels_wechat", "Channels: WeChat webhook under load", [note, section])
    return 0 if figures["passive_share"] >= TARGET_PASSIVE_SHARE and figures["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
