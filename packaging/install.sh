#!/bin/sh
# Install Dockyard on a Debian 12 host as root: system packages, a virtualenv at
# $PREFIX (default /opt/dockyard) with the project and its dev tools, and the three
# commands linked into /usr/local/bin. Idempotent: re-running only does what is missing.
set -eu
PREFIX=${PREFIX:-/opt/dockyard}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PKGS="python3 python3-venv python3-dev make gcc busybox-static runc crun btrfs-progs jq procps iproute2 kmod iptables nftables tini"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x "$PREFIX/bin/python" ]; then
    /usr/bin/python3 -m venv "$PREFIX"
fi
# the project's dependencies (pyproject.toml) come with it: zstandard, h11 and pyroute2
# (netlink for container networking; iptables or nftables above is the NAT backend)
"$PREFIX/bin/pip" install -q --disable-pip-version-check \
    --config-settings editable_mode=compat -e "$HERE[dev]"
# dockyard-runtime starts on every container start and dockyard on every command: their
# launchers run the interpreter with -I -S (no site, no environment; site and pip's
# wrapper cost ~5 ms) and put the package on sys.path themselves.
src=$("$PREFIX/bin/python" -c 'import dockyard, os; print(os.path.dirname(os.path.dirname(dockyard.__file__)))')
cat >"$PREFIX/bin/dockyard-runtime" <<LAUNCHER
#!$PREFIX/bin/python -IS
import sys
sys.path.insert(0, "$src")
from dockyard.runtime.cli import run_and_exit
run_and_exit()
LAUNCHER
# the same for the client CLI (it needs nothing outside the stdlib and the package)
cat >"$PREFIX/bin/dockyard" <<LAUNCHER
#!$PREFIX/bin/python -IS
import sys
sys.path.insert(0, "$src")
from dockyard.cli.main import main
sys.exit(main())
LAUNCHER
for cmd in dockyard dockyardd dockyard-runtime; do
    ln -sf "$PREFIX/bin/$cmd" "/usr/local/bin/$cmd"
done
# compile once so the commands start fast for every user
"$PREFIX/bin/python" -m compileall -q "$HERE/src" >/dev/null
echo "dockyard installed in $PREFIX; commands in /usr/local/bin" >&2
