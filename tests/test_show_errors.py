"""Every kind of mistake in a show file gets one located error that says what would be right."""

from __future__ import annotations

from pathlib import Path

import pytest

from showctl import settings
from showctl.errors import ShowError
from showctl.show import loader
from showctl.testing import write_wav
from tests.conftest import BASE, CheckFn


def errors(problems: list) -> list:
    return [p for p in problems if p.severity == "error"]


def test_base_show_is_clean(problems: CheckFn) -> None:
    """The template the other tests change has no problem at all."""
    assert problems(BASE) == []


# (what is changed in BASE, replaced by, the path reported, its line, a part of the message)
CASES = [
    pytest.param(
        "    audio:\n",
        "    audio: [\n",
        "",
        16,
        "YAML syntax: expected ',' or ']', but got ':' (while parsing a flow sequence "
        "that starts on line 14)",
        id="yaml-syntax",
    ),
    pytest.param(
        "rate: 48000}",
        "rat: 48000}",
        "outputs.left.rat",
        5,
        "unknown key 'rat' (did you mean 'rate'?)",
        id="unknown-key",
    ),
    pytest.param(
        "line: 10",
        "line: ten",
        "inputs.button.line",
        10,
        "expected a whole number, found 'ten'",
        id="wrong-type",
    ),
    pytest.param(
        "interval: 100ms",
        "interval: 1ms",
        "scenes.a.leds[0].interval",
        18,
        "must be at least 0.005 s, found 0.001",
        id="out-of-range",
    ),
    pytest.param(
        "interval: 100ms",
        "interval: soon",
        "scenes.a.leds[0].interval",
        18,
        "expected a duration such as 0.5, 250ms, 2s or 5min, found 'soon'",
        id="bad-duration",
    ),
    pytest.param(
        "left: tone.wav",
        "left: nope.wav",
        "scenes.a.audio.left",
        15,
        "'nope.wav' does not exist",
        id="media-missing",
    ),
    pytest.param(
        "left: tone.wav",
        "left: folder.wav",
        "scenes.a.audio.left",
        15,
        "'folder.wav' is not a file",
        id="media-not-a-file",
    ),
    pytest.param(
        "left: tone.wav",
        "left: garbage.wav",
        "scenes.a.audio.left",
        15,
        "'garbage.wav' cannot be read as audio",
        id="media-unreadable",
    ),
    pytest.param(
        "left: tone.wav",
        "left: tone.flac",
        "scenes.a.audio.left",
        15,
        "'tone.flac' is a FLAC file, not WAV",
        id="media-not-wav",
    ),
    pytest.param(
        "left: tone.wav",
        "left: stereo.wav",
        "scenes.a.audio.left",
        15,
        "'stereo.wav' has 2 channels",
        id="media-not-mono",
    ),
    pytest.param(
        "left: tone.wav",
        "left: {clip: slow.wav}",
        "scenes.a.audio.left.clip",
        15,
        "'slow.wav' is at 22050 Hz but its output runs at 48000 Hz",
        id="media-rate",
    ),
    pytest.param(
        "left: tone.wav",
        "left: cut.wav",
        "scenes.a.audio.left",
        15,
        "'cut.wav' is cut short",
        id="media-truncated",
    ),
    pytest.param(
        "left: tone.wav",
        "left: ../outside.wav",
        "scenes.a.audio.left",
        15,
        "'../outside.wav' lies outside the media folder 'media'",
        id="path-escapes",
    ),
    pytest.param(
        "left: tone.wav",
        "left: /etc/tone.wav",
        "scenes.a.audio.left",
        15,
        "give the clip relative to the media folder",
        id="path-absolute",
    ),
    pytest.param(
        "left: tone.wav",
        'left: "a\\0b.wav"',
        "scenes.a.audio.left",
        15,
        "'a\\x00b.wav' is not a usable file name",
        id="nul-in-name",
    ),
    pytest.param(
        "left: tone.wav",
        "left: " + "a" * 5000,
        "scenes.a.audio.left",
        15,
        "is not a usable file name",
        id="name-too-long",
    ),
    pytest.param(
        "  button: {line: 10}\n",
        "  button: {line: 10}\nrelays:\n  lock: {line: 10, safe: unpowered}\n",
        "relays.lock.line",
        12,
        "line 10 of /dev/gpiochip0 is already used by input 'button' (line 10); give each LED, "
        "input and relay its own line",
        id="relay-on-an-input-line",
    ),
    pytest.param(
        "  button: {line: 10}\n",
        "  button: {line: 10}\nrelays:\n  lock: {line: 11, safe: shut}\n",
        "relays.lock.safe",
        12,
        "expected one of unpowered, powered, found 'shut'",
        id="relay-safe-state",
    ),
    pytest.param(
        "  button: {line: 10}\n",
        "  button: {line: 10}\nrelays:\n  drawer: {line: 11, max_on: 1ms}\n",
        "relays.drawer.max_on",
        12,
        "must be at least 0.01 s, found 0.001",
        id="relay-max-on",
    ),
    pytest.param(
        "        to: b\n",
        "        to: b\n        do: {pulse: drawr, duration: 1s}\n",
        "scenes.a.transitions[0].do[0].pulse",
        22,
        "unknown relay 'drawr'; the show declares no relays",
        id="unknown-relay",
    ),
    pytest.param(
        "line: 10",
        "line: 5",
        "inputs.button.line",
        10,
        "line 5 of /dev/gpiochip0 is already used by the LED at row 1, column 1",
        id="line-used-twice",
    ),
    pytest.param(
        "        to: b",
        "        to: c",
        "scenes.a.transitions[0].to",
        21,
        "unknown scene 'c' (the scenes are: a, b)",
        id="unknown-scene",
    ),
    pytest.param(
        "      left: tone.wav",
        "      lft: tone.wav",
        "scenes.a.audio.lft",
        15,
        "unknown output 'lft' (did you mean 'left'?)",
        id="unknown-output",
    ),
    pytest.param(
        "input: button",
        "input: buton",
        "scenes.a.transitions[0].input",
        20,
        "unknown input 'buton' (did you mean 'button'?)",
        id="unknown-input",
    ),
    pytest.param(
        "blink: dot",
        "blink: dott",
        "scenes.a.leds[0].blink",
        17,
        "no LED or group named 'dott' (did you mean 'dot'?)",
        id="unknown-led",
    ),
    pytest.param(
        "blink: dot",
        "blink: [[2, 0]]",
        "scenes.a.leds[0].blink",
        17,
        "[2, 0] is outside the 2x3 matrix",
        id="led-outside-matrix",
    ),
    pytest.param(
        "blink: dot",
        "blink: row 7",
        "scenes.a.leds[0].blink",
        17,
        "'row 7' is outside the matrix, which has 2 rows",
        id="row-outside-matrix",
    ),
    pytest.param(
        "      - blink: dot\n        interval: 100ms\n",
        "      - frames: ['#..']\n        interval: 100ms\n",
        "scenes.a.leds[0].frames[0]",
        17,
        "this frame has 1 rows; the matrix has 2",
        id="frame-size",
    ),
    pytest.param(
        "      - blink: dot\n",
        "      - blonk: dot\n",
        "scenes.a.leds[0]",
        17,
        "(did you mean 'blink'?)",
        id="unknown-program",
    ),
    pytest.param(
        "      - blink: dot\n",
        "      - meter: left\n        blink: dot\n",
        "scenes.a.leds[0]",
        17,
        "give one program here, not several (meter, blink)",
        id="two-programs",
    ),
    pytest.param(
        "        to: b",
        "        to: b\n        when: [dne]",
        "scenes.a.transitions[0].when[0]",
        22,
        "unknown flag 'dne' (did you mean 'done'?)",
        id="unknown-flag",
    ),
    pytest.param(
        "      - input: button",
        "      - input: button\n        after: 2s",
        "scenes.a.transitions[0].after",
        21,
        "give one trigger per transition, not input and after",
        id="two-triggers",
    ),
    pytest.param(
        "      - input: button\n        to: b",
        "      - audio_end: left\n        to: b",
        "scenes.a.transitions[0].audio_end",
        20,
        "",
        id="audio-end-ok-but-none-expected",
    ),
    pytest.param(
        "      left: tone.wav",
        "      left: tone.wav\n      left: tone.wav",
        "scenes.a.audio.left",
        16,
        "'left' is given twice (first on line 15)",
        id="duplicate-key",
    ),
    pytest.param(
        "version: 1", "version: 2", "version", 1, "expected 1, found 2", id="wrong-version"
    ),
    pytest.param("version: 1\n", "", "", 1, "missing required key 'version'", id="missing-version"),
    pytest.param(
        "initial: a",
        "initial: z",
        "initial",
        2,
        "unknown scene 'z' (the scenes are: a, b)",
        id="unknown-initial",
    ),
    pytest.param(
        "flags: [done]",
        "flags: [done, done]",
        "flags[1]",
        11,
        "flag 'done' is declared twice",
        id="flag-twice",
    ),
    pytest.param(
        "flags: [done]",
        "flags: [done]\ncounters: [tries, tries]",
        "counters[1]",
        12,
        "counter 'tries' is declared twice",
        id="counter-twice",
    ),
    pytest.param(
        "        to: b\n  b:",
        "        do: {count: tries}\n        to: b\n  b:",
        "scenes.a.transitions[0].do[0].count",
        21,
        "unknown counter 'tries'; the show declares no counters",
        id="unknown-counter",
    ),
    pytest.param(
        "      - input: button\n",
        "      - input: button\n        when: tries >= 3\n",
        "scenes.a.transitions[0].when",
        21,
        "unknown counter 'tries'",
        id="unknown-counter-in-condition",
    ),
    pytest.param(
        "      - input: button\n",
        "      - input: button\n        when: done >= three\n",
        "scenes.a.transitions[0].when",
        21,
        "a counter compared with a number ('attempts >= 3')",
        id="comparison-not-a-number",
    ),
    pytest.param(
        "  b:\n",
        "  fault:\n    description: x\n  b:\n",
        "scenes.fault",
        22,
        "'fault' is the state showctl enters when the show cannot go on",
        id="scene-called-fault",
    ),
    pytest.param(
        "outputs:\n",
        "outputs:\n  all: {device: x}\n",
        "outputs.all",
        5,
        "'all' is a reserved word",
        id="reserved-output-name",
    ),
    pytest.param(
        "matrix:\n  lines: [[1, 2, 3], [4, 5, 6]]",
        "matrix:\n  lines: [[1, 2, 3], [4, 5]]",
        "matrix.lines[1]",
        7,
        "row 1 has 2 lines but row 0 has 3",
        id="ragged-matrix",
    ),
    pytest.param(
        "inputs:\n  button: {line: 10}",
        "inputs:\n  button: {line: 10, chip: spi0}",
        "inputs.button.chip",
        10,
        "expected a GPIO chip such as /dev/gpiochip0",
        id="bad-chip",
    ),
    pytest.param(
        "      - blink: dot\n        interval: 100ms",
        "      - forever: {sequence: [{on: dot}, {off: dot}]}",
        "scenes.a.leds[0].forever",
        17,
        "this program takes no time, so 'forever' would repeat it without end",
        id="forever-instant",
    ),
    pytest.param(
        "  lines: [[1, 2, 3], [4, 5, 6]]",
        "  lines: [[1, 2, 3], [4, 5, 6]]\n  row_lines: [20, 21]\n  column_lines: [22, 23, 24]",
        "matrix",
        6,
        "give either 'lines' (a line per LED) or 'row_lines' and 'column_lines' (multiplexed)",
        id="matrix-two-drives",
    ),
    pytest.param(
        "  lines: [[1, 2, 3], [4, 5, 6]]",
        "  row_lines: [20, 21]",
        "matrix",
        6,
        "a multiplexed matrix needs 'column_lines' as well as 'row_lines'",
        id="matrix-rows-only",
    ),
    pytest.param(
        "  lines: [[1, 2, 3], [4, 5, 6]]",
        "  active_low: true",
        "matrix",
        6,
        "the matrix needs its lines: 'lines' (a line per LED, a list per row) or",
        id="matrix-no-lines",
    ),
    pytest.param(
        "  lines: [[1, 2, 3], [4, 5, 6]]",
        "  row_lines: [20, 21]\n  column_lines: [22, 10, 24]",
        "inputs.button.line",
        11,
        "line 10 of /dev/gpiochip0 is already used by column 1 of the matrix (line 8)",
        id="matrix-column-line-twice",
    ),
]


