"""``Mount``: what a snapshotter hands out, and the helpers that perform it.

A mount is data (type, source, options) so it can be logged, stored, passed to an OCI
runtime's ``mounts`` or performed here. Overlay mounts whose options carry
``lowerdir+=<dir>`` entries (one per layer, top first) are performed through the new mount
API, because the classic ``lowerdir=a:b:c`` data string must fit in one page.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.kernel import mount as km

# options that are mount(2) flags rather than file system data
_FLAGS = {
    "ro": km.MS_RDONLY,
    "nosuid": km.MS_NOSUID,
    "nodev": km.MS_NODEV,
    "noexec": km.MS_NOEXEC,
    "noatime": km.MS_NOATIME,
    "relatime": km.MS_RELATIME,
}
_CLEAR = {"rw"}
LOWERDIR_PLUS = "lowerdir+="
FSCONFIG_STRING_MAX = 255  # fsconfig(2) rejects longer strings with EINVAL
_DIR_KEYS = {"lowerdir+", "datadir+", "upperdir", "workdir"}


@dataclass(frozen=True)
class Mount:
    """One mount: ``type`` is a file system type or "bind"; ``options`` as in fstab."""

    type: str
    source: str
    options: tuple[str, ...] = ()

    @property
    def uses_new_api(self) -> bool:
        return any(o.startswith(LOWERDIR_PLUS) for o in self.options)

    @property
    def readonly(self) -> bool:
        return "ro" in self.options

    def mount(self, target: str | os.PathLike[str]) -> None:
        """Perform this mount at ``target`` (an existing directory)."""
        if self.type == "bind":
            self._bind(target)
        elif self.uses_new_api:
            self._new_api(target)
        else:
            flags, data = split_options(self.options)
            km.mount(self.source, target, self.type, flags, ",".join(data) or None)

    def _bind(self, target: str | os.PathLike[str]) -> None:
        flags = km.MS_BIND | (km.MS_REC if "rbind" in self.options else 0)
        km.mount(self.source, target, None, flags)
        extra, _ = split_options(tuple(o for o in self.options if o not in ("bind", "rbind")))
        if extra:
            # a bind mount ignores other flags until it is remounted with them
            km.mount(None, target, None, km.MS_REMOUNT | km.MS_BIND | extra)

    def _new_api(self, target: str | os.PathLike[str]) -> None:
        from dockyard.kernel import newmount

        attrs = newmount.MOUNT_ATTR_RDONLY if self.readonly else 0
        params: list[tuple[str, str | None]] = [("source", self.source)]
        fds: list[int] = []
        try:
            for option in self.options:
                if option in _FLAGS or option in _CLEAR:
                    continue
                key, sep, value = option.partition("=")
                if key in _DIR_KEYS and len(value.encode()) > FSCONFIG_STRING_MAX:
                    # fsconfig copies at most 255 bytes of a string: name the directory
                    # by an O_PATH descriptor instead, which the kernel follows
                    fds.append(os.open(value, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
                    value = f"/proc/self/fd/{fds[-1]}"
                params.append((key, value if sep else None))
            newmount.mount_fs(self.type, params, target, attrs)
        finally:
            for fd in fds:
                os.close(fd)


def split_options(options: Sequence[str]) -> tuple[int, list[str]]:
    """mount(2) flags and the remaining file-system data options."""
    flags = 0
    data = []
    for option in options:
        if option in _FLAGS:
            flags |= _FLAGS[option]
        elif option not in _CLEAR:
            data.append(option)
    return flags, data


def mount_all(mounts: Sequence[Mount], target: str | os.PathLike[str]) -> None:
    """Perform ``mounts`` in order at ``target``; undo the ones done if one fails."""
    done = 0
    try:
        for m in mounts:
            m.mount(target)
            done += 1
    except BaseException:
        for _ in range(done):
            km.umount(target, km.MNT_DETACH)
        raise


def unmount_all(target: str | os.PathLike[str]) -> None:
    """Unmount everything stacked at ``target`` (lazily, so open files do not block)."""
    path = os.path.realpath(target)
    while path in km.mountpoints():
        km.umount(path, km.MNT_DETACH)


def data_length(options: Sequence[str]) -> int:
    """Bytes mount(2) would copy for these options, terminating NUL included."""
    return len(",".join(split_options(options)[1]).encode()) + 1


def page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE")


def fits_in_page(options: Sequence[str]) -> bool:
    return data_length(options) <= page_size()
