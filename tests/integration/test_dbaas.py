"""The DBaaS data path: orchestrator -> RabbitMQ -> master/slaves -> SQLite, black-box."""
import concurrent.futures
import json

import requests

from fleet import db

PW = "a" * 40


def clear(f):
    r = db(f, "clear", None)
    assert r.status_code == 200 and r.json() == {}


def add_user(f, name, pw=PW):
    return db(f, "write", {"table": "users", "insert": {"username": name, "password": pw}})


def count(f, table):
    r = db(f, "read", {"table": table, "count": True})
    assert r.status_code == 200, r.text
    return r.json()[0]["count"]


def test_write_then_read(dbaas):
    clear(dbaas)
    w = add_user(dbaas, "alice")
    assert w.status_code == 200, w.text
    assert w.headers["Content-Type"] == "application/json"
    body = w.json()
    assert body["changes"] == 1 and isinstance(body["lastId"], int) and set(body) == {"changes", "lastId"}
    r = db(dbaas, "read", {"table": "users", "columns": ["username", "password"], "where": {"username": "alice"}})
    assert r.status_code == 200
    assert r.json() == [{"username": "alice", "password": PW}]


def test_read_of_nothing_is_empty_list(dbaas):
    clear(dbaas)
    r = db(dbaas, "read", {"table": "users", "where": {"username": "nobody"}})
    assert r.status_code == 200 and r.json() == []


def test_update_delete_and_where_operators(dbaas):
    clear(dbaas)
    assert add_user(dbaas, "u1").status_code == 200
    ids = []
    for i, ts in enumerate(["2030-01-01 10:00:00", "2030-01-02 10:00:00", "2030-01-03 10:00:00"]):
        w = db(dbaas, "write", {"table": "rides", "insert": {"created_by": "u1", "timestamp": ts,
                                                              "source": 1 + i, "destination": 9}})
        assert w.status_code == 200, w.text
        ids.append(w.json()["lastId"])
    assert ids == sorted(ids) and len(set(ids)) == 3
    r = db(dbaas, "read", {"table": "rides", "columns": ["id"], "where": {"timestamp": {">": "2030-01-01 10:00:00"}},
                           "order": ["-timestamp"]})
    assert [row["id"] for row in r.json()] == [ids[2], ids[1]]
    r = db(dbaas, "read", {"table": "rides", "columns": ["id"], "where": {"source": {"!=": 2}}, "order": ["id"],
                           "limit": 1})
    assert r.json() == [{"id": ids[0]}]
    u = db(dbaas, "write", {"table": "rides", "update": {"id": ids[0]}, "set": {"destination": 42}})
    assert u.status_code == 200 and u.json()["changes"] == 1
    r = db(dbaas, "read", {"table": "rides", "columns": ["destination"], "where": {"id": ids[0]}})
    assert r.json() == [{"destination": 42}]
    d = db(dbaas, "write", {"table": "rides", "delete": {"id": {"<=": ids[1]}}})
    assert d.status_code == 200 and d.json()["changes"] == 2
    assert count(dbaas, "rides") == 1


def test_user_delete_cascades(dbaas):
    clear(dbaas)
    add_user(dbaas, "owner")
    add_user(dbaas, "rider")
    rid = db(dbaas, "write", {"table": "rides", "insert": {"created_by": "owner", "timestamp": "2030-01-01 00:00:00",
                                                            "source": 1, "destination": 2}}).json()["lastId"]
    other = db(dbaas, "write", {"table": "rides", "insert": {"created_by": "rider", "timestamp": "2030-01-01 00:00:00",
                                                              "source": 1, "destination": 2}}).json()["lastId"]
    assert db(dbaas, "write", {"table": "ride_users", "insert": {"ride_id": other, "username": "owner"}}).status_code == 200
    assert db(dbaas, "write", {"table": "ride_users", "insert": {"ride_id": rid, "username": "rider"}}).status_code == 200
    assert db(dbaas, "write", {"table": "users", "delete": {"username": "owner"}}).json()["changes"] == 1
    assert db(dbaas, "read", {"table": "rides", "columns": ["id"]}).json() == [{"id": other}]
    assert count(dbaas, "ride_users") == 0


