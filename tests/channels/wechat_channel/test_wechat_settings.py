"""HOTLINE_WECHAT_*: checked at startup, with errors that name the variable and never quote a secret."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings
from tests.channels.wechat_channel.wechat_platform import AES_KEY, APPID, SECRET, TOKEN


def test_without_a_token_the_channel_is_off_and_nothing_else_is_needed() -> None:
    settings = load_settings(wechat_token="", wechat_secret="")
    assert settings.wechat_token is None and settings.wechat_secret is None
    assert settings.wechat_passive_budget_s == 4.5


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"wechat_token": TOKEN}, "HOTLINE_WECHAT_SECRET"),
        ({"wechat_token": TOKEN, "wechat_secret": SECRET}, "HOTLINE_WECHAT_APPID"),
        ({"wechat_token": "no spaces!", "wechat_appid": APPID, "wechat_secret": SECRET}, "HOTLINE_WECHAT_TOKEN"),
        ({"wechat_aes_key": AES_KEY[:-1]}, "HOTLINE_WECHAT_AES_KEY"),
        ({"wechat_passive_budget_s": 5}, "HOTLINE_WECHAT_PASSIVE_BUDGET_S"),
    ],
)
def test_incomplete_or_malformed_wechat_settings_stop_startup(fields: dict[str, object], named: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(**fields)
    assert named in str(refused.value)
    assert SECRET not in str(refused.value) and AES_KEY[:-1] not in str(refused.value)
