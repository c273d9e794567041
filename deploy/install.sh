#!/bin/sh
# Install showctl on this box, or bring an installation up to date, from the checkout this
# script is in. For Debian 12 (bookworm) or Raspberry Pi OS bookworm, or later. Run as root:
#
#   sudo deploy/install.sh [--show FILE [--replace-show]] [--start]
#
# It puts in place, each only when missing or changed, and says one line per change (or
# "nothing to do"):
#   - the Debian packages of deploy/apt-packages.txt (through deploy/system-packages.sh);
#   - the system user showctl, without a login shell, in the groups audio and gpio (the gpio
#     group is made if missing);
#   - /opt/showctl/venv: showctl built from this checkout at the versions of constraints.txt,
#     rebuilt only when the checkout's package files (pyproject.toml, README.md, showctl/,
#     constraints.txt) or the Python version change; /usr/local/bin/showctl links to it, unless
#     something else is there;
#   - /etc/showctl/show.yaml and its clips in /etc/showctl/media/: the demo (shows/demo.yaml),
#     or --show FILE, on the first install only. The show there is the user's from then on:
#     never overwritten, unless --show FILE names a different one and --replace-show is given,
#     and then the old show.yaml and media/ are moved to /etc/showctl/backup-DATE-XXXX/;
#   - /etc/showctl/settings.toml (deploy/settings.toml: the web page on 127.0.0.1:8080, no MQTT,
#     no OSC), on the first install only, then the user's; readable by root and the group
#     showctl only (it may hold the web token and the MQTT password);
#   - /etc/udev/rules.d/99-showctl-gpio.rules (udev reloaded when it changed and udev runs);
#   - /etc/systemd/system/showctl.service (systemd reloaded when it changed and systemd runs),
#     enabled so it starts at boot. It is not started (a new box's show has no sound cards
#     yet): --start starts it, or restarts it when what it runs changed.
#
# For tests: SHOWCTL_ROOT=DIR (absolute) puts every file the script reads or writes about the
# system under DIR (DIR/etc/passwd, DIR/etc/os-release, DIR/usr/bin/python3, DIR/opt/showctl,
# DIR/etc/showctl, DIR/run/systemd/system, DIR/run/udev/control, ...); useradd, groupadd and
# usermod get --prefix DIR. The other commands it runs (apt-get, systemctl, udevadm) are not
# redirected, so a test puts stand-ins for them first on PATH.
set -eu
umask 022

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
root=${SHOWCTL_ROOT:-}
venv=$root/opt/showctl/venv
stamp=$venv/.showctl-source
etc=$root/etc/showctl
rule=$root/etc/udev/rules.d/99-showctl-gpio.rules
unit=$root/etc/systemd/system/showctl.service
link=$root/usr/local/bin/showctl
python=$root/usr/bin/python3

show=""
replace=0
start=0
changed=0       # anything changed
renewed=0       # what the service runs changed: the program, the unit or the show

die() {
    echo "install.sh: $*" >&2
    exit 1
}

say() {
    echo "$*"
    changed=1
}

usage() {
    awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"
}

while [ $# -gt 0 ]; do
    case $1 in
        --show)
            [ $# -ge 2 ] || die "--show needs a show file: --show FILE."
            show=$2
            shift 2
            ;;
        --show=*)
            show=${1#--show=}
            shift
            ;;
        --replace-show) replace=1; shift ;;
        --start) start=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1': the options are --show FILE, --replace-show, --start and --help." ;;
    esac
done

[ "$replace" = 0 ] || [ -n "$show" ] ||
    die "--replace-show replaces the installed show with the one --show FILE names: add --show FILE."
