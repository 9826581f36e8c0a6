"""Turn latency end to end through the gateway, for several ways of running Rasa, side by side.

Method. The benchmark starts one `hotline up --no-train` per variant (free ports, a temporary var
directory and database each), all at once, and stops them with SIGINT when done, also on error:

- current: Rasa's own SQLTrackerStore, one Rasa process (as before this benchmark's variants);
- cached store: rasa_addons.tracker_store.CachedSQLTrackerStore (trackers in memory, new events
  appended, SQL in a thread; same fsync per turn, so the same durability);
- cached store, WAL: the same with the tracker database in WAL mode and synchronous=NORMAL (a
  restart loses nothing, a power cut may lose the last turns);
- cached store, 2 workers: two Rasa processes, the gateway pinning each sender to one.

Rasa's own REST webhook on the current stack, called directly, is the reference. Simulated
citizens are closed loops: each holds its own conversation (the gateway issues its id), one turn after the
other with no think time, and N of them run at once (asyncio + httpx). The conversations are written
here: greetings, questions answered from the index (action_question_or_request), out of scope, a complaint that
opens the ticket form, thanks. Every cell gets exactly the same conversations (different sender ids,
so trackers never mix); cells run in two passes, the second in reverse order, so that drift on a
shared machine hits every variant alike. Warm-up turns are not counted. Handoff and emergency turns
are kept out (they end the bot's ownership); the emergency net, which answers without Rasa, is timed
on its own as a gateway floor.

Where the time goes: latency per turn kind, action_question_or_request on the action server directly, the CPU each
stack process burns per turn (from /proc), and Rasa in process (benchmarks/rasa_turn_profile.py:
tracker retrieve and save, NLU, policy predictions, the action call, per tracker store), run while
the stacks idle. A paced cell (20 senders with a citizen's think time) sits next to the closed loop.

    python benchmarks/turns.py [--rounds-1 12] [--rounds-20 2] [--skip-profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# This checkout's code (here and, via PYTHONPATH, in the stacks), even if the venv's editable install is another's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import percentile_ms, publish_report, table

from bot.nlu import model_path, rasa_env, rasa_venv
from bot.supervisor import free_port, wait_for_http
from tests.chat_client import say_async

ROOT = Path(__file__).resolve().parents[1]
TARGET_P50_MS, TARGET_P95_MS, TARGET_SENDERS = 40.0, 80.0, 20
CLK_TCK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Variant:
    name: str
    flags: tuple[str, ...]  # for `hotline up`
    workers: int = 1


CURRENT = Variant("current (SQL store)", ("--tracker-store", "sql"))
CACHED = Variant("cached store", ("--tracker-store", "cached"))
WAL = Variant("cached store, WAL", ("--tracker-store", "cached", "--sqlite-wal"))
TWO_WORKERS = Variant("cached store, 2 workers", ("--tracker-store", "cached", "--rasa-workers", "2"), workers=2)
VARIANTS = [CURRENT, CACHED, WAL, TWO_WORKERS]
REST = "Rasa REST (reference)"  # the REST webhook of the current stack's Rasa


@dataclass(frozen=True)
class Turn:
    text: str
    kind: str  # what the script means it to be; the breakdown follows the intent Rasa predicts
    intents: tuple[str, ...]  # the intents we expect, to check the mix does what we think


GREET = ("greet (utter)", ("greet",))
THANK = ("thanks (utter)", ("thank",))
QUESTION = ("question (action_question_or_request)", ("ask_service", "ask_health", "ask_policy"))
OUT = ("out of scope (utter)", ("out_of_scope",))
COMPLAINT = ("complaint opens form", ("complaint",))


def turn(text: str, what: tuple[str, tuple[str, ...]]) -> Turn:
    return Turn(text, *what)


# The complaint turn is always last: it leaves the ticket form active, and nothing after it should
# be a form answer. No anger or emergency words (they would add an apology or hand the sender off).
SCRIPTS: list[list[Turn]] = [
    [turn("您好", GREET), turn("出生医学证明怎么补办", QUESTION), turn("好的，谢谢", THANK)],
    [
        turn("在吗", GREET),
        turn("打完狂犬疫苗能喝酒吗", QUESTION),
        turn("狂犬疫苗要打几针", QUESTION),
        turn("谢谢", THANK),
    ],
    [
        turn("你好", GREET),
        turn("12320能投诉吗", QUESTION),
        turn("帮我订一张去上海的火车票", OUT),
        turn("我想投诉市人民医院乱收费", COMPLAINT),
    ],
    [turn("你好", GREET), turn("预防接种证丢了在哪补", QUESTION), turn("明天天气怎么样", OUT), turn("多谢", THANK)],
    [turn("您好", GREET), turn("高血压平时饮食要注意什么", QUESTION), turn("医保异地就医怎么备案", QUESTION)],
    [turn("在吗", GREET), turn("讲个笑话吧", OUT), turn("我要投诉一家诊所，收费不明码标价", COMPLAINT)],
]
EMERGENCY_TEXT = "我爸突然晕倒了，叫不醒"  # caught by bot/conversation/emergency.py before Rasa
# A citizen reads the reply and types the next message: seconds, not zero. The paced cell uses this
# for context next to the closed loop the target is stated for.
THINK = (2.0, 6.0)


@dataclass
class Sample:
    text: str
    seconds: float
    intent: str | None  # the gateway reports it; the REST channel does not
    expected: tuple[str, ...]


@dataclass
class Stack:
    variant: Variant
    process: subprocess.Popen[bytes]
    gateway: str
    rasa: str  # the first (or only) Rasa worker
    actions: str
    log: Path
    groups: dict[str, list[int]] = field(default_factory=dict)  # pids by service, once it is up


@dataclass
class Cell:
    stack: Stack
    path: str  # a variant's name (through its gateway) or REST
    senders: int
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0
    cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds per process, summed over passes

    def seconds(self) -> list[float]:
        return [s.seconds for s in self.samples]

    def throughput(self) -> float:
        return len(self.samples) / self.wall if self.wall else float("nan")

    def cpu_per_turn_ms(self, process: str) -> float:
        return self.cpu[process] / len(self.samples) * 1000 if self.samples else float("nan")


# --- the stacks -------------------------------------------------------------------------------------------


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (Rasa worker i listens on the first + i)."""
    while True:
        first = free_port()
        try:
            for port in range(first + 1, first + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue


def start_stack(variant: Variant, var: Path, index: Path) -> Stack:
    var.mkdir(parents=True)
    gateway_port, rasa_port, actions_port = free_port(), free_ports(variant.workers), free_port()
    command = [str(Path(sys.executable).with_name("hotline")), "up", "--no-train", "--index", str(index)]
    command += ["--var", str(var), "--port", str(gateway_port), "--rasa-port", str(rasa_port)]
    command += ["--actions-port", str(actions_port), *variant.flags]
    log = var / "hotline-up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{var / 'hotline.db'}"},
        )
    return Stack(
        variant,
        process,
        f"http://127.0.0.1:{gateway_port}",
        f"http://127.0.0.1:{rasa_port}",
        f"http://127.0.0.1:{actions_port}",
        log,
    )


