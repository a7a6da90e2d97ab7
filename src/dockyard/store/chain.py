"""Layer chain ids (OCI image spec, "Layer ChainID").

A diff id names one layer's uncompressed tar; a chain id names the stack of layers up to
and including it, so the same layer on two different bases gets two chain ids (it is two
different snapshots):

    ChainID(L0) = DiffID(L0)
    ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))
"""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.errors import InvalidArgument
from dockyard.types.digest import Digest


def next_chain_id(parent: Digest | None, diff_id: Digest) -> Digest:
    """The chain id of ``diff_id`` applied on top of the stack ``parent`` (None: base)."""
    if parent is None:
        return diff_id
    return Digest.of_bytes(f"{parent} {diff_id}".encode())


def chain_ids(diff_ids: Sequence[Digest]) -> list[Digest]:
    """The chain id of every prefix of ``diff_ids`` (bottom layer first)."""
    ids: list[Digest] = []
    parent: Digest | None = None
    for diff_id in diff_ids:
        parent = next_chain_id(parent, diff_id)
        ids.append(parent)
    return ids


def chain_id(diff_ids: Sequence[Digest]) -> Digest:
    """The chain id of the whole stack ``diff_ids`` (bottom layer first)."""
    if not diff_ids:
        raise InvalidArgument("cannot compute the chain id of no layers")
    return chain_ids(diff_ids)[-1]
