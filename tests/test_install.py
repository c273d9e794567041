"""deploy/install.sh, run for real into a directory standing for a box's root (SHOWCTL_ROOT).

Users and groups are made in that directory's /etc by useradd, groupadd and usermod with
``--prefix``; the virtual environment is built there by pip. The commands that would change
this machine (apt-get, systemctl, udevadm) are stand-ins first on PATH that write down their
calls; the stand-in systemctl hands ``enable`` and ``is-enabled`` to the real systemctl with
``--root``, so enabling is systemd's own work. Building the environment takes about 10 s, so
one box is installed for the module; tests that change a box work on a copy of it whose
virtual environment is a link to that one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from showctl import __version__, settings
from showctl.show import loader
from tests.conftest import ROOT

SCRIPT = ROOT / "deploy" / "install.sh"
# What sudo leaves on PATH (its secure_path): the box's own python3, not a developer's.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NOTHING = "nothing to do: showctl is installed and up to date"
VENV = "opt/showctl/venv"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="deploy/install.sh runs as root only")

STUB = """#!/bin/sh
echo "{name} $*" >>"$STUB_LOG"
"""
SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >>"$STUB_LOG"
case $1 in
    enable | is-enabled) exec /usr/bin/systemctl --root="$SHOWCTL_ROOT" "$@" ;;
    is-active) exit 3 ;;  # inactive
esac
"""
OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
"""


def seed(root: Path, os_release: str = OS_RELEASE) -> Path:
    """A box's root as a fresh Debian leaves it, for what the script reads: the user and group
    files (with the audio group), os-release, Debian's python3 (this machine's), and systemd and
    udev running."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\naudio:x:29:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\naudio:*::\n")
    (etc / "shadow").chmod(0o640)
    (etc / "gshadow").chmod(0o640)
    (etc / "os-release").write_text(os_release)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "python3").symlink_to("/usr/bin/python3")
    (root / "run" / "systemd" / "system").mkdir(parents=True)
    (root / "run" / "udev").mkdir()
    (root / "run" / "udev" / "control").touch()
    return root


@dataclass
class Run:
    code: int
    out: list[str]
    err: list[str]
    calls: list[str]


