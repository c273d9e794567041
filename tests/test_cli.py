"""The command line: check's output format and exit status, schema, walk, errors for people."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from showctl.cli import main
from tests.conftest import BASE, ROOT

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<path>\S+): (?P<msg>.+)$")


def write(folder: Path, text: str, name: str = "show.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_check_prints_one_located_line_per_error(
    show_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(show_dir, BASE.replace("line: 10", "line: x").replace("to: b", "to: bb"))
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{path}:10:18: inputs.button.line: expected a whole number, found 'x'",
        f"{path}:21:13: scenes.a.transitions[0].to: unknown scene 'bb' (did you mean 'b'?)",
        f"{path}:22:3: scenes.b: warning: scene 'b' cannot be reached from the initial scene 'a'",
        f"{path}: 2 errors, 1 warning: not loadable",
    ]
    assert all(LINE.match(line) for line in out[:-1])


def test_warnings_pass_unless_strict(show_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(show_dir, BASE + "  island:\n    description: unreachable\n")
    assert main(["check", str(path)]) == 0
    assert main(["check", "--strict", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:26:3: scenes.island: warning: scene 'island' cannot be reached" in out
    assert f"{path}: 0 errors, 2 warnings: ok" in out


def test_check_several_files_summarises(show_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(show_dir, BASE, "good.yaml")
    bad = write(show_dir, "version: 1\n", "bad.yaml")
    assert main(["check", str(good), str(bad)]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == "2 show files: 2 errors, 0 warnings"


def test_schema_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert '"title": "showctl show file, format version 1"' in printed
    assert main(["schema", "--out", str(tmp_path / "s.json")]) == 0
    assert (tmp_path / "s.json").read_text() == printed


def test_walk_refuses_a_broken_show_without_traceback(show_dir: Path) -> None:
    path = write(show_dir, BASE.replace("initial: a", "initial: nope"))
    result = subprocess.run(
        [sys.executable, "-m", "showctl", "walk", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{path}:2:10: initial: unknown scene 'nope' (the scenes are: a, b)",
        f"{path}: 1 error; run 'showctl check {path}' after correcting them",
    ]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["walk", "x.yaml", "--speed", "0"])
    assert exit_.value.code == 2
    assert "must be more than 0" in capsys.readouterr().err


def test_console_script_and_module_agree() -> None:
    """`python -m showctl` is the same program as the `showctl` script."""
    script = Path(sys.executable).with_name("showctl")
    outputs = [
        subprocess.run(
            [*cmd, "check", str(ROOT / "shows" / "demo.yaml")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for cmd in ([str(script)], [sys.executable, "-m", "showctl"])
    ]
    assert outputs[0] == outputs[1] == f"{ROOT / 'shows' / 'demo.yaml'}: 0 errors, 0 warnings: ok\n"
