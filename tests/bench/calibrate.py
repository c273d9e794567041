"""``showctl calibrate --write --verify`` on the sound hub: how close its measured offsets come to
the truth, how close its trims bring the outputs, and how long it takes.

    python tests/bench/calibrate.py [--quick]

8 outputs of the hub; each round holds each output back by a random 0 to 20 ms (in whole
samples, :meth:`SoundHub.set_delay`), as cards and speakers of different latencies, which the
tool is not told, and runs the command as a technician does (a process of its own, the players
through PortAudio, the hub's microphone through PortAudio), with the hub recorded meanwhile.
ROUNDS rounds (2 with --quick).

- **Error**: each output's measured offset against where the hub's recording says its sweep
  really sounded (:func:`tests.harness.calibration.arrivals`), in samples; a round whose hub
  recording skipped has no such truth, and is counted (``rounds_truth_unknown``). And against
  the delay put in, every round (which also holds the players' own start skew, a sample or
  two).
- **Verified spread**: the verification's latest arrival less its earliest, with the trims the
  command wrote.
- **Seconds**: the whole command, players started to verdict (the median; the longest, and
  the rounds over the target, beside it).
- **Tries**: measurements made again because their recording could not be trusted (it skipped:
  the hub loses a cycle of the graph now and then on this machine), counted, not hidden.

Prints a line a round, and one JSON object last. Starts the sound hub if none runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import _common

from tests.harness.calibration import CalibrateFailed, arrivals, calibrate, finish, write_show
from tests.harness.soundhub import RATE, SoundHub

OUTPUTS = 8
ROUNDS = 20
#: The largest delay put on an output (samples): 20 ms.
LONGEST = round(0.020 * RATE)
TARGETS = {
    "max_error_samples": 1.0,
    "verified_spread_p99_ms": 0.25,
    "seconds": 30.0,
    "rounds_failed": 0,
}


def one_round(hub: SoundHub, folder: Path, rng: random.Random) -> dict[str, Any]:
    held = {i: rng.randint(0, LONGEST) for i in range(OUTPUTS)}
    for index, samples in held.items():
        hub.set_delay(index, samples)
    show = write_show(folder, OUTPUTS)
    began = time.monotonic()
    with hub.record() as recording:
        code, summary, _, _ = finish(calibrate(hub, show, "--write", "--verify"))
        played = recording.stop()
    seconds = time.monotonic() - began
    measurement, verification = summary["measurement"], summary["verification"]
    if measurement["problem"] or verification is None:
        raise CalibrateFailed(f"exit status {code}: {measurement['problem']}")
    truth = arrivals(played, hub.rate, measurement["tries"] - 1)
    put = {f"o{i}": held[i] - min(held.values()) for i in held}
    found = {name: o["offset_samples"] for name, o in measurement["outputs"].items()}
    return {
        "error": None if truth is None else max(abs(found[n] - truth[n]) for n in truth),
        "error_vs_put": max(abs(found[n] - put[n]) for n in put),
        "spread_ms": verification["spread_ms"],
        "passed": summary["passed"],
        "seconds": seconds,
        "again": measurement["tries"] - 1 + verification["tries"] - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 20")
    args = parser.parse_args()
    rounds = 2 if args.quick else ROUNDS
    rng = random.Random(23)
    results, failed = [], []
    with SoundHub(OUTPUTS, mic=True) as hub, tempfile.TemporaryDirectory() as temp:
        for i in range(rounds):
            try:
                r = one_round(hub, Path(temp), rng)
            except CalibrateFailed as e:
                failed.append(str(e))
                print(f"round {i + 1}: the calibration FAILED ({e})", flush=True)
                continue
            results.append(r)
            error = (
                "unknown (the hub's recording skipped)"
                if r["error"] is None
                else (f"{r['error']:.2f} samples")
            )
            print(
                f"round {i + 1}: error {error} (against the delays put in "
                f"{r['error_vs_put']:.2f}), verified spread {r['spread_ms']:.4f} ms, "
                f"{'passed' if r['passed'] else 'FAILED'}, {r['seconds']:.1f} s, measured "
                f"again {r['again']}",
                flush=True,
            )
    nan = float("nan")

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else nan

    spreads = [r["spread_ms"] for r in results]
    errors = [r["error"] for r in results if r["error"] is not None]
    seconds = [r["seconds"] for r in results]
    figures = {
        "rounds": rounds,
        "rounds_failed": len(failed),
        "outputs": OUTPUTS,
        "max_error_samples": round(max(errors, default=nan), 3),
        "median_error_samples": round(median(errors), 3),
        "rounds_truth_unknown": len(results) - len(errors),
        "max_error_vs_put_samples": round(
            max((r["error_vs_put"] for r in results), default=nan), 3
        ),
        "verified_spread_median_ms": round(median(spreads), 4),
        "verified_spread_p99_ms": round(_common.percentile(spreads, 99), 4),
        "verifications_failed": sum(not r["passed"] for r in results),
        "seconds": round(median(seconds), 1),
        "seconds_max": round(max(seconds, default=nan), 1),
        "rounds_over_30s": sum(s > TARGETS["seconds"] for s in seconds),
        "measured_again": sum(r["again"] for r in results),
    }
    _common.report(figures, TARGETS)


if __name__ == "__main__":
    main()
