"""deploy/system-packages.sh, run with stand-ins for the commands that would change this machine.

dpkg-query, apt-get and systemctl are stand-ins first on PATH, with a directory standing for the
machine's root (SHOWCTL_ROOT): the stand-in apt-get installs as Debian does, mosquitto's
postinst included (it enables mosquitto.service, and starts it when systemd runs), and
pipewire's and wireplumber's (they enable user units for every user); the stand-in
systemctl hands ``enable``, ``disable`` and ``is-enabled`` to the real systemctl with
``--root``, so what is enabled is systemd's own reading, and refuses ``stop`` when systemd does
not run, as the real one does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "deploy" / "system-packages.sh"
TEST_LIST = ROOT / "deploy" / "apt-packages-test.txt"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNIT = "lib/systemd/system/mosquitto.service"
WANTS = "etc/systemd/system/multi-user.target.wants/mosquitto.service"
RUNNING = "run/mosquitto.running"

DPKG_QUERY = """#!/bin/sh
eval "pkg=\\${$#}"
grep -qx "$pkg" "$SHOWCTL_ROOT/installed" && echo "install ok installed"
"""
# As apt-get with Debian's packages: mosquitto's postinst enables its unit (deb-systemd-helper)
# and starts it when systemd runs (deb-systemd-invoke); pipewire's and wireplumber's enable user
# units for every user (deb-systemd-helper --user).
APT_GET = """#!/bin/sh
echo "apt-get $*" >>"$STUB_LOG"
[ "$1" = install ] || exit 0
user_unit() {  # NAME TARGET: a user unit installed and enabled for every user
    mkdir -p "$SHOWCTL_ROOT/usr/lib/systemd/user" "$SHOWCTL_ROOT/etc/systemd/user/$2.wants"
    printf '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=%s\n' "$2" \
        >"$SHOWCTL_ROOT/usr/lib/systemd/user/$1"
    ln -sf "/usr/lib/systemd/user/$1" "$SHOWCTL_ROOT/etc/systemd/user/$2.wants/$1"
}
for pkg; do
    case $pkg in -* | install) continue ;; esac
    echo "$pkg" >>"$SHOWCTL_ROOT/installed"
    case $pkg in
        pipewire) user_unit pipewire.socket sockets.target
                  user_unit pipewire.service default.target ;;
        wireplumber) user_unit wireplumber.service pipewire.service ;;
    esac
    [ "$pkg" = mosquitto ] || continue
    units=$SHOWCTL_ROOT/lib/systemd/system
    wants=$SHOWCTL_ROOT/etc/systemd/system/multi-user.target.wants
    mkdir -p "$units" "$wants"
    printf '[Service]\\nExecStart=/usr/sbin/mosquitto\\n' >"$units/mosquitto.service"
    printf '[Install]\\nWantedBy=multi-user.target\\n' >>"$units/mosquitto.service"
    ln -sf /lib/systemd/system/mosquitto.service "$wants/mosquitto.service"
    [ ! -d "$SHOWCTL_ROOT/run/systemd/system" ] || touch "$SHOWCTL_ROOT/run/mosquitto.running"
