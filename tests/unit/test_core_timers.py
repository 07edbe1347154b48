from engineio._core.timers import TimerQueue


def test_pop_due_in_deadline_order():
    q = TimerQueue()
    q.schedule('b', 2.0)
    q.schedule('a', 1.0)
    q.schedule('c', 3.0)
    assert q.next_time() == 1.0
    assert q.pop_due(2.5) == ['a', 'b']
    assert q.next_time() == 3.0
    assert len(q) == 1


def test_reschedule_keeps_one_live_deadline():
    q = TimerQueue()
    q.schedule('a', 1.0)
    q.schedule('a', 5.0)
    assert q.pop_due(2.0) == []
    assert q.next_time() == 5.0
    assert q.pop_due(5.0) == ['a']
    assert q.next_time() is None


def test_cancel():
    q = TimerQueue()
    q.schedule('a', 1.0)
    q.schedule('a', None)
    assert q.pop_due(10.0) == [] and len(q) == 0


def test_schedule_reports_new_earliest():
    q = TimerQueue()
    assert q.schedule('a', 5.0)
    assert not q.schedule('b', 6.0)
    assert q.schedule('c', 1.0)
    assert not q.schedule('c', 1.0)  # unchanged


class Key:
    """A session-like key that can be weakly referenced."""


def test_no_key_is_kept_once_nothing_is_scheduled():
    import gc
    import weakref
    q = TimerQueue()
    keys = [Key() for _ in range(20)]
    refs = [weakref.ref(k) for k in keys]
    for i, key in enumerate(keys):
        q.schedule(key, 10.0 + i)
        q.schedule(key, 20.0 + i)  # leaves a stale entry behind
    assert q.pop_due(25.0) == keys[:6]
    for key in keys[6:]:  # the rest ends before its deadline
        q.schedule(key, None)
    del keys, key
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    assert q.next_time() is None
