"""The contract's billing rows (:mod:`creditcore.billing.repository`):
objects and meter events are stored exactly, found by what billing looks them up by, kept
or dropped with the ledger's transaction, and the counter hands out every number once, in
order, however many writers take them at once."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from creditcore.billing.repository import BillingObject, MeterEventRecord
from creditcore.errors import CreditError
from creditcore.ledger import Ledger
from creditcore.repository import Repository
from creditcore.testing.contract.base import ContractBase
from creditcore.testing.contract.script import HOUR, START, ManualClock


def _meter(object_id: str, key: str | None = None, body: str = '{"name": "api calls"}') -> BillingObject:
    return BillingObject(kind="meter", id=object_id, key=key, body=body)


def _event(event_id: str, customer: str = "ada", hours: float = 0, **fields: object) -> MeterEventRecord:
    values: dict[str, object] = {"meter_id": "m", "value": Decimal("1"), **fields}
    return MeterEventRecord(
        event_id=event_id,
        customer=customer,
        timestamp=START + timedelta(hours=hours),
        recorded_at=START,
        **values,  # type: ignore[arg-type]
    )


class _Boom(Exception):
    pass


class BillingStorageContract(ContractBase):
    """What a store keeps of billing's rows."""

    def test_objects_round_trip_in_creation_order(self, repository: Repository) -> None:
        with repository.transaction() as uow:
            rows = uow.billing()
            first = rows.put_object(_meter("m1", key="api_calls"))
            second = rows.put_object(_meter("m2", key="tokens", body='{"name": "tokens", "scale": 3}'))
            invoice = rows.put_object(
                BillingObject(kind="invoice", id="inv_1", customer="ada", status="draft", body='{"lines": []}')
            )
            assert 0 < first.number < second.number
            assert rows.get_object("meter", "m2") == second  # a transaction sees its own rows
        with repository.reader() as reader:
            seen = reader.billing()
            assert seen.get_object("meter", "m1") == first
            assert seen.get_object("invoice", "inv_1") == invoice
            assert seen.get_object("invoice", "m1") is None  # ids are per kind
            assert seen.find_key("meter", "tokens") == second
            assert seen.find_key("meter", "nothing") is None
            assert seen.list_objects("meter") == [first, second]
            assert seen.list_objects("meter", after=first.number) == [second]
            assert seen.list_objects("meter", limit=1) == [first]
            assert seen.list_objects("invoice", customer="ada", statuses=["draft", "issued"]) == [invoice]
            assert seen.list_objects("invoice", customer="bob") == []
            assert seen.list_objects("invoice", statuses=[]) == []

    def test_a_replaced_object_keeps_its_number_and_frees_its_old_key(self, repository: Repository) -> None:
        with repository.transaction() as uow:
            made = uow.billing().put_object(
                BillingObject(kind="price", id="p1", key="m/pro", status="live", body='{"v": 1}')
            )
        with repository.transaction() as uow:
            rows = uow.billing()
            deleted = rows.put_object(BillingObject(kind="price", id="p1", status="deleted", body='{"v": 2}'))
            again = rows.put_object(BillingObject(kind="price", id="p2", key="m/pro", status="live", body="{}"))
        assert deleted.number == made.number < again.number
        with repository.reader() as reader:
            seen = reader.billing()
            assert seen.find_key("price", "m/pro") == again
            assert seen.list_objects("price") == [deleted, again]
            assert seen.list_objects("price", statuses=["live"]) == [again]

    def test_a_key_in_use_is_refused(self, repository: Repository) -> None:
        with repository.transaction() as uow:
            uow.billing().put_object(_meter("m1", key="api_calls"))
        with pytest.raises(CreditError), repository.transaction() as uow:
            uow.billing().put_object(_meter("m2", key="api_calls"))
        with repository.reader() as reader:
            assert [o.id for o in reader.billing().list_objects("meter")] == ["m1"]

    def test_meter_events_round_trip_exactly(self, repository: Repository) -> None:
        events = [
            _event("e1", value=Decimal("0.000000000001"), dimensions={"model": "gpt", "region": "eu"}),
            _event("e2", customer="bob", hours=1, value=None, unique_key="User-7", advance=True),
            _event("e3", hours=2, value=Decimal("123456789012345678.5")),
        ]
        with repository.transaction() as uow:
            uow.billing().add_meter_events(events)
        with repository.reader() as reader:
            rows = reader.billing()
            found = rows.find_meter_events(["e3", "e1", "nope", "e2"])
            assert sorted(found) == ["e1", "e2", "e3"]
            for event in events:
                stored = found[event.event_id]
                assert stored.seq > 0
                assert stored == attrs.evolve(event, seq=stored.seq)
            assert found["e1"].seq < found["e2"].seq < found["e3"].seq

    def test_meter_events_are_found_by_meter_customer_and_half_open_span(self, repository: Repository) -> None:
        with repository.transaction() as uow:
            uow.billing().add_meter_events(
                [
                    _event("late", hours=1),  # recorded first, timestamped later
                    _event("early", hours=0),
                    _event("at-end", hours=2),
                    _event("other-customer", customer="bob", hours=1),
                    _event("other-meter", hours=1, meter_id="n"),
                ]
            )
        with repository.reader() as reader:
            rows = reader.billing()

            def ids(customer: str | None, start: float, end: float) -> list[str]:
                found = rows.meter_events("m", customer=customer, start=START + start * HOUR, end=START + end * HOUR)
                return [e.event_id for e in found]

            assert ids("ada", 0, 2) == ["late", "early"]  # in the order recorded; the end excluded
            assert ids("ada", 1, 3) == ["late", "at-end"]
            assert ids(None, 0, 2) == ["late", "early", "other-customer"]
            assert ids("ada", 3, 4) == []

    def test_the_counter_hands_out_each_number_once_and_a_rollback_gives_it_back(self, repository: Repository) -> None:
        with repository.transaction() as uow:
            rows = uow.billing()
            assert [rows.take_number("invoice"), rows.take_number("invoice"), rows.take_number("other")] == [1, 2, 1]
        with pytest.raises(_Boom), repository.transaction() as uow:
            assert uow.billing().take_number("invoice") == 3
            raise _Boom
        with repository.transaction() as uow:
            assert uow.billing().take_number("invoice") == 3

    def test_a_failed_transaction_keeps_no_billing_row(self, repository: Repository) -> None:
        with pytest.raises(_Boom), repository.transaction() as uow:
            uow.billing().put_object(_meter("m1", key="api_calls"))
            uow.billing().add_meter_events([_event("e1")])
            raise _Boom
        with repository.reader() as reader:
            rows = reader.billing()
            assert rows.list_objects("meter") == []
            assert rows.find_key("meter", "api_calls") is None
            assert rows.find_meter_events(["e1"]) == {}
        with repository.transaction() as uow:  # the key and the id are free again
            uow.billing().put_object(_meter("m1", key="api_calls"))
            uow.billing().add_meter_events([_event("e1")])

    def test_a_reader_writes_no_billing_row(self, repository: Repository) -> None:
        with repository.reader() as reader, pytest.raises(CreditError):
            reader.billing().put_object(_meter("m1"))  # type: ignore[attr-defined]

    def test_writers_at_once_take_gapless_numbers(self, repository: Repository) -> None:
        taken: list[int] = []
        failures: list[BaseException] = []
        guard = threading.Lock()

        def issue() -> None:
            try:
                for _ in range(10):
                    for attempt in range(20):
                        try:
                            with repository.transaction() as uow:
                                number = uow.billing().take_number("invoice")
                            break
                        except CreditError:  # a busy store: the take was rolled back, try again
                            if attempt == 19:
                                raise
                    with guard:
                        taken.append(number)
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=issue) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert sorted(taken) == list(range(1, 41))

    def test_billing_rows_survive_a_reopen(self, ledger: Ledger, clock: ManualClock, tmp_path: Path) -> None:
        with ledger.repository.transaction() as uow:
            made = uow.billing().put_object(_meter("m1", key="api_calls"))
            uow.billing().add_meter_events([_event("e1")])
            uow.billing().take_number("invoice")
        again = self.reopened(ledger, clock, tmp_path)
        with again.repository.reader() as reader:
            assert reader.billing().list_objects("meter") == [made]
            assert list(reader.billing().find_meter_events(["e1"])) == ["e1"]
        with again.repository.transaction() as uow:
            assert uow.billing().take_number("invoice") == 2
        again.close()
