"""The matrix for people: a live view in the terminal, a recording of every frame with its
time (replayable), and a picture of a cue (a PNG sheet of its frames) for a README or a review.
"""

from __future__ import annotations

import io
import json
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO, cast

import numpy as np

from showctl.errors import RecordingError
from showctl.leds.matrix import Shown
from showctl.leds.programs import Frame

LIT, DARK = "●", "·"


def text(frame: Frame) -> list[str]:
    """A frame as rows of text: ``#`` lit, ``.`` dark (the show file's own bitmap letters)."""
    return ["".join("#" if v else "." for v in row) for row in frame.tolist()]


def from_text(rows: list[str]) -> Frame:
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


class TerminalView:
    """Draws the matrix in place at the bottom of a terminal, one frame over the last.

    Log lines written through :meth:`log_stream` appear above the matrix, which is drawn again
    below them, so a walk's log and the lights share one terminal. Thread-safe: frames come
    from the LED thread, log lines from anywhere.
    """

    def __init__(self, stream: TextIO, title: str = "", footer: tuple[str, ...] = ()) -> None:
        self.stream = stream
        self.title = title
        self.footer = footer  # lines below the matrix (the keys of ``run --sim``)
        self._drawn = 0
        self._last: list[str] = []
        self._lock = threading.Lock()

    def show(self, t: float, frame: Frame) -> None:
        lines = [f"{self.title}  t = {t:8.3f} s".strip()]
        lines += [" ".join(LIT if v else DARK for v in row) for row in frame.tolist()]
        lines += self.footer
        with self._lock:
            self._erase()
            self._draw(lines)

    def log_stream(self) -> TextIO:
        """A stream for log lines, written above the matrix."""
        return cast(TextIO, _Above(self))  # a TextIOBase: the text half of TextIO

    def write_above(self, text: str) -> None:
        with self._lock:
            self._erase()
            self.stream.write(text)
            self._draw(self._last)

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")  # up to the block, clear below
            self._drawn = 0

    def _draw(self, lines: list[str]) -> None:
        self.stream.write("".join(f"{line}\n" for line in lines))
        self.stream.flush()
        self._drawn, self._last = len(lines), lines


class _Above(io.TextIOBase):
    def __init__(self, view: TerminalView) -> None:
        self._view = view

    def write(self, text: str) -> int:
        self._view.write_above(text)
        return len(text)

    def isatty(self) -> bool:
        return self._view.stream.isatty()


class Recorder:
    """Writes every frame shown, with its times, as JSON lines: a file to replay or to test.

    The first line says the matrix's size; then ``{"t": S, "late_ms": L, "frame": [ROWS]}`` a
    line, ``t`` in seconds from the scene's T0 and ``late_ms`` how late it was set.
    """

    def __init__(self, path: Path, rows: int, columns: int) -> None:
        self._file = path.open("w", encoding="utf-8")
        self._file.write(json.dumps({"showctl_leds": 1, "rows": rows, "columns": columns}) + "\n")

    def __call__(self, shown: Shown) -> None:
        record = {
            "t": round(shown.at, 6),
            "late_ms": round((shown.shown - shown.due) * 1000, 3),
            "frame": text(shown.frame),
        }
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_recording(path: Path) -> Iterator[tuple[float, Frame]]:
    """The frames of a recording, with their times (seconds from T0)."""
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            try:
                record = json.loads(line)
                if number == 1:
                    if record.get("showctl_leds") != 1:
                        raise ValueError("no showctl_leds header")
                    continue
                yield float(record["t"]), from_text(record["frame"])
            except (ValueError, KeyError, TypeError) as e:
                raise RecordingError(
                    f"{path}:{number}: not a frame of an LED recording ({e}); "
                    "record one with showctl walk SHOW --leds --record-leds FILE"
                ) from e


def replay(frames: Iterable[tuple[float, Frame]], view: TerminalView, speed: float = 1.0) -> int:
    """Show recorded frames at their times (scaled by ``speed``); how many were shown."""
    start = time.monotonic()
    count = 0
    for t, frame in frames:
        delay = start + t / speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        view.show(t, frame)
        count += 1
    return count


# pictures

LED_PX, GAP_PX, BORDER_PX = 14, 4, 10
ON_RGB, OFF_RGB, BACK_RGB = (255, 196, 40), (58, 52, 46), (20, 20, 24)


def sheet(frames: list[Frame], columns: int = 8) -> np.ndarray:
    """The frames side by side, ``columns`` to a row, as an RGB picture (height, width, 3)."""
    rows, cols = frames[0].shape
    cell_h = rows * (LED_PX + GAP_PX) + BORDER_PX
    cell_w = cols * (LED_PX + GAP_PX) + BORDER_PX
    grid_rows = -(-len(frames) // columns)
    grid_cols = min(columns, len(frames))
    picture = np.full(
        (grid_rows * cell_h + BORDER_PX, grid_cols * cell_w + BORDER_PX, 3), BACK_RGB, np.uint8
    )
    yy, xx = np.mgrid[0:LED_PX, 0:LED_PX]
    radius = LED_PX / 2
    dot = (yy + 0.5 - radius) ** 2 + (xx + 0.5 - radius) ** 2 <= radius**2
    for i, frame in enumerate(frames):
        top = BORDER_PX + (i // columns) * cell_h
        left = BORDER_PX + (i % columns) * cell_w
        for r in range(rows):
            for c in range(cols):
                y, x = top + r * (LED_PX + GAP_PX), left + c * (LED_PX + GAP_PX)
                picture[y : y + LED_PX, x : x + LED_PX][dot] = ON_RGB if frame[r, c] else OFF_RGB
    return picture


def write_png(path: Path, picture: np.ndarray) -> None:
    """An RGB picture as a PNG file (no imaging library needed)."""
    height, width, _ = picture.shape
    raw = b"".join(b"\x00" + picture[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
