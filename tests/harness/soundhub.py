"""The virtual sound hub: real, paced audio outputs on a machine without sound cards.

A private PipeWire, whose DAC-time reports are exact to a sample: its own ``dbus-daemon
--session`` (WirePlumber needs a session bus), its own ``pipewire`` and ``wireplumber`` with every
runtime, configuration and state folder inside the hub's folder, so nothing of the machine's
audio is touched:

- the *hub*: an N-channel ``support.null-audio-sink`` named ``hub`` (``AUX0``, ``AUX1``, ...
  at 48 kHz);
- output ``i``: one ``pw-loopback`` process (``libpipewire-module-loopback``), mono, whose capture
  side is a sink named ``out{i}`` and whose playback side plays onto the hub's ``AUX{i}`` alone
  (``stream.dont-remix``);
- ALSA: a private configuration (``ALSA_CONFIG_PATH``) gives every output a PCM ``hub_out{i}`` of
  ``type pipewire`` with ``playback_node "out{i}"``, so PortAudio (and so ``sounddevice``) lists
  them as ordinary output devices. PipeWire's ALSA plugin is loaded from the hub's folder
  (``pcm_type.pipewire { lib ... }``), unpacked there by ``deploy/pipewire-alsa-plugin.sh``:
  Debian's ``pipewire-alsa`` conflicts with ``pulseaudio`` and makes PipeWire the system's
  default ALSA device, so it is never installed;
- the microphone (with ``mic``: the calibration's tests): a mono virtual source ``mic`` that
  hears every output mixed (each output's stream linked into it as well as into the hub), as a
  measurement microphone in a room would; ALSA's (and PortAudio's) capture device ``hub_mic``
  records it. An output can be given a
  delay (:meth:`SoundHub.set_delay`, ``pw-loopback --delay``), heard in the hub and the
  microphone alike, as a card slower than the others, which only a measurement finds;
- the recording: ``pw-record --target hub`` with ``stream.capture.sink=true`` (the sink's monitor)
  and an explicit ``AUX0,...`` channel map, raw s16 into a file: each output is one channel, so
  the start skew between outputs can be read off at the sample;
- one spinner a CPU (``sh``'s empty loop under ``SCHED_IDLE``, which runs only when nothing else
  wants the CPU): on this project's build machine, a virtual machine, an idle virtual CPU takes
  up to 11 ms to wake (a 5-ms sleep of a ``SCHED_FIFO`` thread overshot by p99 0.3 to 2.6 ms,
  at most 9 to 11 ms; with the spinners p99 0.06 ms), and the hub's streams then miss their
  cycles: blocks of 256 to 1024 samples came out as silence in each of three 20-s recordings of
  one 40-ms output, in one of four with the spinners. A real box wakes in microseconds; this
  is the kernel's ``idle=poll`` done from user space, for the hub's lifetime only.

WirePlumber's monitors of ALSA cards, cameras and Bluetooth are off (a hub on a machine with
sound cards must not take them from the machine's own sound server).

Use it as a context manager, or from the shell::

    python tests/harness/soundhub.py start 8   # prints the environment to export
    python tests/harness/soundhub.py stop
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

RATE = 48000
DEFAULT_DIR = Path(os.environ.get("SHOWCTL_HUB_DIR", "/tmp/showctl-soundhub"))
PLUGIN_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "pipewire-alsa-plugin.sh"
TOOLS = (
    "dbus-daemon",
    "pipewire",
    "wireplumber",
    "pw-loopback",
    "pw-record",
    "pw-dump",
    "pw-cli",
    "pw-link",
)
#: The longest cycle of the hub's graph, in samples (PipeWire's largest quantum by default).
LONGEST_CYCLE = 2048
#: The environment of the hub's own clients (the outputs' loopbacks, the recorder): PipeWire's
#: client configuration with real-time scheduling, which the tools' default one lacks. Without it
#: a loopback whose process was late (a player starting, say) left its output silent for a cycle.
RT_CLIENT = {"PIPEWIRE_CONFIG_NAME": "client-rt.conf"}
#: The hub's processes, in the order they start (and the reverse of the order they stop).
DAEMONS = ("dbus", "pipewire", "wireplumber")


#: The ALSA (and PortAudio) name of the hub's microphone.
MIC = "hub_mic"


def device_name(index: int) -> str:
    """The ALSA (and PortAudio) name of output ``index`` of the hub."""
    return f"hub_out{index}"


def _pw_props(props: dict[str, str | int | bool | list[str]]) -> str:
    """A SPA-JSON object of properties, as the PipeWire tools take them."""

    def value(v: str | int | bool | list[str]) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, list):
            return "[ " + " ".join(v) + " ]"
        return json.dumps(v)

    return "{ " + " ".join(f"{key} = {value(v)}" for key, v in props.items()) + " }"


@dataclass
class SoundHub:
    """A running virtual sound hub with ``outputs`` mono outputs. Start with :meth:`start`."""

    outputs: int = 8
    folder: Path = DEFAULT_DIR
    rate: int = RATE
    started_here: bool = field(default=False, init=False)
    #: The outputs taken away by :meth:`unplug`.
    unplugged: set[int] = field(default_factory=set, init=False)
    #: With the microphone (``mic``, ``hub_mic``): for the calibration's tests; the others
    #: keep the graph their figures were measured on (the microphone sums every output at
    #: every cycle).
    mic: bool = False
    #: Each output's delay (samples) by :meth:`set_delay`.
    delays: dict[int, int] = field(default_factory=dict, init=False)

    @property
    def runtime(self) -> Path:
        return self.folder / "run"

    @property
    def socket(self) -> Path:
        return self.runtime / "pipewire-0"

    @property
    def bus(self) -> Path:
        return self.folder / "bus"

    @property
    def plugin(self) -> Path:
        return self.folder / "alsa-plugin" / "libasound_module_pcm_pipewire.so"

    @property
    def env(self) -> dict[str, str]:
        """The environment a process needs to see the hub's outputs (and nothing else's)."""
        return {
            "XDG_RUNTIME_DIR": str(self.runtime),
            "PIPEWIRE_RUNTIME_DIR": str(self.runtime),
            "PIPEWIRE_REMOTE": "pipewire-0",
            "ALSA_CONFIG_PATH": str(self.folder / "asound.conf"),
            "XDG_CONFIG_HOME": str(self.folder / "config"),
            "XDG_STATE_HOME": str(self.folder / "state"),
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.bus}",
            # Extra properties of every ALSA plugin stream: one whose output vanishes is
            # destroyed with an error (WirePlumber would move it to another sink otherwise).
            "PIPEWIRE_ALSA": "{ node.dont-reconnect = true }",
        }

    def running(self) -> bool:
        """Whether this hub answers, with at least this many outputs, each linked to the hub."""
        if not self.socket.exists():
            return False
        try:
            objects = self._dump()  # one reading of the graph for every output
            return all(self._linked(i, objects) for i in range(self.outputs))
        except RuntimeError:
            return False

    def start(self) -> SoundHub:
        """Start D-Bus, PipeWire, WirePlumber and the outputs, unless running. Idempotent."""
        if self.running():
            return self
        missing = [tool for tool in TOOLS if not shutil.which(tool)]
        if missing:
            raise RuntimeError(
                f"the sound hub needs {', '.join(missing)}: run "
                "deploy/system-packages.sh deploy/apt-packages-test.txt"
            )
        self.stop()  # a stale one from an earlier run
        for sub in ("run", "config/pipewire", "config/wireplumber", "state", "pids"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.runtime.chmod(0o700)
        self._ensure_plugin()
        self._write_configs()
        try:
            self._launch()
        except BaseException:
            self.stop()
            raise
        self.started_here = True
        return self

    def _launch(self) -> None:
        for cpu in range(os.cpu_count() or 1):
            self._spawn(f"awake{cpu}", ["chrt", "--idle", "0", "sh", "-c", "while :; do :; done"])
        self._spawn(
            "dbus",
            [
                "dbus-daemon",
                "--session",
                "--nofork",
                "--nopidfile",
                f"--address=unix:path={self.bus}",
            ],
        )
        self._wait(self.bus.exists, "the hub's dbus-daemon")
        self._spawn("pipewire", ["pipewire", "-c", str(self.folder / "pipewire.conf")])
        self._wait(self.socket.exists, "the hub's pipewire")
        self._spawn("wireplumber", ["wireplumber"])
        self._wait(lambda: "hub" in self._nodes(), "the hub's null sink")
        for i in range(self.outputs):
            self._add_output(i)
        self._wait(self.running, "the hub's outputs", seconds=15)

    def stop(self) -> None:
        """Stop every process of the hub, if any. Never raises."""
        pids = self.folder / "pids"
        names = sorted(p.name for p in pids.glob("out*")) + list(reversed(DAEMONS))
        names += sorted(p.name for p in pids.glob("awake*"))
        for name in names:
            self._end(name)
        self.socket.unlink(missing_ok=True)
        (self.runtime / "pipewire-0.lock").unlink(missing_ok=True)
        self.bus.unlink(missing_ok=True)

    def unplug(self, index: int) -> None:
        """Take output ``index``'s card away, as a USB card pulled out: its ALSA device is no
        longer listed, and the streams playing on it are destroyed (their clients see an error,
        or a stream that asks for nothing more, as on a card gone).

        The output's node stays, unseen by players: destroying it and making it again (its
        ``pw-loopback`` ended and started) silenced other outputs for a cycle or more, in half
        the tries, which a card on a driver of its own would not do; destroying the streams
        alone, in none of five."""
        if index in self.unplugged:
            raise RuntimeError(f"output {index} of the hub is not plugged in")
        self.unplugged.add(index)
        self._write_alsa_config()
        sink = self._nodes().get(f"out{index}")
        for stream in self._streams_on(sink) if sink is not None else []:
            self._pw("pw-cli", "destroy", str(stream))

    def set_delay(self, index: int, samples: int) -> None:
        """Hold output ``index`` back by ``samples``, in the hub and the microphone alike: its
        loopback is made again, so a player on it is cut off (start players after)."""
        self.delays[index] = samples
        self._end(f"out{index}")
        self._wait(lambda: f"out{index}" not in self._nodes(), f"output {index}'s old loopback")
        self._add_output(index)

    def plug(self, index: int) -> None:
        """Put output ``index``'s card back: its ALSA device is listed again."""
        if index not in self.unplugged:
            raise RuntimeError(f"output {index} of the hub is plugged in")
        self.unplugged.discard(index)
        self._write_alsa_config()

    def _add_output(self, index: int) -> None:
        """Output ``index``'s node, linked to its hub channel."""
        capture = _pw_props(
            {
                "node.name": f"out{index}",
                "node.description": f"showctl PipeWire hub output {index}",
                "media.class": "Audio/Sink",
                "audio.position": ["MONO"],
            }
        )
        playback = _pw_props(
            {
                "node.name": f"out{index}.to-hub",
                "target.object": "hub",
                "audio.position": [f"AUX{index}"],
                "stream.dont-remix": True,
                "node.dont-reconnect": True,
            }
        )
        # A loopback with a delay asks for a cycle of a fraction of it (37 samples for 113),
        # and the hub's graph then runs at 32 samples a cycle and loses some on this machine:
        # it is given the cycle of 1024 samples the others run at.
        delay = self.delays.get(index, 0)
        delayed = ["--delay", f"{delay / self.rate:.9f}", "--latency", f"{1024e3 / self.rate}"]
        self._spawn(
            f"out{index}",
            [
                "pw-loopback",
                "--name",
                f"out{index}-loopback",
                "--channels",
                "1",
                "-m",
                "[ MONO ]",
                *(delayed if delay else []),
                "--capture-props",
                capture,
                "--playback-props",
                playback,
            ],
            RT_CLIENT,
        )
        if self.mic:
            self._wait(lambda: self._link_mic(index), f"output {index}'s link to the microphone")
        self._wait(lambda: self._linked(index), f"output {index}'s link to the hub")

    def _link_mic(self, index: int) -> bool:
        """Link output ``index``'s stream into the microphone; whether it could be (its port
        comes a moment after its node)."""
        try:
            self._pw("pw-link", f"out{index}.to-hub:output_AUX{index}", "mic:input_MONO")
        except RuntimeError:
            return False
        return True

    def record(self) -> Recording:
        """Start recording the hub: every output, one channel each. Use it in a ``with``
        block (or call :meth:`Recording.stop`), so no recorder outlives a test."""
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

    # The hub's processes: each started in a session of its own, its pid in pids/NAME.

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            args,
            env={**os.environ, **self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        (self.folder / "pids" / name).write_text(f"{process.pid}\n")

    def _pid(self, name: str) -> int | None:
        try:
            return int((self.folder / "pids" / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _end(self, name: str) -> None:
        """SIGTERM the process ``name`` (then SIGKILL after 2 s), and reap it if it is ours."""
        pid = self._pid(name)
        (self.folder / "pids" / name).unlink(missing_ok=True)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:  # not our child (started by another process): poll
                try:
                    os.kill(pid, 0)
                except OSError:
                    return
            time.sleep(0.02)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (OSError, ChildProcessError):
            pass

    def _wait(self, ready: Any, what: str, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up; see the logs in {self.folder}")
            time.sleep(0.05)

    # The graph, read with pw-dump.

    def _dump(self) -> list[dict[str, Any]]:
        """The graph's objects. A dump taken while the daemon is starting or stopping can be
        cut or doubled (seen once in CI as two arrays); such a reading is taken again."""
        for _ in range(4):
            try:
                return self._dump_once()
            except json.JSONDecodeError:
                time.sleep(0.05)
        return self._dump_once()

    def _dump_once(self) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = json.loads(self._pw("pw-dump", "--no-colors") or "[]")
        return objects

    def _nodes(self, objects: list[dict[str, Any]] | None = None) -> dict[str, int]:
        """The graph's nodes: their id by their name."""
        nodes = {}
        for obj in self._dump() if objects is None else objects:
            if obj.get("type") == "PipeWire:Interface:Node":
                props = obj.get("info", {}).get("props", {})
                nodes[str(props.get("node.name", ""))] = int(obj["id"])
        return nodes

    def _links(self, objects: list[dict[str, Any]]) -> list[tuple[int, int]]:
        """The graph's links, as (output node, input node)."""
        return [
            (int(obj["info"]["output-node-id"]), int(obj["info"]["input-node-id"]))
            for obj in objects
            if obj.get("type") == "PipeWire:Interface:Link" and obj.get("info")
        ]

    def _linked(self, index: int, objects: list[dict[str, Any]] | None = None) -> bool:
        """Whether output ``index``'s node is there and linked to the hub and the microphone
        (in ``objects``, a reading of the graph, or a fresh one)."""
        objects = self._dump() if objects is None else objects
        nodes = self._nodes(objects)
        player, links = nodes.get(f"out{index}.to-hub"), self._links(objects)
        return (
            f"out{index}" in nodes
            and player is not None
            and all((player, nodes.get(into)) in links for into in ("hub", "mic")[: 1 + self.mic])
        )

    def _links_into(self, name: str) -> int:
        """How many links end at the node named ``name``."""
        objects = self._dump()
        node = self._nodes(objects).get(name)
        return sum(1 for _, into in self._links(objects) if into == node)

    def _streams_on(self, sink: int) -> list[int]:
        return [out for out, into in self._links(self._dump()) if into == sink]

    def _pw(self, *command: str) -> str:
        """Run a PipeWire tool (``pw-dump``, ``pw-cli``) on this hub; its output."""
        done = subprocess.run(
            command,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
        return done.stdout

    # Configuration, all inside the hub's folder.

    def _ensure_plugin(self) -> None:
        if self.plugin.exists():
            return
        done = subprocess.run(
            [str(PLUGIN_SCRIPT), str(self.plugin.parent)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not self.plugin.exists():
            raise RuntimeError(f"PipeWire's ALSA plugin is missing: {done.stderr.strip()}")

    def _write_configs(self) -> None:
        positions = " ".join(f"AUX{i}" for i in range(self.outputs))
        (self.folder / "pipewire.conf").write_text(
            f"""# The showctl test harness's private PipeWire (tests/harness/soundhub.py).
context.properties = {{
    default.clock.rate = {self.rate}
    default.clock.allowed-rates = [ {self.rate} ]
    default.clock.min-quantum = 16
    vm.overrides = {{ }}
    core.daemon = true
    core.name = pipewire-0
    mem.allow-mlock = false
}}
context.spa-libs = {{
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}}
context.modules = [
    {{ name = libpipewire-module-rt flags = [ ifexists nofail ]
       args = {{ nice.level = -11 rt.prio = 88 }} }}
    {{ name = libpipewire-module-protocol-native }}
    {{ name = libpipewire-module-profiler }}
    {{ name = libpipewire-module-metadata }}
    {{ name = libpipewire-module-spa-node-factory }}
    {{ name = libpipewire-module-client-node }}
    {{ name = libpipewire-module-access args = {{ }} }}
    {{ name = libpipewire-module-adapter }}
    {{ name = libpipewire-module-link-factory }}
    {{ name = libpipewire-module-session-manager }}
]
context.objects = [
    {{ factory = spa-node-factory
       args = {{ factory.name = support.node.driver node.name = Dummy-Driver
                node.group = pipewire.dummy priority.driver = 20000 }} }}
    {{ factory = spa-node-factory
       args = {{ factory.name = support.node.driver node.name = Freewheel-Driver
                priority.driver = 19000 node.group = pipewire.freewheel node.freewheel = true }} }}
    {{ factory = adapter
       args = {{
           factory.name = support.null-audio-sink
           node.name = hub
           node.description = "showctl PipeWire sound hub"
           media.class = Audio/Sink
           audio.rate = {self.rate}
           audio.channels = {self.outputs}
           audio.position = [ {positions} ]
           object.linger = true
           monitor.channel-volumes = false
       }} }}{self._mic_object() if self.mic else ""}
]
context.exec = [ ]
"""
        )
        lua = self.folder / "config" / "wireplumber"
        (lua / "main.lua.d").mkdir(parents=True, exist_ok=True)
        (lua / "bluetooth.lua.d").mkdir(parents=True, exist_ok=True)
        # After Debian's 50-*-config.lua, before its 90-enable-all.lua.
        (lua / "main.lua.d" / "60-showctl-hub.lua").write_text(
            "-- The showctl hub's WirePlumber: no cards, cameras or saved state of the machine.\n"
            "alsa_monitor.enabled = false\n"
            "v4l2_monitor.enabled = false\n"
            "libcamera_monitor.enabled = false\n"
        )
        (lua / "bluetooth.lua.d" / "60-showctl-hub.lua").write_text(
            "bluez_monitor.enabled = false\n"
        )
        self._write_alsa_config()

    def _mic_object(self) -> str:
        """The microphone's node, for the hub's PipeWire configuration."""
        return f"""
    {{ factory = adapter
       args = {{
           factory.name = support.null-audio-sink
           node.name = mic
           node.description = "showctl PipeWire hub microphone"
           media.class = Audio/Source/Virtual
           audio.rate = {self.rate}
           audio.channels = 1
           audio.position = [ MONO ]
           object.linger = true
       }} }}"""

    def _write_alsa_config(self) -> None:
        """The hub's ALSA configuration: a PCM for every output but those unplugged, replaced
        at once (a process reading it sees the old one or the new one)."""
        lines = [
            "</usr/share/alsa/alsa.conf>",
            "pcm_type.pipewire {",
            f'    lib "{self.plugin}"',
            "}",
        ]
        for i in sorted(set(range(self.outputs)) - self.unplugged):
            lines += [
                f"pcm.{device_name(i)} {{",
                "    type pipewire",
                f'    playback_node "out{i}"',
                f'    hint {{ show on description "showctl PipeWire hub output {i}" }}',
                "}",
            ]
        if self.mic:
            lines += [
                f"pcm.{MIC} {{",
                "    type pipewire",
                '    capture_node "mic"',
                '    hint { show on description "showctl PipeWire hub microphone" }',
                "}",
            ]
        written = self.folder / "asound.conf.new"
        written.write_text("\n".join(lines) + "\n")
        written.replace(self.folder / "asound.conf")


class Recording:
    """A recording of the hub in progress, by ``pw-record`` of the hub sink's monitor into a file;
    :meth:`stop` returns the samples.

    The recorder asks for 200 ms of latency: with 20 ms it lost a block of 256 samples now and
    then (the samples after it came early), which no player had lost. Its channels are linked
    one by one, and a channel not linked yet records silence (the first 512 to 2048 samples of
    some channels, in recordings tried): the recording begins once every channel is linked, and
    a cycle of the graph later.

    It writes from its real-time thread, so into memory (``/dev/shm``) where there is one, not
    to a disk that may stall it. Even so it misses a cycle of the graph now and then, on every
    channel at once (at a 128-sample cycle, a few thousand samples in a minute on this
    project's build machine): the samples after it come earlier than :meth:`sample_at` says,
    and :func:`~tests.harness.analysis.skews` follows them."""

    def __init__(self, hub: SoundHub) -> None:
        self.hub = hub
        memory = Path("/dev/shm")
        folder = memory if memory.is_dir() and os.access(memory, os.W_OK) else hub.folder
        self.path = folder / f"showctl-recording-{os.getpid()}-{time.monotonic_ns()}.raw"
        name = self.path.stem
        self._process = subprocess.Popen(
            [
                "pw-record",
                "--target",
                "hub",
                "-P",
                f"{{ node.name = {name} stream.capture.sink = true node.dont-reconnect = true }}",
                f"--rate={hub.rate}",
                f"--channels={hub.outputs}",
                f"--channel-map={','.join(f'AUX{i}' for i in range(hub.outputs))}",
                "--format=s16",
                "--latency=200ms",
                str(self.path),
            ],
            env={**os.environ, **hub.env, **RT_CLIENT},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        hub._wait(lambda: hub._links_into(name) >= hub.outputs, "the hub's recorder")
        time.sleep(LONGEST_CYCLE / hub.rate * 2)
        frame = 2 * hub.outputs
        #: Where the recording begins in the recorder's file (bytes), and when, on the
        #: monotonic clock (to within the recorder's own buffering).
        self._offset = self.path.stat().st_size // frame * frame
        self.started = time.monotonic()

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
        data = np.fromfile(self.path, dtype=np.int16, offset=self._offset)
        self.path.unlink(missing_ok=True)
        frames = len(data) // self.hub.outputs
        return data[: frames * self.hub.outputs].reshape(frames, self.hub.outputs)


def main(argv: list[str]) -> int:
    mic = "--mic" in argv
    argv = [a for a in argv if a != "--mic"]
    command = argv[1] if len(argv) > 1 else "start"
    hub = SoundHub(outputs=int(argv[2]) if len(argv) > 2 else 8, mic=mic)
    if command == "start":
        hub.start()
        for key, value in hub.env.items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    if command == "stop":
        hub.stop()
        return 0
    print("usage: soundhub.py start [N] [--mic] | stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
