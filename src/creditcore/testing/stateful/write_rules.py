"""The state machine's grants and burns: the opening grants (and debt), grants of every
shape, burns under each overdraft mode, and grants that pay debt off."""

from __future__ import annotations

from datetime import tzinfo

from hypothesis import strategies as st
from hypothesis.stateful import MultipleResults, initialize, multiple, precondition, rule

from creditcore.testing import strategies as cst
from creditcore.testing.reference import RefBlock, RefHold
from creditcore.testing.stateful.calls import (
    CUSTOMERS,
    HOLDS,
    HOUR,
    UNITS,
    Call,
    Names,
    at_choices,
    burn_categories,
    burn_scopes,
    customers,
    descriptions,
    grant_amounts,
    grant_scopes,
    metadatas,
    priorities,
    scaled,
    single_uses,
    sizes,
    zones,
)
from creditcore.testing.stateful.side_by_side import SideBySide


class WriteRules(SideBySide):
    """``open_account``, ``grant``, ``burn``, ``use_a_single_use_block`` and ``grant_to_pay_debt``."""

    # -- rules -----------------------------------------------------------------------------

    @initialize(
        credits=st.integers(min_value=0, max_value=300),
        cents=st.integers(min_value=0, max_value=30_000),
        expires_in=st.one_of(st.none(), st.integers(min_value=1, max_value=8)),
        first=st.integers(min_value=0, max_value=40),
        debt=st.sampled_from((0, 0, 0, 4, 15, 40, 400)),
    )
    def open_account(self, credits: int, cents: int, expires_in: int | None, first: int, debt: int) -> None:
        """Units are declared again as they are (a no-op: the same scale again changes nothing),
        and the first customer may start with credit (0: none, which the shrinker prefers) so
        that burns and holds have something to draw on early: ``credits`` that may expire under
        a hold, ``cents`` of usd, and a small block of ``first`` credits at priority 10 that
        burns first, so that burns, holds and captures often span two blocks. Before them, it
        may run up ``debt`` credits, which those grants then settle (one after the other when
        the first is smaller), so that reversals find settled debt to give back."""
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
        single_use=single_uses,
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
        scope: frozenset[str] | str | None,
        expires_in: int | None,
        effective_in: int | None,
        keyed: bool,
        description: str | None,
        metadata: dict[str, str] | None,
        settle_debt: bool | None,
        single_use: str | None,
        when: str,
        zone: tzinfo,
    ) -> None:
        """A grant; ``expires_in``/``effective_in`` count whole hours on the shared grid
        (``effective_in <= 0``: that many hours before the grant, already effective). An
        unscoped one pays debt off when it becomes active, unless ``settle_debt=False``. A
        single-use one (some burning first) is spent by the first burn or capture that takes
        from it."""
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
        if single_use is not None:
            call = call.but(single_use=True, **({"priority": 0} if single_use == "burns first" else {}))
        self.perform(call, at)

    @rule(
        customer=customers,
        unit_amount=st.one_of(cst.unit_amounts({"credits": 0}, max_whole=40), cst.unit_amounts(UNITS, max_whole=40)),
        scope=burn_scopes,
        categories=burn_categories,
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
        scope: Names,
        categories: Names,
        size: str,
        overdraft: str,
        keyed: bool,
        description: str | None,
        when: str,
        zone: tzinfo,
    ) -> None:
        """A burn of the drawn amount, of all the scope set and categories can use, or of one
        minor unit more; with ``overdraft="debt"`` what no credit covers becomes debt (no
        limit is set)."""
        unit, amount = unit_amount
        at = self._time_for(when, customer, zone)
        amount = self._sized(size, amount, customer, unit, scope, at, categories)
        call = Call("burn", dict(
            customer=customer, amount=amount, unit=unit, scope=scope, overdraft=overdraft, description=description,
            idempotency_key=f"key-{next(self._ids)}" if keyed else None,
        ))  # fmt: skip
        if categories is not None:
            call = call.but(categories=categories)
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

    def _unused_single_use(self) -> tuple[list[RefBlock], list[RefHold]]:
        """Single-use blocks no burn or capture has used, with credit available now; and the
        active holds that pin one."""
        blocks, pinned = [], set()
        for block in self.model.blocks.values():
            if block.single_use:
                figures = self.model.figures(block, self.model.read_time(block.customer))
                if figures.first_used_at is None and figures.available > 0:
                    blocks.append(block)
                if figures.first_used_at is None and figures.held > 0:
                    pinned.add(block.id)
        holds = [
            h for h in self.model.holds.values()
            if h.status_at(self.now) == "active" and any(block_id in pinned for block_id, _ in h.allocations)
        ]  # fmt: skip
        return blocks, holds

    @precondition(lambda self: any(self._unused_single_use()))
    @rule(
        target=HOLDS,
        pick=st.integers(min_value=0, max_value=100),
        how=st.sampled_from(("burn", "hold", "capture")),
        part=st.integers(min_value=1, max_value=10**6),
        form=st.integers(min_value=0, max_value=cst.AMOUNT_FORMS - 1),
        when=at_choices,
        zone=zones,
    )
    def use_a_single_use_block(self, pick: int, how: str, part: int, form: int, when: str,
                               zone: tzinfo) -> str | MultipleResults[str]:  # fmt: skip
        """Reach an unused single-use block: burn part of what it has available, with one of
        its scopes, so that it is drawn (burn order allowing) and something is left to void;
        or hold part of it (the hold joins the bundle: a later burn, capture, release or
        timeout meets a block pinned and perhaps spent); or capture part of a hold that pins
        one (a first use by a capture: the void comes after the release of the rest)."""
        blocks, holds = self._unused_single_use()
        if holds and (how == "capture" or not blocks):
            found = holds[pick % len(holds)]
            scale = UNITS[found.unit]
            held = int(found.amount.scaleb(scale))
            call = Call("capture", {"hold_id": found.id, "amount": cst.render_amount(max(1, part % held), scale, form)})
            self.perform(call, self._time_for(when, found.customer, zone))
            return multiple()
        block = blocks[pick % len(blocks)]
        at = self._time_for(when, block.customer, zone)
        t = at if at is not None else self.model.read_time(block.customer)
        scale = UNITS[block.unit]
        whole = int(self.model.figures(block, t).available.scaleb(scale))
        amount = cst.render_amount(max(1, part % whole if whole else 1), scale, form)
        scope = None if block.scope is None else sorted(block.scope)[pick % len(block.scope)]
        kwargs = {"customer": block.customer, "amount": amount, "unit": block.unit, "scope": scope}
        if how != "hold":
            self.perform(Call("burn", {**kwargs, "overdraft": "partial"}), at)
            return multiple()
        hold_id = f"hold-{next(self._ids)}"
        placed = self.perform(Call("hold", {**kwargs, "hold_id": hold_id}), at)
        return hold_id if placed is not None else multiple()
