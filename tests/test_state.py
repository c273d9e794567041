"""The saved state: whole after any kill, never a reason to crash."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from structlog.testing import capture_logs

from showctl.saved_state import SavedState, load, save

WRITER = """
import sys, time
from pathlib import Path
from showctl.saved_state import SavedState, save
path, n = Path(sys.argv[1]), int(sys.argv[2])
print("writing", flush=True)
while True:
    n += 1
    save(path, SavedState("demo", f"scene{n}", time.time(), frozenset({f"flag{n}", "done"})))
"""


def test_state_round_trips_and_belongs_to_its_show(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = SavedState(
        "escape-room",
        "puzzles",
        1_790_000_000.25,
        frozenset({"door_open"}),
        {"wrong": 2},
        {"game": {"left": 1234.5, "running": True, "at": 1_790_000_100.0}},
        ({"name": "gears", "text": "Turn the gears.", "count": 1, "at": 1_790_000_050.5},),
        ("gallery", 12.5),
        {"left": -6.0, "master": -3.0},
    )
    save(path, state)
    assert load(path, "escape-room") == state
    with capture_logs() as logs:
        assert load(path, "demo") is None
    assert logs[0]["event"] == "state_of_another_show"
    assert load(tmp_path / "none.json", "demo") is None


def test_an_unusable_file_is_reported_and_taken_as_none(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    counters = '{"format": 1, "show": "demo", "scene": "a", "started": 1, "flags": [], '
    for text in (
        "{not json",
        '{"format": 99}',
        '{"format": 1, "show": "demo"}',
        "[]",
        counters + '"counters": []}',
        counters + '"counters": {"wrong": "many"}}',
    ):
        path.write_text(text)
        with capture_logs() as logs:
            assert load(path, "demo") is None
        assert [entry["event"] for entry in logs] == ["state_unusable"]


def test_killed_at_any_moment_the_file_is_whole(tmp_path: Path) -> None:
    """A writer saving as fast as it can is killed (SIGKILL) at random moments, again and
    again; after each kill the file holds a whole state, never older than the last one seen,
    and the next start-up clears the killed writers' temporary files."""
    path = tmp_path / "state.json"
    rng = random.Random(7)
    last = 0
    for _ in range(30):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(last)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "writing"
        time.sleep(rng.uniform(0.0, 0.03))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        state = load(path, "demo")
        if state is None:  # killed before its first save ended: only possible at the start
            assert last == 0
            continue
        n = int(state.scene.removeprefix("scene"))
        assert n >= last
        assert state.flags == {f"flag{n}", "done"}
        last = n
        assert not list(tmp_path.glob(".state.json.*.tmp"))
    assert last > 0
