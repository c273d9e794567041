"""The exception tree of showctl.

Every error showctl raises derives from :class:`ShowctlError` and from the builtin that fits
it, so callers can catch either. Library errors are wrapped once, at the boundary, with
``raise ... from``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


class ShowctlError(Exception):
    """Base class of every error raised by showctl."""


@dataclass(frozen=True)
class Problem:
    """One located finding in a show file.

    ``line`` and ``column`` count from 1, as editors do. ``path`` is the place in the document,
    such as ``scenes.intro.leds[2].interval``; it is empty for a problem with the file as a whole
    (a YAML syntax error, an empty file).
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        if self.path:
            where += f"{self.path}: "
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}{prefix}{self.message}"


class ShowError(ShowctlError, ValueError):
    """A show file that cannot be loaded: carries every problem found, each with its location."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class AudioDeviceError(ShowctlError, OSError):
    """A sound device that is missing, ambiguous, busy or gone; the message says which and
    what to do."""


class ClipError(ShowctlError, ValueError):
    """A clip that cannot be played; the message names the file and the fix."""


class GpioError(ShowctlError, OSError):
    """A GPIO chip or line that cannot be used; the message names the chip, the line and the fix."""


class ProgramError(ShowctlError, ValueError):
    """An LED program that cannot run (one ``showctl check`` should have caught)."""


class RecordingError(ShowctlError, ValueError):
    """A file that is not a recording of LED frames; the message names it and the line."""


class ControlError(ShowctlError, ConnectionError):
    """The control socket: no controller answers, or another one already listens; or another
    box leads the show across boxes already."""


class SettingsError(ShowctlError, ValueError):
    """A settings file that is missing or wrong; the message names the file, the key and the fix."""
