"""The parts of a show across boxes that need no second box: the wall clock mapped onto the
monotonic clock (also in a time namespace of its own, as each box of the tests runs), and the
leader's messages, refused when they are not for this box's show."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from showctl.multibox import messages, wallclock


def test_a_wall_clock_time_maps_onto_the_monotonic_clock_and_back() -> None:
    clock = wallclock.WallClock()
    offset = clock.read()
    assert offset.within < 0.001
    wall = clock.to_wall_ns(1000.0)
    assert clock.to_monotonic(wall) == pytest.approx(1000.0, abs=1e-3)


def test_a_step_of_the_wall_clock_is_noticed_and_a_slew_is_not() -> None:
    now = {"wall": 1.8e18, "mono": 100.0}
    steps: list[float] = []

    def tick() -> float:
        now["mono"] += 1e-6
        return now["mono"]

    clock = wallclock.WallClock(lambda: int(now["wall"]), tick, steps.append)
    clock.read()
    now["wall"] += 0.0002e9  # chrony's slew: 0.2 ms
    clock.read()
    assert steps == []
    now["wall"] += 2.0e9  # stepped 2 s
    clock.read()
    assert steps == [pytest.approx(2.0, abs=1e-4)]


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_in_a_time_namespace_the_same_wall_time_maps_to_its_own_monotonic_time() -> None:
    """A box whose monotonic clock is 5000 s ahead (a time namespace, as the harness runs
    each box): one wall-clock T0 lands 5000 s later on its monotonic clock."""
    program = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); "
        "from showctl.multibox.wallclock import WallClock; "
        "print(WallClock().read().offset)"
    )
    root = str(Path(__file__).resolve().parents[1])
    inside = subprocess.run(
        ["unshare", "--time", "--monotonic", "5000", "--fork", sys.executable, "-c", program, root],
        capture_output=True,
        text=True,
        check=False,
    )
    if inside.returncode != 0 and "Operation not permitted" in inside.stderr:
        pytest.skip("time namespaces need root (CI has it)")
    assert inside.returncode == 0, inside.stderr
    outside = wallclock.WallClock().read().offset
    assert outside - float(inside.stdout) == pytest.approx(5000.0, abs=0.01)


SHOW = "0123456789abcdef"


def start(**changes: object) -> bytes:
    message = {"show": SHOW, "leader": "hall", "entry": 3, "scene": "tides", "t0_ns": 10**18}
    return json.dumps({**message, **changes}).encode()


def test_a_scene_start_goes_and_comes_back_whole() -> None:
    sent = messages.SceneStart(SHOW, "hall", 3, "tides", 1_800_000_000_123_456_789, at=12.5)
    assert messages.decode(sent.encode(), SHOW) == sent
    assert messages.decode(start(), SHOW).at == 0.0


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"{nope", "not a scene start: not JSON"),
        (b"[1, 2]", "not a scene start: not a JSON object"),
        (start(t0_ns="soon"), "not a scene start: 't0_ns' is 'soon'"),
        (start(entry=True), "not a scene start: 'entry' is True"),
        (
            start(show="fedcba9876543210"),
            "the leader 'hall' plays another show (digest fedcba9876543210, this box's "
            "0123456789abcdef): copy the same show file to every box",
        ),
    ],
)
def test_a_message_that_is_not_for_this_show_is_refused_saying_why(
    payload: bytes, says: str
) -> None:
    with pytest.raises(messages.Refused) as refused:
        messages.decode(payload, SHOW)
    assert str(refused.value).startswith(says)


def test_the_digest_is_the_show_files(tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    show.write_text("version: 1\n")
    first = messages.digest(show)
    assert len(first) == messages.DIGEST_DIGITS
    show.write_text("version: 1\n# edited on one box\n")
    assert messages.digest(show) != first