@pytest.mark.parametrize(("old", "new", "path", "line", "message"), CASES)
def test_one_mistake_one_located_error(
    problems: CheckFn, show_dir: Path, old: str, new: str, path: str, line: int, message: str
) -> None:
    """Each mistake is reported once, at its line and path, with a message naming the fix."""
    (show_dir / "media" / "folder.wav").mkdir()
    (show_dir / "media" / "garbage.wav").write_bytes(b"RIFF not really a wave file")
    write_wav(show_dir / "media" / "tone.flac", format="FLAC")
    write_wav(show_dir / "media" / "stereo.wav", channels=2)
    write_wav(show_dir / "media" / "slow.wav", rate=22050)
    whole = write_wav(show_dir / "media" / "cut.wav", seconds=1.0).read_bytes()
    (show_dir / "media" / "cut.wav").write_bytes(whole[: len(whole) // 2])
    write_wav(show_dir / "outside.wav")
    assert old in BASE
    found = errors(problems(BASE.replace(old, new, 1)))
    if not message:  # a control case: a valid change reports nothing
        assert found == []
        return
    assert [(p.path, p.line) for p in found] == [(path, line)], found
    assert message in found[0].message


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param("", 1, "the show file is empty", id="empty"),
        pytest.param("# only a comment\n", 1, "the show file is empty", id="only-comment"),
        pytest.param(
            "version: 1\n---\nversion: 1\n", 2, "expected a single document", id="two-documents"
        ),
        pytest.param("- a\n- b\n", 1, "expected a mapping, found a list", id="not-a-mapping"),
        pytest.param("a: &x [*x]\n", 1, "", id="alias-cycle"),
        pytest.param("version: 1\n\tinitial: a\n", 2, "YAML syntax", id="tab-indent"),
        pytest.param(
            "x: " + "[" * 100 + "]" * 100 + "\n", 1, "nested more than 64 levels", id="deep-nesting"
        ),
        pytest.param("? [a]\n: 1\n", 1, "keys must be text, found a list", id="list-key"),
        pytest.param("version: !!int one\n", 1, "cannot read this value", id="bad-tag"),
        pytest.param("version: !custom 1\n", 1, "cannot read this value", id="unknown-tag"),
    ],
)
def test_documents_that_are_not_shows(
    problems: CheckFn, text: str, line: int, message: str
) -> None:
    """Broken documents give located errors, never an exception."""
    found = errors(problems(text))
    assert [p.line for p in found if message in p.message][:1] == [line], found


