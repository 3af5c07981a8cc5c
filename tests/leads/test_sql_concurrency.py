"""Concurrency: real threads on separate real connections, counting exact outcomes.

Where the interesting interleaving is a matter of luck, a trigger widens the window (the first
message's transaction sleeps before it commits) or an advisory lock holds one call at a chosen
point, so each test exercises the race it names on every run.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.leads.conftest import (
    Conn,
    Envelope,
    call_sql,
    conversations_of,
    counts,
    inbound,
    lead_row,
    new_lead,
    ok,
    phone,
    rows,
    value,
)

pytestmark = pytest.mark.slow

Outcome = Envelope | BaseException


def run_concurrently(db_url: str, calls: list[Callable[[Conn], Any]]) -> list[Outcome]:
    """Run each call on its own connection in its own thread, all released at once."""
    conns = [psycopg.connect(db_url, autocommit=True) for _ in calls]
    barrier = threading.Barrier(len(calls))
    results: list[Outcome | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i](conns[i])
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        for c in conns:
            c.close()
    assert all(r is not None for r in results), results
    return [r for r in results if r is not None]


def envelopes(results: list[Outcome]) -> list[Envelope]:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return [r for r in results if not isinstance(r, BaseException)]


SLOW_FIRST_MESSAGE = """
CREATE FUNCTION public.slow_first_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM public.messages) = 1 THEN
        PERFORM pg_sleep(0.3);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER slow_first_message AFTER INSERT ON public.messages
    FOR EACH ROW EXECUTE FUNCTION public.slow_first_message();
