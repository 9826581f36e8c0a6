"""The training progress a newcomer sees under `make run`, from the output of a real `rasa train`.

tests/data/rasa_train_output.log is what `rasa train` printed (stdout and stderr, tqdm's carriage
returns and all) training the shipped config.yml from an empty cache on this project's data;
tests/data/rasa_train_config.yml is the config it trained.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from bot import nlu
from bot.train_progress import (
    PREFIX,
    PlannedStep,
    TrainingReporter,
    clock_text,
    planned_steps,
    remaining_text,
    run_with_progress,
)

DATA = Path(__file__).resolve().parents[1] / "data"
CAPTURE = DATA / "rasa_train_output.log"
CAPTURE_CONFIG = DATA / "rasa_train_config.yml"
# "2026-12-01 14:51:09 INFO ..." at the start of Rasa's log lines: the capture's own clock.
STAMP = re.compile(r"(\d\d):(\d\d):(\d\d) (?:INFO|WARNING|DEBUG)")
TQDM_ELAPSED = re.compile(r"\| *\d+/\d+ \[(\d+):(\d\d)<")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def replay(text: str, reporter: TrainingReporter, clock: Clock) -> None:
    """Feeds the capture piece by piece, the clock following the capture's timestamps and tqdm's elapsed."""
    started_at: float | None = None
    step_started = 0.0
    for piece in re.split(r"(?<=[\r\n])", text):
        if stamp := STAMP.search(piece):
            at = int(stamp.group(1)) * 3600 + int(stamp.group(2)) * 60 + int(stamp.group(3))
            started_at = at if started_at is None else started_at
            clock.now = max(clock.now, at - started_at)
            step_started = clock.now
        elif elapsed := TQDM_ELAPSED.search(piece):
            clock.now = max(clock.now, step_started + int(elapsed.group(1)) * 60 + int(elapsed.group(2)))
        reporter.feed(piece)
        reporter.tick()


def seconds_used(line: str) -> int:
    minutes, seconds = re.search(r"已用 (\d+):(\d\d)", line).groups()
    return int(minutes) * 60 + int(seconds)


def test_the_capture_config_trains_for_epochs_in_diet_and_ted():
    steps = planned_steps(CAPTURE_CONFIG)
    assert [s.component for s in steps] == ["DIETClassifier", "TEDPolicy"]
    assert all(s.epochs for s in steps)


def test_a_real_training_reads_as_steps_epochs_and_estimates():
    planned = planned_steps(CAPTURE_CONFIG)
    diet, ted = (step.epochs for step in planned)
    out, clock = io.StringIO(), Clock()
    reporter = TrainingReporter(out, planned, interval=10.0, clock=clock)
    reporter.begin(Path("models/train.log"))
    replay(CAPTURE.read_text(encoding="utf-8"), reporter, clock)
    reporter.finish(succeeded=True)
    lines = out.getvalue().splitlines()

    assert all(line.startswith(PREFIX) for line in lines)
    assert (
        lines[0]
        == f"{PREFIX}开始（意图识别（DIET，{diet} 轮）、对话策略（TED，{ted} 轮）），完整日志：models/train.log"
    )
    assert lines[-1] == f"{PREFIX}完成，用时 {clock_text(clock.now)}"
    # The steps in the order Rasa ran them, each announced once when it starts.
    announced = [line for line in lines if "轮" not in line and "已用" in line]
    assert any("读取数据、提取特征" in line for line in announced)
    diet_lines = [line for line in lines if "意图识别（DIET）第" in line]
    ted_lines = [line for line in lines if "对话策略（TED）第" in line]
    assert diet_lines and ted_lines
    assert lines.index(diet_lines[-1]) < lines.index(ted_lines[0])
    # Epoch counts only go up, and reach the end of each step.
    for step_lines, total in ((diet_lines, diet), (ted_lines, ted)):
        counts = [int(re.search(r"第 (\d+)/(\d+) 轮", line).group(1)) for line in step_lines]
        assert counts == sorted(counts) and counts[-1] <= total
        assert all(f"/{total} 轮" in line for line in step_lines)
    # An estimate for the step once tqdm has one, and what is left after it.
    assert any(re.search(r"这一步(约 \d+ 分钟|不到 1 分钟)", line) for line in diet_lines)
    assert all(f"之后：对话策略（TED，{ted} 轮）" in line for line in diet_lines)
    assert not any("之后" in line for line in ted_lines)
    # The estimate holds: it brackets the time the step really took after that line, give or take half.
    for step_lines, next_step in ((diet_lines, "对话策略（TED）（已用"), (ted_lines, "保存模型（已用")):
        step_end = seconds_used(next(line for line in lines if next_step in line))
        for line in step_lines:
            if estimate := re.search(r"这一步(?:约 (\d+) 分钟|不到 1 分钟)", line):
                minutes = int(estimate.group(1) or 1)
                left = step_end - seconds_used(line)
                assert (minutes - 1) * 60 <= left * 1.5 + 15 and minutes * 60 >= left * 0.5, line
    # Never silent for long, never a flood: about one line per interval, plus one per step.
    assert len(lines) <= clock.now / 10.0 + 12


def test_a_silent_step_still_prints_a_line_every_interval():
    out, clock = io.StringIO(), Clock()
    reporter = TrainingReporter(out, [PlannedStep("DIETClassifier", 40)], interval=10.0, clock=clock)
    reporter.feed("INFO     rasa.engine.training.hooks  - Starting to train component 'JiebaTokenizer'.\n")
    for second in range(1, 26):
        clock.now = float(second)
        reporter.tick()
    assert out.getvalue().splitlines() == [
        f"{PREFIX}读取数据、提取特征（已用 0:10）",
        f"{PREFIX}读取数据、提取特征（已用 0:20）",
    ]


def test_a_line_split_across_chunks_is_read_whole():
    out, clock = io.StringIO(), Clock()
    reporter = TrainingReporter(out, [PlannedStep("DIETClassifier", 40)], clock=clock)
    line = "INFO     rasa.engine.training.hooks  - Starting to train component 'DIETClassifier'.\n"
    reporter.feed(line[:30])
    assert out.getvalue() == ""
    reporter.feed(line[30:])
    assert out.getvalue() == f"{PREFIX}意图识别（DIET）（已用 0:00）\n"


def test_a_model_restored_from_rasa_cache_says_so():
    out, clock = io.StringIO(), Clock()
    reporter = TrainingReporter(out, planned_steps(CAPTURE_CONFIG), clock=clock)
    reporter.feed("Restored component 'DIETClassifier' from cache.\nRestored component 'TEDPolicy' from cache.\n")
    clock.now = 31.0
    reporter.finish(succeeded=True)
    assert out.getvalue().splitlines()[-1] == f"{PREFIX}数据与配置未变，已从缓存恢复（用时 0:31）"


def test_remaining_time_is_rounded_up_to_minutes():
    assert remaining_text(12) == "不到 1 分钟"
    assert remaining_text(61) == "约 2 分钟"
    assert clock_text(3723) == "1:02:03"


REPLAY = """
import sys, time
data = open(sys.argv[1], "rb").read()
for i in range(0, len(data), 4096):  # as Rasa writes: in pieces, a multi-byte character may be cut
    sys.stdout.buffer.write(data[i : i + 4096]); sys.stdout.buffer.flush(); time.sleep(0.002)
