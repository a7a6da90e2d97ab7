#!/bin/sh
# Run a container from the built-in busybox base: a bundle made from Debian's
# busybox-static, run by dockyard-runtime. Prints what the container sees of itself.
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
dockyard-runtime delete --force dockyard-demo 2>/dev/null || true
exec dockyard-runtime run --bundle "$DEMO/bundle" dockyard-demo
