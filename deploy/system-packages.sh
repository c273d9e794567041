#!/bin/sh
# Install the Debian packages listed in a file (default: deploy/apt-packages.txt)
# that are not installed yet. Uses apt-get as root, or through sudo.
# Does nothing, and needs no privileges, when everything is already there.
set -eu
list=${1:-"$(dirname "$0")/apt-packages.txt"}
missing=""
for pkg in $(grep -v '^[[:space:]]*#' "$list"); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $pkg"
    fi
done
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
