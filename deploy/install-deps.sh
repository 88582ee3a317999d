#!/usr/bin/env bash
# Installs what troupe needs to build and test on Debian bookworm, and
# nothing when everything is already there. Every dependency is a Debian
# package (no downloads from elsewhere).
set -euo pipefail

packages=(
  g++ make cmake ccache pkg-config
  libcaf-dev            # CAF 0.17.6: core, io, openssl
  protobuf-compiler libprotobuf-dev
  liblmdb-dev
  libspdlog-dev libfmt-dev
  doctest-dev
  libcli11-dev
  nlohmann-json3-dev
  libssl-dev
  libhttp-parser-dev
  curl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
