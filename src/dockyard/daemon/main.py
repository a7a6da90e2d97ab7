"""Entry point of ``dockyardd`` (not built yet: it says so and exits non-zero)."""

from __future__ import annotations

import sys

from dockyard import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["--version"], ["-v"]):
        print(f"Dockyard daemon version {__version__}")
        return 0
    print("dockyardd: the daemon is not built yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
