"""What `rasa train` is doing, in a few Chinese lines, so that a first `make run` never looks hung.

Rasa prints dozens of log lines and warnings, and redraws tqdm bars with carriage returns, for minutes.
The reporter reads that output as it comes (the caller keeps all of it in a log file) and prints one
line on every step and at most every `interval` seconds within one, e.g.

    hotline  | 训练 Rasa 模型：意图识别（DIET）第 12/40 轮，已用 0:45，这一步约还需 1 分钟；之后：对话策略（TED，20 轮）

and, while Rasa says nothing, a line every `interval` seconds with the time spent so far.
"""

from __future__ import annotations

import codecs
import math
import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

import yaml

from bot.supervisor import SUPERVISOR_NAME

PREFIX = f"{SUPERVISOR_NAME}  | 训练 Rasa 模型："  # aligned with the lines `hotline up` prints next
#: Components that train for epochs: what a newcomer should read for them, and Rasa's name.
EPOCH_COMPONENTS = {
    "DIETClassifier": ("意图识别", "DIET"),
    "ResponseSelector": ("回复选择", "ResponseSelector"),
    "TEDPolicy": ("对话策略", "TED"),
    "UnexpecTEDIntentPolicy": ("对话策略", "UnexpecTED"),
}
# Tokenizers, featurizers and rules take seconds each: named by where they fall, not one by one.
BEFORE_EPOCHS = "读取数据、提取特征"
BETWEEN_EPOCHS = "其他组件"
SAVING = "保存模型"

_STARTED = re.compile(r"Starting to train component '(\w+)'")
_FINISHED = re.compile(r"Finished training component '(\w+)'")
# tqdm: "Epochs:  30%|███       | 12/40 [00:45<01:45,  3.75s/it, t_loss=…]"
_EPOCH = re.compile(r"Epochs:\s*\d+%\|[^|]*\|\s*(\d+)/(\d+) \[")
# Data and config unchanged since a training whose cache (.rasa/cache) is still there: seconds, not minutes.
_RESTORED = re.compile(r"Restored component '(\w+)' from cache")


@dataclass(frozen=True)
class PlannedStep:
    component: str
    epochs: int | None  # None: the component's default, read from tqdm once it starts


def planned_steps(config: Path) -> list[PlannedStep]:
    """The epoch-trained components of a Rasa config.yml, pipeline first, then policies."""
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    steps = []
    for item in [*(data.get("pipeline") or []), *(data.get("policies") or [])]:
        if isinstance(item, dict) and item.get("name") in EPOCH_COMPONENTS:
            epochs = item.get("epochs")
            steps.append(PlannedStep(item["name"], int(epochs) if epochs is not None else None))
    return steps