case $root in
    "" | /*) ;;
    *) die "SHOWCTL_ROOT must be an absolute path, not '$root'." ;;
esac
[ "$(id -u)" = 0 ] || die "it needs root to install showctl: run it again with sudo, as 'sudo $0'."

os_release=$root/etc/os-release
[ -r "$os_release" ] || os_release=$root/usr/lib/os-release
# shellcheck disable=SC1090  # os-release is shell assignments by its specification
os=$(
    ID="" ID_LIKE="" PRETTY_NAME=""
    [ -r "$os_release" ] && . "$os_release"
    echo "${PRETTY_NAME:-an unknown system}|$ID $ID_LIKE"
)
case " ${os#*|} " in
    *" debian "*) ;;
    *) die "this is ${os%%|*}, not Debian: showctl installs on Debian 12 (bookworm) or Raspberry Pi OS bookworm, or later." ;;
esac

if [ -n "$show" ]; then
    if [ ! -f "$show" ] || [ ! -r "$show" ]; then
        die "there is no show file $show: give --show the path of a show file."
    fi
    show=$(cd "$(dirname "$show")" && pwd)/$(basename "$show")
fi
if [ "$start" = 1 ] && [ ! -d "$root/run/systemd/system" ]; then
    die "systemd is not running here, so --start cannot start showctl: leave --start out (showctl starts at boot)."
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Debian packages.
if ! out=$("$here/system-packages.sh" "$here/apt-packages.txt"); then
    [ -z "$out" ] || echo "$out"
    die "the Debian packages could not be installed (apt-get's message is above): fix that and run this again."
fi
[ -z "$out" ] || say "$out"

# Debian's Python, whatever else is on PATH: the service runs it, as the user showctl, at boot.
[ -x "$python" ] || die "there is no $python: install the Debian package python3."
python_version=$("$python" -c 'import sys; print(*sys.version_info[:2], sep=".")')
major=${python_version%%.*}
minor=${python_version#*.}
if [ "$major" -lt 3 ] || { [ "$major" = 3 ] && [ "$minor" -lt 11 ]; }; then
    die "Python is $python_version and showctl needs 3.11 or later: install on Debian 12 (bookworm) or later."
fi

# The user and its groups, in the system's files (under $SHOWCTL_ROOT for tests).
shadow_tool() {
    tool=$1
    shift
    if [ -n "$root" ]; then "$tool" --prefix "$root" "$@"; else "$tool" "$@"; fi
}
has_entry() { grep -q "^$2:" "$root/etc/$1"; }
is_member() {
    awk -F: -v group="$1" -v user="$2" '
        $1 == group { n = split($4, members, ","); for (i = 1; i <= n; i++) if (members[i] == user) found = 1 }
        END { exit !found }' "$root/etc/group"
}

for group in audio gpio; do
    if ! has_entry group "$group"; then
        shadow_tool groupadd --system "$group"
        say "created the system group $group"
    fi
done
if ! has_entry passwd showctl; then
    own_group=--user-group
    ! has_entry group showctl || own_group="--gid showctl"
    # shellcheck disable=SC2086  # $own_group is one or two words on purpose
    shadow_tool useradd --system $own_group --groups audio,gpio --no-create-home \
        --home-dir /var/lib/showctl --shell /usr/sbin/nologin --comment "showctl show controller" \
        showctl
    say "created the system user showctl (no login), in the groups audio and gpio"
else
    for group in audio gpio; do
        if ! is_member "$group" showctl; then
            shadow_tool usermod --append --groups "$group" showctl
            say "added the user showctl to the group $group"
        fi
    done
fi

# The program: a virtual environment, showctl built from a clean copy of the package files.
mkdir "$tmp/src"
tar -C "$src" --exclude=__pycache__ --exclude='*.pyc' -cf - pyproject.toml README.md showctl |
    tar -C "$tmp/src" -xf -
source_hash=$(
    cd "$tmp/src"
    find . -type f -exec sha256sum {} + | LC_ALL=C sort -k 2
    sha256sum <"$src/constraints.txt"
    "$python" -c 'import sys; print(sys.version)'
)
source_hash=$(echo "$source_hash" | sha256sum | cut -d ' ' -f 1)

venv_version=none
if [ -x "$venv/bin/python" ] && [ -r "$venv/pyvenv.cfg" ]; then
    venv_version=$(sed -n 's/^version *= *\([0-9]*\.[0-9]*\).*/\1/p' "$venv/pyvenv.cfg")
fi
if [ "$venv_version" != "$python_version" ]; then
    "$python" -m venv --clear "$venv" || die "python3 -m venv could not make $venv (its message is above): install the Debian package python3-venv."
    say "created the virtual environment $venv (Python $python_version)"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$source_hash" ]; then
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
        -c "$src/constraints.txt" "$tmp/src" ||
        die "pip could not install showctl into $venv (its message is above): check the network and run this again."
    echo "$source_hash" >"$stamp"
    renewed=1
    say "installed $("$venv/bin/showctl" --version) from $src into $venv"
fi
"$venv/bin/showctl" --version >/dev/null 2>&1 ||
    die "$venv/bin/showctl does not run: remove $venv and run this again."

if [ ! -e "$link" ] && [ ! -L "$link" ]; then
    mkdir -p "$(dirname "$link")"
    ln -s /opt/showctl/venv/bin/showctl "$link"
    say "linked $link to /opt/showctl/venv/bin/showctl"
fi

# The show: installed once, then the user's.
if [ -n "$show" ] || [ ! -e "$etc/show.yaml" ]; then
    from=${show:-$src/shows/demo.yaml}
    "$venv/bin/showctl" check "$from" >"$tmp/check.txt" 2>&1 || {
        cat "$tmp/check.txt" >&2
        die "the show $from has errors (listed above): fix them (showctl check $from) and run this again."
    }
    # A copy of the show beside the clips it plays, its 'media:' pointing at them.
    if ! "$venv/bin/python" - "$from" "$tmp/show" <<'EOF' >"$tmp/clips.txt"
