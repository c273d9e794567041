#!/bin/sh
# Install the Debian packages listed in a file (default: deploy/apt-packages.txt)
# that are not installed yet. Uses apt-get as root, or through sudo.
# Does nothing, and needs no privileges, when everything is already there.
#
# A line of the list is a package, then optionally the systemd units it brings that are not to
# be left enabled (Debian enables and starts a package's service when it installs it): for a
# package installed now, each is disabled, and stopped when systemd runs. A unit written
# user:UNIT is a user unit, enabled for every user (systemctl --global): it is disabled for
# every user, and not stopped (it runs in users' own sessions, if any, until they end). A
# package that was already there is left as it is, its services with it.
#
# For tests: SHOWCTL_ROOT=DIR (absolute) is where it looks for DIR/run/systemd/system (systemd
# running); the commands it runs (dpkg-query, apt-get, sudo, systemctl) are not redirected, so
# a test puts stand-ins for them first on PATH.
set -eu
list=${1:-"$(dirname "$0")/apt-packages.txt"}
root=${SHOWCTL_ROOT:-}
missing=""
units=""
while read -r pkg brings || [ -n "$pkg" ]; do
    case $pkg in "" | "#"*) continue ;; esac
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $pkg"
        units="$units $brings"
    fi
done <"$list"
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "showctl needs these Debian packages:$missing; install them with your package manager." >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "showctl needs these Debian packages:$missing; run this again as root or install sudo." >&2
        exit 1
    fi
    sudo=sudo
fi
echo "Installing Debian packages:$missing"
$sudo apt-get update -qq
# shellcheck disable=SC2086  # word splitting of the package list is intended
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
for unit in $units; do
    case $unit in
        user:*)
            $sudo systemctl --global disable --quiet "${unit#user:}"
            echo "Disabled the user unit ${unit#user:} for every user, which its package enabled: $list says it is not to run."
            ;;
        *)
            $sudo systemctl disable --quiet "$unit"
            [ ! -d "$root/run/systemd/system" ] || $sudo systemctl stop "$unit"
            echo "Disabled $unit, which its package enabled and started: $list says it is not to run."
            ;;
    esac
done