def install(
    root: Path,
    *args: str,
    script: Path = SCRIPT,
    user: tuple[str, ...] = (),
) -> Run:
    """Run the install script into ``root`` with stand-ins on PATH; the calls they heard.
    ``user`` goes before the command (to run it as another user)."""
    bin_ = root.parent / f"{root.name}-bin"
    bin_.mkdir(exist_ok=True)
    for name, text in {"apt-get": STUB, "udevadm": STUB, "systemctl": SYSTEMCTL}.items():
        (bin_ / name).write_text(text.replace("{name}", name))
        (bin_ / name).chmod(0o755)
    log = root.parent / f"{root.name}-calls.log"
    log.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"PATH": f"{bin_}:{SYSTEM_PATH}", "SHOWCTL_ROOT": str(root), "STUB_LOG": str(log)}
    done = subprocess.run(
        [*user, str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # pip's warnings about this build machine's local package indexes are not the script's.
    err = [line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location")]
    return Run(done.returncode, done.stdout.splitlines(), err, log.read_text().splitlines())


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every file, folder and link under ``root``: its mode, times and contents."""
    found: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.lstat()
            if path.is_symlink():
                found[str(path.relative_to(root))] = ("link", os.readlink(path))
            elif path.is_dir():
                found[str(path.relative_to(root))] = ("dir", info.st_mode, info.st_mtime_ns)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns, digest)
    return found


def members(root: Path, group: str) -> list[str]:
    for line in (root / "etc" / "group").read_text().splitlines():
        name, _, _, users = line.split(":")
        if name == group:
            return users.split(",") if users else []
    return []


def run_showctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / VENV / "bin" / "showctl"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def copy_checkout(to: Path) -> Path:
    """What the script reads of the checkout, copied: the tests install from a tree that no one
    edits while they run (a change to the package would rightly be installed again)."""
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for part in ("deploy", "systemd", "shows", "media", "showctl"):
        shutil.copytree(ROOT / part, to / part, ignore=skip)
    for part in ("pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy(ROOT / part, to / part)
    return to


@dataclass
class Box:
    root: Path
    checkout: Path
    first: Run

    @property
    def script(self) -> Path:
        return self.checkout / "deploy" / "install.sh"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Box:
    """A box installed once, and what its first run said and called."""
    for tool in ("useradd", "groupadd", "usermod", "systemctl"):
        if shutil.which(tool, path=SYSTEM_PATH) is None:
            pytest.fail(f"{tool} is missing: run deploy/system-packages.sh")
    where = tmp_path_factory.mktemp("box")
    checkout = copy_checkout(where / "checkout")
    root = seed(where / "root")
    return Box(root, checkout, install(root, script=checkout / "deploy" / "install.sh"))


@pytest.fixture
def copy_of_box(box: Box, tmp_path: Path) -> Box:
    """The installed box, copied for a test to change; the virtual environment is shared."""
    root = tmp_path / "root"
    shutil.copytree(box.root, root, symlinks=True, ignore=shutil.ignore_patterns("venv"))
    (root / VENV).symlink_to(box.root / VENV)
    return Box(root, box.checkout, box.first)


def test_the_first_run_installs_everything_and_says_so(box: Box) -> None:
    root, first = box.root, box.first
    assert first.code == 0, first.err
    assert [line.split(" (")[0].split(" from ")[0] for line in first.out] == [
        "created the system group gpio",
        "created the system user showctl",
        f"created the virtual environment {root / VENV}",
        f"installed showctl {__version__}",
        f"linked {root}/usr/local/bin/showctl to /opt/showctl/venv/bin/showctl",
        f"installed the show {box.checkout}/shows/demo.yaml as {root}/etc/showctl/show.yaml, its "
        f"16 clips in {root}/etc/showctl/media",
        f"installed the settings {root}/etc/showctl/settings.toml",
        f"installed {root}/etc/udev/rules.d/99-showctl-gpio.rules; udev reloaded",
        f"installed {root}/etc/systemd/system/showctl.service; systemd reloaded",
        "enabled showctl.service: it starts at boot",
    ]
    assert "udevadm control --reload" in first.calls
    assert "systemctl daemon-reload" in first.calls
    assert "systemctl enable --quiet showctl.service" in first.calls
    assert not [c for c in first.calls if c.startswith(("systemctl start", "systemctl restart"))]
    assert not [c for c in first.calls if c.startswith("apt-get")], "all were installed here"


def test_the_user_is_a_system_user_in_audio_and_gpio(box: Box) -> None:
    root = box.root
    passwd = (root / "etc" / "passwd").read_text().splitlines()
    user = next(line.split(":") for line in passwd if line.startswith("showctl:"))
    assert (user[5], user[6]) == ("/var/lib/showctl", "/usr/sbin/nologin")
    assert int(user[2]) < 1000, "a system user"
    assert "showctl" in members(root, "audio")
    assert "showctl" in members(root, "gpio")
    assert members(root, "showctl") == [], "its own group, as the unit's Group= asks"


def test_the_installed_program_runs_and_accepts_the_installed_show(box: Box) -> None:
    root = box.root
    assert run_showctl(root, "--version").stdout.strip() == f"showctl {__version__}"
    installed = root / "etc" / "showctl" / "show.yaml"
    checked = run_showctl(root, "check", str(installed))
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.splitlines()[-1] == f"{installed}: 0 errors, 0 warnings: ok"
    loaded = loader.load(installed)
    assert loaded.media_dir == root / "etc" / "showctl" / "media"
    settings_file = installed.parent / "settings.toml"
    unreadable = [p for p in installed.parent.rglob("*") if not p.stat().st_mode & 0o004]
    assert unreadable == [settings_file], "the service's user reads the show and its clips"
    # The settings may hold secrets: root and the service's group only.
    group = next(
        line.split(":")[2]
        for line in (root / "etc" / "group").read_text().splitlines()
        if line.startswith("showctl:")
    )
    info = settings_file.stat()
    assert (info.st_mode & 0o777, info.st_gid) == (0o640, int(group))
    assert settings.load(settings_file).web == settings.WebSettings()
    assert loaded.scenes == loader.load(ROOT / "shows" / "demo.yaml").scenes


def test_the_udev_rule_and_the_unit_are_in_place_and_enabled(box: Box) -> None:
    root = box.root
    rule = root / "etc" / "udev" / "rules.d" / "99-showctl-gpio.rules"
    assert rule.read_text() == (ROOT / "deploy" / "udev" / "99-showctl-gpio.rules").read_text()
    assert 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' in rule.read_text()
    unit = root / "etc" / "systemd" / "system" / "showctl.service"
    assert unit.read_text() == (ROOT / "systemd" / "showctl.service").read_text()
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "showctl.service"
    assert os.readlink(wants) == "/etc/systemd/system/showctl.service"
    assert (root / VENV / "bin" / "showctl").is_file()
    assert os.readlink(root / "usr/local/bin/showctl") == "/opt/showctl/venv/bin/showctl"


def test_a_second_run_changes_nothing(box: Box) -> None:
    """Not a file, a time or a byte under the root; only questions asked of systemd."""
    root = box.root
    before = snapshot(root)
    second = install(root, script=box.script)
    assert (second.code, second.out) == (0, [NOTHING])
    assert snapshot(root) == before
    asked = [c.split()[:2] for c in second.calls]
    assert asked == [["systemctl", "is-enabled"], ["systemctl", "is-active"]]


def test_a_show_the_user_edited_is_never_replaced(copy_of_box: Box) -> None:
    root, script = copy_of_box.root, copy_of_box.script
    installed = root / "etc" / "showctl" / "show.yaml"
    edited = installed.read_text().replace("Tides and chorus", "Tides, edited")
    installed.write_text(edited)
    before = snapshot(root)

    again = install(root, script=script)
    assert (again.code, again.out) == (0, [NOTHING])

    demo = install(root, "--show", str(copy_of_box.checkout / "shows" / "demo.yaml"), script=script)
    assert demo.code == 1
    assert demo.err == [
        f"install.sh: {installed} is a different show, and is kept: add --replace-show to replace "
        f"it (the old one is kept in {installed.parent}/backup-DATE-XXXX)."
    ]
    assert installed.read_text() == edited
    assert snapshot(root) == before


def test_replace_show_installs_another_show_and_keeps_the_old_one(copy_of_box: Box) -> None:
    """The new show's clips (those it plays) are copied; the old show and its media are moved
    to a backup; asked again, nothing is done."""
    root, script = copy_of_box.root, copy_of_box.script
    etc = root / "etc" / "showctl"
    old = (etc / "show.yaml").read_text()
    room = copy_of_box.checkout / "shows" / "escape-room.yaml"

    replaced = install(root, "--show", str(room), "--replace-show", script=script)
    assert replaced.code == 0, replaced.err
    (backup,) = etc.glob("backup-*")
    assert replaced.out == [
        f"moved the old show to {backup}",
        f"installed the show {room} as {etc}/show.yaml, its 7 clips in {etc}/media",
    ]
    assert (backup / "show.yaml").read_text() == old
    assert len(list((backup / "media").iterdir())) == 16
    loaded = loader.load(etc / "show.yaml")
    assert loaded.name == loader.load(room).name
    assert run_showctl(root, "check", str(etc / "show.yaml")).returncode == 0

    before = snapshot(root)
    again = install(root, "--show", str(room), "--replace-show", script=script)
    assert (again.code, again.out) == (0, [NOTHING])
    assert snapshot(root) == before


def test_a_show_with_errors_is_refused_with_its_errors(copy_of_box: Box, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ninitial: nowhere\nscenes:\n  a: {}\n")
    before = snapshot(copy_of_box.root)
    refused = install(
        copy_of_box.root, "--show", str(bad), "--replace-show", script=copy_of_box.script
    )
    assert refused.code == 1
    assert any(line.startswith(f"{bad}:2:10: initial:") for line in refused.err)
    assert refused.err[-1] == (
        f"install.sh: the show {bad} has errors (listed above): fix them "
        f"(showctl check {bad}) and run this again."
    )
    assert snapshot(copy_of_box.root) == before


def test_a_missing_group_membership_is_added(copy_of_box: Box) -> None:
    """A box where showctl was made before it needed gpio: only that is done."""
    group = copy_of_box.root / "etc" / "group"
    group.write_text(group.read_text().replace("gpio:x:999:showctl", "gpio:x:999:"))
    fixed = install(copy_of_box.root, script=copy_of_box.script)
    assert (fixed.code, fixed.out) == (0, ["added the user showctl to the group gpio"])
    assert members(copy_of_box.root, "gpio") == ["showctl"]


def test_start_starts_the_service(copy_of_box: Box) -> None:
    started = install(copy_of_box.root, "--start", script=copy_of_box.script)
    assert (started.code, started.out) == (0, ["started showctl.service"])
    assert "systemctl start showctl.service" in started.calls


def test_a_changed_checkout_is_installed_again(tmp_path: Path) -> None:
    """A change to the package or the unit is installed, the program rebuilt and systemd
    reloaded; the run after it has nothing to do."""
    checkout = copy_checkout(tmp_path / "checkout")
    script = checkout / "deploy" / "install.sh"
    root = seed(tmp_path / "root")
    assert install(root, script=script).code == 0

    init = checkout / "showctl" / "__init__.py"
    init.write_text(init.read_text() + "CHANGED = True\n")
    unit = checkout / "systemd" / "showctl.service"
    unit.write_text(unit.read_text().replace("RestartSec=2", "RestartSec=3"))
    changed = install(root, script=script)
    assert changed.code == 0, changed.err
    assert changed.out == [
        f"installed showctl {__version__} from {checkout} into {root / VENV}",
        f"installed {root}/etc/systemd/system/showctl.service; systemd reloaded",
    ]
    assert "systemctl daemon-reload" in changed.calls
    site = next((root / VENV / "lib").glob("python3*/site-packages"))
    assert (site / "showctl" / "__init__.py").read_text().endswith("CHANGED = True\n")
    assert "RestartSec=3" in (root / "etc/systemd/system/showctl.service").read_text()

    assert install(root, script=script).out == [NOTHING]


NOT_ROOT = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


DEBIAN = OS_RELEASE
FEDORA = 'PRETTY_NAME="Fedora Linux 40"\nID=fedora\n'
OLD_PYTHON = "#!/bin/sh\necho 3.9\n"


@pytest.mark.parametrize(
    ("user", "args", "os_release", "python", "said"),
    [
        ((), ["--frobnicate"], DEBIAN, "", "unknown option '--frobnicate': the options are"),
        ((), ["--replace-show"], DEBIAN, "", "--replace-show replaces the installed show"),
        ((), ["--show", "/no/such.yaml"], DEBIAN, "", "there is no show file /no/such.yaml"),
        ((), [], FEDORA, "", "this is Fedora Linux 40, not Debian"),
        ((), [], DEBIAN, OLD_PYTHON, "Python is 3.9 and showctl needs 3.11 or later"),
        (NOT_ROOT, [], DEBIAN, "", "it needs root to install showctl: run it again with sudo"),
    ],
    ids=["unknown option", "replace alone", "no show", "not Debian", "old python", "not root"],
)
def test_a_bad_invocation_is_one_sentence_and_changes_nothing(
    tmp_path: Path,
    user: tuple[str, ...],
    args: list[str],
    os_release: str,
    python: str,
    said: str,
) -> None:
    """It fails before changing anything, with one sentence naming the problem and the fix."""
    root = seed(tmp_path / "root", os_release)
    if python:
        (root / "usr" / "bin" / "python3").unlink()
        (root / "usr" / "bin" / "python3").write_text(python)
        (root / "usr" / "bin" / "python3").chmod(0o755)
    before = snapshot(root)
    script = SCRIPT
    if user:  # another user must be able to read the script, wherever the checkout is
        shared = Path(tempfile.mkdtemp())
        shared.chmod(0o755)
        script = Path(shutil.copy(SCRIPT, shared / SCRIPT.name))
    try:
        failed = install(root, *args, script=script, user=user)
    finally:
        if script != SCRIPT:
            shutil.rmtree(script.parent)
    assert failed.code == 1
    assert failed.out == []
    assert len(failed.err) == 1, failed.err
    assert failed.err[0].startswith(f"install.sh: {said}")
    assert failed.err[0].endswith(".")
    assert snapshot(root) == before
    assert failed.calls == []


def test_start_without_systemd_is_refused(tmp_path: Path) -> None:
    root = seed(tmp_path / "root")
    shutil.rmtree(root / "run" / "systemd")
    refused = install(root, "--start")
    assert refused.err == [
        "install.sh: systemd is not running here, so --start cannot start showctl: "
        "leave --start out (showctl starts at boot)."
    ]


def test_the_help_is_the_scripts_own_header() -> None:
    done = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("Install showctl on this box")
    assert "sudo deploy/install.sh [--show FILE [--replace-show]] [--start]" in done.stdout


def test_the_script_is_shellcheck_clean() -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail(
            "shellcheck is missing: run deploy/system-packages.sh deploy/apt-packages-test.txt"
        )
    done = subprocess.run(
        ["shellcheck", str(SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout == ""