import re
import shutil
import sys
from pathlib import Path

from showctl.show import loader

source, stage = Path(sys.argv[1]), Path(sys.argv[2])
loaded = loader.load(source, check_media=False)
clips = sorted(loaded.every_clip())
for clip in clips:
    target = stage / "media" / clip
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(loaded.clip_path(clip), target)
(stage / "media").mkdir(parents=True, exist_ok=True)
line = "media: media    # the clips' folder, beside this file (set by deploy/install.sh)"
text, found = re.subn(r"^media:.*$", line, source.read_text(encoding="utf-8"), count=1, flags=re.M)
if not found:
    text = text.rstrip("\n") + "\n" + line + "\n"
(stage / "show.yaml").write_text(text, encoding="utf-8")
print(len(clips))
EOF
    then
        die "the show $from and its clips could not be copied (see above): check that they can be read."
    fi
    "$venv/bin/showctl" check "$tmp/show/show.yaml" >"$tmp/check.txt" 2>&1 || {
        cat "$tmp/check.txt" >&2
        die "the copy of $from does not find its clips (see above): give the show a top-level 'media:' line and run this again."
    }
    if [ -e "$etc/show.yaml" ] && cmp -s "$tmp/show/show.yaml" "$etc/show.yaml" &&
        diff -r "$tmp/show/media" "$etc/media" >/dev/null 2>&1; then
        : # that show is the one installed
    else
        if [ -e "$etc/show.yaml" ] && [ "$replace" = 0 ]; then
            die "$etc/show.yaml is a different show, and is kept: add --replace-show to replace it (the old one is kept in $etc/backup-DATE-XXXX)."
        fi
        mkdir -p "$etc"
        if [ -e "$etc/show.yaml" ] || [ -e "$etc/media" ]; then
            backup=$(mktemp -d "$etc/backup-$(date +%Y%m%d-%H%M%S)-XXXX")
            chmod 755 "$backup"
            for old in show.yaml media; do
                [ ! -e "$etc/$old" ] || mv "$etc/$old" "$backup/"
            done
            say "moved the old show to $backup"
        fi
        cp -R "$tmp/show/media" "$etc/media"
        cp "$tmp/show/show.yaml" "$etc/show.yaml"
        renewed=1
        say "installed the show $from as $etc/show.yaml, its $(cat "$tmp/clips.txt") clips in $etc/media"
    fi
fi

# The settings: the example, once; from then on the user's.
if [ ! -e "$etc/settings.toml" ]; then
    mkdir -p "$etc"
    cp "$here/settings.toml" "$etc/settings.toml.new"
    chmod 640 "$etc/settings.toml.new"
    chgrp "$(awk -F: '$1 == "showctl" { print $3 }' "$root/etc/group")" "$etc/settings.toml.new"
    mv -f "$etc/settings.toml.new" "$etc/settings.toml"
    say "installed the settings $etc/settings.toml (the web page on 127.0.0.1:8080)"
fi

# Files that take effect when their service reloads.
install_file() {
    if [ -f "$2" ] && cmp -s "$1" "$2"; then
        return 1
    fi
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2.new"
    chmod 644 "$2.new"
    mv -f "$2.new" "$2"
}

if install_file "$here/udev/99-showctl-gpio.rules" "$rule"; then
    if command -v udevadm >/dev/null 2>&1 && [ -e "$root/run/udev/control" ]; then
        udevadm control --reload
        udevadm trigger --subsystem-match=gpio --action=change
        say "installed $rule; udev reloaded"
    else
        say "installed $rule (udev is not running: it applies from the next boot)"
    fi
fi

systemd_runs=0
[ ! -d "$root/run/systemd/system" ] || systemd_runs=1
if install_file "$src/systemd/showctl.service" "$unit"; then
    renewed=1
    if [ "$systemd_runs" = 1 ]; then
        systemctl daemon-reload
        say "installed $unit; systemd reloaded"
    else
        say "installed $unit"
    fi
fi
if ! systemctl is-enabled --quiet showctl.service 2>/dev/null; then
    systemctl enable --quiet showctl.service
    say "enabled showctl.service: it starts at boot"
fi

if [ "$systemd_runs" = 1 ]; then
    if systemctl is-active --quiet showctl.service; then
        if [ "$renewed" = 1 ] && [ "$start" = 1 ]; then
            systemctl restart showctl.service
            say "restarted showctl.service"
        elif [ "$renewed" = 1 ]; then
            echo "showctl.service still runs what was there before: sudo systemctl restart showctl"
        fi
    elif [ "$start" = 1 ]; then
        systemctl start showctl.service
        say "started showctl.service"
    fi
fi

[ "$changed" = 1 ] || echo "nothing to do: showctl is installed and up to date"
