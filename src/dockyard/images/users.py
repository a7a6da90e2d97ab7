"""Users and groups of a root file system: ``user[:group]`` to numeric ids.

Reads the rootfs's own ``/etc/passwd`` and ``/etc/group`` (never the host's), as the
container's USER and a build's ``--chown`` need.
"""

from __future__ import annotations

from pathlib import Path

from dockyard.errors import NotFound


def read_db(rootfs: Path, name: str) -> list[list[str]]:
    """The colon-separated entries of ``/etc/<name>`` in ``rootfs`` (none if missing)."""
    try:
        text = (rootfs / "etc" / name).read_text(errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(rootfs: Path, user: str) -> tuple[int, int, list[int]]:
    """``user[:group]`` (names or numbers) to (uid, gid, supplementary gids).

    As in a Docker container (checked against dockerd 20.10), the supplementary groups
    are the primary group, then, without an explicit group, the groups that list the
    user: ``id`` shows ``groups=65534(nogroup)`` for ``nobody``, ``groups=34`` for
    ``12:34``, ``groups=1(daemon),50(staff)`` for a member of staff."""
    name, _, group = (user or "0").partition(":")
    passwd = read_db(rootfs, "passwd")
    groups = read_db(rootfs, "group")
    entry = next((e for e in passwd if len(e) > 3 and (e[0] == name or e[2] == name)), None)
    if entry is not None:
        uid, gid, login = int(entry[2]), int(entry[3]), entry[0]
    elif name.isdigit():
        uid, gid, login = int(name), 0, ""
    else:
        raise NotFound(f"unable to find user {name}: no matching entries in passwd file")
    if group:
        gid = resolve_group(groups, group)
    member = {int(g[2]) for g in groups if len(g) > 3 and login and login in g[3].split(",")}
    return uid, gid, [gid, *sorted(member - {gid})] if not group else [gid]


def resolve_group(groups: list[list[str]], group: str) -> int:
    match = next((g for g in groups if len(g) > 2 and group in (g[0], g[2])), None)
    if match is not None:
        return int(match[2])
    if group.isdigit():
        return int(group)
    raise NotFound(f"unable to find group {group}: no matching entries in group file")


def chown_ids(rootfs: Path, spec: str) -> tuple[int, int]:
    """A build's ``--chown=user[:group]``. Without a group, as docker: a numeric user's
    gid is its uid, a user name is looked up as a group name too."""
    name, _, group = spec.partition(":")
    if not group and not name.isdigit():
        group = name
    if name.isdigit():
        uid = int(name)
    else:
        entry = next((e for e in read_db(rootfs, "passwd") if len(e) > 3 and e[0] == name), None)
        if entry is None:
            raise NotFound(
                f"unable to convert uid/gid chown string to host mapping: can't find uid for "
                f"user {name}: no such user: {name}"
            )
        uid = int(entry[2])
    gid = resolve_group(read_db(rootfs, "group"), group) if group else uid
    return uid, gid
