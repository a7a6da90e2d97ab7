"""Network interface flags through ioctl (no netlink library on the container start path)."""

from __future__ import annotations

import _socket
import fcntl
import struct

from dockyard._internal import lazylog

log = lazylog.getLogger(__name__)

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def link_up(name: str = "lo") -> None:
    """Bring interface ``name`` of the current network namespace up."""
    log.debug("link up %s", name)
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM, 0)
    try:
        req = struct.pack("16sh22x", name.encode(), 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        req = struct.pack("16sh22x", name.encode(), flags | IFF_UP)
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, req)
    except OSError as e:
        raise OSError(e.errno, f"bring {name} up: {e.strerror}") from None
    finally:
        s.close()