"""


@pytest.fixture
def slow_first_message(pg: Conn) -> Conn:
    """The transaction that stores the first message keeps its locks 0.3 s longer, so the
    concurrent calls all arrive while it is uncommitted."""
    pg.execute(SLOW_FIRST_MESSAGE)
    return pg


def test_ten_deliveries_of_one_message_store_it_once(
    slow_first_message: Conn, db_url: str, user_id: str
) -> None:
    def deliver(conn: Conn) -> Envelope:
        return call_sql(
            conn,
            "record_whatsapp_message",
            p_user_id=user_id,
            p_wa_message_id="wamid.once",
            p_from_phone="15125550100",
            p_body="Hello",
            p_customer_name="Ana",
        )

    answers = envelopes(run_concurrently(db_url, [deliver] * 10))
    assert all(a["success"] is True for a in answers), answers
    assert Counter(a["duplicate"] for a in answers) == {True: 9, False: 1}
    assert len({a["message_id"] for a in answers}) == 1
    assert len({a["lead_id"] for a in answers}) == 1
    assert len({a["conversation_id"] for a in answers}) == 1
    [first] = [a for a in answers if not a["duplicate"]]
    assert first["lead_created"] is True
    assert all(a["lead_created"] is False for a in answers if a["duplicate"])
    pg = slow_first_message
    assert counts(pg) == {"leads": 1, "conversations": 1, "messages": 1, "lead_audit_log": 3}


def test_ten_records_of_one_sent_message_store_it_once(
    slow_first_message: Conn, db_url: str, user_id: str
) -> None:
    """The service's retries of one outgoing record race each other: one stores it, the lead is
    created once, and the others answer duplicate with the same ids."""

    def record(conn: Conn) -> Envelope:
        return call_sql(
            conn,
            "record_whatsapp_outgoing",
            p_user_id=user_id,
            p_to_phone="+15125550100",
            p_body="Welcome",
            p_wa_message_id="wamid.sent-once",
            p_create_lead=True,
            p_customer_name="Ana",
        )

    answers = envelopes(run_concurrently(db_url, [record] * 10))
    assert all(a["success"] is True for a in answers), answers
    assert Counter(a["duplicate"] for a in answers) == {True: 9, False: 1}
    assert Counter(a["lead_created"] for a in answers) == {True: 1, False: 9}
    assert len({(a["message_id"], a["lead_id"], a["conversation_id"]) for a in answers}) == 1
    pg = slow_first_message
    assert counts(pg) == {"leads": 1, "conversations": 1, "messages": 1, "lead_audit_log": 3}


def test_twenty_messages_from_one_new_number_make_one_lead(
    slow_first_message: Conn, db_url: str, user_id: str
) -> None:
    t0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    def message(n: int) -> Callable[[Conn], Envelope]:
        return lambda conn: call_sql(
            conn,
            "record_whatsapp_message",
            p_user_id=user_id,
            p_wa_message_id=f"wamid.{n}",
            p_from_phone="+1 512 555 0100",
            p_body=f"part {n}",
            p_sent_at=t0 + timedelta(seconds=n),
        )

    answers = envelopes(run_concurrently(db_url, [message(n) for n in range(20)]))
    assert all(a["success"] is True and a["duplicate"] is False for a in answers), answers
    assert Counter(a["lead_created"] for a in answers) == {True: 1, False: 19}
    assert Counter(a["conversation_created"] for a in answers) == {True: 1, False: 19}
    assert len({a["lead_id"] for a in answers}) == 1
    assert len({a["conversation_id"] for a in answers}) == 1
    assert len({a["message_id"] for a in answers}) == 20
    pg = slow_first_message
    assert counts(pg)["leads"] == 1
    assert counts(pg)["conversations"] == 1
    assert counts(pg)["messages"] == 20
    [conversation] = conversations_of(pg, answers[0]["lead_id"])
    assert conversation["status"] == "active"
    assert conversation["last_message_at"] == t0 + timedelta(seconds=19)


def test_concurrent_creates_of_one_phone(db_url: str, pg: Conn, user_id: str) -> None:
    def create(conn: Conn) -> Envelope:
        return call_sql(
            conn,
            "create_lead_with_conversation",
            p_user_id=user_id,
            p_customer_phone="+15125550100",
            p_customer_name="Ana",
            p_lead_type="inquiry",
        )

    answers = envelopes(run_concurrently(db_url, [create] * 8))
    assert Counter(a["success"] for a in answers) == {True: 1, False: 7}
    assert {a["error_code"] for a in answers if not a["success"]} == {"23505"}
    assert counts(pg) == {"leads": 1, "conversations": 1, "messages": 0, "lead_audit_log": 2}


def test_concurrent_imports_with_overlapping_phones(db_url: str, pg: Conn, user_id: str) -> None:
    """Six imports share 30 phones (each in its own shuffled order) and have 30 phones of their
    own: exactly one succeeds, each phone has at most one lead, the losers wrote nothing."""
    shared_phones = [phone(n) for n in range(30)]
    randomizer = random.Random(7)

    def batch(k: int) -> list[dict[str, Any]]:
        own = [phone(1000 + 100 * k + n) for n in range(30)]
        numbers = shared_phones + own
        randomizer.shuffle(numbers)
        return [
            {"customer_phone": p, "lead_type": "inquiry", "customer_name": f"import {k}"} for p in numbers
        ]

    batches = [batch(k) for k in range(6)]

    def call(k: int) -> Callable[[Conn], Envelope]:
        return lambda conn: call_sql(
            conn, "create_leads_with_conversations", p_user_id=user_id, p_leads=batches[k]
        )

    answers = envelopes(run_concurrently(db_url, [call(k) for k in range(6)]))
    winners = [k for k, a in enumerate(answers) if a["success"]]
    assert len(winners) == 1, answers
    losers = [a for a in answers if not a["success"]]
    # 23505: a concurrent import committed the phone first; 22023: it had committed before this
    # one looked. Never a deadlock: every import inserts its phones in the same order.
    assert {a["error_code"] for a in losers} <= {"23505", "22023"}, losers
    for a in losers:
        if a["error_code"] == "22023":
            assert {e["reason"].split()[-1] for e in a["errors"]} == {"lead"}  # "... is already a lead"
            assert len(a["errors"]) == 30

    winner = winners[0]
    stored = rows(pg, "SELECT id::text, customer_phone, customer_name FROM leads")
    assert Counter(r["customer_phone"] for r in stored).most_common(1)[0][1] == 1
    assert {r["customer_phone"] for r in stored} == {item["customer_phone"] for item in batches[winner]}
    assert {r["customer_name"] for r in stored} == {f"import {winner}"}
    assert {r["id"] for r in stored} == {entry["lead_id"] for entry in answers[winner]["leads"]}
    assert counts(pg) == {"leads": 60, "conversations": 60, "messages": 0, "lead_audit_log": 120}


def consistency(conn: Conn, lead_id: str) -> tuple[bool, bool]:
    """(lead is live, state is consistent), read in one snapshot."""
    row = conn.execute(
        "SELECT l.deleted_at IS NULL,"
        "       CASE WHEN l.deleted_at IS NULL THEN bool_and(c.deleted_at IS NULL)"
        "            ELSE bool_and(c.deleted_at IS NOT DISTINCT FROM l.deleted_at) END"
        "  FROM leads l JOIN conversations c ON c.lead_id = l.id"
        " WHERE l.id = %s GROUP BY l.id, l.deleted_at",
        (lead_id,),
    ).fetchone()
    assert row is not None
    return bool(row[0]), bool(row[1])


def test_concurrent_soft_delete_and_restore_keep_lead_and_conversations_together(
    db_url: str, pg: Conn, user_id: str
) -> None:
    created = new_lead(pg, user_id, "+15125550100", p_conversation_status="closed")
    inbound(pg, user_id, "wamid.1", "15125550100")  # a second, open conversation
    lead_id = created["lead_id"]
    assert len(conversations_of(pg, lead_id)) == 2
    audit_before = value(pg, "SELECT count(*) FROM lead_audit_log WHERE record_id = %s", lead_id)

    stop = threading.Event()
    observed: list[tuple[bool, bool]] = []

    def observe() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            while not stop.is_set():
                observed.append(consistency(conn, lead_id))

    def worker(k: int) -> Callable[[Conn], list[tuple[str, Envelope]]]:
        def run(conn: Conn) -> list[tuple[str, Envelope]]:
            done = []
            for i in range(12):
                function = "soft_delete_lead" if (i + k) % 2 == 0 else "restore_lead"
                done.append((function, call_sql(conn, function, p_lead_id=lead_id, p_user_id=user_id)))
            return done

        return run

    watcher = threading.Thread(target=observe)
    watcher.start()
    try:
        results = run_concurrently(db_url, [worker(k) for k in range(4)])
    finally:
        stop.set()
        watcher.join()

    calls = [c for r in results if not isinstance(r, BaseException) for c in r]
    assert len(calls) == 48, results
    assert all(answer["success"] for _, answer in calls), calls
    deletes = sum(1 for f, a in calls if f == "soft_delete_lead" and a["changed"])
    restores = sum(1 for f, a in calls if f == "restore_lead" and a["changed"])
    # Changes alternate: live -> deleted -> live ...; each change moved both conversations.
    assert deletes - restores in (0, 1)
    assert all(a["conversations"] == (2 if a["changed"] else 0) for _, a in calls)
    live, consistent = consistency(pg, lead_id)
    assert consistent
    assert live is (deletes == restores)
    assert observed
    assert all(ok_ for _, ok_ in observed), [o for o in observed if not o[1]][:3]
    # Exactly one audit row for the lead per change, none for the no-ops.
    audit_after = value(pg, "SELECT count(*) FROM lead_audit_log WHERE record_id = %s", lead_id)
    assert audit_after - audit_before == deletes + restores


# ---------------------------------------------------------------------------------------------
# A webhook message arriving while its lead is being soft-deleted
# ---------------------------------------------------------------------------------------------

HOLD_CONVERSATION_INSERT = """
CREATE FUNCTION public.hold_conversation_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(4242);
    RETURN NEW;
