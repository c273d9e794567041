"""A show played by several boxes: the show file says which box each output, input, relay and
the matrix is wired to, and every way of getting that wrong is one located error."""

from __future__ import annotations

from pathlib import Path

import pytest

from showctl import settings
from showctl.cli import main
from showctl.show import loader
from tests.conftest import ROOT, CheckFn

TWO_BOXES = """\
version: 1
initial: a
media: media
outputs:
  left: {device: "hw:CARD=a"}
  right: {device: "hw:CARD=a"}
matrix:
  lines: [[1, 2]]
inputs:
  button: {line: 10}
  door: {line: 10}
relays:
  lock: {line: 11, safe: unpowered}
boxes:
  hall: {outputs: [left], inputs: [button], matrix: true}
  annex: {outputs: [right], inputs: [door], relays: [lock]}
scenes:
  a:
    audio: {left: tone.wav, right: tone.wav}
    transitions:
      - {input: button, to: b}
      - {input: door, to: b}
  b:
    transitions:
      - {after: 1s, to: a}
"""


def test_parts_on_boxes_of_their_own_may_share_devices_and_lines(problems: CheckFn) -> None:
    """Each box has its own sound cards and GPIO chip: the same card name, the same line."""
    assert problems(TWO_BOXES) == []


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        pytest.param(
            "outputs: [left], inputs",
            "outputs: [], inputs",
            "outputs.left",
            "output 'left' is on no box: list it in the outputs of the box it is wired to "
            "(boxes: hall, annex)",
            id="output-on-no-box",
        ),
        pytest.param(
            "outputs: [right]",
            "outputs: [right, left]",
            "boxes.annex.outputs[1]",
            "output 'left' is already on box 'hall': it is wired to one box",
            id="two-boxes-claim-an-output",
        ),
        pytest.param(
            "outputs: [right]",
            "outputs: [rihgt]",
            "boxes.annex.outputs[0]",
            "unknown output 'rihgt' (did you mean 'right'?)",
            id="unknown-output-on-a-box",
        ),
        pytest.param(
            "relays: [lock]",
            "relays: []",
            "relays.lock",
            "relay 'lock' is on no box",
            id="relay-on-no-box",
        ),
        pytest.param(
            "inputs: [door]",
            "inputs: [door], matrix: true",
            "boxes.annex.matrix",
            "the matrix is already on box 'hall': it is wired to one box",
            id="two-boxes-claim-the-matrix",
        ),
        pytest.param(
            "inputs: [button], matrix: true",
            "inputs: [button]",
            "matrix",
            "the matrix is on no box: give the box it is wired to 'matrix: true'",
            id="matrix-on-no-box",
        ),
        pytest.param(
            "relays:\n  lock: {line: 11",
            "relays:\n  lock: {line: 10",
            "relays.lock.line",
            "line 10 of /dev/gpiochip0 is already used by input 'door'",
            id="a-line-used-twice-on-one-box",
        ),
    ],
)
def test_a_part_on_no_box_or_two_is_one_located_error(
    problems: CheckFn, old: str, new: str, path: str, message: str
) -> None:
    assert old in TWO_BOXES
    found = [p for p in problems(TWO_BOXES.replace(old, new, 1)) if p.severity == "error"]
    assert [p.path for p in found] == [path]
    assert message in found[0].message


@pytest.mark.parametrize(
    ("box", "message"),
    [
        pytest.param(
            'name = "hal"\nleader = "hall"',
            "this box is 'hal' ([box] name in SETTINGS), and the show's boxes are: hall, annex; "
            "set [box] name to one of them",
            id="unknown-box",
        ),
        pytest.param(
            'name = "annex"\nleader = "lobby"',
            "SETTINGS names leader 'lobby', and the show's boxes are: hall, annex; set [box] "
            "leader to the box that runs the scenes",
            id="unknown-leader",
        ),
        pytest.param('name = "annex"\nleader = "hall"', "", id="a-box-and-its-leader"),
    ],
)
def test_the_settings_name_this_box_and_the_leader_among_the_shows_boxes(
    show_dir: Path, box: str, message: str
) -> None:
    path = show_dir / "show.yaml"
    path.write_text(TWO_BOXES)
    written = show_dir / "settings.toml"
    written.write_text(f"[box]\n{box}\n")
    found = [
        p for p in loader.check(path, settings=settings.load(written))[1] if p.severity == "error"
    ]
    if not message:
        assert found == []
        return
    assert [(p.path, p.message) for p in found] == [
        ("boxes", message.replace("SETTINGS", str(written)))
    ]


@pytest.mark.parametrize(
    ("box", "says"),
    [
        ("", "this box is '"),  # its host name, no box of the show
        ('name = "south-room"\nleader = "north-room"', "set [mqtt] host to their broker"),
    ],
)
def test_run_refuses_a_box_it_cannot_play_the_show_on_saying_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], box: str, says: str
) -> None:
    written = tmp_path / "settings.toml"
    written.write_text(f"[web]\nport = 0\n[box]\n{box}\n" if box else "[web]\nport = 0\n")
    show = str(ROOT / "shows" / "two-rooms.yaml")
    assert main(["run", "--sim", show, "--settings", str(written)]) == 1
    assert says in capsys.readouterr().err
