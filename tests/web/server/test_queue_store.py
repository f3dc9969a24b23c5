"""The persistent prompt queue and history (web/server/queue_store.py)."""

import threading

import pytest

from web.server.queue_store import PromptStore, QueueInUse, QueueItem


def item(prompt_id: str, number: float, **extra) -> QueueItem:
    return QueueItem(number, prompt_id, {"1": {"class_type": "X", "inputs": {}}}, dict(extra), ["1"])


@pytest.fixture
def db(tmp_path):
    return tmp_path / "user" / "queue.sqlite3"


def finish(store: PromptStore, taken: QueueItem, ok: bool = True) -> dict:
    status = {"status_str": "success" if ok else "error", "completed": ok, "messages": []}
    return store.task_done(taken, {"1": {"images": []}}, status, {})


def test_pending_runs_lowest_number_first_ties_by_prompt_id(db):
    store = PromptStore(db)
    for pid, number in (("c", 2), ("b", 1), ("a", 1), ("front", -5)):
        store.put(item(pid, number))
    assert [store.get(0).prompt_id for _ in range(4)] == ["front", "a", "b", "c"]
    assert store.get(0) is None


def test_counter_moves_on_every_call_and_front_negates(db):
    store = PromptStore(db)
    assert [store.next_number(), store.next_number(front=True), store.next_number()] == [0.0, -1.0, 2.0]


def test_running_and_remaining_and_history_entry_shape(db):
    store = PromptStore(db)
    store.put(item("p1", 0, client_id="c"))
    store.put(item("p2", 1))
    taken = store.get(0)
    assert [i.prompt_id for i in store.running()] == ["p1"] and store.remaining() == 2
    entry = finish(store, taken)
    assert list(entry) == ["prompt", "outputs", "status", "meta"]
    assert entry["prompt"] == [0, "p1", taken.prompt, {"client_id": "c"}, ["1"]]
    assert store.history_entry("p1") == entry and store.remaining() == 1


def test_history_max_items_and_offset_follow_comfyui(db):
    store = PromptStore(db)
    for n in range(5):
        store.put(item(f"p{n}", n))
        finish(store, store.get(0))
    assert list(store.history()) == ["p0", "p1", "p2", "p3", "p4"]
    assert list(store.history(max_items=2)) == ["p3", "p4"]  # newest two, oldest first
    assert list(store.history(max_items=2, offset=1)) == ["p1", "p2"]
    assert list(store.history(offset=0)) == list(store.history())
    assert store.history(offset=9) == {}
    store.delete_history(["p1", "nope"])
    assert "p1" not in store.history()
    store.clear_history()
    assert store.history() == {}


def test_history_is_capped_dropping_the_oldest(db):
    store = PromptStore(db, max_history=3)
    for n in range(5):
        store.put(item(f"p{n}", n))
        finish(store, store.get(0))
    assert list(store.history()) == ["p2", "p3", "p4"]


def test_delete_and_clear_pending_leave_the_running_prompt(db):
    store = PromptStore(db)
    for n in range(4):
        store.put(item(f"p{n}", n))
    store.get(0)
    assert store.delete_pending(["p1", "p0", "missing"]) == 1
    assert [i.prompt_id for i in store.pending()] == ["p2", "p3"]
    store.clear_pending()
    assert store.pending() == [] and [i.prompt_id for i in store.running()] == ["p0"]


def test_duplicate_prompt_id_is_refused(db):
    store = PromptStore(db)
    store.put(item("p", 0))
    with pytest.raises(ValueError, match="already queued"):
        store.put(item("p", 1))


def test_reopen_restores_pending_requeues_running_and_keeps_history(db):
    store = PromptStore(db)
    for n in range(4):
        store.put(item(f"p{n}", n))
    finish(store, store.get(0))
    store.get(0)  # p1 running when the process "dies"
    store.next_number()
    del store  # no close(): as if killed

    again = PromptStore(db)
    assert [i.prompt_id for i in again.pending()] == ["p1", "p2", "p3"]
    assert again.running() == [] and list(again.history()) == ["p0"]
    assert again.next_number() >= 4  # new prompts queue behind the restored ones


def test_sensitive_data_never_reaches_the_database(db):
    store = PromptStore(db)
    store.put(QueueItem(0, "p", {}, {"client_id": "c"}, [], sensitive={"api_key_comfy_org": "SECRET"}))
    assert b"SECRET" not in db.read_bytes() + (db.parent / (db.name + "-wal")).read_bytes()
    assert store.get(0).sensitive == {"api_key_comfy_org": "SECRET"}


def test_pause_holds_prompts_until_resume_and_survives_restart(db):
    store = PromptStore(db)
    store.set_paused(True)
    store.put(item("p", 0))
    assert store.get(0.05) is None
    assert PromptStore(db).paused
    got = []
    waiter = threading.Thread(target=lambda: got.append(store.get(5)))
    waiter.start()
    store.set_paused(False)
    waiter.join(5)
    assert got and got[0].prompt_id == "p"


def test_reorder_moves_prompts_within_their_slots(db):
    store = PromptStore(db)
    for pid, number in (("a", 1), ("b", 2), ("c", 3), ("d", 4)):
        store.put(item(pid, number))
    store.reorder(["d", "b"])  # d takes b's slot, b takes d's
    assert [i.prompt_id for i in store.pending()] == ["a", "d", "c", "b"]
    store.reorder(["c", "a", "d"])
    assert [i.prompt_id for i in store.pending()] == ["c", "a", "d", "b"]
    assert [i.prompt_id for i in PromptStore(db).pending()] == ["c", "a", "d", "b"]
    with pytest.raises(KeyError, match="zz"):
        store.reorder(["zz"])
    with pytest.raises(ValueError, match="twice"):
        store.reorder(["a", "a"])


def test_reorder_of_equal_numbers_keeps_the_requested_order(db):
    store = PromptStore(db)
    for pid in ("a", "b", "c"):
        store.put(item(pid, 7))
    store.reorder(["c", "b", "a"])
    assert [i.prompt_id for i in store.pending()] == ["c", "b", "a"]


def test_on_change_fires_for_queue_changes(db):
    calls = []
    store = PromptStore(db, on_change=lambda: calls.append(1))
    store.put(item("p", 0))
    taken = store.get(0)
    finish(store, taken)
    assert len(calls) == 3


def test_an_exclusive_store_refuses_a_second_owner_until_closed(db):
    first = PromptStore(db, exclusive=True)
    with pytest.raises(QueueInUse, match="--user-directory"):
        PromptStore(db, exclusive=True)
    first.close()
    PromptStore(db, exclusive=True).close()
