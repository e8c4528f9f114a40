"""The limits a scenario may ask for, checked before anything runs.

About :data:`MAX_EVENTS` events, :data:`MAX_CUSTOMERS` customers, times between
:data:`FIRST_TIME` and :data:`LAST_TIME` (every expiry, job end and timeline point included),
durations of at most :data:`MAX_DURATION_YEARS` years, amounts and per-customer totals that fit
in a signed 64-bit number of minor units, replay files of at most :data:`MAX_EVENTS` rows of at
most :data:`MAX_REPLAY_LINE` bytes each, lognormal spreads of at most :data:`MAX_SIGMA`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: The most events (grants, burns, job holds and their ends, replayed rows) a scenario may ask
#: for, estimated from its rates before it runs: about half an hour of simulation.
MAX_EVENTS = 100_000_000
#: The most customers a scenario may declare (a run keeps each one's account in memory:
#: about 1.5 KB each).
MAX_CUSTOMERS = 1_000_000
#: The longest duration a scenario may name.
MAX_DURATION_YEARS = 10_000
#: The earliest and latest time a simulation may reach (a day inside ``datetime``'s range, as
#: a ledger accepts): its start, its end, and every expiry, job end or void it makes.
FIRST_TIME = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LAST_TIME = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
#: The most points a timeline may have (its samples, and with meters each billing period's end).
MAX_POINTS = 20_000
#: The longest line of a replay file, in bytes.
MAX_REPLAY_LINE = 10_000
#: The largest sigma of a lognormal distribution (already 40 orders of magnitude of spread).
MAX_SIGMA = 10.0