def test_alias_cycle_is_an_error_not_a_hang(problems: CheckFn) -> None:
    found = problems("version: 1\ninitial: a\nscenes: &s {a: {transitions: [{to: *s}]}}\n")
    assert any("alias refers to a value that contains it" in p.message for p in found)


def test_alias_bomb_is_refused(problems: CheckFn) -> None:
    """A "billion laughs" of nested programs stops at a bound instead of eating the memory."""
    bomb = "{sequence: [" + ", ".join(["{hold: 1s}"] * 10) + "]}"
    programs = [f"&p0 {bomb}"]
    for i in range(1, 9):  # 10**9 programs once expanded
        programs.append(f"&p{i} {{sequence: [{', '.join([f'*p{i - 1}'] * 10)}]}}")
    cues = "".join(f"      - forever: {p}\n" for p in programs)
    text = BASE.replace("      - blink: dot\n        interval: 100ms\n", cues)
    found = errors(problems(text))
    assert [p.message for p in found] == ["the document expands to more than 100000 values"]


def test_not_utf8(show_dir: Path) -> None:
    path = show_dir / "show.yaml"
    path.write_bytes(b"version: 1\nname: caf\xe9\n")
    _, found = loader.check(path)
    assert [(p.line, p.column) for p in found] == [(2, 10)]
    assert "not UTF-8" in found[0].message


