"""Entry point of dockyard-runtime (placeholder until the runtime lands)."""

import sys


def main() -> int:
    return 2


if __name__ == "__main__":
    sys.exit(main())