def test_clear_restarts_ids(dbaas):
    clear(dbaas)
    add_user(dbaas, "x")
    db(dbaas, "write", {"table": "rides", "insert": {"created_by": "x", "timestamp": "2030-01-01 00:00:00",
                                                     "source": 1, "destination": 2}})
    clear(dbaas)
    assert count(dbaas, "users") == 0 and count(dbaas, "rides") == 0
    add_user(dbaas, "x")
    w = db(dbaas, "write", {"table": "rides", "insert": {"created_by": "x", "timestamp": "2030-01-01 00:00:00",
                                                         "source": 1, "destination": 2}})
    assert w.json()["lastId"] == 1


def test_reads_reach_both_slaves(dbaas):
    clear(dbaas)
    seen = set()
    for _ in range(40):
        r = db(dbaas, "read", {"table": "users", "count": True})
        assert r.status_code == 200
        seen.add(r.headers.get("X-Worker"))
    assert seen == {"slave-0", "slave-1"}


def test_500_concurrent_write_then_read_pairs(dbaas):
    clear(dbaas)

    def pair(i):
        name = f"ryw-{i}"
        w = add_user(dbaas, name)
        if w.status_code != 200:
            return f"write {i}: {w.status_code} {w.text}"
        r = db(dbaas, "read", {"table": "users", "columns": ["username"], "where": {"username": name}})
        if r.status_code != 200 or r.json() != [{"username": name}]:
            return f"read {i}: {r.status_code} {r.text}"
        return None

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        errors = [e for e in pool.map(pair, range(500)) if e]
    assert errors == []
    assert count(dbaas, "users") == 500


INJECTIONS = ["x'; DROP TABLE users; --", "\" OR 1=1 --", "Robert'); DELETE FROM rides;--", "%s%n%x", "ü\u2603 ☃"]


def test_injection_strings_are_data(dbaas):
    clear(dbaas)
    for s in INJECTIONS:
        assert add_user(dbaas, s).status_code == 200
    for s in INJECTIONS:
        r = db(dbaas, "read", {"table": "users", "columns": ["username"], "where": {"username": s}})
        assert r.json() == [{"username": s}]
    assert count(dbaas, "users") == len(INJECTIONS)
    r = db(dbaas, "read", {"table": "users", "columns": ["username"], "where": {"username": {"=": "x' OR '1'='1"}}})
    assert r.json() == []


BAD_WRITES = [
    [], "users", 5, {}, {"table": "users"}, {"table": "nope", "insert": {"username": "a"}},
    {"table": "users; DROP TABLE users", "insert": {"username": "a", "password": PW}},
    {"table": "users", "insert": {}}, {"table": "users", "insert": {"username": "a", "nope": 1}},
    {"table": "users", "insert": {"username": 7, "password": PW}},
    {"table": "users", "insert": {"username": "a", "password": None}},
    {"table": "users", "insert": {"username": "a", "password": PW}, "delete": {"username": "a"}},
    {"table": "users", "delete": {}}, {"table": "users", "delete": "all"},
    {"table": "users", "update": {"username": "base"}}, {"table": "users", "update": {}, "set": {"password": PW}},
    {"table": "users", "update": {"username": "base"}, "set": {"username": {"x": 1}}},
    {"table": "rides", "insert": {"created_by": "nobody", "timestamp": "2030-01-01 00:00:00", "source": 1,
                                  "destination": 2}},
    {"table": "rides", "insert": {"created_by": "base", "timestamp": "2030-01-01 00:00:00", "source": 0,
                                  "destination": 2}},
    {"table": "rides", "insert": {"created_by": "base", "timestamp": "2030-01-01 00:00:00", "source": "1",
                                  "destination": 2}},
    {"table": "users", "insert": {"username": "base", "password": PW}},  # duplicate key
    {"table": "users", "delete": {"username": {"LIKE": "%"}}},
]

