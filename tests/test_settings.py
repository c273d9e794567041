"""The settings file: defaults, the example in deploy/, and one sentence for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from showctl import settings
from showctl.errors import SettingsError
from tests.conftest import ROOT


def test_the_example_in_deploy_is_the_defaults_written_out() -> None:
    """deploy/settings.toml documents every key with its default value."""
    example = settings.load(ROOT / "deploy" / "settings.toml")
    assert (example.web, example.mqtt, example.osc) == (
        settings.WebSettings(),
        settings.MqttSettings(),
        settings.OscSettings(),
    )


def test_a_full_file_is_read_into_frozen_settings(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        '[web]\nhost = "0.0.0.0"\nport = 80\ntoken = "t"\n'
        '[mqtt]\nhost = "broker"\ntls = true\n[mqtt.events]\n"room/chest" = "chest-opened"\n'
        "[osc]\nport = 9000\n"
    )
    s = settings.load(path)
    assert (s.web.needs_token, s.web.port, s.mqtt.host, s.mqtt.tls, s.osc.port) == (
        True,
        80,
        "broker",
        True,
        9000,
    )
    assert dict(s.mqtt.events) == {"room/chest": "chest-opened"}
    with pytest.raises(TypeError):
        s.mqtt.events["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "needs_token"),
    [
        ("", False),
        ('[web]\ntoken = "t"', True),  # loopback too: any local user can reach it
        ('[web]\nhost = "localhost"\ntoken = "t"', True),
        ('[web]\nhost = "0.0.0.0"\ntoken = "t"', True),
        ('[web]\nhost = "0.0.0.0"\nport = 0', False),  # no page: nothing to guard
    ],
)
def test_a_set_token_is_needed_wherever_the_page_listens(
    tmp_path: Path, text: str, needs_token: bool
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    assert settings.load(path).web.needs_token is needs_token


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[web]\nhots = 1", "unknown setting web.hots; the settings of [web] are: host, port"),
        ("[wbe]\n", "unknown setting wbe; the settings of the file are: web, mqtt, osc"),
        ('[web]\nport = "80"', "web.port must be a port number from 0 to 65535, not '80'"),
        ("[web]\nport = 70000", "web.port must be a port number from 0 to 65535, not 70000"),
        ("[mqtt]\ntls = 1", "mqtt.tls must be true or false, not 1"),
        ("[osc]\nhost = 1", "osc.host must be a string in quotes, not 1"),
        ('[mqtt.events]\n"room/#" = "x"', "a topic is empty or has a wildcard (+ or #)"),
        ('[mqtt]\nbase = "a/+"', "mqtt.base has a wildcard (+ or #)"),
        ("web = 1", "web must be a table ([web])"),
        ('[mqtt]\nca_file = "/nonexistent.pem"', "mqtt.ca_file /nonexistent.pem is not a file"),
        ("[web", "is not valid TOML"),
        (
            '[web]\nhost = "0.0.0.0"',
            "web.host is 0.0.0.0, so the page can be reached from other machines, and web.token "
            "is empty; set web.token to a long secret, or web.host to 127.0.0.1",
        ),
    ],
)
def test_each_mistake_is_one_sentence_naming_the_file_and_the_key(
    tmp_path: Path, text: str, error: str
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        settings.load(path)
    assert str(caught.value).startswith(str(path))
    assert error in str(caught.value)


def test_a_missing_file_named_is_an_error_and_none_named_is_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SettingsError, match="does not exist; give an existing one"):
        settings.load(tmp_path / "nope.toml")
    monkeypatch.setattr(settings, "DEFAULT_PATH", tmp_path / "absent.toml")
    assert settings.load(None) == settings.Settings()


def test_showctl_run_refuses_bad_settings_before_starting_anything(tmp_path: Path) -> None:
    from showctl.cli import main

    bad = tmp_path / "settings.toml"
    bad.write_text("[web]\nport = -1\n")
    assert main(["run", "--sim", str(ROOT / "shows" / "demo.yaml"), "--settings", str(bad)]) == 1