def test_missing_file_is_one_error(tmp_path: Path) -> None:
    _, found = loader.check(tmp_path / "nowhere.yaml")
    assert len(found) == 1
    assert "cannot read the show file" in found[0].message


def test_missing_media_folder(problems: CheckFn) -> None:
    found = errors(problems(BASE.replace("media: media", "media: medai")))
    assert [p.path for p in found] == ["media"]
    assert "the media folder 'medai'" in found[0].message


def test_unusable_media_folder_name(problems: CheckFn) -> None:
    found = errors(problems(BASE.replace("media: media", 'media: "me\\0dia"')))
    assert [(p.path, p.message) for p in found] == [
        ("media", "'me\\x00dia' is not a usable folder name")
    ]


def test_symlink_out_of_media_folder_escapes(problems: CheckFn, show_dir: Path) -> None:
    """A link inside the media folder to a file outside it is outside it."""
    outside = write_wav(show_dir / "secret.wav")
    (show_dir / "media" / "link.wav").symlink_to(outside)
    found = errors(problems(BASE.replace("left: tone.wav", "left: link.wav")))
    assert ["lies outside the media folder" in p.message for p in found] == [True]


def test_warnings_unreachable_and_no_way_out(problems: CheckFn) -> None:
    text = BASE + "  lonely:\n    description: nobody comes here\n"
    found = problems(text)
    assert [(p.severity, p.path, p.message) for p in found] == [
        ("warning", "scenes.lonely", "scene 'lonely' cannot be reached from the initial scene 'a'"),
        (
            "warning",
            "scenes.lonely",
            "scene 'lonely' has no way out: no transition leads to another scene",
        ),
    ]


