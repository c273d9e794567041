"""A clip streamed from disk: memory stays bounded whatever the file's length.

A reader thread keeps a ring buffer some seconds ahead of the audio callback, which only copies
out of it. A loop is read as one endless stream: after the last sample comes the first, so the
seam is sample-exact. If the reader falls behind (a slow disk), the callback gets fewer samples
than it asked for: it plays silence for the missing ones and counts an underrun, and the stream
skips ahead so that it stays on the timeline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from showctl import realtime
from showctl.audio.base import Block
from showctl.errors import ClipError


def missing_bytes(path: Path) -> int:
    """How many bytes of its sample data a RIFF/WAVE file lacks (0 for a whole file).

    libsndfile quietly plays a WAV that was cut short (a copy interrupted, a full card) as a
    shorter one; its header still says how long it should be. RF64 keeps that length
    elsewhere and is taken as whole. Raises ``OSError`` if the file cannot be read.
    """
    with path.open("rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return 0
        size = path.stat().st_size
        position = 12
        while position + 8 <= size:
            f.seek(position)
            chunk = f.read(8)
            declared = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                return max(0, declared - (size - position - 8))
            position += 8 + declared + (declared & 1)
    return 0


@dataclass(frozen=True)
class ClipInfo:
    path: Path
    frames: int
    rate: int
    stamp: tuple[int, ...] | None = None  # the file when it was checked: see :meth:`changed`

    def changed(self) -> bool:
        """Whether the file is no longer the one checked (replaced, rewritten or gone)."""
        return _stamp(self.path) != self.stamp


def _stamp(path: Path) -> tuple[int, ...] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


#: soundfile's names of the container formats that hold WAV data.
WAV_FORMATS = frozenset({"WAV", "WAVEX", "RF64"})


def clip_problem(path: Path, rate: int | None) -> str | None:
    """What keeps ``path`` from playing on an output of ``rate`` Hz (``None``: any rate), as
    the end of a sentence that starts with the clip's name and says the fix; ``None`` for a
    mono WAV that is whole. The show's checks and the players ask this alike. Blocking (reads
    the header, and the chunks of a RIFF file)."""
    if not path.exists():
        return "does not exist; check the name and the media folder"
    if not path.is_file():
        return "is not a file"
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        return f"cannot be read as audio ({e}); export it as a mono WAV"
    if info.format not in WAV_FORMATS:
        return f"is a {info.format} file, not WAV; export it as a mono WAV"
    if info.channels != 1:
        return f"has {info.channels} channels; each output plays one mono WAV: mix it down"
    if rate is not None and info.samplerate != rate:
        return (
            f"is at {info.samplerate} Hz but its output runs at {rate} Hz; resample it to {rate} Hz"
        )
    if info.frames <= 0:
        return "holds no samples"
    try:
        short = missing_bytes(path)
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if short:
        return (
            f"is cut short: {short} bytes of its samples are missing (an interrupted copy?); "
            "copy or export it again"
        )
    return None


def inspect(path: Path, rate: int) -> ClipInfo:
    """Check that ``path`` is a mono WAV at ``rate`` Hz (:func:`clip_problem`), readable to its
    end.

    Raises :class:`ClipError` with one sentence naming the file and the fix. Blocking (reads the
    header and the last second of the file).
    """
    stamp = _stamp(path)
    problem = clip_problem(path, rate)
    if problem is not None:
        raise ClipError(f"{path} {problem}")
    info = soundfile.info(str(path))
    tail = min(info.frames, rate)
    try:
        with soundfile.SoundFile(str(path)) as f:
            f.seek(info.frames - tail)
            got = len(f.read(tail, dtype="float32"))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        got = -1
        reason = str(e)
    else:
        reason = f"{got} of the last {tail} samples"
    if got != tail:
        raise ClipError(
            f"{path} is cut short: its header promises {info.frames} samples but "
            f"reading its end gave {reason}; export it again"
        )
    return ClipInfo(path, info.frames, rate, stamp)


class WholeClip:
    """A short clip played once from samples held in memory (shared by every play of it): an
    effect fired again and again costs no file opening and no reader."""

    def __init__(self, info: ClipInfo, samples: np.ndarray) -> None:
        self.info = info
        self.whole = samples
        self.position = 0

    @property
    def length(self) -> int:
        return len(self.whole)

    def read_into(self, out: Block) -> int:
        n = max(0, min(len(out), len(self.whole) - self.position))
        out[:n] = self.whole[self.position : self.position + n]
        self.position += n
        return n

    def skip(self, n: int) -> None:
        self.position += n

    def close(self) -> None:
        """Nothing to release: the samples are shared."""


class ClipStream:
    """Samples of one clip from ``start`` on (looped or once), read ahead by a thread.

    ``position`` counts samples handed out since the clip's first sample, across loops; the
    callback is the only consumer (:meth:`read_into`, :meth:`skip`), the reader thread the only
    producer. No locks: each index is written by one side only.

    ``threaded=False`` reads in :meth:`read_into` itself instead: for simulations on a fake
    clock, which run faster than any reader thread could keep up with. A clip played once that
    fits in the read-ahead (an effect) is read whole at once, and has no reader thread.
    """

    def __init__(
        self,
        info: ClipInfo,
        *,
        loop: bool,
        start: int = 0,
        ahead: float = 3.0,
        chunk: int = 32768,
        threaded: bool = True,
    ) -> None:
        self.info = info
        self.loop = loop
        self.position = start if loop else min(start, info.frames)
        size = max(int(ahead * info.rate), 4 * chunk)
        # A clip played once that fits is read whole, into a ring just its length.
        self._ring = np.zeros(info.frames if not loop and info.frames <= size else size, np.float32)
        self._chunk = chunk
        self._scratch = np.empty(chunk, dtype=np.float32)  # reads land here, then in the ring
        self._written = self.position  # the content index after the last sample in the ring
        self._stop = threading.Event()
        self._error: str | None = None
        self._file = soundfile.SoundFile(str(info.path))
        self._fill()  # the first chunks before anyone reads
        self._thread: threading.Thread | None = None
        # A clip read whole already (played once, and short: an effect) needs no reader.
        if threaded and (loop or self._written < info.frames):
            self._thread = threading.Thread(
                target=self._run, name=f"clip:{info.path.name}", daemon=True
            )
            self._thread.start()

    @property
    def length(self) -> int | None:
        """Samples in the stream: ``None`` for a loop (endless)."""
        return None if self.loop else self.info.frames

    @property
    def whole(self) -> np.ndarray | None:
        """All of a clip played once that was read whole (a short one: an effect), indexed by
        ``position``; ``None`` for any other."""
        whole = not self.loop and len(self._ring) == self.info.frames
        return self._ring if whole and self._written >= self.info.frames else None

    @property
    def error(self) -> str | None:
        """Why the reader stopped (the file vanished or broke), or ``None``."""
        return self._error

    def available(self) -> int:
        """Samples read ahead and not yet played (none while the reader catches up a skip)."""
        return max(0, self._written - self.position)

    def read_into(self, out: Block) -> int:
        """Copy the next samples into ``out``; returns how many there were (audio thread)."""
        if self._thread is None:
            self._fill()
        n = min(len(out), self.available())
        size = len(self._ring)
        start = self.position % size
        first = min(n, size - start)
        out[:first] = self._ring[start : start + first]
        if first < n:  # the rest from the ring's beginning
            out[first:n] = self._ring[: n - first]
        self.position += n
        return n

    def skip(self, n: int) -> None:
        """Move ``n`` samples on without playing them (audio thread). The reader catches up."""
        self.position += n

    def close(self) -> None:
        """Stop the reader and close the file. Idempotent; never raises."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)
        self._file.close()

    def _run(self) -> None:
        realtime.ordinary()  # started by a player's command reader, at real-time priority
        period = self._chunk / self.info.rate / 2  # far inside the read-ahead
        while not self._stop.wait(period):
            try:
                self._fill()
            except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as e:
                self._error = f"{self.info.path} could not be read any further ({e})"
                return

    def _fill(self) -> None:
        size = len(self._ring)
        while True:
            self._written = max(self._written, self.position)  # the callback skipped ahead
            room = size - (self._written - self.position)
            end = None if self.loop else self.info.frames
            if end is not None and self._written >= end:
                return
            if room < (self._chunk if end is None else min(self._chunk, end - self._written)):
                return  # a chunk at a time, or what is left of a clip played once
            index = self._written % self.info.frames
            count = min(self._chunk, self.info.frames - index)  # to the end, or to the seam
            self._file.seek(index)
            data = self._file.read(count, dtype="float32", out=self._scratch[:count])
            if len(data) == 0:
                raise ValueError("the file ended early")
            start = self._written % size
            first = min(len(data), size - start)
            self._ring[start : start + first] = data[:first]
            self._ring[: len(data) - first] = data[first:]
            self._written += len(data)
