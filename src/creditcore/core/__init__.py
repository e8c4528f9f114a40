"""The pure core: an account's state, the commands that change it and the rules that decide.

Integer minor units, no I/O, no clock, no ids drawn: the caller passes times and ids in. The
core imports nothing of creditcore but :mod:`creditcore.errors`, :mod:`creditcore.values` and
itself; the shell (the Ledger, the repositories, the adapters) sits above it.

- :mod:`~creditcore.core.state`: blocks, holds, entries, totals, the account, a balance;
- :mod:`~creditcore.core.commands`: what a caller asks (Grant, Burn, PlaceHold, ...);
- :mod:`~creditcore.core.order`: burn order;
- :mod:`~creditcore.core.effects`: the one place figures move;
- :mod:`~creditcore.core.due`: the one registry of events that fall due on their own;
- :mod:`~creditcore.core.rules`: every decision, each returning a Transition;
- :mod:`~creditcore.core.outcomes`: the Transition, the outcomes and the balance change;
- :mod:`~creditcore.core.history`: rebuild, audit, timeline.
"""
