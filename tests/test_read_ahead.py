"""Reading ahead: a read starts on the spare thread only when no other read runs, else waits to be asked for."""

from __future__ import annotations

import os
import signal
import threading

from rag.answering.read_ahead import ReadAhead


def where() -> str:
    return threading.current_thread().name


def test_a_lone_read_runs_on_the_spare_thread_and_is_counted_until_it_ends() -> None:
    ahead = ReadAhead()
    release = threading.Event()

    def read() -> str:
        release.wait(5)
        return where()

    result = ahead.start(read)
    assert ahead.running == 1  # counted from the start, so that another question stays on its own thread
    release.set()
    assert result().startswith("rag-read-ahead")
    assert ahead.running == 0


def test_a_busy_process_defers_the_read_to_the_calling_thread() -> None:
    ahead = ReadAhead()
    done: list[str] = []
    with ahead.reading():  # another question's read is running
        deferred = ahead.start(lambda: done.append(where()) or "read")
        assert done == [] and ahead.running == 1  # nothing runs until the read is asked for
    assert deferred() == "read" and done == [where()]
    assert ahead.running == 0


def test_another_question_being_answered_keeps_the_read_on_the_calling_thread() -> None:
    ahead = ReadAhead()
    with ahead.asking(), ahead.asking():  # this question, and another one being embedded meanwhile
        deferred = ahead.start(where)
        assert ahead.running == 0  # nothing started ahead
        assert deferred() == where()
    with ahead.asking():  # alone again
        assert ahead.start(where)().startswith("rag-read-ahead")
    assert ahead.asked == 0 and ahead.running == 0


def test_a_read_that_fails_ahead_fails_when_asked_for_and_is_no_longer_counted() -> None:
    ahead = ReadAhead()

    def broken() -> str:
        raise RuntimeError("no model")

    result = ahead.start(broken)
    try:
        result()
    except RuntimeError as error:
        assert str(error) == "no model"
    else:
        raise AssertionError("the failure was lost")
    assert ahead.running == 0


def test_a_forked_child_reads_ahead_on_a_thread_of_its_own() -> None:
    ahead = ReadAhead()
    assert ahead.start(where)().startswith("rag-read-ahead")  # the parent's pool exists now
    child = os.fork()
    if child == 0:  # the parent's spare thread is not in the child: a read queued to it would never run
        signal.alarm(20)  # ... and the child would wait forever: SIGALRM ends it, and the test fails
        ok = ahead.running == 0 and ahead.start(where)().startswith("rag-read-ahead")
        os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
