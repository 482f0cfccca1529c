from app.engine.eventlog import EventLog


def test_events_go_to_the_step_that_covers_them_in_time_order():
    log = EventLog()
    log.add(5.0, "b", "source", "later")
    log.add(1.0, "a", "source", "earlier")
    first = log.flush(0, 2.0)
    assert [e.kind for e in first] == ["a"]
    second = log.flush(1, None)
    assert [e.kind for e in second] == ["b"] and second[0].step == 1


def test_late_events_keep_order_and_their_true_time():
    log = EventLog()
    log.flush(0, 10.0)
    log.add(4.0, "late", "source", "noticed late")
    event = log.flush(1, 12.0)[0]
    assert event.t_ms == 10.0 and event.data["happened_at_ms"] == 4.0


def test_cancelled_events_are_dropped():
    log = EventLog()
    pending = log.add(3.0, "x", "source", "never")
    pending.cancelled = True
    assert log.flush(0, None) == []
