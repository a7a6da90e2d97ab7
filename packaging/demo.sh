#!/bin/sh
# The demo: a busybox container from the built-in base image, twice over.
#  1. dockyard-runtime alone, on a bundle made from Debian's busybox-static;
#  2. through the daemon: `dockyard run --rm busybox ...` (starts dockyardd for the demo
#     when none is running, and stops it again afterwards).
set -eu
DEMO=${DEMO:-/var/lib/dockyard/demo}
PY=${PY:-/opt/dockyard/bin/python}
"$PY" - "$DEMO/bundle" <<'PYEOF'
import json, sys
from pathlib import Path
from dockyard.runtime.specgen import default_spec
from dockyard.testing.rootfs import make_busybox_rootfs

bundle = Path(sys.argv[1])
if not (bundle / "rootfs/bin/busybox").exists():
    make_busybox_rootfs(bundle / "rootfs")
spec = default_spec()
spec["hostname"] = "demo"
spec["process"]["terminal"] = False
spec["process"]["args"] = ["sh", "-c",
    'echo "hello from $(hostname): pid $$, $(id)"; echo "processes:"; ps; '
    'echo "mounts:"; cut -d" " -f2,3 /proc/mounts | head -8']
(bundle / "config.json").write_text(json.dumps(spec, indent=2))
PYEOF
echo "== dockyard-runtime run"
dockyard-runtime delete --force dockyard-demo 2>/dev/null || true
dockyard-runtime run --bundle "$DEMO/bundle" dockyard-demo

echo "== dockyard run --rm busybox (through dockyardd)"
started=""
if ! dockyard version >/dev/null 2>&1; then
    dockyardd >/var/log/dockyardd-demo.log 2>&1 &
    started=$!
    for _ in $(seq 1 100); do dockyard version >/dev/null 2>&1 && break; sleep 0.1; done
fi
status=0
dockyard run --rm --network none busybox sh -c 'echo "hello from container $(hostname) as $(id -un)"; uname -sr' || status=$?
dockyard images
if [ -n "$started" ]; then
    kill -TERM "$started"
    wait "$started" || true
fi
exit $status