def test_audio_end_that_never_comes(problems: CheckFn) -> None:
    text = BASE.replace("left: tone.wav", "left: {clip: tone.wav, loop: true}").replace(
        "      - input: button\n", "      - audio_end: left\n"
    )
    found = errors(problems(text))
    assert [(p.path, p.message) for p in found] == [
        (
            "scenes.a.transitions[0].audio_end",
            "output 'left' loops in this scene, so it never ends",
        ),
    ]


def test_meter_needs_sound(problems: CheckFn) -> None:
    text = BASE.replace("left: tone.wav", "left: silence").replace(
        "      - blink: dot\n        interval: 100ms\n", "      - meter: left\n"
    )
    found = errors(problems(text))
    assert [p.path for p in found] == ["scenes.a.leds[0].meter"]
    assert "plays nothing in this scene" in found[0].message


def test_every_error_at_once(problems: CheckFn) -> None:
    """Mistakes in different places are all reported in one run, in document order."""
    text = (
        BASE.replace("rate: 48000}", "rate: 48000, chanels: 2}")
        .replace("line: 10", "line: -1")
        .replace("interval: 100ms", "interval: 0")
        .replace("        to: a", "        to: nowhere")
    )
    found = errors(problems(text))
    assert [p.path for p in found] == [
        "outputs.left.chanels",
        "inputs.button.line",
        "scenes.a.leds[0].interval",
        "scenes.b.transitions[0].to",
    ]


def test_load_raises_show_error_with_every_error(show_dir: Path) -> None:
    path = show_dir / "show.yaml"
    path.write_text(BASE.replace("line: 10", "line: x").replace("to: b", "to: q"))
    with pytest.raises(ShowError) as caught:
        loader.load(path)
    assert [p.path for p in caught.value.problems] == [
        "inputs.button.line",
        "scenes.a.transitions[0].to",
    ]
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"{path}:10:")


