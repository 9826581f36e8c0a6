"""One Settings for every process: which variable names the database, what HOTLINE_VAR moves, and that a bad or
missing setting stops startup with the variable's name and never its value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.auth import TokenStore
from bot.settings import ROOT, SettingsError, load_settings
from bot.tickets import open_ticket_service

DATABASE_VARIABLES = ("DATABASE_URL", "HOTLINE_DATABASE_URL", "HOTLINE_VAR")
SECRET = "s3cr3t-never-shown"
PASSWORD = "pa55-never-shown"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: a developer's own DATABASE_URL must not decide these tests."""
    for variable in (*DATABASE_VARIABLES, "HOTLINE_WEBHOOK_URL", "HOTLINE_WEBHOOK_SECRET"):
        monkeypatch.delenv(variable, raising=False)


def clean_env(**variables: str) -> dict[str, str]:
    """os.environ for a subprocess, without the settings above, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in DATABASE_VARIABLES and not k.startswith("HOTLINE_WEBHOOK")}
    return {**env, "PYTHONPATH": str(ROOT), **variables}


@pytest.mark.parametrize("variable", ["DATABASE_URL", "HOTLINE_DATABASE_URL"])
def test_either_variable_names_the_database_for_the_gateway_and_the_ticket_store(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'chosen.db'}"
    monkeypatch.setenv(variable, url)
    assert load_settings().database_url == url
    # open_ticket_service is what the action server and the CLI use: the same class decides.
    open_ticket_service().close()
    assert (tmp_path / "chosen.db").exists()


def test_without_a_url_the_database_lives_in_hotline_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().database_url == f"sqlite:///{ROOT / 'var' / 'hotline.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOTLINE_VAR", "state")  # relative: resolved once, so every child agrees
    settings = load_settings()
    assert settings.var == tmp_path / "state"
    assert settings.database_url == f"sqlite:///{tmp_path / 'state' / 'hotline.db'}"
    assert load_settings(var=tmp_path / "other").database_url == f"sqlite:///{tmp_path / 'other' / 'hotline.db'}"


def test_both_variables_must_name_the_same_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://hotline:{PASSWORD}@db.internal/hotline")
    # The same database spelled another way is no conflict.
    quoted = PASSWORD.replace("-", "%2D")
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"postgresql+psycopg://hotline:{quoted}@db.internal/hotline")
    assert load_settings().database_url.endswith("%2Dnever%2Dshown@db.internal/hotline")

    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"postgresql+psycopg://hotline:{PASSWORD}@db.internal/other")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert "HOTLINE_DATABASE_URL and DATABASE_URL name different databases" in message
    assert PASSWORD not in message and "db.internal" not in message
    assert refused.value.__cause__ is None and refused.value.__suppress_context__  # no chained pydantic dump


def test_a_webhook_url_without_its_secret_stops_startup_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_WEBHOOK_URL", "https://tickets.example.org/hooks")
    with pytest.raises(SettingsError, match="HOTLINE_WEBHOOK_SECRET is required when HOTLINE_WEBHOOK_URL is set"):
        load_settings()
    monkeypatch.setenv("HOTLINE_WEBHOOK_SECRET", "")  # empty is missing
    with pytest.raises(SettingsError, match="HOTLINE_WEBHOOK_SECRET is required"):
        load_settings()


def test_a_bad_setting_is_named_and_no_value_is_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_WEBHOOK_URL", "https://tickets.example.org/hooks")
    monkeypatch.setenv("HOTLINE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("HOTLINE_WEBHOOK_TIMEOUT_S", f"ten-{SECRET}")
    monkeypatch.setenv("HOTLINE_PORT", "eighty")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert "HOTLINE_WEBHOOK_TIMEOUT_S: Input should be a valid number" in message
    assert "HOTLINE_PORT: Input should be a valid integer" in message
    assert SECRET not in message and "eighty" not in message


def test_the_action_server_stops_at_startup_on_a_missing_secret() -> None:
    env = clean_env(HOTLINE_WEBHOOK_URL="https://tickets.example.org/hooks")
    run = subprocess.run(
        [sys.executable, "-m", "actions.server", "--port", "1"], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "actions: bad settings: HOTLINE_WEBHOOK_SECRET is required when HOTLINE_WEBHOOK_URL is set"
    )


def test_hotline_up_stops_before_starting_anything_on_a_missing_secret(tmp_path: Path) -> None:
    env = clean_env(HOTLINE_WEBHOOK_URL="https://tickets.example.org/hooks", HOTLINE_WEBHOOK_SECRET="")
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "up", "--no-train", "--var", str(tmp_path / "var")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr == "hotline: bad settings: HOTLINE_WEBHOOK_SECRET is required when HOTLINE_WEBHOOK_URL is set\n"
    assert "starting" not in run.stdout
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("variable", ["DATABASE_URL", "HOTLINE_DATABASE_URL", "HOTLINE_VAR"])
def test_the_cli_reads_the_same_variables(variable: str, tmp_path: Path) -> None:
    value = str(tmp_path) if variable == "HOTLINE_VAR" else f"sqlite:///{tmp_path / 'hotline.db'}"
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "tickets", "token", "issue", "clerk"],
        env=clean_env(**{variable: value}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    service = open_ticket_service(f"sqlite:///{tmp_path / 'hotline.db'}")
    try:
        assert TokenStore(service.engine).authenticate(run.stdout.strip()) is not None
    finally:
        service.close()
