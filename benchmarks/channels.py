"""Channel webhooks under load, against the platforms' limits, beside /api/chat measured in the same run.

Method. One `hotline up --no-train` (the trained model, the action server, the index, the gateway) on free
loopback ports and a fresh database, with the channels on; Twilio's REST API is a local fake. N simulated citizens
(20 by default) run at once as closed loops (asyncio + httpx, no think time), each asking the same scripted
questions answered from the index (no form, no handoff: those end the bot's turn differently). Per channel:

- voice: each caller rings (POST /channels/twilio/voice, signed with Twilio's RequestValidator), then says each
  question (the <Gather> action URL the TwiML named, SpeechResult as Twilio posts it); the timed request is the
  webhook that carries the speech, which runs a turn of the conversation core. Twilio waits at most 15 s for it.
- /api/chat: the web turn with the same questions and the same number of senders, as the reference.

Cells run in two passes, the second in reverse order (ABBA), so that drift on a shared machine hits both alike;
warm-up turns are not counted. Targets: voice p95 ≤ 1.2 × the /api/chat p95 of the same run, and no voice webhook
near Twilio's 15 s limit.

Each channel is one function (`voice_cell`, …) registered in CHANNELS: another channel's half adds its own cell
and section (e.g. WeChat, against its 5 s limit) and is picked with --channels.

    python benchmarks/channels.py [--channels voice] [--senders 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# This checkout's code (here and, via PYTHONPATH, in the stack), even if the venv's editable install is another's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import percentile_ms, publish_report, table
from defusedxml.ElementTree import fromstring
from twilio.request_validator import RequestValidator

from benchmarks import channels_wechat
from bot.nlu import model_path
from tests.channels.twilio_channels.twilio_client import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    HOTLINE_NUMBER,
    PUBLIC_URL,
    FakeTwilioApi,
    twilio_env,
)
from tests.chat_client import say_async
from tests.stack import hotline_up

ROOT = Path(__file__).resolve().parents[1]
TWILIO_LIMIT_S = 15.0
TARGET_RATIO = 1.2
QUESTIONS = (
    "出生医学证明丢了怎么补办",
    "被狗咬了怎么办",
    "12320是干什么的",
    "医保报销需要什么材料",
    "预防接种证丢了怎么补",
)


@dataclass
class Cell:
    name: str
    seconds: list[float] = field(default_factory=list)
    later: list[float] = field(default_factory=list)  # the turns after a conversation's first
    errors: int = 0
    wall_s: float = 0.0

    def row(self, senders: int) -> tuple[object, ...]:
        timed = self.seconds
        return (
            self.name,
            senders,
            len(timed),
            round(percentile_ms(timed, 50)),
            round(percentile_ms(timed, 95)),
            round(max(timed) * 1000),
            round(len(timed) / self.wall_s, 2) if self.wall_s else 0,
            round(percentile_ms(self.later, 50)),
            round(percentile_ms(self.later, 95)),
            self.errors,
        )

    def timed(self, seconds: float, first: bool) -> None:
        self.seconds.append(seconds)
        if not first:
            self.later.append(seconds)


Runner = Callable[[httpx.AsyncClient, str, int, Cell], Awaitable[None]]


async def closed_loop(url: str, senders: int, rounds: int, one_sender: Runner, cell: Cell) -> None:
    """`senders` citizens at once, each running `one_sender` `rounds` times."""
    limits = httpx.Limits(max_connections=senders + 4, max_keepalive_connections=senders + 4)
    async with httpx.AsyncClient(base_url=url, timeout=120, trust_env=False, limits=limits) as http:
        started = time.perf_counter()

        async def sender(number: int) -> None:
            for round_ in range(rounds):
                await one_sender(http, url, number * 1000 + round_, cell)

        await asyncio.gather(*(sender(n) for n in range(senders)))
        cell.wall_s += time.perf_counter() - started


async def chat_sender(http: httpx.AsyncClient, url: str, number: int, cell: Cell) -> None:
    conversation_id: str | None = None
    for i, question in enumerate(QUESTIONS):
        started = time.perf_counter()
        try:
            conversation_id, _ = await say_async(http, url, conversation_id, question)
        except httpx.HTTPError:
            cell.errors += 1
            continue
        cell.timed(time.perf_counter() - started, first=i == 0)


SIGNER = RequestValidator(AUTH_TOKEN)


async def signed_post(http: httpx.AsyncClient, path: str, params: dict[str, str]) -> httpx.Response:
    """A webhook as Twilio posts it: form fields, X-Twilio-Signature over the public URL and the fields."""
    signature = SIGNER.compute_signature(PUBLIC_URL + path, params)
    return await http.post(path, data=params, headers={"X-Twilio-Signature": signature})


def _action(xml: str) -> str:
    """The follow-up path the TwiML's <Gather> names (relative to the public URL)."""
    gather = fromstring(xml).find("Gather")
    if gather is None:
        raise ValueError("no <Gather> in the reply")
    return str(gather.get("action"))[len(PUBLIC_URL) :]


async def voice_sender(http: httpx.AsyncClient, url: str, number: int, cell: Cell) -> None:
    call = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": ACCOUNT_SID, "To": HOTLINE_NUMBER}
    call["From"] = f"+86139{number:08d}"[:14]
    try:
        response = await signed_post(http, "/channels/twilio/voice", {**call, "CallStatus": "ringing"})
        response.raise_for_status()
        action = _action(response.text)
    except (httpx.HTTPError, ValueError):
        cell.errors += 1
        return
    for i, question in enumerate(QUESTIONS):
        started = time.perf_counter()
        try:
            response = await signed_post(http, action, {**call, "SpeechResult": question, "Confidence": "0.9"})
            response.raise_for_status()
            action = _action(response.text)
        except (httpx.HTTPError, ValueError):
            cell.errors += 1
            return
        cell.timed(time.perf_counter() - started, first=i == 0)


