"""The gpiod half of the GPIO contract, on a real kernel chip: a gpio-sim chip in a virtual
machine (tests/harness/gpiosim.py). Every test marked ``gpiochip`` that this run deselected runs
there; none may fail or be skipped."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.harness import gpiosim


def deselected_here() -> list[str]:
    """The gpiochip tests of tests/gpio, by id, as this machine's pytest collects them."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
         "-m", "gpiochip", "tests/gpio"],
        cwd=gpiosim.ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "SHOWCTL_GPIO_SIM": "/dev/null:/nowhere"},  # collect, not deselect
    )  # fmt: skip
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_the_gpiod_contract_passes_on_a_kernel_chip() -> None:
    lacking = gpiosim.missing()
    if lacking:
        pytest.skip("no kernel GPIO chip can be made here; missing: " + "; ".join(lacking))
    wanted = deselected_here()
    assert wanted, "no gpiochip tests were collected"
    result = gpiosim.run(["-m", "gpiochip", "-rA", "tests/gpio"])
    assert result.status == 0, result.output[-6000:]
    passed = re.findall(r"^PASSED (\S+)", result.output, re.MULTILINE)
    assert sorted(passed) == sorted(wanted), result.summary
    assert "skipped" not in result.summary, result.summary