BAD_READS = [
    [], {}, {"table": "nope"}, {"table": "users", "columns": ["nope"]}, {"table": "users", "columns": "username"},
    {"table": "users", "columns": ["username; DROP TABLE users"]},
    {"table": "users", "where": {"nope": 1}}, {"table": "users", "where": {"username": {"~": "a"}}},
    {"table": "users", "where": {"username": 5}}, {"table": "users", "where": ["username"]},
    {"table": "users", "order": ["nope"]}, {"table": "users", "order": "username"},
    {"table": "users", "limit": -1}, {"table": "users", "limit": "10"}, {"table": "users", "limit": 0},
]


def test_malformed_requests_are_400_and_change_nothing(dbaas):
    clear(dbaas)
    assert add_user(dbaas, "base").status_code == 200
    before = [count(dbaas, t) for t in ("users", "rides", "ride_users")]
    for body in BAD_WRITES:
        r = db(dbaas, "write", body)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert "error" in r.json()
    for body in BAD_READS:
        r = db(dbaas, "read", body)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert "error" in r.json()
    for raw in ["{", "null", "\xff\xfe", '{"table": "users"', "x" * 100]:
        for op in ("read", "write"):
            r = requests.post(f"{dbaas.orch_url}/api/v1/db/{op}", data=raw.encode("latin-1"), timeout=10)
            assert r.status_code == 400, (op, raw, r.text)
    assert [count(dbaas, t) for t in ("users", "rides", "ride_users")] == before
    r = db(dbaas, "read", {"table": "users", "columns": ["username"]})
    assert r.json() == [{"username": "base"}]


def test_http_edges(dbaas):
    assert requests.get(f"{dbaas.orch_url}/api/v1/db/read", timeout=5).status_code == 405
    assert requests.get(f"{dbaas.orch_url}/api/v1/db/read", timeout=5).headers["Allow"] == "POST"
    assert requests.get(f"{dbaas.orch_url}/api/v1/nope", timeout=5).status_code == 404
    big = json.dumps({"table": "users", "pad": "x" * 70000})
    r = requests.post(f"{dbaas.orch_url}/api/v1/db/read", data=big, timeout=5)
    assert r.status_code == 413 and "error" in r.json()


def test_metrics_count_requests_by_route_and_status(dbaas):
    db(dbaas, "read", {"table": "users", "count": True})
    db(dbaas, "read", {"table": "nope"})
    r = requests.get(f"{dbaas.orch_url}/metrics", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    assert 'http_requests_total{method="POST",route="/api/v1/db/read",status="200"}' in text
    assert 'http_requests_total{method="POST",route="/api/v1/db/read",status="400"}' in text
    assert 'http_request_duration_seconds_bucket{method="POST",route="/api/v1/db/read",le="+Inf"}' in text
    calls = [l for l in text.splitlines() if l.startswith("rideshare_rpc_calls_total ")]
    assert calls and int(calls[0].split()[1]) >= 2
    assert "rideshare_rpc_in_flight 0" in text


def test_request_id_is_echoed_and_logged(dbaas):
    r = requests.post(f"{dbaas.orch_url}/api/v1/db/read", data=json.dumps({"table": "users", "count": True}),
                      headers={"X-Request-Id": "it-req-4242"}, timeout=5)
    assert r.status_code == 200 and r.headers["X-Request-Id"] == "it-req-4242"
    # a refused request: the slave that refused it logs the same id
    r = requests.post(f"{dbaas.orch_url}/api/v1/db/read", data=json.dumps({"table": "nope"}),
                      headers={"X-Request-Id": "it-req-refused-77"}, timeout=5)
    assert r.status_code == 400
    assert any(w.log_has('"req":"it-req-refused-77"') for w in dbaas.workers.values())
    r = requests.post(f"{dbaas.orch_url}/api/v1/db/read", data="{}", timeout=5)
    assert r.headers.get("X-Request-Id"), "a request without an id gets one"