def test_ten_mistakes_ten_errors(tmp_path: Path) -> None:
    """The show with ten different mistakes in tests/data gets ten located errors in one run."""
    source = Path(__file__).parent / "data" / "ten-mistakes.yaml"
    path = tmp_path / "ten-mistakes.yaml"
    path.write_text(source.read_text())
    write_wav(tmp_path / "media" / "left.wav")
    write_wav(tmp_path / "media" / "stereo.wav", channels=2)
    write_wav(tmp_path / "outside.wav")
    _, found = loader.check(path)
    assert [(p.line, p.path) for p in errors(found)] == [
        (7, "outputs.right.rte"),
        (12, "inputs.button.line"),
        (13, "inputs.door.edge"),
        (19, "scenes.intro.audio.left"),
        (20, "scenes.intro.audio.right.clip"),
        (24, "scenes.intro.leds[1].off[1]"),
        (27, "scenes.intro.leds[2].interval"),
        (29, "scenes.intro.transitions[0].input"),
        (32, "scenes.intro.transitions[1].to"),
        (36, "scenes.outro.audio.left"),
    ]


ROOM = """\
version: 1
initial: a
inputs:
  panic: {line: 10}
relays:
  drawer: {line: 11, max_on: 2s}
  light: {line: 12, safe: powered, max_on: 1s}
emergency: {inputs: [panik]}
scenes:
  a:
    on_enter:
      - {pulse: drawer, duration: 3s}
      - {publish: "room1/+/open"}
      - {http: "http://:8080/hook"}
      - {http: "http://desk:99999/hook"}
      - {osc: /cue/1/go, to: desk}
      - {serial: chset, send: OPEN}
    timeline:
      - {at: 1s, power: drawr}
    transitions:
      - {input: panic, to: a}
"""


def test_every_mistake_on_the_room_is_located(tmp_path: Path) -> None:
    """Relays, the emergency and the messages to props, checked against a settings file."""
    settings_path = tmp_path / "settings.toml"
    settings_path.write_text(
        '[osc.targets]\nlighting-desk = "127.0.0.1:7700"\n'
        '[props.chest]\nserial = "/dev/serial/by-id/usb-chest"\n'
    )
    path = tmp_path / "room.yaml"
    path.write_text(ROOM)
    _, found = loader.check(path, settings=settings.load(settings_path))
    assert [(p.line, p.path, p.message) for p in errors(found)] == [
        (
            7,
            "relays.light.max_on",
            "relay 'light' is safe powered, so cutting it after max_on would take it out of its "
            "safe state; remove max_on, or make it safe unpowered",
        ),
        (8, "emergency.inputs[0]", "unknown input 'panik' (did you mean 'panic'?)"),
        (
            12,
            "scenes.a.on_enter[0].duration",
            "a pulse of 3s is longer than relay 'drawer' may stay powered (its max_on, 2s); "
            "make it 2s or less",
        ),
        (
            13,
            "scenes.a.on_enter[1].publish",
            "expected an MQTT topic without wildcards (+ or #), found 'room1/+/open'",
        ),
        (
            14,
            "scenes.a.on_enter[2].http",
            "'http://:8080/hook' names no host; write one such as http://192.168.1.30/hook",
        ),
        (
            15,
            "scenes.a.on_enter[3].http",
            "'http://desk:99999/hook' is not a URL (Port out of range 0-65535); write one such as "
            "http://192.168.1.30/hook",
        ),
        (
            16,
            "scenes.a.on_enter[4].to",
            f"no OSC target 'desk' in {settings_path} (it has: lighting-desk); add it as "
            'desk = "HOST:PORT" under [osc.targets]',
        ),
        (
            17,
            "scenes.a.on_enter[5].serial",
            f"no serial prop 'chset' in {settings_path} (it has: chest); add [props.chset] with "
            'serial = "/dev/serial/by-id/..."',
        ),
        (19, "scenes.a.timeline[0].power", "unknown relay 'drawr' (did you mean 'drawer'?)"),
    ]


#: BASE with a counter and a game clock, whose end scene a takes.
CLOCKED = BASE.replace(
    "flags: [done]\n",
    "flags: [done]\ncounters: [tries]\nclocks:\n  game: {length: 1h, at_zero: time-up}\n",
).replace("        to: b\n", "        to: b\n      - event: time-up\n        to: b\n", 1)


