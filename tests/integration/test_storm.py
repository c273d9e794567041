"""A storm of triggers against ``showctl run`` on the real audio path.

The controller runs as people run it, its players on the virtual sound hub through the real
backend. Another process sends 1000 trigger requests a second for 10 seconds over the control
socket: events the show does not know, events the scene does not listen to, and one it listens
to that changes nothing after the first time. Meanwhile this test asks for the status ten times
a second. Afterwards: every status came back within 100 ms, every trigger was counted, the
audio had no underrun, and the show is where it was.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.harness.analysis import noise_clip
from tests.harness.soundhub import SoundHub, device_name

RATE = 1000  # requests a second
SECONDS = 10.0

SHOW = """\
version: 1
initial: a
outputs:
  left: {{device: "{left}"}}
  right: {{device: "{right}"}}
flags: [poked]
scenes:
  a:
    audio:
      left: {{clip: left.wav, loop: true}}
      right: {{clip: right.wav, loop: true}}
    transitions:
      - {{event: poke, do: {{set: poked}}}}
      - {{event: leave, when: not poked, to: b}}
  b:
    transitions:
      - {{event: back, to: a}}
"""

#: The storm: a separate process, so that its own work does not delay the status requests.
STORM = textwrap.dedent(
    """
    import json, socket, sys, time
    path, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    names = ["nonsense", "back", "poke"]
    start, sent, refused = time.monotonic(), 0, 0
    while (due := start + sent / rate) < start + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            s.sendall(json.dumps({"cmd": "trigger", "name": names[sent % 3]}).encode() + b"\\n")
            answer = json.loads(s.makefile().readline())
        refused += not answer["ok"]
        sent += 1
    print(json.dumps({"sent": sent, "refused": refused, "seconds": time.monotonic() - start}))
    """
)


def ask(path: Path, message: dict) -> dict:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(path))
        s.sendall(json.dumps(message).encode() + b"\n")
        return json.loads(s.makefile().readline())


def test_a_storm_of_triggers_leaves_status_quick_and_the_audio_whole(tmp_path: Path) -> None:
    for name, seed in (("left", 1), ("right", 2)):
        noise_clip(tmp_path / f"{name}.wav", seed=seed, seconds=1.0)
    show = tmp_path / "storm.yaml"
    show.write_text(SHOW.format(left=device_name(0), right=device_name(1)))
    control = tmp_path / "control.sock"
    with SoundHub(2) as hub:
        controller = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "showctl",
                "run",
                str(show),
                "--socket",
                str(control),
                "--state",
                str(tmp_path / "state.json"),
            ],
            env={**os.environ, **hub.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not control.exists():
                assert controller.poll() is None, "the controller ended"
                assert time.monotonic() < deadline, "the controller did not listen in 60 s"
                time.sleep(0.1)
            ask(control, {"cmd": "trigger", "name": "poke"})  # changes something, once
            storm = subprocess.Popen(
                [sys.executable, "-c", STORM, str(control), str(RATE), str(SECONDS)],
                stdout=subprocess.PIPE,
                text=True,
            )
            waits = []
            while storm.poll() is None:
                asked = time.monotonic()
                status = ask(control, {"cmd": "status"})
                waits.append(time.monotonic() - asked)
                time.sleep(0.1)
            sent = json.loads(storm.stdout.read())
            status = ask(control, {"cmd": "status"})
        finally:
            controller.send_signal(signal.SIGTERM)
            assert controller.wait(timeout=15) == 0
    assert sent["sent"] >= 0.9 * RATE * SECONDS, f"the storm was weaker than asked: {sent}"
    assert len(waits) >= 50
    assert max(waits) < 0.1, f"status took up to {max(waits) * 1000:.0f} ms"
    print(f"{sent}; status answered within {max(waits) * 1000:.1f} ms; {status['triggers']}")
    triggers = status["triggers"]
    third = sent["sent"] // 3
    assert triggers["unknown"] >= third, "every unknown event is counted"
    assert triggers["ignored"] >= third, "every event the scene does not hear is counted"
    assert triggers["handled"] >= third, "the poke the scene hears (changing nothing)"
    assert sent["refused"] == triggers["unknown"]
    assert (status["scene"], status["flags"]) == ("a", ["poked"])
    assert {name: (o["underruns"], o["xruns"]) for name, o in status["outputs"].items()} == {
        "left": (0, 0),
        "right": (0, 0),
    }, "no sample late, from the disk or to the device"
    assert all(o["alive"] and o["playing"] for o in status["outputs"].values())
