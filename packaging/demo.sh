#!/bin/sh
# Run a container from the built-in busybox base: a bundle made from Debian's
# busybox-static, run by dockyard-runtime. Prints what the container sees of itself.
set -eu
DEMO=${DEMO:-/var/lib/dockyard/demo}
PY=${PY:-/opt/dockyard/bin/python}
if [ ! -x "$DEMO/bundle/rootfs/bin/busybox" ]; then
    "$PY" -c "import sys; from pathlib import Path; from dockyard.testing.rootfs import make_busybox_rootfs; make_busybox_rootfs(Path(sys.argv[1]))" "$DEMO/bundle/rootfs"
fi
cd "$DEMO/bundle"
[ -f config.json ] || dockyard-runtime spec
dockyard-runtime delete --force dockyard-demo 2>/dev/null || true
exec dockyard-runtime run dockyard-demo sh -c 'echo "hello from $(hostname): pid $$, $(id)"; echo "mounts:"; cat /proc/mounts | cut -d" " -f2 | head -12'
