"""The virtual sound hub: real, paced audio outputs on a machine without sound cards.

PulseAudio runs with one null sink of N channels (``aux0`` ... ``auxN-1``, the *hub*) and one
mono ``module-remap-sink`` per output, each mapped onto one channel of the hub (``remix=no``).
An ALSA configuration gives every remap sink a PCM of ``type pulse`` named ``hub_outI``, so
PortAudio (and so ``sounddevice``) lists them as ordinary output devices. Recording the hub's
monitor gives one multichannel recording in which each output is one channel: the start skew
between outputs can be read off at the sample.

Pitfalls (see DESIGN.md, "Test harness"): ``parec`` needs an explicit ``--channel-map``, or the
aux channels come out silent; through the pulse plugin a stream needs a fixed block size (with a
variable one it stalls after the first blocks); its callback times are not on the monotonic clock.

Use it as a context manager, or from the shell::

    python tests/harness/soundhub.py start 8   # prints the environment to export
    python tests/harness/soundhub.py stop
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

import numpy as np
import numpy.typing as npt

RATE = 48000
DEFAULT_DIR = Path(os.environ.get("SHOWCTL_HUB_DIR", "/tmp/showctl-soundhub"))


def _remap(index: int) -> str:
    """The arguments of the remap sink that is output ``index``: a mono sink on one channel."""
    return (
        f"sink_name=out{index} master=hub channels=1 master_channel_map=aux{index} "
        "channel_map=mono remix=no"
    )


def device_name(index: int) -> str:
    """The ALSA (and PortAudio) name of output ``index`` of the hub."""
    return f"hub_out{index}"


@dataclass
class SoundHub:
    """A running virtual sound hub with ``outputs`` mono outputs. Start with :meth:`start`."""

    outputs: int = 8
    folder: Path = DEFAULT_DIR
    rate: int = RATE
    started_here: bool = field(default=False, init=False)

    @property
    def socket(self) -> Path:
        return self.folder / "pulse.sock"

    @property
    def env(self) -> dict[str, str]:
        """The environment a process needs to see the hub's outputs."""
        return {
            "PULSE_SERVER": f"unix:{self.socket}",
            "ALSA_CONFIG_PATH": str(self.folder / "asound.conf"),
            "XDG_RUNTIME_DIR": str(self.folder / "run"),
        }

    def running(self) -> bool:
        """Whether a hub with at least this many outputs answers on the socket."""
        if not self.socket.exists():
            return False
        try:
            sinks = self._sinks()
        except RuntimeError:
            return False
        return {f"out{i}" for i in range(self.outputs)} <= set(sinks)

    def start(self) -> SoundHub:
        """Start PulseAudio with the hub, unless one is running already. Idempotent."""
        if self.running():
            return self
        missing = [tool for tool in ("pulseaudio", "pactl", "parec") if not shutil.which(tool)]
        if missing:
            raise RuntimeError(
                f"the sound hub needs {', '.join(missing)}: run deploy/system-packages.sh "
                "deploy/apt-packages-test.txt"
            )
        self.stop()  # a stale one from an earlier run
        (self.folder / "run").mkdir(parents=True, exist_ok=True)
        (self.folder / "run").chmod(0o700)
        self._write_alsa_config()
        channel_map = ",".join(f"aux{i}" for i in range(self.outputs))
        args = [
            "pulseaudio",
            "-n",
            "--daemonize=yes",
            "--exit-idle-time=-1",
            "--use-pid-file=yes",
            f"--log-target=file:{self.folder / 'pulseaudio.log'}",
            "-L",
            f"module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
            "-L",  # pactl cannot end a stream; PulseAudio's command line can (see unplug)
            f"module-cli-protocol-unix socket={self.folder / 'cli.sock'}",
            "-L",
            f"module-null-sink sink_name=hub channels={self.outputs} "
            f"channel_map={channel_map} rate={self.rate} format=s16le",
        ]
        for i in range(self.outputs):
            args += ["-L", f"module-remap-sink {_remap(i)}"]
        subprocess.run(
            args,
            env={**os.environ, **self.env},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sound hub did not start; see {self.folder}/pulseaudio.log")
            time.sleep(0.05)
        self.started_here = True
        return self

    def stop(self) -> None:
        """Stop the hub's PulseAudio, if any. Never raises."""
        pid_file = self.folder / "run" / "pulse" / "pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.02)
        except (OSError, ValueError, IndexError):
            pass
        self.socket.unlink(missing_ok=True)

    def unplug(self, index: int) -> None:
        """Take output ``index``'s card away, as a USB card pulled out: the stream playing on
        it ends, and its sink is unloaded. (Unloaded alone, PulseAudio would move the stream
        to the hub's own sink and play it on.)"""
        modules = self._pactl("list", "short", "modules").splitlines()
        found = [m.split("\t")[0] for m in modules if f"sink_name=out{index} " in m + " "]
        if not found:
            raise RuntimeError(f"output {index} of the hub is not plugged in")
        sink = self._sinks()[f"out{index}"]
        for line in self._pactl("list", "short", "sink-inputs").splitlines():
            stream, on = line.split("\t")[:2]
            if on == sink:
                with socket.socket(socket.AF_UNIX) as cli:
                    cli.connect(str(self.folder / "cli.sock"))
                    cli.sendall(f"kill-sink-input {stream}\n".encode())  # ("exit" ends it all)
                    cli.shutdown(socket.SHUT_WR)
                    while cli.recv(4096):
                        pass
        self._pactl("unload-module", found[0])

    def plug(self, index: int) -> None:
        """Put output ``index``'s card back."""
        self._pactl("load-module", "module-remap-sink", *_remap(index).split())

    def _sinks(self) -> dict[str, str]:
        """The hub's sinks: their index by their name."""
        rows = [line.split("\t") for line in self._pactl("list", "short", "sinks").splitlines()]
        return {row[1]: row[0] for row in rows if len(row) > 1}

    def _pactl(self, *args: str) -> str:
        done = subprocess.run(
            ["pactl", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def _write_alsa_config(self) -> None:
        lines = ["</usr/share/alsa/alsa.conf>"]
        for i in range(self.outputs):
            lines += [
                f"pcm.{device_name(i)} {{",
                "    type pulse",
                f'    server "unix:{self.socket}"',
                f'    device "out{i}"',
                f'    hint {{ show on description "showctl sound hub output {i}" }}',
                "}",
            ]
        (self.folder / "asound.conf").write_text("\n".join(lines) + "\n")

    def record(self) -> Recording:
        """Start recording the hub's monitor: every output, one channel each. Use it in a
        ``with`` block (or call :meth:`Recording.stop`), so no recorder outlives a test."""
        return Recording(self)

    def __enter__(self) -> SoundHub:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.started_here:
            self.stop()


class Recording:
    """A recording of the hub in progress; :meth:`stop` returns the samples. The recorder is
    :meth:`command` (``parec`` of the hub's monitor, writing raw samples to its stdout); a hub
    of another sound server gives its own (``tests/harness/pipewire_hub.py``)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.path = hub.folder / f"recording-{os.getpid()}-{time.monotonic_ns()}.raw"
        self._file = self.path.open("wb")
        #: When the recording began, on the monotonic clock (to within the recorder's start-up).
        self.started = time.monotonic()
        self._process = subprocess.Popen(
            self.command(),
            env={**os.environ, **hub.env},
            stdout=self._file,
            stderr=subprocess.DEVNULL,
        )

    def command(self) -> list[str]:
        """The recorder: raw s16 samples of every channel, on its stdout or into ``path``."""
        hub = self.hub
        return [
            "parec",
            "-d",
            "hub.monitor",
            f"--channels={hub.outputs}",
            f"--channel-map={','.join(f'aux{i}' for i in range(hub.outputs))}",
            "--format=s16le",
            f"--rate={hub.rate}",
            "--raw",
            "--latency-msec=20",
        ]

    def __enter__(self) -> Recording:
        return self

    def sample_at(self, monotonic: float) -> int:
        """The recording's sample index near a monotonic time (tens of ms off: for finding
        stretches, not for measuring)."""
        return max(0, round((monotonic - self.started) * self.hub.rate))

    def __exit__(self, *exc: object) -> None:
        if self._process.poll() is None:
            self.stop()

    def stop(self) -> npt.NDArray[np.int16]:
        """End the recording; the samples as an array of shape (frames, outputs)."""
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._file.close()
        data = np.fromfile(self.path, dtype=np.int16)
        self.path.unlink(missing_ok=True)
        frames = len(data) // self.hub.outputs
        return data[: frames * self.hub.outputs].reshape(frames, self.hub.outputs)


class Hub(Protocol):
    """What a :class:`Recording` needs of its hub."""

    folder: Path
    outputs: int
    rate: int

    @property
    def env(self) -> dict[str, str]: ...


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "start"
    hub = SoundHub(outputs=int(argv[2]) if len(argv) > 2 else 8)
    if command == "start":
        hub.start()
        for key, value in hub.env.items():
            print(f"export {key}={value}")
        return 0
    if command == "stop":
        hub.stop()
        return 0
    print("usage: soundhub.py start [N] | stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
