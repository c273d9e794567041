#!/bin/sh
# Unpack PipeWire's ALSA plugin (libasound_module_pcm_pipewire.so) into a folder of its own,
# without installing Debian's pipewire-alsa: that package conflicts with pulseaudio (installing
# it removes PulseAudio) and makes PipeWire the system's default ALSA device through
# /etc/alsa/conf.d. The test harness's sound hub (tests/harness/soundhub.py) names the unpacked
# plugin in its private ALSA configuration (pcm_type.pipewire { lib ... }), so nothing
# system-wide changes.
#
# Usage: deploy/pipewire-alsa-plugin.sh DEST
# Prints the plugin's path. Does nothing but print it when DEST already holds it. Needs no
# privileges: apt-get download fetches the package of the installed libpipewire's version
# (the plugin must match it exactly) and dpkg-deb -x unpacks it into a scratch folder.
set -eu
dest=${1:?usage: $0 DEST}
plugin="$dest/libasound_module_pcm_pipewire.so"
if [ -f "$plugin" ]; then
    echo "$plugin"
    exit 0
fi
version=$(dpkg-query -W -f='${Version}' libpipewire-0.3-0 2>/dev/null || true)
if [ -z "$version" ]; then
    echo "PipeWire is not installed: run deploy/system-packages.sh deploy/apt-packages-test.txt" >&2
    exit 1
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# apt-get download writes into the current folder; as root it warns that _apt cannot reach
# the scratch folder, and downloads unsandboxed: harmless.
(cd "$scratch" && apt-get download -qq "pipewire-alsa=$version" 2>/dev/null) || {
    echo "could not download pipewire-alsa $version (apt-get update, or no network?)" >&2
    exit 1
}
dpkg-deb -x "$scratch"/pipewire-alsa_*.deb "$scratch/root"
mkdir -p "$dest"
found=$(find "$scratch/root" -name libasound_module_pcm_pipewire.so | head -n 1)
[ -n "$found" ] || {
    echo "pipewire-alsa $version holds no libasound_module_pcm_pipewire.so" >&2
    exit 1
}
cp "$found" "$plugin.tmp"
mv "$plugin.tmp" "$plugin"
echo "$plugin"