END
$$;
CREATE TRIGGER hold_conversation_insert BEFORE INSERT ON public.conversations
    FOR EACH ROW EXECUTE FUNCTION public.hold_conversation_insert();
"""


def wait_until(predicate: Callable[[], bool], polls: int = 1000) -> None:
    """Poll until the predicate holds (a bounded number of 10 ms polls): a wait, not a timing."""
    for _ in range(polls):
        if predicate():
            return
        time.sleep(0.01)
    pytest.fail("the other session never reached the expected point")


def waiting_on_lock(conn: Conn, pid: int) -> str | None:
    row = conn.execute(
        "SELECT wait_event FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", (pid,)
    ).fetchone()
    return None if row is None else str(row[0])


@pytest.fixture
def held(pg: Conn, db_url: str, lead: Envelope) -> Iterator[Conn]:
    """A connection holding advisory lock 4242: from now on an insert into conversations waits
    for it (after the calling function has found its lead, before the open-conversation check).
    Set up after ``lead``, whose conversation must not wait."""
    pg.execute(HOLD_CONVERSATION_INSERT)
    with psycopg.connect(db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(4242)")
        yield holder


WEBHOOK_CALLS: dict[str, dict[str, Any]] = {
    "incoming": {"p_wa_message_id": "wamid.race", "p_from_phone": "15125550100", "p_body": "still there?"},
    "outgoing": {"p_to_phone": "+15125550100", "p_body": "yes", "p_wa_message_id": "wamid.race"},
    "outgoing_create_lead": {
        "p_to_phone": "+15125550100",
        "p_body": "yes",
        "p_wa_message_id": "wamid.race",
        "p_create_lead": True,
        "p_customer_name": "Ana",
    },
}


@pytest.mark.parametrize("kind", list(WEBHOOK_CALLS))
def test_a_message_during_a_soft_delete_never_leaves_a_live_conversation_under_a_deleted_lead(
    held: Conn, db_url: str, pg: Conn, user_id: str, lead: Envelope, kind: str
) -> None:
    function = "record_whatsapp_message" if kind == "incoming" else "record_whatsapp_outgoing"
    # The lead's only conversation is closed, so the message call has to open one.
    pg.execute("UPDATE conversations SET status = 'closed' WHERE id = %s", (lead["conversation_id"],))
    results: dict[str, Outcome] = {}

    with (
        psycopg.connect(db_url, autocommit=True) as message_conn,
        psycopg.connect(db_url, autocommit=True) as delete_conn,
    ):
        message_pid = message_conn.info.backend_pid
        delete_pid = delete_conn.info.backend_pid

        def send() -> None:
            try:
                results["message"] = call_sql(
                    message_conn, function, p_user_id=user_id, **WEBHOOK_CALLS[kind]
                )
            except BaseException as exc:
                results["message"] = exc

        def delete() -> None:
            try:
                results["delete"] = call_sql(delete_conn, "soft_delete_lead", p_lead_id=lead["lead_id"])
            except BaseException as exc:
                results["delete"] = exc

        sender = threading.Thread(target=send)
        sender.start()
        wait_until(lambda: waiting_on_lock(pg, message_pid) == "advisory")
        deleter = threading.Thread(target=delete)
        deleter.start()
        # The delete either completes (nothing stops it) or waits for the message call's lock.
        wait_until(lambda: "delete" in results or waiting_on_lock(pg, delete_pid) is not None)
        held.execute("SELECT pg_advisory_unlock(4242)")
        sender.join(timeout=30)
        deleter.join(timeout=30)

    message_answer, delete_answer = results["message"], results["delete"]
    assert isinstance(message_answer, dict), message_answer
    assert isinstance(delete_answer, dict), delete_answer
    assert message_answer["success"] is True, message_answer
    assert delete_answer == {**delete_answer, "success": True, "changed": True}

    # Whatever the order, the deleted lead has no live conversation...
    assert lead_row(pg, lead["lead_id"])["deleted_at"] is not None
    assert [c["id"] for c in conversations_of(pg, lead["lead_id"]) if c["deleted_at"] is None] == []
    # ...and the lead can be restored, with exactly one open conversation.
    restored = ok(pg, "restore_lead", p_lead_id=lead["lead_id"])
    assert restored["changed"] is True
    live = [c for c in conversations_of(pg, lead["lead_id"]) if c["deleted_at"] is None]
    assert sorted(c["status"] for c in live) == ["active", "closed"]
    # The message is stored in that lead's conversation (the delete waited for it).
    assert message_answer["lead_id"] == lead["lead_id"]
    assert value(pg, "SELECT count(*) FROM messages") == 1


def test_a_message_waiting_for_a_lead_being_deleted_goes_to_a_new_lead(
    db_url: str, pg: Conn, user_id: str, lead: Envelope
) -> None:
    """The soft delete has locked the lead (as lock_own_lead does) but not yet changed it when
    the message arrives: the message waits, finds the lead deleted, and creates a new one."""
    results: dict[str, Outcome] = {}
    with psycopg.connect(db_url) as deleter, psycopg.connect(db_url, autocommit=True) as message_conn:
        deleter.execute("SELECT id FROM leads WHERE id = %s FOR UPDATE", (lead["lead_id"],))
        message_pid = message_conn.info.backend_pid

        def send() -> None:
            try:
                results["message"] = call_sql(
                    message_conn,
                    "record_whatsapp_message",
                    p_user_id=user_id,
                    p_wa_message_id="wamid.wait",
                    p_from_phone="15125550100",
                    p_body="hello?",
                )
            except BaseException as exc:
                results["message"] = exc

        sender = threading.Thread(target=send)
        sender.start()
        wait_until(lambda: waiting_on_lock(pg, message_pid) is not None)
        deleter.execute("UPDATE leads SET deleted_at = now() WHERE id = %s", (lead["lead_id"],))
        deleter.execute("UPDATE conversations SET deleted_at = now() WHERE lead_id = %s", (lead["lead_id"],))
        deleter.commit()
        sender.join(timeout=30)

    answer = results["message"]
    assert isinstance(answer, dict), answer
    assert answer["success"] is True, answer
    assert answer["lead_created"] is True
    assert answer["lead_id"] != lead["lead_id"]
    assert all(c["deleted_at"] is not None for c in conversations_of(pg, lead["lead_id"]))
    [conversation] = conversations_of(pg, answer["lead_id"])
    assert str(conversation["id"]) == answer["conversation_id"]
    assert lead_row(pg, answer["lead_id"])["deleted_at"] is None