done
"""
SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >>"$STUB_LOG"
case $1 in
    enable | disable | is-enabled) exec /usr/bin/systemctl --root="$SHOWCTL_ROOT" "$@" ;;
    --global) exec /usr/bin/systemctl --root="$SHOWCTL_ROOT" "$@" ;;
esac
if [ ! -d "$SHOWCTL_ROOT/run/systemd/system" ]; then
    echo "System has not been booted with systemd as init system (PID 1). Can't operate." >&2
    exit 1
fi
case $1 in
    stop) rm -f "$SHOWCTL_ROOT/run/${2%.service}.running" ;;
    *) exit 1 ;;
esac
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="apt-get runs as root here (no sudo)")


def packages(listed: Path) -> list[str]:
    """The packages a list names, in order."""
    lines = [line.split() for line in listed.read_text().splitlines()]
    return [words[0] for words in lines if words and not words[0].startswith("#")]


def run(root: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the script for the test list with the stand-ins; what it did and the calls heard."""
    bin_ = root.parent / "bin"
    bin_.mkdir(exist_ok=True)
    stand_ins = {"dpkg-query": DPKG_QUERY, "apt-get": APT_GET, "systemctl": SYSTEMCTL}
    for name, text in stand_ins.items():
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(0o755)
    log = root.parent / "calls.log"
    log.write_text("")
    env = os.environ | {"PATH": f"{bin_}:{SYSTEM_PATH}", "SHOWCTL_ROOT": str(root)}
    env["STUB_LOG"] = str(log)
    done = subprocess.run(
        [str(SCRIPT), str(TEST_LIST)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done, log.read_text().splitlines()


USER_UNITS = ["pipewire.socket", "pipewire.service", "wireplumber.service"]


def enabled(root: Path, unit: str = "mosquitto.service", scope: str = "--system") -> str:
    """What systemd says of ``unit`` under ``root``, a system unit or (``--global``) a user
    unit for every user."""
    return subprocess.run(
        ["systemctl", f"--root={root}", scope, "is-enabled", unit],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


@pytest.mark.parametrize("systemd_runs", [True, False], ids=["systemd runs", "no systemd"])
def test_installing_mosquitto_leaves_no_broker_enabled(tmp_path: Path, systemd_runs: bool) -> None:
    """The tests start brokers of their own: mosquitto installed for them leaves its service
    disabled, and stopped where systemd had started it (as on a developer's machine); where
    systemd does not run (a container), it is disabled all the same. The script says so."""
    if shutil.which("systemctl") is None:
        pytest.fail("systemctl is missing: run deploy/system-packages.sh")
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "installed").write_text("")
    if systemd_runs:
        (root / "run" / "systemd" / "system").mkdir(parents=True)

    done, calls = run(root)

    assert done.returncode == 0, done.stderr
    assert (root / "installed").read_text().split() == packages(TEST_LIST)
    assert (root / UNIT).is_file(), "mosquitto was installed"
    assert enabled(root) == "disabled"
    assert not (root / WANTS).exists()
    assert not (root / RUNNING).exists()
    said = f"Disabled mosquitto.service, which its package enabled and started: {TEST_LIST} says"
    assert f"{said} it is not to run." in done.stdout.splitlines()
    assert [c for c in calls if c.startswith("systemctl stop")] == (
        ["systemctl stop mosquitto.service"] if systemd_runs else []
    )


def test_installing_pipewire_leaves_no_user_unit_enabled(tmp_path: Path) -> None:
    """The sound hub runs a PipeWire of its own: pipewire and wireplumber installed for it leave
    their user units (enabled for every user by their packages) disabled, so no desktop session
    starts a PipeWire that takes the machine's sound cards. The script says so."""
    root = tmp_path / "root"
    (root / "run" / "systemd" / "system").mkdir(parents=True)
    (root / "installed").write_text("")

    done, calls = run(root)

    assert done.returncode == 0, done.stderr
    for unit in USER_UNITS:
        assert (root / "usr/lib/systemd/user" / unit).is_file(), f"{unit} was installed"
        assert enabled(root, unit, "--global") == "disabled", unit
        assert (
            f"Disabled the user unit {unit} for every user, which its package enabled: "
            f"{TEST_LIST} says it is not to run."
        ) in done.stdout.splitlines()
    assert not list((root / "etc/systemd/user").glob("*/*")), "no user unit is wanted"
    assert not [c for c in calls if c.startswith("systemctl stop") and "pipewire" in c]


def test_a_mosquitto_already_installed_is_left_as_it_is(tmp_path: Path) -> None:
    """A developer's own broker, installed and enabled before: nothing is installed, and its
    service stays enabled and running."""
    root = tmp_path / "root"
    (root / "run" / "systemd" / "system").mkdir(parents=True)
    (root / "installed").write_text("")
    first, _ = run(root)  # installs everything, mosquitto disabled
    assert first.returncode == 0, first.stderr
    subprocess.run(["systemctl", f"--root={root}", "enable", "mosquitto.service"], check=True)
    (root / RUNNING).touch()

    again, calls = run(root)

    assert (again.returncode, again.stdout, calls) == (0, "", [])
    assert enabled(root) == "enabled"
    assert (root / RUNNING).exists()


def test_the_script_is_shellcheck_clean() -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail(
            "shellcheck is missing: run deploy/system-packages.sh deploy/apt-packages-test.txt"
        )
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.stdout == ""
