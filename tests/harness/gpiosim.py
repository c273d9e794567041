"""A real kernel GPIO chip for the tests: ``gpio-sim``, in a small virtual machine.

The gpiod backend talks to the kernel's GPIO character device, and this machine has no GPIO
chip. The kernel's own answer for testing GPIO users is ``gpio-sim``: a chip made through
configfs, whose outputs are read and inputs driven through sysfs. Debian's kernel is built
without it, and the machine running the tests may have no kernel modules at all, so:

- the module is built out of tree against Debian's kernel headers, from a few files of the
  ``linux-source-6.1`` package (``drivers/gpio/gpio-sim.c``, ``drivers/gpio/gpiolib*.h``, and
  ``kernel/irq/irq_sim.c`` compiled into the same module, calling ``generic_handle_irq`` where
  the kernel's own copy calls ``handle_simple_irq(irq_to_desc(...))``: ``irq_to_desc`` is not
  exported to modules). Nothing of the kernel's code is kept in this repository; the module is
  cached under ``$XDG_CACHE_HOME/showctl/gpio-sim/KERNEL/`` (``~/.cache`` by default);
- Debian's kernel boots under QEMU with this machine's own file system through ``virtme-ng``
  (``vng``), emulated unless SHOWCTL_KVM=1 says KVM works (nested KVM fails on this project's build
  machine: about 40 s to a shell, Python about ten times slower: fine for what works, never
  for timing);
- inside, the module is loaded, a chip of LINES lines made, and pytest run with the project's
  own virtual environment, the chip named in ``SHOWCTL_GPIO_SIM`` (see ``tests/gpio/rig.py``).

From the shell::

    python tests/harness/gpiosim.py check          # what this machine lacks, if anything
    python tests/harness/gpiosim.py run [ARGS...]  # pytest ARGS in the VM (default: the
                                                   # gpiochip tests of tests/gpio)

The Debian packages are in ``deploy/apt-packages-test.txt`` (``make setup-test`` installs them),
``virtme-ng`` is in the ``dev`` extra.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Lines on the simulated chip: the contract tests use offsets below this.
LINES = 64
#: Where the kernel's sources are, as the linux-source-6.1 package installs them.
SOURCE = Path("/usr/src/linux-source-6.1.tar.xz")
#: The files of the kernel's tree the module is built from (tar's wildcards).
FILES = ("drivers/gpio/gpio-sim.c", "drivers/gpio/gpiolib*.h", "kernel/irq/irq_sim.c")
#: How long the machine may take to boot, run the tests and power off (s): emulated, the
#: contract takes about two minutes on the build machine.
TIMEOUT = 900
#: Printed by the machine after pytest, with its exit status: the one line the result is read by.
MARK = "showctl-gpio-sim-exit"


def kernel() -> str | None:
    """The newest Debian kernel installed with its headers (``6.1.0-N-amd64``), if any."""
    found = []
    for image in Path("/boot").glob("vmlinuz-*"):
        version = image.name.removeprefix("vmlinuz-")
        if (Path("/lib/modules") / version / "build").is_dir():
            found.append(version)
    return max(found, key=_version_key, default=None)


def _version_key(version: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", version)]


def missing() -> list[str]:
    """What this machine lacks to run the chip, each said with its fix; empty if nothing.

    Checked: qemu-system-x86_64 and virtme-ng's ``vng`` are installed; a kernel image with its
    headers and modules (``/boot/vmlinuz-V``, ``/lib/modules/V/build``); the kernel's sources
    (SOURCE); make and gcc; a static busybox (virtme-ng's init in the machine uses it)."""
    lacking = []
    if not shutil.which("qemu-system-x86_64"):
        lacking.append("qemu-system-x86_64 (Debian package qemu-system-x86)")
    if not _vng():
        lacking.append("vng (PyPI package virtme-ng, in the dev extra)")
    if kernel() is None:
        lacking.append(
            "a kernel with its headers (Debian packages linux-image-amd64 and linux-headers-amd64)"
        )
    if not SOURCE.exists():
        lacking.append(f"{SOURCE} (Debian package linux-source-6.1)")
    for tool in ("make", "gcc"):
        if not shutil.which(tool):
            lacking.append(f"{tool} (Debian package build-essential)")
    if not Path("/bin/busybox").exists():
        lacking.append("busybox (Debian package busybox-static)")
    return lacking


def _vng() -> str | None:
    here = Path(sys.executable).parent / "vng"
    return str(here) if here.exists() else shutil.which("vng")


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "showctl" / "gpio-sim"


def build_module(version: str) -> Path:
    """``gpio-sim.ko`` for kernel ``version``, built once and cached. Raises
    :class:`RuntimeError` with the compiler's output if the build fails."""
    out = _cache() / version / "gpio-sim.ko"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory(prefix="showctl-gpio-sim-") as scratch:
        src = Path(scratch)
        top = SOURCE.name.removesuffix(".tar.xz")
        subprocess.run(
            ["tar", "-xJf", str(SOURCE), "-C", scratch, "--wildcards", "--strip-components=3",
             *(f"{top}/{name}" for name in FILES)],
            check=True,
        )  # fmt: skip
        (src / "gpio-sim.c").rename(src / "gpio-sim-main.c")
        irq = (src / "irq_sim.c").read_text()
        patched = re.sub(
            r"handle_simple_irq\(irq_to_desc\((\w+)\)\)", r"generic_handle_irq(\1)", irq
        )
        if patched == irq:
            raise RuntimeError(f"{SOURCE}'s irq_sim.c changed: its irq_to_desc call was not found")
        (src / "irq_sim.c").write_text(patched)
        (src / "Kbuild").write_text(
            "obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n"
        )
        done = subprocess.run(
            ["make", "-C", f"/lib/modules/{version}/build", f"M={src}", "modules"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"gpio-sim did not build:\n{done.stdout}{done.stderr}")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / "gpio-sim.ko", out)
    return out


#: What the machine runs: the module loaded, a chip made, pytest on it.
GUEST = """\
set -eu
modprobe configfs 2>/dev/null || true
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
insmod {module}
d=/sys/kernel/config/gpio-sim/showctl
mkdir "$d" "$d/bank0"
echo {lines} > "$d/bank0/num_lines"
echo 1 > "$d/live"
chip=$(cat "$d/bank0/chip_name")
export SHOWCTL_GPIO_SIM="/dev/$chip:/sys/devices/platform/$(cat "$d/dev_name")/$chip"
export PYTHONDONTWRITEBYTECODE=1
cd {root}
set +e
{python} -m pytest -p no:cacheprovider {args}
echo "{mark} $?"
"""


@dataclasses.dataclass(frozen=True)
class Result:
    """pytest's exit status in the machine (None: it never said), and everything printed."""

    status: int | None
    output: str

    @property
    def summary(self) -> str:
        """pytest's last line (``== 12 passed in 3.4s ==``), or the output's end."""
        lines = [line for line in self.output.splitlines() if line.startswith("=")]
        return lines[-1] if lines else self.output[-2000:]


def run(args: list[str], timeout: float = TIMEOUT) -> Result:
    """Boot the machine, run ``pytest ARGS`` in it on a fresh gpio-sim chip, and say how it
    went. Raises :class:`RuntimeError` naming what is missing, or the module's build error."""
    lacking = missing()
    if lacking:
        raise RuntimeError("cannot run the kernel's GPIO chip; missing: " + "; ".join(lacking))
    version = kernel()
    assert version is not None
    module = build_module(version)
    script = GUEST.format(
        module=shlex.quote(str(module)),
        lines=LINES,
        root=shlex.quote(str(ROOT)),
        python=shlex.quote(sys.executable),
        args=" ".join(shlex.quote(a) for a in args),
        mark=MARK,
    )
    # The machine sees this machine's files, but a /tmp of its own: the script goes in the cache.
    with tempfile.NamedTemporaryFile("w", dir=module.parent, prefix="run-", suffix=".sh") as guest:
        guest.write(script)
        guest.flush()
        vng = _vng()
        assert vng is not None
        command = [
            vng,
            "--run", f"/boot/vmlinuz-{version}",
            "--user", "root",
            "--cpus", "2",
            "--memory", "1G",
            *([] if _kvm() else ["--disable-kvm"]),
            "--exec", f"sh {shlex.quote(guest.name)}",
        ]  # fmt: skip
        path = f"{Path(vng).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        done = subprocess.run(
            command,
            env={**os.environ, "PATH": path},  # vng runs virtme-run, which is beside it
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    output = done.stdout + done.stderr
    found = re.findall(rf"^{MARK} (\d+)\s*$", output, re.MULTILINE)
    return Result(int(found[-1]) if found else None, output)


def _kvm() -> bool:
    """Whether to use KVM: only when asked (SHOWCTL_KVM=1). /dev/kvm can be there and open,
    and still be a nested KVM that fails or crawls (on this project's build machine a boot
    under it was not at a shell after 11 minutes; emulated, it takes about 40 s)."""
    return os.environ.get("SHOWCTL_KVM") == "1"


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"]:
        lacking = missing()
        print("ready" if not lacking else "missing: " + "; ".join(lacking))
        return 1 if lacking else 0
    if argv[:1] == ["run"]:
        result = run(argv[1:] or ["-m", "gpiochip", "-rA", "tests/gpio"])
        print(result.output)
        return 1 if result.status is None else result.status
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