def clock_text(seconds: float) -> str:
    """0:45, 12:03, 1:02:03."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def remaining_text(seconds: float) -> str:
    if seconds < 60:
        return "不到 1 分钟"
    return f"约 {math.ceil(seconds / 60)} 分钟"


@dataclass
class TrainingReporter:
    """Fed Rasa's raw output with `feed`, and `tick` now and then; prints progress lines to `out`."""

    out: TextIO
    planned: Sequence[PlannedStep] = ()
    interval: float = 10.0
    clock: Callable[[], float] = time.monotonic
    started_at: float = field(init=False)
    step: str = field(init=False, default=BEFORE_EPOCHS)
    epoch: tuple[int, int] | None = field(init=False, default=None)
    # When the step's first epoch ended, and its number: the pace is measured from there, because the first
    # epoch also builds TensorFlow's graph (tqdm's own estimate after it says 20 minutes for 2).
    _first_epoch: tuple[float, int] | None = field(init=False, default=None)
    trained: list[str] = field(init=False, default_factory=list)  # epoch-trained components, as they start
    restored: list[str] = field(init=False, default_factory=list)  # the same, restored from Rasa's cache
    finished: bool = field(init=False, default=False)
    _upcoming: list[PlannedStep] = field(init=False)
    _pending: str = field(init=False, default="")
    _last_printed: float = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self._last_printed = self.clock()
        self._upcoming = list(self.planned)

    def begin(self, log: Path | None = None) -> None:
        plan = "、".join(self._describe(step) for step in self.planned) or "模型"
        where = f"，完整日志：{_shown(log)}" if log else ""
        self._print(f"{PREFIX}开始（{plan}）{where}")

    def feed(self, text: str) -> None:
        """Any chunk of Rasa's output; a line may arrive in pieces, tqdm redraws end in a carriage return."""
        *lines, self._pending = re.split(r"[\r\n]", self._pending + text)
        for line in lines:
            self._line(line)

    def tick(self) -> None:
        """Call every second or so: a line when nothing was printed for `interval` seconds."""
        if not self.finished and self.clock() - self._last_printed >= self.interval:
            self._print(self.status())

    def finish(self, succeeded: bool) -> None:
        self._line(self._pending)
        self._pending = ""
        self.finished = True
        elapsed = clock_text(self.clock() - self.started_at)
        if not succeeded:
            self._print(f"{PREFIX}失败（已用 {elapsed}）")
        elif self.restored and not self.trained:
            self._print(f"{PREFIX}数据与配置未变，已从缓存恢复（用时 {elapsed}）")
        else:
            self._print(f"{PREFIX}完成，用时 {elapsed}")

    def status(self) -> str:
        elapsed = clock_text(self.clock() - self.started_at)
        if self.epoch is None:
            return f"{PREFIX}{self.step}（已用 {elapsed}）"
        done, total = self.epoch
        line = f"{PREFIX}{self.step}第 {done}/{total} 轮，已用 {elapsed}"
        if done == total:
            line += "，这一步收尾中"
        elif (remaining := self.step_remaining()) is not None:
            line += f"，这一步{remaining_text(remaining)}"
        if self._upcoming:
            line += "；之后：" + "、".join(self._describe(step) for step in self._upcoming)
        return line

    def step_remaining(self) -> float | None:
        """Seconds left in this step at the pace since its first epoch; None until a second epoch ends."""
        if self.epoch is None or self._first_epoch is None:
            return None
        (since, first), (done, total) = self._first_epoch, self.epoch
        if done <= first:
            return None
        return (self.clock() - since) / (done - first) * (total - done)

    def _line(self, line: str) -> None:
        if started := _STARTED.search(line):
            self._start(started.group(1))
        elif _FINISHED.search(line) and self.step not in (BEFORE_EPOCHS, BETWEEN_EPOCHS, SAVING):
            self._enter(BETWEEN_EPOCHS if self._upcoming else SAVING)
        elif epoch := _EPOCH.search(line):
            done, total = int(epoch.group(1)), int(epoch.group(2))
            changed = self.epoch != (done, total)
            self.epoch = (done, total)
            if self._first_epoch is None and done > 0:
                self._first_epoch = (self.clock(), done)
            if changed and self.clock() - self._last_printed >= self.interval:
                self._print(self.status())
        elif (restored := _RESTORED.search(line)) and restored.group(1) in EPOCH_COMPONENTS:
            self.restored.append(restored.group(1))
            self._take_planned(restored.group(1))

    def _start(self, component: str) -> None:
        if component not in EPOCH_COMPONENTS:
            return  # quick: the step it falls in is already on screen
        self.trained.append(component)
        self._take_planned(component)
        self._enter(_label(component))

    def _take_planned(self, component: str) -> None:
        for i, step in enumerate(self._upcoming):
            if step.component == component:
                del self._upcoming[i]
                return

    def _enter(self, step: str) -> None:
        self.step, self.epoch, self._first_epoch = step, None, None
        self._print(self.status())

    @staticmethod
    def _describe(step: PlannedStep) -> str:
        return _label(step.component, step.epochs)

    def _print(self, line: str) -> None:
        self._last_printed = self.clock()
        print(line, file=self.out, flush=True)


def _label(component: str, epochs: int | None = None) -> str:
    """意图识别（DIET），or 意图识别（DIET，40 轮）."""
    what, name = EPOCH_COMPONENTS[component]
    return f"{what}（{name}）" if epochs is None else f"{what}（{name}，{epochs} 轮）"


def run_with_progress(command: Sequence[str], cwd: Path, env: dict[str, str], log: Path, out: TextIO) -> int:
    """Run `rasa train`, its whole output into `log`, progress lines to `out`; the exit code.

    On failure the end of the log (without the tqdm redraws) goes to `out` too: the reason is there.
    """
    reporter = TrainingReporter(out, planned_steps(cwd / "config.yml"))
    log.parent.mkdir(parents=True, exist_ok=True)
    chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with log.open("w", encoding="utf-8") as sink:
        reporter.begin(log)
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        threading.Thread(target=_pump, args=(process.stdout, chunks), daemon=True).start()
        while (chunk := _next(chunks, reporter)) is not None:
            text = decoder.decode(chunk)
            sink.write(text)
            reporter.feed(text)
            reporter.tick()
        code = process.wait()
    reporter.finish(code == 0)
    if code:
        lines = [line for line in re.split(r"[\r\n]", log.read_text(encoding="utf-8")) if line.strip()]
        print("\n".join(line for line in lines if not _EPOCH.search(line))[-4000:], file=out, flush=True)
    return code


def _pump(stream: IO[bytes], chunks: queue.SimpleQueue[bytes | None]) -> None:
    while chunk := stream.read1(65536):  # type: ignore[attr-defined]
        chunks.put(chunk)
    chunks.put(None)


def _next(chunks: queue.SimpleQueue[bytes | None], reporter: TrainingReporter) -> bytes | None:
    """The next chunk of output, ticking the reporter each second Rasa stays silent."""
    while True:
        try:
            return chunks.get(timeout=1.0)
        except queue.Empty:
            reporter.tick()


def _shown(path: Path) -> Path:
    """Relative to the working directory when under it (models/train.log under `make run`)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path
