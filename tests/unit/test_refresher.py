"""The background evidence refresher of `ic serve`: coalescing, stopping, retrying."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

from incident_commander.watch.loop import EvidenceRefresher


class RecordingEngine:
    """Stands in for the engine: records which incidents were re-rendered, in order."""

    def __init__(self, hold_first: bool = False, fail: set[str] | None = None) -> None:
        self.synced: list[str] = []
        self.fail = set(fail or ())
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def sync(self, incident_id: str) -> None:
        self.entered.set()
        self.release.wait(10)
        if incident_id in self.fail:
            self.fail.discard(incident_id)
            raise OSError("disk full")
        self.synced.append(incident_id)


def refresher(engine: RecordingEngine, pause: float) -> EvidenceRefresher:
    return EvidenceRefresher(cast(Any, engine), pause=pause)


def test_marks_made_during_a_round_are_written_once_in_the_next() -> None:
    engine = RecordingEngine(hold_first=True)
    worker = refresher(engine, pause=0)
    worker.start()
    worker({"INC-1"}, False)
    assert engine.entered.wait(5)
    for incident in ("INC-2", "INC-3", "INC-2", "INC-3"):
        worker({incident}, False)
    engine.release.set()
    assert worker.flush(10)
    assert engine.synced == ["INC-1", "INC-2", "INC-3"]
    worker.stop()


def test_stopping_writes_what_is_still_marked_without_waiting_for_the_pause() -> None:
    engine = RecordingEngine()
    worker = refresher(engine, pause=60)
    worker.start()
    worker({"INC-1"}, False)
    assert worker.flush(10)
    worker({"INC-2"}, False)  # the next round would wait up to a minute
    began = time.monotonic()
    worker.stop()
    assert time.monotonic() - began < 10
    assert engine.synced == ["INC-1", "INC-2"]


def test_a_failed_refresh_is_tried_again_in_the_next_round() -> None:
    engine = RecordingEngine(fail={"INC-1"})
    worker = refresher(engine, pause=0)
    worker.start()
    worker({"INC-1"}, False)
    deadline = time.monotonic() + 10
    while engine.synced != ["INC-1"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.synced == ["INC-1"]
    worker.stop()


def test_rounds_start_at_most_once_per_pause_however_often_marks_arrive() -> None:
    engine = RecordingEngine()
    worker = refresher(engine, pause=0.5)
    worker.start()
    began = time.monotonic()
    while time.monotonic() - began < 1.2:
        worker({f"INC-{len(engine.synced)}"}, False)
        time.sleep(0.01)
    assert worker.flush(10)
    worker.stop()
    # About three rounds in 1.2 s (at 0, 0.5 and 1.0 s, and one for the last marks),
    # each writing what gathered, instead of one round per mark.
    assert 2 <= len(engine.synced) <= 5, engine.synced
