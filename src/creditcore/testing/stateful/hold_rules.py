"""The state machine's holds: placing one (it joins the bundle), capturing all, none, part
or too much of it, and releasing it (it leaves the bundle once ended)."""

from __future__ import annotations

from datetime import timedelta, tzinfo

from hypothesis import strategies as st
from hypothesis.stateful import MultipleResults, consumes, multiple, rule

from creditcore.testing import strategies as cst
from creditcore.testing.stateful.calls import (
    HOLDS,
    UNITS,
    Call,
    Names,
    at_choices,
    burn_categories,
    burn_scopes,
    customers,
    descriptions,
    sizes,
    zones,
)
from creditcore.testing.stateful.side_by_side import SideBySide


class HoldRules(SideBySide):
    """``hold``, ``capture`` and ``release``."""

    @rule(
        target=HOLDS,
        customer=customers,
        unit_amount=st.one_of(cst.unit_amounts({"credits": 0}, max_whole=30), cst.unit_amounts(UNITS, max_whole=30)),
        scope=burn_scopes,
        categories=burn_categories,
        size=sizes,
        expires=st.one_of(
            st.none(),
            st.none(),
            st.integers(min_value=1, max_value=4).map(lambda h: ("grid", h)),
            st.integers(min_value=1, max_value=90).map(lambda m: ("minutes", m)),
        ),
        description=descriptions,
        when=at_choices,
        zone=zones,
    )
    def hold(
        self,
        customer: str,
        unit_amount: tuple[str, object],
        scope: Names,
        categories: Names,
        size: str,
        expires: tuple[str, int] | None,
        description: str | None,
        when: str,
        zone: tzinfo,
    ) -> str | MultipleResults[str]:
        """A hold (sized like a burn, with a scope set and categories), timing out at a grid
        hour, after some minutes, or never."""
        unit, amount = unit_amount
        at = self._time_for(when, customer, zone)
        amount = self._sized(size, amount, customer, unit, scope, at, categories)
        base = at if at is not None else self.now
        expires_at = None
        if expires is not None:
            how, n = expires
            expires_at = self._grid(base, n, zone) if how == "grid" else base + timedelta(minutes=n)
        hold_id = f"hold-{next(self._ids)}"
        call = Call("hold", dict(
            customer=customer, amount=amount, hold_id=hold_id, unit=unit, scope=scope, expires_at=expires_at,
            description=description,
        ))  # fmt: skip
        if categories is not None:
            call = call.but(categories=categories)
        placed = self.perform(call, at)
        return hold_id if placed is not None else multiple()

    @rule(
        target=HOLDS,
        hold_id=consumes(HOLDS),
        how=st.sampled_from(("all", "explicit", "zero", "part", "part", "over")),
        part=st.integers(min_value=1, max_value=10**6),
        form=st.integers(min_value=0, max_value=cst.AMOUNT_FORMS - 1),
        when=at_choices,
        zone=zones,
    )
    def capture(
        self, hold_id: str, how: str, part: int, form: int, when: str, zone: tzinfo
    ) -> str | MultipleResults[str]:
        """A capture of all (``amount`` omitted or explicit), none, part or more than held.
        The hold leaves the bundle once it has ended; the replay rule tries it again."""
        found = self.model.holds.get(hold_id)
        amount: object = None
        if found is not None and how != "all":
            scale = UNITS[found.unit]
            held = int(found.amount.scaleb(scale))
            minor = {"explicit": held, "zero": 0, "part": part % held, "over": held + 1}[how]
            amount = cst.render_amount(minor, scale, form)
        call = Call("capture", {"hold_id": hold_id, "amount": amount})
        self.perform(call, self._time_for(when, self._customer_of(call), zone))
        return self._still_active(hold_id)

    @rule(target=HOLDS, hold_id=consumes(HOLDS), when=at_choices, zone=zones)
    def release(self, hold_id: str, when: str, zone: tzinfo) -> str | MultipleResults[str]:
        call = Call("release", {"hold_id": hold_id})
        self.perform(call, self._time_for(when, self._customer_of(call), zone))
        return self._still_active(hold_id)

    def _still_active(self, hold_id: str) -> str | MultipleResults[str]:
        """Back into the bundle while the hold can still be captured or released."""
        found = self.model.holds.get(hold_id)
        return hold_id if found is not None and found.status_at(self.now) == "active" else multiple()