def test_a_clocked_show_is_clean(problems: CheckFn) -> None:
    assert problems(CLOCKED) == []


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "      - event: time-up\n",
            "      - event: time-up\n        when: game < 5 minutes\n",
            "scenes.a.transitions[1].when",
            "clock 'game' is compared with a time left, such as 5min or 90s; '5 minutes' is "
            "not one",
        ),
        (
            "      - event: time-up\n",
            "      - event: time-up\n        when: tries < 5min\n",
            "scenes.a.transitions[1].when",
            "counter 'tries' counts in whole numbers; compare it with one, not '5min'",
        ),
        (
            "      - event: time-up\n",
            "      - event: time-up\n        when: gmae < 5min\n",
            "scenes.a.transitions[1].when",
            "unknown counter or clock 'gmae' (did you mean 'game'?)",
        ),
        (
            "      - event: time-up\n",
            "      - event: time-up\n        do: {start_clock: gmae}\n",
            "scenes.a.transitions[1].do[0].start_clock",
            "unknown clock 'gmae' (did you mean 'game'?)",
        ),
        (
            "      - event: time-up\n",
            "      - event: time-up\n        do: {add_time: game, time: 25h}\n",
            "scenes.a.transitions[1].do.time",
            "must be at most 86400 s, found 90000",
        ),
        (
            "counters: [tries]",
            "counters: [game]",
            "clocks.game",
            "'game' names a clock and a counter, and a condition compares either; rename one "
            "of them",
        ),
        (
            "{length: 1h,",
            "{length: 0s,",
            "clocks.game.length",
            "must be at least 1 s, found 0",
        ),
    ],
    ids=[
        "bad-time",
        "counter-with-time",
        "unknown-clock-compared",
        "unknown-clock",
        "absurd-time",
        "clock-and-counter",
        "no-length",
    ],
)
def test_clock_mistakes(problems: CheckFn, old: str, new: str, path: str, message: str) -> None:
    assert old in CLOCKED
    found = errors(problems(CLOCKED.replace(old, new, 1)))
    assert [(p.path, p.message) for p in found] == [(path, message)]


def test_a_clock_whose_end_no_scene_takes_is_a_warning(problems: CheckFn) -> None:
    text = CLOCKED.replace("      - event: time-up\n        to: b\n", "")
    assert [(p.severity, p.path, p.message) for p in problems(text)] == [
        (
            "warning",
            "clocks.game.at_zero",
            "clock 'game' fires the event 'time-up' at zero, but no scene takes it, so nothing "
            "happens then; add '- event: time-up' to the transitions of the scenes it ends",
        )
    ]


#: BASE with a sound on its output.
SOUNDED = BASE.replace(
    "flags: [done]\n", "flags: [done]\nsounds:\n  creak: {clip: tone.wav, output: left}\n"
)


def test_a_show_with_sounds_is_clean(problems: CheckFn) -> None:
    assert problems(SOUNDED) == []


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "output: left}",
            "output: lft}",
            "sounds.creak.output",
            "unknown output 'lft' (did you mean 'left'?)",
        ),
        (
            "{clip: tone.wav,",
            "{clip: stereo.wav,",
            "sounds.creak.clip",
            "'stereo.wav' has 2 channels; each output plays one mono WAV: mix it down",
        ),
        (
            "{clip: tone.wav,",
            "{clip: slow.wav,",
            "sounds.creak.clip",
            "'slow.wav' is at 22050 Hz but its output runs at 48000 Hz; resample it to 48000 Hz",
        ),
        (
            "{clip: tone.wav,",
            "{clip: nothing.wav,",
            "sounds.creak.clip",
            "'nothing.wav' does not exist; check the name and the media folder",
        ),
        (
            "output: left}",
            "output: left, gain: 20}",
            "sounds.creak.gain",
            "must be at most 12, found 20",
        ),
        (
            "        to: b\n",
            "        to: b\n        do: {sound: craek}\n",
            "scenes.a.transitions[0].do[0].sound",
            "unknown sound 'craek' (did you mean 'creak'?)",
        ),
    ],
    ids=["unknown-output", "stereo", "wrong-rate", "missing", "too-loud", "unknown-sound"],
)
def test_sound_mistakes(
    problems: CheckFn, show_dir: Path, old: str, new: str, path: str, message: str
) -> None:
    write_wav(show_dir / "media" / "stereo.wav", channels=2)
    write_wav(show_dir / "media" / "slow.wav", rate=22050)
    assert old in SOUNDED
    found = errors(problems(SOUNDED.replace(old, new, 1)))
    assert [(p.path, p.message) for p in found] == [(path, message)]


