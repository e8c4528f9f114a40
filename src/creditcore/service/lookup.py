"""Finding what a write or read names (a hold, a block), and putting back into a loaded
state what a load leaves out."""

from __future__ import annotations

from creditcore.errors import NotFound
from creditcore.repository import Reader
from creditcore.state import AccountState, BlockState, HoldState


def find_hold(reader: Reader, hold_id: str) -> HoldState:
    found = reader.find_hold(hold_id)
    if found is None:
        raise NotFound(f"no hold {hold_id!r}")
    return found


def find_block(reader: Reader, block_id: str) -> BlockState:
    found = reader.find_block(block_id)
    if found is None:
        raise NotFound(f"no block {block_id!r}")
    return found


def due_block_customer(reader: Reader, block_id: str) -> str | None:
    """The customer of a block a due event makes (a schedule's period ``<schedule_id>/<n>``,
    its carry ``<schedule_id>/<n>/carry``, a top-up ``<customer>/top_up/<number>``), read
    from its id: such a block exists for reads and writes before any write records it (due
    events count whether recorded or not). ``None`` if the id is not of that form."""
    owner, _, number = block_id.rpartition("/top_up/")
    if owner and number.isdigit():
        return owner
    schedule_id, _, period = block_id.removesuffix("/carry").rpartition("/")
    found = reader.find_schedule(schedule_id) if schedule_id and period.isdigit() else None
    return None if found is None else found.customer


def with_block(state: AccountState, block: BlockState) -> AccountState:
    """The state with a block that a load leaves out (it has no credit left) put back."""
    return state.with_block(block)


def with_hold(state: AccountState, found: HoldState) -> AccountState:
    """The state with a hold that a load leaves out (it has ended) put back."""
    return state.with_hold(found)
