"""Entry point of ``dockyard``.

The daemon and its client land with the daemon issue; until then the command says so
plainly instead of pretending.
"""

from __future__ import annotations

import sys

from dockyard import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["--version"], ["version"], ["-v"]):
        print(f"Dockyard version {__version__}")
        return 0
    print(
        "dockyard: the client needs dockyardd, which is not built yet; "
        "run containers with 'dockyard-runtime run' for now",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
