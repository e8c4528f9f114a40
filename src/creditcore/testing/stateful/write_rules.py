"""The state machine's grants and burns: the opening grants (and debt), grants of every
shape, burns under each overdraft mode, and grants that pay debt off."""

from __future__ import annotations

from datetime import tzinfo

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from creditcore.testing import strategies as cst
from creditcore.testing.stateful.calls import (
    CUSTOMERS,
    HOUR,
    UNITS,
    Call,
    at_choices,
    burn_scopes,
    customers,
    descriptions,
    grant_amounts,
    grant_scopes,
    metadatas,
    priorities,
    scaled,
    sizes,
    zones,
)
from creditcore.testing.stateful.side_by_side import SideBySide


class WriteRules(SideBySide):
    """``open_account``, ``grant``, ``burn`` and ``grant_to_pay_debt``."""

    # -- rules -----------------------------------------------------------------------------

    @initialize(
        credits=st.integers(min_value=0, max_value=300),
        cents=st.integers(min_value=0, max_value=30_000),
        expires_in=st.one_of(st.none(), st.integers(min_value=1, max_value=8)),
        first=st.integers(min_value=0, max_value=40),
        debt=st.sampled_from((0, 0, 0, 4, 15, 40, 400)),
    )
    def open_account(self, credits: int, cents: int, expires_in: int | None, first: int, debt: int) -> None:
        """Units are declared again as they are (a no-op, SPEC §1), and the first customer
        may start with credit (0: none, which the shrinker prefers) so that burns and holds
        have something to draw on early: ``credits`` that may expire under a hold, ``cents``
        of usd, and a small block of ``first`` credits at priority 10 that burns first, so
        that burns, holds and captures often span two blocks. Before them, it may run up
        ``debt`` credits, which those grants then settle (one after the other when the first
        is smaller), so that reversals find settled debt to give back."""
        self.ledger.define_unit("usd", 2)
        if debt:
            self.perform(Call("burn", {"customer": CUSTOMERS[0], "amount": debt, "overdraft": "debt"}), None)
        expires_at = None if expires_in is None else self._grid(self.now, expires_in)
        for amount, unit, options in (
            (credits, "credits", {"expires_at": expires_at}),
            (scaled(cents, "usd"), "usd", {}),
            (first, "credits", {"priority": 10}),
        ):
            if amount:
                self.perform(Call("grant", {"customer": CUSTOMERS[0], "amount": amount, "unit": unit, **options}), None)

    @rule(
        customer=customers,
        unit_amount=grant_amounts,
        priority=priorities,
        category=cst.categories(),
        cost_basis=cst.cost_bases(),
        scope=grant_scopes,
        expires_in=st.one_of(st.none(), st.integers(min_value=1, max_value=8)),
        effective_in=st.one_of(st.none(), st.integers(min_value=-3, max_value=6)),
        keyed=st.booleans(),
        description=descriptions,
        metadata=metadatas,
        settle_debt=st.sampled_from((None, None, None, True, False)),
        when=at_choices,
        zone=zones,
    )
    def grant(
        self,
        customer: str,
        unit_amount: tuple[str, object],
        priority: int,
        category: str,
        cost_basis: object,
        scope: frozenset[str] | None,
        expires_in: int | None,
        effective_in: int | None,
        keyed: bool,
        description: str | None,
        metadata: dict[str, str] | None,
        settle_debt: bool | None,
        when: str,
        zone: tzinfo,
    ) -> None:
        """A grant; ``expires_in``/``effective_in`` count whole hours on the shared grid
        (``effective_in <= 0``: that many hours before the grant, already effective). An
        unscoped one pays debt off when it becomes active, unless ``settle_debt=False``."""
        unit, amount = unit_amount
        at = self._time_for(when, customer, zone)
        base = at if at is not None else self.now
        effective = None
        if effective_in is not None:
            effective = self._grid(base, effective_in, zone) if effective_in > 0 else base + effective_in * HOUR
        expires = None if expires_in is None else self._grid(base, expires_in, zone)
        call = Call("grant", dict(
            customer=customer, amount=amount, unit=unit, effective_at=effective, expires_at=expires,
            priority=priority, category=category, cost_basis=cost_basis, scope=scope, description=description,
            metadata=metadata, idempotency_key=f"key-{next(self._ids)}" if keyed else None,
        ))  # fmt: skip
        if settle_debt is not None:
            call = call.but(settle_debt=settle_debt)
        self.perform(call, at)

    @rule(
        customer=customers,
        unit_amount=st.one_of(cst.unit_amounts({"credits": 0}, max_whole=40), cst.unit_amounts(UNITS, max_whole=40)),
        scope=burn_scopes,
        size=sizes,
        overdraft=st.sampled_from(("reject", "partial", "debt", "debt")),
        keyed=st.booleans(),
        description=descriptions,
        when=at_choices,
        zone=zones,
    )
    def burn(
        self,
        customer: str,
        unit_amount: tuple[str, object],
        scope: str | None,
        size: str,
        overdraft: str,
        keyed: bool,
        description: str | None,
        when: str,
        zone: tzinfo,
    ) -> None:
        """A burn of the drawn amount, of all the scope can use, or of one minor unit more;
        with ``overdraft="debt"`` what no credit covers becomes debt (no limit is set)."""
        unit, amount = unit_amount
        at = self._time_for(when, customer, zone)
        amount = self._sized(size, amount, customer, unit, scope, at)
        call = Call("burn", dict(
            customer=customer, amount=amount, unit=unit, scope=scope, overdraft=overdraft, description=description,
            idempotency_key=f"key-{next(self._ids)}" if keyed else None,
        ))  # fmt: skip
        self.perform(call, at)

    def _owing(self) -> list[tuple[str, str]]:
        return [(c, u) for c in CUSTOMERS for u in UNITS if self.model.debt_view(c, u, self.now).debt > 0]

    @precondition(lambda self: bool(self._owing()))
    @rule(
        pick=st.integers(min_value=0, max_value=100),
        size=st.sampled_from(("half", "less", "same", "more")),
        effective_in=st.sampled_from((None, None, 1, 2)),
        expires_in=st.sampled_from((None, None, 3)),
        settle_debt=st.sampled_from((None, None, None, False)),
        keyed=st.booleans(),
        when=at_choices,
        zone=zones,
    )
    def grant_to_pay_debt(self, pick: int, size: str, effective_in: int | None, expires_in: int | None,
                          settle_debt: bool | None, keyed: bool, when: str, zone: tzinfo) -> None:  # fmt: skip
        """An unscoped grant to a customer in debt, of half, a bit less, exactly or a bit more
        than the debt now, active at once or at a grid hour: it pays the debt off as it
        becomes active (unless ``settle_debt=False``), so that several grants may share it."""
        customer, unit = self._owing()[pick % len(self._owing())]
        at = self._time_for(when, customer, zone)
        base = at if at is not None else self.now
        scale = UNITS[unit]
        owed = int(self.model.debt_view(customer, unit, base).debt.scaleb(scale))
        minor = max(1, owed // 2 if size == "half" else owed + {"less": -1, "same": 0, "more": 3}[size])
        call = Call("grant", dict(
            customer=customer, amount=cst.render_amount(minor, scale, pick), unit=unit,
            effective_at=None if effective_in is None else self._grid(base, effective_in, zone),
            expires_at=None if expires_in is None else self._grid(base, expires_in, zone),
            idempotency_key=f"key-{next(self._ids)}" if keyed else None,
        ))  # fmt: skip
        if settle_debt is not None:
            call = call.but(settle_debt=settle_debt)
        self.perform(call, at)
