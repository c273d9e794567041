"""Reading a show file: YAML to the model's frozen dataclasses, with every problem found.

:func:`load` reads a show or raises :class:`~showctl.errors.ShowError` carrying every error,
each with its file, line, column and path in the document. :func:`check` returns the problems
(warnings included) without raising. The structure is converted by :mod:`._convert`; what the
structure cannot say (names that must exist, clips that must play) is checked by :mod:`._checks`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from showctl.errors import Problem, ShowError
from showctl.settings import Settings
from showctl.show._checks import check_show
from showctl.show._convert import INVALID, Converter
from showctl.show._yaml import YamlProblem, compose
from showctl.show.model import Show


def check(
    path: str | Path, *, check_media: bool = True, settings: Settings | None = None
) -> tuple[Show | None, list[Problem]]:
    """Read and check a show file without raising.

    Returns the show (``None`` when it has errors) and every problem found, errors and
    warnings, in document order. ``check_media=False`` skips opening the clips; the names the
    show takes from the settings (OSC targets, the broker) are checked against ``settings``
    (``None``: the defaults, which name none). Blocking (reads the file and, with
    ``check_media``, every clip's header).
    """
    path = Path(path)
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        reason = e.strerror or str(e)
        return None, [Problem(file, 1, 1, "", f"cannot read the show file: {reason}")]
    except UnicodeDecodeError as e:
        return None, [_bad_encoding(file, path.read_bytes(), e)]
    return check_text(text, file=file, base=path, check_media=check_media, settings=settings)


def check_text(
    text: str,
    *,
    file: str = "<show>",
    base: Path | None = None,
    check_media: bool = True,
    settings: Settings | None = None,
) -> tuple[Show | None, list[Problem]]:
    """Like :func:`check`, for show text; ``base`` is the path clips are found relative to."""
    try:
        root = compose(text)
    except YamlProblem as e:
        return None, [Problem(file, e.line, e.column, "", e.message)]
    if root is None:
        return None, [Problem(file, 1, 1, "", "the show file is empty; start it with 'version: 1'")]
    converter = Converter(file)
    show = converter.convert(Show, root, ())
    if show is not INVALID:
        show = replace(show, path=base if base is not None else Path(file))
    check_show(
        show if show is not INVALID else None, converter, check_media, settings or Settings()
    )
    problems = sorted(converter.problems, key=lambda p: (p.line, p.column))
    has_errors = any(p.severity == "error" for p in problems)
    return (None if show is INVALID or has_errors else show), problems


def load(path: str | Path, *, check_media: bool = True, settings: Settings | None = None) -> Show:
    """Load a show file.

    Raises
    ------
    ShowError
        With every error found (warnings are not errors), each located.
    """
    show, problems = check(path, check_media=check_media, settings=settings)
    if show is None:
        raise ShowError(p for p in problems if p.severity == "error")
    return show


def _bad_encoding(file: str, data: bytes, e: UnicodeDecodeError) -> Problem:
    before = data[: e.start]
    line = before.count(b"\n") + 1
    column = len(before) - (before.rfind(b"\n") + 1) + 1
    return Problem(file, line, column, "", "the show file is not UTF-8 text; save it as UTF-8")
