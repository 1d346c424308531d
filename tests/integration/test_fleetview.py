"""The fleet view against real binaries: GET /api/v1/fleet, the SSE stream of
/api/v1/events, and that open streams take no request slot from the database API."""
import json
import threading
import time

import pytest
import requests

from conftest import make_ha_fleet
from fleet import wait_until


@pytest.fixture(scope="module")
def fv_fleet(request, rabbit, workroot):
    # two handler threads: if a stream held one, a few streams would starve db/read
    yield from make_ha_fleet(request, rabbit, workroot, SCALE_INTERVAL=4, MAX_SLAVES=3, HTTP_THREADS=2)


def fleet(f):
    r = requests.get(f.orch_url + "/api/v1/fleet", timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def serving(f):
    ws = fleet(f)["workers"]
    return [w for w in ws if w["state"] == "serving"]


class Stream:
    """Reads an SSE stream on a thread; frames as (event, data)."""

    def __init__(self, url):
        self.frames, self.resp = [], requests.get(url, stream=True, timeout=(5, 30))
        assert self.resp.status_code == 200 and self.resp.headers["Content-Type"] == "text/event-stream"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        ev, data = "message", ""
        try:
            for line in self.resp.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    ev = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    self.frames.append((ev, json.loads(data)))
                    ev, data = "message", ""
        except (requests.RequestException, AttributeError, ValueError):
            pass  # closed by the test

    def events(self, kind=None):
        return [d for e, d in self.frames if e == "message" and (kind is None or d["type"] == kind)]

    def close(self):
        self.resp.close()


def test_fleet_snapshot_shows_roles_states_and_the_autoscaler(fv_fleet):
    f = fv_fleet
    wait_until(lambda: len(serving(f)) == 2, 60, what="master and slave serving")
    snap = fleet(f)
    roles = sorted(w["role"] for w in snap["workers"])
    assert roles == ["master", "slave"]
    assert all(w["pid"] > 0 and w["uptime_s"] >= 0 for w in snap["workers"])
    assert snap["autoscaler"]["max_slaves"] == 3 and snap["broker"] is True and snap["zookeeper"] is True
    kinds = {e["type"] for e in snap["events"]}
    assert {"orchestrator_started", "worker_started", "master_elected"} <= kinds


def test_streams_take_no_handler_thread(fv_fleet):
    f = fv_fleet
    streams = [Stream(f.orch_url + "/api/v1/events") for _ in range(6)]
    try:
        t0 = time.monotonic()
        for _ in range(20):
            r = requests.post(f.orch_url + "/api/v1/db/read", data='{"table":"users"}', timeout=5)
            assert r.status_code == 200, r.text
        assert time.monotonic() - t0 < 5
        wait_until(lambda: all(any(e == "fleet" for e, _ in s.frames[1:]) for s in streams), 5,
                   what="each stream's snapshots")
    finally:
        for s in streams:
            s.close()


def test_crash_and_failover_reach_the_stream(fv_fleet):
    f = fv_fleet
    wait_until(lambda: len(serving(f)) == 2, 60, what="master and slave serving")
    s = Stream(f.orch_url + "/api/v1/events")
    try:
        assert f.crash("master").status_code == 200
        wait_until(lambda: s.events("worker_crashed"), 5, what="the crash event")
        wait_until(lambda: [e for e in s.events("master_elected") if "since_death_ms" in e], 20,
                   what="a master elected after the death")
        wait_until(lambda: requests.post(f.orch_url + "/api/v1/db/write", timeout=10, data=json.dumps(
            {"table": "users", "insert": {"username": "fv-1", "password": "a" * 40}})).status_code == 200,
            30, what="a write accepted")
        wait_until(lambda: s.events("first_write"), 5, what="the failover's first write")
        assert s.events("first_write")[0]["since_death_ms"] > 0
        wait_until(lambda: s.events("worker_removed"), 10, what="the removal")
        assert s.events("worker_removed")[0]["reason"] == "crashed"
    finally:
        s.close()