@dataclass(frozen=True)
class Channel:
    name: str  # the cell's name in the tables
    sender: Runner
    section: Callable[[Cell, Cell, int], str]  # (this channel's cell, /api/chat's cell, senders) → markdown


def voice_section(voice: Cell, chat: Cell, senders: int) -> str:
    ratio = percentile_ms(voice.seconds, 95) / percentile_ms(chat.seconds, 95)
    over = sum(1 for s in voice.seconds if s > TWILIO_LIMIT_S)
    met = ratio <= TARGET_RATIO and over == 0 and voice.errors == 0
    rows = [
        ("voice p95 ÷ /api/chat p95", f"{ratio:.2f}", f"≤ {TARGET_RATIO}", ratio <= TARGET_RATIO),
        ("voice webhooks over Twilio's 15 s", over, "0", over == 0),
        ("slowest voice webhook, s", f"{max(voice.seconds):.2f}", f"< {TWILIO_LIMIT_S:g}", over == 0),
        ("voice errors", voice.errors, "0", voice.errors == 0),
    ]
    added = percentile_ms(voice.seconds, 50) - percentile_ms(chat.seconds, 50)
    later = percentile_ms(voice.later, 50) - percentile_ms(chat.later, 50)
    verdict = "**Met.**" if met else "**Not met.**"
    return "\n\n".join(
        [
            f"## Voice (Twilio IVR): {senders} concurrent callers",
            table(("measure", "value", "target", "met"), rows),
            f"{verdict} The voice webhook runs the same conversation-core turn as /api/chat and adds the signature "
            "check, the reply rendered for the ear, the TwiML, and a read and a write of what the caller may ask for "
            f"next (the rest of the answer, the keys). The medians differ by {added:+.0f} ms ({later:+.0f} ms on the "
            "turns after a conversation's first; a web conversation's first turn also issues its id, a call's id is "
            "derived from its CallSid): the adapter's own work is small beside the turn, Rasa's and the answer's, "
            "which both paths share; what is left is this shared machine's noise, spread over both paths by the "
            "alternating order. The slowest voice webhook is "
            f"{TWILIO_LIMIT_S / max(voice.seconds):.0f}× inside Twilio's 15 s.",
        ]
    )


CHANNELS: dict[str, Channel] = {
    "voice": Channel("voice (Twilio webhook)", voice_sender, voice_section),
}
CHAT = Channel("/api/chat (reference)", chat_sender, lambda *_: "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--channels", default="voice,wechat", help=f"comma-separated, of: {', '.join([*CHANNELS, 'wechat'])}"
    )
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="scripted conversations per sender and pass")
    parser.add_argument("--passes", type=int, default=2, help="ABBA blocks: each path is timed 2 × this many times")
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index" / "knowledge")
    args = parser.parse_args()
    names = [name.strip() for name in args.channels.split(",") if name.strip()]
    chosen = [CHANNELS[name] for name in names if name != "wechat"]

    api = FakeTwilioApi()
    var = Path(tempfile.mkdtemp(prefix="bench-channels-")) / "var"
    var.mkdir()
    env = {"DATABASE_URL": f"sqlite:///{var / 'hotline.db'}", **twilio_env(api.url)}
    cells = {channel.name: Cell(channel.name) for channel in [CHAT, *chosen]}
    load: list[str] = []
    try:
        with hotline_up(args.index, var, env, log=var.parent / "hotline-up.log") as url:
            for channel in [CHAT, *chosen]:  # warm-up: not counted
                asyncio.run(closed_loop(url, 2, 1, channel.sender, Cell("warm-up")))
            load.append(_load())
            order = [CHAT, *chosen]
            for channel in [*order, *reversed(order)] * args.passes:
                print(f"timing {channel.name} …", flush=True)
                asyncio.run(closed_loop(url, args.senders, args.rounds, channel.sender, cells[channel.name]))
            load.append(_load())
    finally:
        api.close()

    headers = (
        "path",
        "senders",
        "turns",
        "p50 ms",
        "p95 ms",
        "max ms",
        "turns/s",
        "later p50 ms",
        "later p95 ms",
        "errors",
    )
    model = model_path()
    notes = (
        f"{len(QUESTIONS)} scripted questions answered from the index per conversation, {args.rounds} conversations "
        f"per sender and pass, {args.senders} senders at once in a closed loop (no think time), {2 * args.passes} "
        f"passes in alternating order (ABBA × {args.passes}); "
        f"model `{model.relative_to(ROOT) if model.is_relative_to(ROOT) else model}`. One stack for every cell. "
        f"**Machine: 2 cores, shared** with other engineers' work (load before/after the timed cells: {load[0]} / "
        f"{load[-1]}); the client runs on the same cores, so absolute times are the machine's, the ratio is the "
        "measure."
    )
    chat = cells[CHAT.name]
    sections = [notes, table(headers, [cell.row(args.senders) for cell in cells.values()])]
    sections += [channel.section(cells[channel.name], chat, args.senders) for channel in chosen]
    if "wechat" in names:
        # WeChat in its own stack (its channel on, its fake API), beside its own /api/chat cell of the same run.
        print("timing wechat …", flush=True)
        note, section, _ = channels_wechat.measure(args.senders, 12, 2, args.index)
        sections += ["## WeChat webhook", note, section]
    publish_report("channels", "Channel webhooks under load", sections)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


if __name__ == "__main__":
    main()
