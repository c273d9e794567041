"""Finding a device by the show's query (the real backend's lookup, on a made-up device list)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from showctl.audio import sounddevice_backend as backend
from showctl.errors import AudioDeviceError

DEVICES = [
    backend.Device(0, "USB Audio Device: - (hw:1,0)", 2, 48000.0),
    backend.Device(1, "USB Audio Device: - (hw:2,0)", 2, 48000.0),
    backend.Device(2, "bcm2835 Headphones: - (hw:0,0)", 8, 44100.0),
    backend.Device(3, "default", 32, 44100.0),
]


@pytest.fixture(autouse=True)
def _cards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cards = tmp_path / "cards"
    cards.write_text(
        " 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n"
        "                      bcm2835 Headphones\n"
        " 1 [speaker1       ]: USB-Audio - USB Audio Device\n"
        "                      Generic USB Audio Device at usb-3f980000.usb-1.2, full speed\n"
        " 2 [speaker2       ]: USB-Audio - USB Audio Device\n"
    )
    monkeypatch.setattr(backend, "CARDS", cards)
    monkeypatch.setattr(backend, "list_devices", lambda kind="output": DEVICES)


def test_card_query_finds_the_card_by_its_alsa_id() -> None:
    assert backend.find("hw:CARD=speaker2").index == 1
    assert backend.find("hw:CARD=Headphones").index == 2


def test_name_part_must_be_unique() -> None:
    assert backend.find("bcm2835").index == 2
    assert backend.find("default").index == 3  # an exact name wins over parts of others
    with pytest.raises(AudioDeviceError, match="'USB Audio' matches 2 output devices: "):
        backend.find("USB Audio")


def test_missing_device_lists_the_candidates() -> None:
    with pytest.raises(AudioDeviceError) as caught:
        backend.find("hw:CARD=speaker9")
    assert str(caught.value).startswith(
        "no output device matches 'hw:CARD=speaker9'; the "
        "output devices are: 'USB Audio Device: - (hw:1,0)', "
    )
    assert "showctl devices lists them" in str(caught.value)


def test_query_to_write_is_the_stable_card_id() -> None:
    cards = backend.alsa_cards()
    assert [backend.query_for(d, cards) for d in DEVICES] == [
        "hw:CARD=speaker1",
        "hw:CARD=speaker2",
        "hw:CARD=Headphones",
        "default",
    ]


def test_dac_times_on_the_monotonic_clock_are_taken_as_they_are() -> None:
    """Through PipeWire (and ALSA ``hw:`` devices set to it) PortAudio's times are already on
    CLOCK_MONOTONIC: a DAC time is used exactly as reported, to the nanosecond."""
    now = time.monotonic()
    assert backend.to_monotonic(now + 0.0123456789, now) == now + 0.0123456789


def test_dac_times_on_the_wall_clock_are_moved_onto_the_monotonic_one() -> None:
    """Through PulseAudio's plugin PortAudio's times are CLOCK_REALTIME: the DAC time is moved
    by the clocks' offset, read back to back, so it lands where the monotonic clock will be."""
    wall, mono = time.time(), time.monotonic()
    mapped = backend.to_monotonic(wall + 0.02, wall)
    assert abs(mapped - (mono + 0.02)) < 0.001


def test_dac_times_on_another_clock_are_placed_from_now() -> None:
    """A clock that is neither (an odd driver's): the DAC time's distance from ``currentTime``
    is kept, counted from now."""
    before = time.monotonic()
    mapped = backend.to_monotonic(5000.03, 5000.0)
    assert before + 0.03 <= mapped <= time.monotonic() + 0.03
