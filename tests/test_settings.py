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
        ('[calibration]\nat = "3:30"', "calibration.at must be a time of day as HH:MM, such as"),
        ('[calibration]\nat = "24:00"', "calibration.at must be a time of day as HH:MM"),
        ("[calibration]\nrate = 1000", "calibration.rate must be 8000 to 384000 Hz, not 1000"),
        ('[calibration]\nrate = "48k"', "calibration.rate must be a whole number, not '48k'"),
        ("[web", "is not valid TOML"),
        (
            '[osc.targets]\ndesk = "192.168.1.20"',
            'osc.targets.desk must be "HOST:PORT", such as "192.168.1.20:53000", not '
            "'192.168.1.20'",
        ),
        ('[osc.targets]\ndesk = "desk:0"', "osc.targets.desk: port 0 is not from 1 to 65535"),
        (
            "[props.chest]\nbaud = 9600",
            "props.chest names neither a serial port (serial) nor a presence topic (presence); "
            "give one, or remove the prop",
        ),
        (
            '[props.chest]\nserial = "ttyUSB0"',
            "props.chest.serial must be the port's whole path, such as "
            "/dev/serial/by-id/usb-..., not 'ttyUSB0'",
        ),
        (
            '[props.chest]\nserial = "/dev/ttyUSB0"\nbaud = 12',
            "props.chest.baud must be a rate from 50 to 4000000, not 12",
        ),
        (
            '[props.chest]\nserial = "/dev/ttyUSB0"\nreset_wait = "2s"',
            "props.chest.reset_wait must be a number of seconds, not '2s'",
        ),
        (
            '[props.chest]\npresence = "room1/+/status"',
            "props.chest.presence has a wildcard (+ or #); name the topic in full",
        ),
        (
            '[props.chest]\nserial = "/dev/ttyUSB0"\n[props.chest.events]\n"OK" = 3',
            'props.chest.events must be a table of "LINE" = "event name"',
        ),
        ("props = 1", "props must be tables, one per prop ([props.NAME])"),
        (
            '[health]\nurl = "hc-ping.com/abc"',
            "health.url must be an http:// or https:// URL, such as https://hc-ping.com/YOUR-UUID, "
            "not 'hc-ping.com/abc'",
        ),
        ("[health]\nevery = 1", "health.every must be 10 to 86400 seconds, not 1"),
        ('[health]\nhot = "hot"', "health.hot must be a number of °C, not 'hot'"),
        (
            '[clock]\ntrust = "rtc please"',
            "clock.trust is 'rtc please'; give one of synchronised, rtc, always",
        ),
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


def test_osc_targets_and_props_are_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        '[osc.targets]\ndesk = "192.168.1.20:53000"\nqlab = "[::1]:53000"\n'
        '[props.chest]\nserial = "/dev/serial/by-id/usb-chest"\nbaud = 115200\n'
        'presence = "room1/chest/status"\n[props.chest.events]\n"SOLVED" = "chest-solved"\n'
        '[props.lamp]\npresence = "room1/lamp/status"\n'
    )
    s = settings.load(path)
    assert dict(s.osc.targets) == {"desk": ("192.168.1.20", 53000), "qlab": ("::1", 53000)}
    assert s.props["chest"] == settings.PropSettings(
        serial="/dev/serial/by-id/usb-chest",
        baud=115200,
        presence="room1/chest/status",
        events={"SOLVED": "chest-solved"},
    )
    assert s.props["lamp"].serial == ""


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
