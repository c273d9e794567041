"""A player process's control side on a simulated device: commands in, events out, bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from showctl.audio.base import Block
from showctl.audio.sim import SimStream
from showctl.clock import MonotonicClock
from showctl.players import protocol
from showctl.players.player import Player
from showctl.testing import write_wav


def run_player(
    commands: list[protocol.Command], pause: float = 0.0
) -> tuple[int, list[protocol.Event | None]]:
    """Run a player on a real-time simulated device; its exit status and its events."""

    class SlowCommands(io.BytesIO):
        def __iter__(self):  # one command at a time, ``pause`` apart
            for line in self.getvalue().splitlines(keepends=True):
                yield line
                time.sleep(pause)

    stream = SimStream("sim-a", 48000, clock=MonotonicClock())
    events = io.BytesIO()
    status = Player("a", stream, events).run(
        SlowCommands(b"".join(protocol.encode(c) for c in commands))
    )
    return status, [protocol.decode_event(line) for line in events.getvalue().splitlines()]


def errors_in(events: io.BytesIO) -> list[protocol.Error]:
    """The errors a player said."""
    said = [protocol.decode_event(line) for line in events.getvalue().splitlines()]
    return [e for e in said if isinstance(e, protocol.Error)]


def test_plays_and_reports(tmp_path: Path) -> None:
    clip = write_wav(tmp_path / "tone.wav", seconds=0.3)
    status, events = run_player(
        [protocol.Play(str(clip), time.monotonic() + 1.8), protocol.Quit()],
        pause=2.5,
    )
    kinds = [type(e) for e in events]
    assert status == 0
    assert kinds[0] is protocol.Ready
    assert protocol.Heartbeat in kinds
    (started,) = [e for e in events if isinstance(e, protocol.Started)]
    (finished,) = [e for e in events if isinstance(e, protocol.Finished)]
    assert finished.dac_time is not None
    assert finished.dac_time - started.dac_time == pytest.approx(0.3, abs=0.001)
    assert finished.reason == "end"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: write_wav(p, channels=2), "has 2 channels; each output plays one mono WAV"),
        (lambda p: write_wav(p, rate=44100), "is at 44100 Hz but its output runs at 48000 Hz"),
        (lambda p: write_wav(p, format="FLAC"), "is a FLAC file, not WAV"),
        (lambda p: p.write_bytes(b"not audio at all"), "cannot be read as audio"),
        (lambda p: None, "does not exist; check the name and the media folder"),
    ],
    ids=["stereo", "wrong-rate", "not-wav", "garbage", "missing"],
)
def test_bad_clip_is_one_error_and_exit_1(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "clip.wav"
    make(path)
    status, events = run_player([protocol.Play(str(path), 0.0)])
    (error,) = [e for e in events if isinstance(e, protocol.Error)]
    assert status == 1
    assert error.message.startswith(f"output 'a': {path} ")
    assert message in error.message


def test_truncated_wav_is_caught_at_load(tmp_path: Path) -> None:
    """A WAV whose header promises more samples than the file holds (a copy cut short)."""
    path = write_wav(tmp_path / "cut.wav", seconds=2.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert soundfile.info(str(path)).frames < 96000  # libsndfile reads it as a shorter file
    status, events = run_player([protocol.Play(str(path), 0.0)])
    (error,) = [e for e in events if isinstance(e, protocol.Error)]
    assert status == 1
    assert "is cut short" in error.message


def test_a_loaded_clip_rewritten_before_it_plays_is_checked_again(tmp_path: Path) -> None:
    """Loaded ahead (opened, checked), then rewritten as a stereo file before its scene: the
    play finds the file changed and checks it again, instead of playing what it was."""

    class Rewrite(io.BytesIO):
        def __iter__(self):  # read once the player is ready
            yield protocol.encode(protocol.Load(((str(path), False),)))
            time.sleep(0.3)
            write_wav(path, channels=2)
            yield protocol.encode(protocol.Play(str(path), time.monotonic() + 1.0))

    path = write_wav(tmp_path / "clip.wav")
    stream = SimStream("sim-a", 48000, clock=MonotonicClock())
    events = io.BytesIO()
    status = Player("a", stream, events).run(Rewrite())
    said = [protocol.decode_event(line) for line in events.getvalue().splitlines()]
    assert status == 1
    assert [e.message for e in said if isinstance(e, protocol.Error)] == [
        f"output 'a': {path} has 2 channels; each output plays one mono WAV: mix it down"
    ]


def test_a_failed_device_ends_the_player_without_waiting_for_commands() -> None:
    """The device goes away while no command comes: the player reports it and exits."""

    class Failing(SimStream):
        @property
        def failed(self) -> str | None:
            return (
                "output device 'sim-a' stopped: was it unplugged?" if self.frames > 96000 else None
            )

    class Silent(io.BytesIO):
        def __iter__(self):  # a controller that says nothing, and never closes the pipe
            time.sleep(3600)
            yield b""

    events = io.BytesIO()
    started = time.monotonic()
    status = Player("a", Failing("sim-a", 48000, clock=MonotonicClock()), events).run(Silent())
    assert status == 1
    assert time.monotonic() - started < 10
    (error,) = errors_in(events)
    assert error.message == "output 'a': output device 'sim-a' stopped: was it unplugged?"


def test_a_stream_that_stalls_is_an_error() -> None:
    """The device stops asking for blocks, without an error of its own (seen through
    PulseAudio's ALSA plugin with small buffers): the player says so and exits."""

    class Stalling(SimStream):
        def _step(self, block: Block) -> None:
            if self.frames < 96000:  # two seconds, then no more blocks
                super()._step(block)

    class Silent(io.BytesIO):
        def __iter__(self):
            time.sleep(3600)
            yield b""

    events = io.BytesIO()
    status = Player("a", Stalling("sim-a", 48000, clock=MonotonicClock()), events).run(Silent())
    assert status == 1
    (error,) = errors_in(events)
    assert error.message.startswith(
        "output 'a': device 'sim:sim-a' has asked for no samples for over 1 s (its driver hangs)"
    )


def test_a_stream_whose_close_hangs_does_not_hold_the_player() -> None:
    """The device stalls, and closing it hangs too (PortAudio's thread stuck in a driver that
    hangs, as through PipeWire's ALSA plugin with the card's node gone): the player still says
    so and returns, to exit. Before, it waited on the close for ever."""
    release = threading.Event()

    class Hanging(SimStream):
        def _step(self, block: Block) -> None:
            if self.frames < 96000:  # two seconds (ready by then), then no more blocks
                super()._step(block)

        def close(self) -> None:
            release.wait()  # until the test ends
            super().close()

    class Silent(io.BytesIO):
        def __iter__(self):
            time.sleep(3600)
            yield b""

    events = io.BytesIO()
    player = Player("a", Hanging("sim-a", 48000, clock=MonotonicClock()), events)
    statuses: list[int] = []
    running = threading.Thread(target=lambda: statuses.append(player.run(Silent())), daemon=True)
    running.start()
    running.join(30)  # it stalls after 2 s, is found after STALL_TIMEOUT, gives up CLOSE_TIMEOUT
    release.set()
    assert statuses == [1], "the player is still waiting for its stream to close"
    assert b"has asked for no samples" in events.getvalue()


def test_player_process_quits_cleanly() -> None:
    """`quit` ends a real player process with status 0 and nothing on stderr but its logs,
    while the controller still holds the command pipe open (as the player pool does)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "showctl",
            "player",
            "--output",
            "a",
            "--device",
            "x",
            "--rate",
            "48000",
            "--latency",
            "0.04",
            "--backend",
            "sim",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert isinstance(protocol.decode_event(process.stdout.readline()), protocol.Ready)
    process.stdin.write(protocol.encode(protocol.Quit()))
    process.stdin.flush()  # and the pipe stays open
    status = process.wait(timeout=30)
    stderr = process.stderr.read() if process.stderr else b""
    process.stdin.close()
    assert b"Fatal Python error" not in stderr
    assert all(json.loads(line) for line in stderr.splitlines())  # JSON log lines only
    assert status == 0


def test_a_clip_that_breaks_while_playing_is_an_error(tmp_path: Path) -> None:
    """The clip's file is cut to nothing mid-play (a card pulled out): an error, then exit 1,
    not silence counted as underruns for ever."""
    clip = write_wav(tmp_path / "long.wav", seconds=10.0)

    class Breaking(io.BytesIO):
        def __iter__(self):
            yield protocol.encode(protocol.Play(str(clip), time.monotonic() + 1.8))
            time.sleep(2.5)
            clip.write_bytes(b"")  # the reader's next read finds nothing
            time.sleep(3600)

    events = io.BytesIO()
    stream = SimStream("sim-a", 48000, clock=MonotonicClock())
    status = Player("a", stream, events).run(Breaking())
    (error,) = errors_in(events)
    assert status == 1
    assert error.message.startswith(f"output 'a': {clip} could not be read any further")


def test_a_ping_is_answered_with_when_it_came() -> None:
    before = time.monotonic()
    status, events = run_player([protocol.Ping(7), protocol.Quit()], pause=0.2)
    (pong,) = [e for e in events if isinstance(e, protocol.Pong)]
    assert status == 0
    assert pong.id == 7
    assert before < pong.queued < time.monotonic()


def test_an_effect_is_mixed_in_and_a_bad_one_leaves_the_output_playing(tmp_path: Path) -> None:
    """A loaded effect played twice (read ahead again after the first), and one whose file is
    not there: logged, and the player plays on."""
    tone = write_wav(tmp_path / "tone.wav", seconds=0.5)
    creak = write_wav(tmp_path / "creak.wav", seconds=0.1)
    capture = tmp_path / "out.wav"
    stream = SimStream("sim-a", 48000, clock=MonotonicClock(), capture=capture)
    events = io.BytesIO()
    logs = io.StringIO()
    at = time.monotonic() + 2.0
    commands = [
        protocol.Load(((str(creak), False),)),
        protocol.Play(str(tone), at, loop=True, play=1),
        protocol.Effect(str(creak), at + 0.2, 0.5, play=1),
        protocol.Effect(str(creak), at + 0.4, 0.5, play=1),
        protocol.Effect(str(tmp_path / "gone.wav"), at + 0.3, 1.0, play=1),
    ]

    class Paced(io.BytesIO):
        def __iter__(self):
            yield from self.getvalue().splitlines(keepends=True)
            time.sleep(max(0.0, at + 0.8 - time.monotonic()))

    from showctl.players import player as player_module

    player_module.logger = protocol.LogLines(logs)
    try:
        status = Player("a", stream, events).run(Paced(b"".join(map(protocol.encode, commands))))
    finally:
        player_module.logger = protocol.LogLines(sys.stderr)
    assert status == 0
    assert not errors_in(events), "a bad effect is no error of the output"
    said = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert [e["event"] for e in said if e["event"].startswith("effect")] == ["effect_not_played"]
    samples = soundfile.read(str(capture), dtype="float32")[0]
    tone_samples = soundfile.read(str(tone), dtype="float32")[0]
    creak_samples = soundfile.read(str(creak), dtype="float32")[0]

    def index(t: float) -> int:
        return round((t - stream.dac_time(0)) * 48000)

    start = index(at)
    expected = np.resize(tone_samples, len(samples) - start)  # the loop, from its T0
    for due in (at + 0.2, at + 0.4):  # each effect at half its level, on its sample
        first = index(due) - start
        expected[first : first + len(creak_samples)] += 0.5 * creak_samples
    heard = samples[start : index(at + 0.7)]
    assert np.abs(heard - expected[: len(heard)]).max() < 1e-4