sys.exit(int(sys.argv[2]))
"""


def test_run_with_progress_keeps_the_whole_output_and_reports(tmp_path):
    (tmp_path / "config.yml").write_bytes(CAPTURE_CONFIG.read_bytes())
    log, out = tmp_path / "models" / "train.log", io.StringIO()
    code = run_with_progress([sys.executable, "-c", REPLAY, str(CAPTURE), "0"], tmp_path, {}, log, out)
    assert code == 0
    assert log.read_text(encoding="utf-8") == CAPTURE.read_text(encoding="utf-8")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{PREFIX}开始（意图识别（DIET，")
    assert lines[-1].startswith(f"{PREFIX}完成，用时 ")


def test_a_failed_training_says_so_and_shows_why(tmp_path):
    (tmp_path / "config.yml").write_bytes(CAPTURE_CONFIG.read_bytes())
    failing = "import sys; print('InvalidConfigException: no such component'); sys.exit(1)"
    out = io.StringIO()
    code = run_with_progress([sys.executable, "-c", failing], tmp_path, {}, tmp_path / "train.log", out)
    assert code == 1
    assert f"{PREFIX}失败（已用 " in out.getvalue()
    assert "InvalidConfigException: no such component" in out.getvalue()


def test_hotline_nlu_train_reports_progress_through_real_rasa(trained_model):
    """A second `hotline nlu train` on unchanged data: real Rasa restores the model from its cache."""
    out = io.StringIO()
    assert nlu.train(out=out) == trained_model
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{PREFIX}开始（意图识别（DIET，")
    assert lines[-1].startswith(f"{PREFIX}数据与配置未变，已从缓存恢复") or lines[-1].startswith(f"{PREFIX}完成")
    assert "Your Rasa model is trained and saved" in nlu.TRAIN_LOG.read_text(encoding="utf-8")