#: BASE with a hint of each kind: a text, a clip, both; and a condition on the hints given.
HINTED = BASE.replace(
    "flags: [done]\n",
    "flags: [done]\nhints:\n  gears: {text: Turn it the other way., clip: tone.wav, output: left}\n"
    "  map: {text: Upside down.}\n  knock: {clip: tone.wav, output: left}\n",
).replace("        to: b\n", "        to: b\n      - when: hints >= 3\n        to: b\n", 1)


def test_a_show_with_hints_is_clean(problems: CheckFn) -> None:
    assert problems(HINTED) == []


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "  map: {text: Upside down.}",
            "  map: {}",
            "hints.map",
            "hint 'map' has neither a text nor a clip; give it one or both",
        ),
        (
            "  map: {text: Upside down.}",
            "  map: {text: Upside down., clip: tone.wav}",
            "hints.map.clip",
            "hint 'map' has a clip but no output; add 'output: NAME'",
        ),
        (
            "  map: {text: Upside down.}",
            "  map: {text: Upside down., output: left}",
            "hints.map.output",
            "hint 'map' has an output but no clip to play on it; add 'clip: FILE'",
        ),
        (
            "{clip: tone.wav, output: left}\n",
            "{clip: tone.wav, output: lft}\n",
            "hints.knock.output",
            "unknown output 'lft' (did you mean 'left'?)",
        ),
        (
            "{clip: tone.wav, output: left}\n",
            "{clip: slow.wav, output: left}\n",
            "hints.knock.clip",
            "'slow.wav' is at 22050 Hz but its output runs at 48000 Hz; resample it to 48000 Hz",
        ),
        (
            "{clip: tone.wav, output: left}\n",
            "{clip: nothing.wav, output: left}\n",
            "hints.knock.clip",
            "'nothing.wav' does not exist; check the name and the media folder",
        ),
        (
            "      - when: hints >= 3\n",
            "      - when: hints >= 3\n        do: {hint: gaers}\n",
            "scenes.a.transitions[1].do[0].hint",
            "unknown hint 'gaers' (did you mean 'gears'?)",
        ),
        (
            "      - when: hints >= 3\n",
            "      - when: hints >= three\n",
            "scenes.a.transitions[1].when",
            "expected a flag name, 'not' and a flag name, a counter compared with a number "
            "('attempts >= 3'), or a game clock compared with a time ('game < 5min'), found "
            "'hints >= three'",
        ),
        (
            "      - when: hints >= 3\n",
            "      - when: hints >= 3\n        do: {count: hints}\n",
            "scenes.a.transitions[1].do[0].count",
            "'hints' counts the hints given; give one with {hint: NAME} rather than counting it",
        ),
        (
            "flags: [done]\n",
            "flags: [done]\ncounters: [hints]\n",
            "counters[0]",
            "'hints' is showctl's own counter of the hints given; conditions read it without "
            "declaring it, so remove it here (or name yours otherwise)",
        ),
    ],
    ids=[
        "empty",
        "clip-without-output",
        "output-without-clip",
        "unknown-output",
        "wrong-rate",
        "missing",
        "unknown-hint",
        "bad-count",
        "hints-counted",
        "hints-declared",
    ],
)
def test_hint_mistakes(
    problems: CheckFn, show_dir: Path, old: str, new: str, path: str, message: str
) -> None:
    write_wav(show_dir / "media" / "slow.wav", rate=22050)
    assert old in HINTED
    found = errors(problems(HINTED.replace(old, new, 1)))
    assert [(p.path, p.message) for p in found] == [(path, message)]