def stop_stack(stack: Stack) -> None:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)  # the supervisor stops its children in order
        try:
            stack.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait()


def _proc_stat(pid: int) -> tuple[int, int]:
    """(ppid, utime + stime in ticks) of a live process."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return int(fields[1]), int(fields[11]) + int(fields[12])


def service_processes(root_pid: int) -> dict[str, list[int]]:
    """The supervisor's children by service (rasa, actions, gateway), each with its descendants."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent[int(entry.name)] = _proc_stat(int(entry.name))[0]
            except (OSError, ValueError):
                continue  # gone while we looked
    groups: dict[str, list[int]] = defaultdict(list)
    for pid in parent:
        top = pid
        while parent.get(top) not in (root_pid, None, 0):
            top = parent[top]
        if parent.get(top) != root_pid:
            continue
        cmdline = Path(f"/proc/{top}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        name = "gateway" if "uvicorn" in cmdline else "actions" if "actions.server" in cmdline else "rasa"
        groups[name].append(pid)
    return dict(groups)


def cpu_seconds(groups: dict[str, list[int]]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for name, pids in groups.items():
        for pid in pids:
            try:
                totals[name] += _proc_stat(pid)[1] / CLK_TCK
            except (OSError, ValueError):
                continue
    usage = os.times()  # this process: the simulated citizens
    totals["client (this script)"] = usage.user + usage.system
    return totals


def peak_rss(groups: dict[str, list[int]]) -> dict[str, float]:
    """VmHWM (peak resident set) per service in MiB, summed over its processes."""
    peaks: dict[str, float] = {}
    for name, pids in groups.items():
        total = 0.0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
            except OSError:
                continue
        peaks[name] = total
    return peaks


# --- the simulated citizens --------------------------------------------------------------------------------


async def send(
    client: httpx.AsyncClient, cell: Cell, conversation_id: str | None, sender: str, text: str
) -> tuple[str | None, str | None]:
    """One turn; returns the gateway's conversation id (issued on the first turn; `sender` names the REST path's
    conversation) and the intent the gateway reports (both None on the REST path). Raises on failure."""
    if cell.path != REST:
        conversation_id, body = await say_async(client, cell.stack.gateway, conversation_id, text)
        if not body["messages"]:
            raise RuntimeError(f"no reply to {text!r}")
        return conversation_id, (body.get("intent") or {}).get("name")
    webhook = f"{cell.stack.rasa}/webhooks/rest/webhook"
    response = await client.post(webhook, json={"sender": sender, "message": text})
    response.raise_for_status()
    if not response.json():
        raise RuntimeError(f"no reply to {text!r}")
    return None, None


async def converse(
    client: httpx.AsyncClient, cell: Cell, sender: str, script: Sequence[Turn], think: tuple[float, float] | None
) -> None:
    conversation_id: str | None = None  # the gateway issues it on the first turn
    for step in script:
        if think:
            await asyncio.sleep(random.uniform(*think))
        started = time.perf_counter()
        try:
            conversation_id, intent = await send(client, cell, conversation_id, sender, step.text)
        except (httpx.HTTPError, RuntimeError, KeyError) as exc:
            cell.errors += 1
            if cell.errors <= 3:
                print(f"  {cell.path} turn {step.text!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return  # the rest of this conversation would not be the conversation we meant
        cell.samples.append(Sample(step.text, time.perf_counter() - started, intent, step.intents))


async def run_pass(
    client: httpx.AsyncClient,
    cell: Cell,
    rounds: int,
    tag: str,
    think: tuple[float, float] | None = None,
) -> None:
    """`cell.senders` citizens at once, each holding `rounds` conversations in a row (a new conversation each)."""
    prefix = f"bench-{VARIANTS.index(cell.stack.variant)}-{'rest' if cell.path == REST else 'gw'}-{tag}"

    async def citizen(i: int) -> None:
        for r in range(rounds):
            script = SCRIPTS[(i + r) % len(SCRIPTS)]  # every script about equally often at any concurrency
            await converse(client, cell, f"{prefix}-{i}-{r}", script, think)

    cpu_before = cpu_seconds(cell.stack.groups)
    started = time.perf_counter()
    await asyncio.gather(*(citizen(i) for i in range(cell.senders)))
    cell.wall += time.perf_counter() - started
    cell.cpu.update(cpu_seconds(cell.stack.groups) - cpu_before)


def action_call(text: str, sender: str) -> dict:
    """What Rasa posts to the action server for action_question_or_request, trimmed to what the action reads."""
    return {
        "next_action": "action_question_or_request",
        "sender_id": sender,
        "version": "3.6.0",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"failures_in_a_row": 0, "human_offered": False},
            "latest_message": {"text": text, "intent": {"name": "ask_service", "confidence": 1.0}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


@dataclass
class Measured:
    cells: dict[tuple[str, int], Cell]  # (path, senders): a variant's gateway, or REST
    paced: dict[str, Cell]
    floors: dict[str, list[float]]
    rss: dict[str, dict[str, float]]  # variant -> service -> peak MiB
    pressure: tuple[str, str]  # /proc/loadavg and CPU pressure, before and after the timed cells
    profile: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    model_replaced: bool = False  # someone retrained while we ran: the numbers may mix two models


def machine_load() -> str:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    try:  # PSI: the share of time some runnable task waited for a CPU
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()[1].removeprefix("avg10=")
    except OSError:
        some = "n/a"
    return f"load average {load}, CPU pressure (some, 10 s) {some} %"


def paths_of(stacks: dict[str, Stack]) -> list[tuple[str, Stack]]:
    return [(v.name, stacks[v.name]) for v in VARIANTS if v.name in stacks] + [(REST, stacks[CURRENT.name])]


async def benchmark(stacks: dict[str, Stack], rounds_1: int, rounds_20: int) -> Measured:
    for stack in stacks.values():
        stack.groups = service_processes(stack.process.pid)
    paths = paths_of(stacks)
    current = stacks[CURRENT.name]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    # trust_env=False: no proxy from the environment between us and loopback.
    async with httpx.AsyncClient(timeout=120, limits=limits, trust_env=False) as client:
        for path, stack in paths:  # every Rasa worker loads lazily: warm each path up, 1 then 4 senders
            for senders, rounds in ((1, len(SCRIPTS)), (4, 1)):
                warm = Cell(stack, path, senders)
                await run_pass(client, warm, rounds, f"warm{senders}")
                if warm.errors:
                    raise RuntimeError(f"{path}: {warm.errors} warm-up turns failed; see {stack.log}")

        before = machine_load()
        closed = [(path, stack, n) for n in (1, TARGET_SENDERS) for path, stack in paths]
        cells = {(path, n): Cell(stack, path, n) for path, stack, n in closed}
        for pass_no, order in enumerate([closed, closed[::-1]]):
            for path, _, n in order:
                cell = cells[path, n]
                await run_pass(client, cell, rounds_1 if n == 1 else rounds_20, f"c{n}p{pass_no}")
                print(f"  {path:26} {n:2} senders pass {pass_no}: {len(cell.samples)} turns, {cell.errors} errors")

        paced = {path: Cell(stack, path, TARGET_SENDERS) for path, stack in paths}
        for cell in paced.values():
            await run_pass(client, cell, 1, "paced", think=THINK)
        after = machine_load()

        # Floors on the current stack: the gateway answering without Rasa, action_question_or_request without Rasa.
        async def emergency() -> None:
            _, body = await say_async(client, current.gateway, None, EMERGENCY_TEXT)  # a new conversation each
            assert body["handoff"] is True  # the net hands off

        async def healthz() -> None:
            (await client.get(f"{current.gateway}/healthz")).raise_for_status()

        questions = [t.text for script in SCRIPTS for t in script if t.kind == QUESTION[0]]
        action_n = 0

        async def answer() -> None:
            nonlocal action_n
            action_n += 1
            payload = action_call(questions[action_n % len(questions)], f"bench-action-{action_n}")
            response = await client.post(f"{current.actions}/webhook", json=payload)
            response.raise_for_status()
            assert response.json()["responses"]

        floors = {
            "gateway GET /healthz (HTTP hop only)": await time_calls(healthz, 40),
            "gateway emergency net (no Rasa; ownership read + write)": await time_calls(emergency, 40),
            ACTION_FLOOR: await time_calls(answer, 40),
        }
    rss = {name: peak_rss(service_processes(stack.process.pid)) for name, stack in stacks.items()}
    return Measured(cells, paced, floors, rss, (before, after))


async def time_calls(call: Callable[[], Awaitable[None]], count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return seconds


def rasa_profile(actions_url: str, directory: Path, rounds: int = 2) -> dict[str, list[dict[str, float]]]:
    """benchmarks/rasa_turn_profile.py in .venv-rasa, against the current stack's action server."""
    conversations = json.dumps([[t.text for t in script] for script in SCRIPTS], ensure_ascii=False)
    command = [str(rasa_venv() / "bin" / "python"), str(ROOT / "benchmarks" / "rasa_turn_profile.py")]
    command += [str(model_path()), actions_url, str(directory), conversations, str(rounds)]
    done = subprocess.run(command, cwd=ROOT, env=rasa_env(), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        print(f"Rasa in-process profile failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the report -------------------------------------------------------------------------------------------

UTTER = "utter only (greet, thanks, out of scope)"
ANSWER = "action_question_or_request (retrieval)"
ACTION_FLOOR = "action server action_question_or_request, called directly"
KIND_OF_INTENT = {
    "greet": UTTER,
    "thank": UTTER,
    "out_of_scope": UTTER,
    "ask_service": ANSWER,
    "ask_health": ANSWER,
    "ask_policy": ANSWER,
    "nlu_fallback": "not understood (action_question_or_request)",
    "complaint": "ticket form opens (3 action calls)",
    "report": "ticket form opens (3 action calls)",
}
PROCESSES = ["rasa", "actions", "gateway", "client (this script)"]
PROFILE_STEPS = [
    "tracker retrieve",
    "NLU",
    "policy predictions",
    "custom action (Rasa side + HTTP)",
    "action server HTTP round trip",
    "tracker save",
    "whole turn",
]


def p50(samples: Sequence[Sample]) -> float:
    return percentile_ms([s.seconds for s in samples], 50) if samples else float("nan")


def profile_means(turns: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for t in turns for k in t}
    return {k: statistics.fmean(t.get(k, 0.0) for t in turns) for k in keys}


def report(m: Measured, variants: list[Variant]) -> list[str]:
    cells = m.cells
    paths = [v.name for v in variants] + [REST]
    nan = float("nan")

    def q(path: str, n: int, quantile: float) -> float:
        return percentile_ms(cells[path, n].seconds(), quantile) if cells[path, n].samples else nan

    side = []
    for n in (1, TARGET_SENDERS):
        for path in paths:
            cell = cells[path, n]
            side.append(
                [
                    path,
                    n,
                    len(cell.samples),
                    q(path, n, 50),
                    q(path, n, 95),
                    statistics.fmean(cell.seconds()) * 1000 if cell.samples else nan,
                    cell.throughput(),
                    q(path, n, 50) / q(REST, n, 50),
                    q(path, n, 95) / q(REST, n, 95),
                    q(path, n, 50) / q(CURRENT.name, n, 50),
                    cell.throughput() / cells[CURRENT.name, n].throughput(),
                    cell.errors,
                ]
            )
    side_headers = ["path", "senders", "turns", "p50 ms", "p95 ms", "mean ms", "turns/s", "p50/REST", "p95/REST"]
    side_headers += ["p50/current", "turns/s ÷ current", "errors"]

    targets = []
    for v in variants:
        p50_20, p95_20 = q(v.name, TARGET_SENDERS, 50), q(v.name, TARGET_SENDERS, 95)
        met = p50_20 <= TARGET_P50_MS and p95_20 <= TARGET_P95_MS
        targets.append([v.name, f"{p50_20:.0f}", f"{p95_20:.0f}", cells[v.name, TARGET_SENDERS].throughput(), met])
    needed = TARGET_SENDERS / (TARGET_P50_MS / 1000)  # Little's law, closed loop without think time

    # CPU per turn, every process of a stack (20 senders), and the best the cores could give at that cost.
    cpu_rows = []
    for n in (1, TARGET_SENDERS):
        for path in paths:
            cell = cells[path, n]
            per_turn = [cell.cpu_per_turn_ms(p) for p in PROCESSES]
            total = sum(per_turn)
            cpu_rows.append([path, n, *per_turn, total, CORES * 1000 / total, cell.cpu["rasa"] / cell.wall * 100])
    best_variant = min(variants, key=lambda v: q(v.name, TARGET_SENDERS, 50))
    best_cell = cells[best_variant.name, TARGET_SENDERS]
    best_total = sum(best_cell.cpu_per_turn_ms(p) for p in PROCESSES)
    best_rasa = best_cell.cpu_per_turn_ms("rasa")
    ceiling = CORES * 1000 / best_total
    cpu_budget = CORES * 1000 / needed

    rss_rows = []
    for v in variants:
        rss = m.rss.get(v.name, {})
        rasa_mb = rss.get("rasa", nan)
        rss_rows.append([v.name, v.workers, rasa_mb, rasa_mb / v.workers, rss.get("actions", nan), sum(rss.values())])

    # What a turn ran is read off the intent the gateway reported for the same text (NLU is deterministic).
    gateway_samples = [s for (path, _), c in cells.items() if path != REST for s in c.samples]
    intent_of = {s.text: s.intent for s in gateway_samples}

    def kind(sample: Sample) -> str:
        return KIND_OF_INTENT.get(intent_of.get(sample.text) or "", f"other ({intent_of.get(sample.text)})")

    kind_columns = [(REST, 1), (CURRENT.name, 1), (REST, TARGET_SENDERS)]
    kind_columns += [(v.name, TARGET_SENDERS) for v in variants]
    kind_rows = []
    for k in sorted({kind(s) for c in cells.values() for s in c.samples}):
        row: list[object] = [k, len([s for s in cells[CURRENT.name, 1].samples if kind(s) == k])]
        row += [p50([s for s in cells[key].samples if kind(s) == k]) for key in kind_columns]
        kind_rows.append(row)
    off_script = sorted({(s.text, s.intent) for s in gateway_samples if s.intent not in s.expected})

    floor_rows = [[name, len(v), percentile_ms(v, 50), percentile_ms(v, 95)] for name, v in m.floors.items()]
    paced_rows = [
        [path, len(c.samples), percentile_ms(c.seconds(), 50), percentile_ms(c.seconds(), 95), c.throughput()]
        for path, c in m.paced.items()
        if c.samples
    ]

    profiles = {store: profile_means(turns) for store, turns in m.profile.items()}
    profile_rows = []
    for step in PROFILE_STEPS:
        row = [step]
        for means in profiles.values():
            row += [means.get(f"{step} calls", 0.0), means.get(f"{step} wall", 0.0) * 1000]
            row.append(means.get(f"{step} cpu", 0.0) * 1000)
        profile_rows.append(row)
    profile_headers = ["step (per turn)"]
    for store in profiles:
        profile_headers += [f"{store}: calls", "wall ms", "CPU ms"]
    sql_cpu = profiles.get("SQLTrackerStore (current)", {})
    cached_cpu = profiles.get("CachedSQLTrackerStore", {})

    def cpu_ms(means: dict[str, float], step: str) -> float:
        return means.get(f"{step} cpu", nan) * 1000

    in_process_turn = cpu_ms(sql_cpu, "whole turn")
    floor_turn = cpu_ms(profiles.get("InMemoryTrackerStore (no durability; floor)", {}), "whole turn")
    stack_rasa_1 = cells[CURRENT.name, 1].cpu_per_turn_ms("rasa")

    model = model_path()
    stat = model.stat()
    trained = time.strftime("%H:%M", time.localtime(stat.st_mtime))
    replaced = "; rewritten during the run (by a train: the stacks had loaded it before)" if m.model_replaced else ""
    turns_total = sum(len(c.samples) for c in [*cells.values(), *m.paced.values()])
    current_20, rest_20 = cells[CURRENT.name, TARGET_SENDERS], cells[REST, TARGET_SENDERS]
    met_any = any(row[-1] for row in targets)
    cached_20, two_20 = cells[CACHED.name, TARGET_SENDERS], cells[TWO_WORKERS.name, TARGET_SENDERS]

    def rasa_share(cell: Cell) -> float:
        return cell.cpu["rasa"] / cell.wall * 100

    def ratio_p50(variant: Variant, n: int = TARGET_SENDERS) -> float:
        return q(variant.name, n, 50) / q(CURRENT.name, n, 50)

    return [
        f"{turns_total} timed turns over {len(SCRIPTS)} scripted conversations (greet, questions answered by "
        "the question-or-request action, out of scope, a complaint opening the ticket form, thanks), the same for "
        "every path. "
        "Closed loop: each sender sends its next turn as soon as the previous reply arrives; two passes, the "
        f"second in reverse order. Model `{model.relative_to(ROOT)}` ({stat.st_size / 1e6:.1f} MB, trained "
        f"{trained}{replaced}). All {len(variants)} stacks were up at once, idle while another was measured. "
        f"**Machine: {CORES} cores, shared and noisy**: other engineers trained and tested on it (before the timed "
        f"cells: {m.pressure[0]}; after: {m.pressure[1]}). The client runs on the same cores.",
        "## Variants side by side\n\n"
        + table(side_headers, side)
        + f"\n\n{REST} is Rasa's REST webhook on the current stack, called directly (no gateway). "
        "Ratios are against the same number of senders.",
        "## Targets: p50 ≤ 40 ms and p95 ≤ 80 ms through the gateway, 20 closed-loop senders\n\n"
        + table(["variant", "p50 ms", "p95 ms", "turns/s", "met"], targets)
        + f"\n\n**{'Met by at least one variant' if met_any else 'Not met, and not reachable on this machine'}.** "
        f"With {TARGET_SENDERS} closed-loop senders and no think time, Little's law ties latency to throughput: "
        f"a {TARGET_P50_MS:g} ms turn needs {TARGET_SENDERS} / {TARGET_P50_MS / 1000:g} s = {needed:.0f} turns/s. "
        f"{CORES} cores give {CORES * 1000:.0f} CPU-ms per second, so the whole stack may spend at most "
        f"{cpu_budget:.1f} ms of CPU per turn. It spends {best_total:.0f} ms ({best_variant.name}: Rasa "
        f"{best_rasa:.0f}, action server, gateway and client the rest), so even with the cores to itself it "
        f"tops out near {ceiling:.0f} turns/s, {needed / ceiling:.0f}× short. Rasa alone, in process, with the "
        f"tracker in memory and no HTTP, costs {floor_turn:.0f} "
        f"ms of CPU per turn (NLU {cpu_ms(sql_cpu, 'NLU'):.0f}, policy predictions "
        f"{cpu_ms(sql_cpu, 'policy predictions'):.0f}): {CORES * 1000 / floor_turn:.0f} "
        "turns/s at most, still far from the target. The target is a latency for a lightly loaded system: one "
        f"turn alone (1 sender) has p50 {q(best_variant.name, 1, 50):.0f} ms here; 20 citizens with a "
        "think time (the paced cells below) are what a hotline sees, not 20 closed loops.",
        "## Where a Rasa turn's time goes (in process, one turn at a time)\n\n"
        + (table(profile_headers, profile_rows) if profile_rows and profiles else "(profile skipped or failed)")
        + "\n\nbenchmarks/rasa_turn_profile.py wraps Rasa's own methods in an Agent loaded like `rasa run`, "
        "against the current stack's action server, all conversations above, stores interleaved. Calls, wall "
        "and CPU are means per turn; CPU counts every thread of the process (the cached store's SQL thread "
        "too). The tracker retrieve includes our channel's second read after the turn; the custom action "
        "includes its HTTP round trip; NLU and policy steps include TensorFlow's threads. In the stack, Rasa "
        f"burns {stack_rasa_1:.0f} ms of CPU per turn (current, 1 sender) against {in_process_turn:.0f} ms in "
        "process: the rest is its HTTP server (Sanic), our channel's response, and logging. The cached store "
        f"cuts the tracker's CPU from {cpu_ms(sql_cpu, 'tracker retrieve') + cpu_ms(sql_cpu, 'tracker save'):.1f} "
        f"to {cpu_ms(cached_cpu, 'tracker retrieve') + cpu_ms(cached_cpu, 'tracker save'):.1f} ms per turn; "
        "its save still waits for the fsync, but in a thread, so the event loop serves other senders meanwhile.",
        "## CPU per turn by process (ms, from /proc) and memory\n\n"
        + table(
            ["path", "senders", *(f"{p} ms" for p in PROCESSES), "total ms", "turns/s the cores allow", "rasa CPU %"],
            cpu_rows,
        )
        + "\n\n`turns/s the cores allow` is cores × 1000 / total CPU per turn: the ceiling if nothing else ran. "
        "Rasa CPU % is of one core, over the cell's wall time (2 workers can pass 100).\n\n"
        + table(["variant", "Rasa workers", "rasa MiB", "MiB per worker", "actions MiB", "stack MiB"], rss_rows)
        + "\n\nPeak RSS (VmHWM). Every Rasa worker loads its own copy of the model and TensorFlow.",
        "## Per turn kind, p50 ms\n\n"
        + table(["kind", "turns (current, 1)", *(f"{p} {n}" for p, n in kind_columns)], kind_rows)
        + "\n\nTexts whose intent was not the one the script meant: "
        + ("; ".join(f"{text} → {intent}" for text, intent in off_script) or "none")
        + " (kinds above follow the intent Rasa actually predicted).",
        "## Floors (current stack, 1 caller, sequential)\n\n" + table(["call", "n", "p50 ms", "p95 ms"], floor_rows),
        f"## {TARGET_SENDERS} senders with a citizen's think time ({THINK[0]:g}–{THINK[1]:g} s)\n\n"
        + table(["path", "turns", "p50 ms", "p95 ms", "turns/s offered"], paced_rows),
        "## What dominates\n\n"
        + "\n".join(
            [
                f"- Rasa's CPU per turn. At {TARGET_SENDERS} closed-loop senders the current stack served "
                f"{current_20.throughput():.1f} turns/s (REST {rest_20.throughput():.1f}); each turn cost Rasa "
                f"{current_20.cpu_per_turn_ms('rasa'):.0f} ms of CPU and the whole stack "
                f"{sum(current_20.cpu_per_turn_ms(p) for p in PROCESSES):.0f} ms. Senders queue for the cores, so "
                "latency grows with their number.",
                f"- The cached store takes Rasa's CPU per turn from {current_20.cpu_per_turn_ms('rasa'):.0f} to "
                f"{cached_20.cpu_per_turn_ms('rasa'):.0f} ms and, since its commits wait in a thread instead of "
                f"blocking the event loop, serves {cached_20.throughput() / current_20.throughput():.2f}× the turns/s "
                f"of the current stack at {TARGET_SENDERS} senders (p50 ×{ratio_p50(CACHED):.2f}). At 1 sender "
                f"each turn still waits for its own fsync: p50 ×{ratio_p50(CACHED, 1):.2f}. WAL without the per-turn "
                f"fsync: p50 ×{ratio_p50(WAL, 1):.2f} at 1 sender, ×{ratio_p50(WAL):.2f} at {TARGET_SENDERS}.",
                f"- A second Rasa worker lets Rasa use both cores ({rasa_share(two_20):.0f} % "
                f"of a core against {rasa_share(cached_20):.0f} % for one): "
                f"{two_20.throughput() / cached_20.throughput():.2f}× the turns/s of "
                f"one cached worker at {TARGET_SENDERS} senders, p50 ×"
                f"{q(TWO_WORKERS.name, TARGET_SENDERS, 50) / q(CACHED.name, TARGET_SENDERS, 50):.2f}, p95 ×"
                f"{q(TWO_WORKERS.name, TARGET_SENDERS, 95) / q(CACHED.name, TARGET_SENDERS, 95):.2f}, for "
                f"{m.rss.get(TWO_WORKERS.name, {}).get('rasa', nan) / TWO_WORKERS.workers:.0f} MiB of RAM per worker. "
                f"A third was not tried: the {CORES} cores also carry the action server, gateway and client.",
                f"- The gateway's cost is small: gateway/REST p50 {q(CURRENT.name, 1, 50) / q(REST, 1, 50):.2f} at 1 "
                f"sender, {q(CURRENT.name, TARGET_SENDERS, 50) / q(REST, TARGET_SENDERS, 50):.2f} at "
                f"{TARGET_SENDERS} (current stack).",
            ]
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds-1", type=int, default=12, help="conversations per pass at 1 sender")
    parser.add_argument("--rounds-20", type=int, default=2, help="conversations per sender per pass at 20 senders")
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index" / "knowledge")
    parser.add_argument("--skip-profile", action="store_true", help="skip the in-process Rasa profile (~2 min)")
    args = parser.parse_args()
    if not model_path().exists():
        raise SystemExit(f"no model at {model_path()}: run `hotline nlu train`")

    # SIGTERM (and SIGINT, which a shell's background job ignores) stop the stacks on the way out.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.default_int_handler)
    model_mtime = model_path().stat().st_mtime
    with tempfile.TemporaryDirectory(prefix="turns-bench-") as tmp:
        stacks: dict[str, Stack] = {}
        try:
            started = time.perf_counter()
            for i, variant in enumerate(VARIANTS):  # one after another: five model loads at once time out
                stack = stacks[variant.name] = start_stack(variant, Path(tmp) / f"stack-{i}", args.index)
                if not wait_for_http(f"{stack.gateway}/healthz", timeout=900) or stack.process.poll() is not None:
                    log = stack.log.read_text(errors="replace")[-3000:]
                    raise SystemExit(f"{variant.name}: hotline up did not come up:\n{log}")
                print(f"  {variant.name} up after {time.perf_counter() - started:.0f} s")
            print(f"{len(stacks)} stacks up in {time.perf_counter() - started:.0f} s")
            measured = asyncio.run(benchmark(stacks, args.rounds_1, args.rounds_20))
            if not args.skip_profile:
                print("Rasa in process …")
                measured.profile = rasa_profile(stacks[CURRENT.name].actions, Path(tmp))
        except BaseException:
            for stack in stacks.values():
                print(f"--- {stack.variant.name}\n" + stack.log.read_text(errors="replace")[-2000:], file=sys.stderr)
            raise
        finally:
            for stack in stacks.values():
                stop_stack(stack)
    measured.model_replaced = model_path().stat().st_mtime != model_mtime
    publish_report("turns", "Turn latency benchmark", report(measured, VARIANTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
