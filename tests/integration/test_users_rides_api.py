"""The users and rides APIs (docs/API.md), black-box through nginx and directly.

Decisions this suite pins down (documented in docs/API-EXAMPLES.md):
- areas are JSON integers 1..198 or canonical decimal strings ("12"; "012", "-1", 12.0 -> 400);
- rideIds in paths are canonical positive decimal integers ("01", "0", "-1", "1.5" -> 400);
- the rides service asks the users service about a user only once the rest of the request
  is valid (so an invalid ride creation does not touch the users _count);
- nginx passes bodies up to 1 MiB to the services, which answer 413 above 64 KiB.
"""
import concurrent.futures
import datetime
import hashlib
import json
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

import fleet as fleetmod

PW = hashlib.sha1(b"secret").hexdigest()
JSON = {"Content-Type": "application/json"}


# ---- helpers ----

def ts(dt):
    """The API form DD-MM-YYYY:SS-MM-HH."""
    return dt.strftime("%d-%m-%Y:%S-%M-%H")


def future(days=365, **kw):
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=days, **kw)


def past(days=1):
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(days=days)


def send(method, url, body=None, raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return requests.request(method, url, data=data, headers=headers or (JSON if data is not None else None), timeout=30)


def is_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], str) and body["error"]


def is_json(r, status, expected):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    assert r.json() == expected


def is_empty(r, status=204):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.content == b""


def count(url):
    r = requests.get(url + "/api/v1/_count", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, list) and len(body) == 1 and isinstance(body[0], int)
    return body[0]


def reset(f):
    is_json(send("POST", f.users_url + "/api/v1/db/clear"), 200, {})
    is_json(send("DELETE", f.users_url + "/api/v1/_count"), 200, {})
    is_json(send("DELETE", f.rides_url + "/api/v1/_count"), 200, {})


def users(f):
    return f.lb_url + "/api/v1/users"


def rides(f):
    return f.lb_url + "/api/v1/rides"


def add_user(f, name, pw=PW):
    r = send("PUT", users(f), {"username": name, "password": pw})
    is_json(r, 201, {})


def add_ride(f, by, when=None, src=1, dst=2):
    r = send("POST", rides(f), {"created_by": by, "timestamp": ts(when or future()), "source": src,
                                "destination": dst})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"rideId"} and isinstance(body["rideId"], int) and body["rideId"] > 0
    return body["rideId"]


def db_read(f, req):
    r = requests.post(f.orch_url + "/api/v1/db/read", data=json.dumps(req), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def fl(lb_fleet):
    reset(lb_fleet)
    return lb_fleet


# ---- health, unknown paths, methods ----

def test_healthz_everywhere(lb_fleet):
    for url in (lb_fleet.lb_url, lb_fleet.users_url, lb_fleet.rides_url):
        is_json(requests.get(url + "/healthz", timeout=10), 200, {"status": "ok"})


def test_unknown_paths_are_404(fl):
    for url in (fl.users_url + "/api/v1/nope", fl.rides_url + "/api/v1/nope", fl.lb_url + "/nope",
                fl.users_url + "/api/v1/users/a/b", fl.rides_url + "/api/v1/rides/1/2", fl.users_url + "/"):
        is_error(requests.get(url, timeout=10), 404)


@pytest.mark.parametrize("svc,path,method,allow", [
    ("users", "/api/v1/users", "POST", {"PUT", "GET"}),
    ("users", "/api/v1/users", "DELETE", {"PUT", "GET"}),
    ("users", "/api/v1/users", "PATCH", {"PUT", "GET"}),
    ("users", "/api/v1/users/alice", "GET", {"DELETE"}),
    ("users", "/api/v1/users/alice", "PUT", {"DELETE"}),
    ("users", "/api/v1/_count", "POST", {"GET", "DELETE"}),
    ("users", "/api/v1/db/clear", "GET", {"POST"}),
    ("rides", "/api/v1/rides", "PUT", {"GET", "POST"}),
    ("rides", "/api/v1/rides", "DELETE", {"GET", "POST"}),
    ("rides", "/api/v1/rides/1", "PUT", {"GET", "POST", "DELETE"}),
    ("rides", "/api/v1/rides/count", "PUT", {"GET"}),  # a literal route owns its path (issue 10)
    ("rides", "/api/v1/_count", "PUT", {"GET", "DELETE"}),
    ("rides", "/api/v1/db/clear", "DELETE", {"POST"}),
])
def test_405_with_allow(fl, svc, path, method, allow):
    base = fl.users_url if svc == "users" else fl.rides_url
    r = send(method, base + path)
    is_error(r, 405)
    assert {m.strip() for m in r.headers["Allow"].split(",")} == allow


def test_405_through_the_load_balancer(fl):
    r = send("PATCH", rides(fl) + "/5")
    is_error(r, 405)
    assert "DELETE" in r.headers["Allow"]


# ---- users ----

def test_create_list_delete_user(fl):
    is_empty(requests.get(users(fl), timeout=10))
    add_user(fl, "alice")
    add_user(fl, "bob")
    add_user(fl, "carol")
    is_json(requests.get(users(fl), timeout=10), 200, ["alice", "bob", "carol"])
    is_json(send("DELETE", users(fl) + "/bob"), 200, {})
    is_json(requests.get(users(fl), timeout=10), 200, ["alice", "carol"])
    is_error(send("DELETE", users(fl) + "/bob"), 400)
    is_error(send("DELETE", users(fl) + "/nobody"), 400)


def test_duplicate_user_is_400(fl):
    add_user(fl, "alice")
    is_error(send("PUT", users(fl), {"username": "alice", "password": PW}), 400)
    is_error(send("PUT", users(fl), {"username": "alice", "password": PW.upper()}), 400)
    is_json(requests.get(users(fl), timeout=10), 200, ["alice"])


def test_password_stored_lower_case(fl):
    add_user(fl, "upper", PW.upper())
    rows = db_read(fl, {"table": "users", "columns": ["password"], "where": {"username": "upper"}})
    assert rows == [{"password": PW}]


@pytest.mark.parametrize("body", [
    {"password": PW},
    {"username": "", "password": PW},
    {"username": "a" * 65, "password": PW},
    {"username": "é" * 33, "password": PW},  # 66 bytes of UTF-8
    {"username": "a/b", "password": PW},
    {"username": "a\nb", "password": PW},
    {"username": "a\tb", "password": PW},
    {"username": "a\x00b", "password": PW},
    {"username": "a\x7fb", "password": PW},
    {"username": "a\u0085b", "password": PW},
    {"username": 12, "password": PW},
    {"username": None, "password": PW},
    {"username": ["alice"], "password": PW},
    {"username": "alice"},
    {"username": "alice", "password": PW[:-1]},
    {"username": "alice", "password": PW + "0"},
    {"username": "alice", "password": PW[:-1] + "g"},
    {"username": "alice", "password": " " + PW[1:]},
    {"username": "alice", "password": ""},
    {"username": "alice", "password": int("1" * 40)},
    {"username": "alice", "password": None},
])
def test_invalid_user_is_400(fl, body):
    is_error(send("PUT", users(fl), body), 400)
    is_empty(requests.get(users(fl), timeout=10))


@pytest.mark.parametrize("raw", ["", "{", "[]", '"alice"', "12", "null", '{"username": "a",}',
                                 '{"username":"a","username":"b","password":"' + PW + '"}'])
def test_bad_json_is_400(fl, raw):
    is_error(send("PUT", users(fl), raw=raw), 400)
    is_error(send("POST", rides(fl), raw=raw), 400)
    is_empty(requests.get(users(fl), timeout=10))


@pytest.mark.parametrize("name", ["a" * 64, "é" * 32, "bob smith", "o'neil", "50%", "a+b", "日本", "?x#y"])
def test_valid_odd_usernames_and_percent_decoded_delete(fl, name):
    add_user(fl, name)
    is_json(requests.get(users(fl), timeout=10), 200, [name])
    quoted = requests.utils.quote(name, safe="")
    is_json(send("DELETE", users(fl) + "/" + quoted), 200, {})
    is_empty(requests.get(users(fl), timeout=10))


def test_encoded_slash_in_a_path_is_just_no_such_user(fl):
    add_user(fl, "a")
    is_error(send("DELETE", users(fl) + "/a%2Fb"), 400)
    is_error(send("DELETE", fl.users_url + "/api/v1/users/%zz"), 400)
    # bytes that are not UTF-8 name nobody (found by the fuzzers' neighbour: it was a 500)
    is_error(send("DELETE", users(fl) + "/%ff"), 400)
    is_error(send("DELETE", users(fl) + "/%C3"), 400)
    is_json(requests.get(users(fl), timeout=10), 200, ["a"])


def test_extra_fields_are_ignored(fl):
    is_json(send("PUT", users(fl), {"username": "x", "password": PW, "age": 3}), 201, {})
    add_user(fl, "y")
    rid = add_ride(fl, "x")
    is_json(send("POST", f"{rides(fl)}/{rid}", {"username": "y", "extra": [1]}), 200, {})


def test_concurrent_user_creation(fl):
    names = [f"user{i:03d}" for i in range(40)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(lambda n: send("PUT", users(fl), {"username": n, "password": PW}).status_code, names))
    assert codes == [201] * len(names)
    assert sorted(requests.get(users(fl), timeout=10).json()) == names


# ---- cascades ----

def test_deleting_a_user_deletes_their_rides(fl):
    add_user(fl, "owner")
    add_user(fl, "rider")
    mine = add_ride(fl, "owner")
    theirs = add_ride(fl, "rider")
    is_json(send("POST", f"{rides(fl)}/{mine}", {"username": "rider"}), 200, {})
    is_json(requests.get(rides(fl) + "/count", timeout=10), 200, [2])
    is_json(send("DELETE", users(fl) + "/owner"), 200, {})
    is_empty(requests.get(f"{rides(fl)}/{mine}", timeout=10))
    is_json(requests.get(rides(fl) + "/count", timeout=10), 200, [1])
    assert requests.get(f"{rides(fl)}/{theirs}", timeout=10).status_code == 200
    assert db_read(fl, {"table": "ride_users", "where": {"ride_id": mine}}) == []


def test_deleting_a_user_removes_them_from_joined_rides(fl):
    for n in ("owner", "r1", "r2"):
        add_user(fl, n)
    rid = add_ride(fl, "owner")
    for n in ("r1", "r2"):
        is_json(send("POST", f"{rides(fl)}/{rid}", {"username": n}), 200, {})
    assert requests.get(f"{rides(fl)}/{rid}", timeout=10).json()["users"] == ["r1", "r2"]
    is_json(send("DELETE", users(fl) + "/r1"), 200, {})
    assert requests.get(f"{rides(fl)}/{rid}", timeout=10).json()["users"] == ["r2"]


# ---- rides: create ----

def test_create_ride_and_details(fl):
    add_user(fl, "alice")
    when = datetime.datetime(2031, 1, 5, 18, 15, 30)
    r = send("POST", rides(fl), {"created_by": "alice", "timestamp": "05-01-2031:30-15-18",
                                 "source": "12", "destination": 3})
    assert r.status_code == 201, r.text
    rid = r.json()["rideId"]
    is_json(requests.get(f"{rides(fl)}/{rid}", timeout=10), 200,
            {"rideId": rid, "created_by": "alice", "users": [], "timestamp": ts(when), "source": 12,
             "destination": 3})
    rows = db_read(fl, {"table": "rides", "columns": ["timestamp", "source"], "where": {"id": rid}})
    assert rows == [{"timestamp": "2031-01-05 18:15:30", "source": 12}]


def test_ride_ids_are_not_reused_and_restart_after_clear(fl):
    add_user(fl, "alice")
    a = add_ride(fl, "alice")
    b = add_ride(fl, "alice")
    is_json(send("DELETE", f"{rides(fl)}/{b}"), 200, {})
    c = add_ride(fl, "alice")
    assert a < b < c
    is_json(send("POST", fl.rides_url + "/api/v1/db/clear"), 200, {})
    is_empty(requests.get(users(fl), timeout=10))
    add_user(fl, "alice")
    assert add_ride(fl, "alice") == 1


def test_past_rides_can_be_created_and_are_counted(fl):
    add_user(fl, "alice")
    add_ride(fl, "alice", when=past(400))
    add_ride(fl, "alice")
    is_json(requests.get(rides(fl) + "/count", timeout=10), 200, [2])


@pytest.mark.parametrize("stamp", ["29-02-2028:00-00-00", "29-02-2400:59-59-23", "31-12-9999:00-00-00",
                                   "01-01-2030:00-00-00", "31-01-2030:05-04-03"])
def test_real_timestamps_are_accepted_and_echoed(fl, stamp):
    add_user(fl, "alice")
    r = send("POST", rides(fl), {"created_by": "alice", "timestamp": stamp, "source": 1, "destination": 2})
    assert r.status_code == 201, r.text
    assert requests.get(f"{rides(fl)}/{r.json()['rideId']}", timeout=10).json()["timestamp"] == stamp


@pytest.mark.parametrize("stamp", [
    "29-02-2027:00-00-00", "29-02-2100:00-00-00", "30-02-2028:00-00-00", "31-04-2030:00-00-00",
    "32-01-2030:00-00-00", "00-01-2030:00-00-00", "01-13-2030:00-00-00", "01-00-2030:00-00-00",
    "01-01-2030:00-00-24", "01-01-2030:00-60-00", "01-01-2030:60-00-00",
    "1-01-2030:00-00-00", "01-1-2030:00-00-00", "01-01-30:00-00-00", "01-01-2030:0-00-00",
    "01-01-2030:00-0-00", "01-01-2030:00-00-0", "01-01-2030:00-00-00x", "01-01-2030:00-00-00 ",
    " 01-01-2030:00-00-00", "2030-01-01 00:00:00", "01/01/2030:00-00-00", "01-01-2030 00-00-00",
    "01-01-0000:00-00-00", "", "tomorrow",
])
def test_bad_timestamps_are_400(fl, stamp):
    add_user(fl, "alice")
    is_error(send("POST", rides(fl), {"created_by": "alice", "timestamp": stamp, "source": 1, "destination": 2}), 400)
    is_json(requests.get(rides(fl) + "/count", timeout=10), 200, [0])


@pytest.mark.parametrize("change", [
    {"created_by": "nobody"},
    {"created_by": ""},
    {"created_by": 5},
    {"created_by": None},
    {"timestamp": 20300101},
    {"source": 0}, {"source": 199}, {"source": -1}, {"source": "0"}, {"source": "199"},
    {"source": "012"}, {"source": "-1"}, {"source": "+1"}, {"source": " 1"}, {"source": 1.0},
    {"source": 12.5}, {"source": True}, {"source": None}, {"source": [1]}, {"source": "one"},
    {"destination": 0}, {"destination": 199}, {"destination": "x"}, {"destination": 2.0},
    {"source": 7, "destination": 7}, {"source": "7", "destination": 7}, {"source": 7, "destination": "7"},
])
def test_bad_ride_is_400(fl, change):
    add_user(fl, "alice")
    body = {"created_by": "alice", "timestamp": ts(future()), "source": 1, "destination": 2}
    body.update(change)
    is_error(send("POST", rides(fl), body), 400)
    is_json(requests.get(rides(fl) + "/count", timeout=10), 200, [0])


@pytest.mark.parametrize("missing", ["created_by", "timestamp", "source", "destination"])
def test_missing_ride_field_is_400(fl, missing):
    add_user(fl, "alice")
    body = {"created_by": "alice", "timestamp": ts(future()), "source": 1, "destination": 2}
    del body[missing]
    is_error(send("POST", rides(fl), body), 400)


@pytest.mark.parametrize("src,dst", [(1, 198), ("1", "198"), (198, "1"), ("12", 13)])
def test_areas_as_integers_or_strings(fl, src, dst):
    add_user(fl, "alice")
    rid = add_ride(fl, "alice", src=src, dst=dst)
    d = requests.get(f"{rides(fl)}/{rid}", timeout=10).json()
    assert (d["source"], d["destination"]) == (int(src), int(dst))


# ---- rides: list ----

def test_list_upcoming_rides_in_order(fl):
    add_user(fl, "alice")
    add_user(fl, "bob")
    t1, t2 = future(10), future(20)
    late = add_ride(fl, "alice", when=t2, src=4, dst=9)
    early_a = add_ride(fl, "bob", when=t1, src=4, dst=9)
    early_b = add_ride(fl, "alice", when=t1, src=4, dst=9)
    add_ride(fl, "alice", when=past(1), src=4, dst=9)       # past: not listed
    add_ride(fl, "alice", when=t1, src=9, dst=4)            # other direction
    add_ride(fl, "alice", when=t1, src=4, dst=10)           # other destination
    expected = [{"rideId": early_a, "username": "bob", "timestamp": ts(t1)},
                {"rideId": early_b, "username": "alice", "timestamp": ts(t1)},
                {"rideId": late, "username": "alice", "timestamp": ts(t2)}]
    is_json(requests.get(rides(fl), params={"source": 4, "destination": 9}, timeout=10), 200, expected)
    is_json(requests.get(rides(fl) + "?source=4&destination=9&x=1", timeout=10), 200, expected)


def test_list_excludes_rides_that_just_left(fl):
    add_user(fl, "alice")
    add_ride(fl, "alice", when=future(0, seconds=-1), src=5, dst=6)
    soon = add_ride(fl, "alice", when=future(0, seconds=30), src=5, dst=6)
    assert [r["rideId"] for r in requests.get(rides(fl) + "?source=5&destination=6", timeout=10).json()] == [soon]


def test_list_empty_is_204(fl):
    is_empty(requests.get(rides(fl) + "?source=1&destination=2", timeout=10))
    add_user(fl, "alice")
    add_ride(fl, "alice", when=past(2), src=1, dst=2)
    is_empty(requests.get(rides(fl) + "?source=1&destination=2", timeout=10))
    is_empty(requests.get(rides(fl) + "?source=3&destination=3", timeout=10))


@pytest.mark.parametrize("query", ["", "?source=1", "?destination=2", "?source=0&destination=2",
                                   "?source=1&destination=199", "?source=012&destination=2",
                                   "?source=-1&destination=2", "?source=1.0&destination=2", "?source=&destination=2",
                                   "?source=a&destination=2", "?source=%zz&destination=2"])
def test_list_bad_query_is_400(fl, query):
    is_error(requests.get(rides(fl) + query, timeout=10), 400)


# ---- rides: details, join, delete ----

BAD_IDS = ["0", "-1", "01", "1.5", "abc", "1e3", "%2B1", "99999999999999999999"]


def test_details_and_join_order(fl):
    for n in ("owner", "b", "a", "c"):
        add_user(fl, n)
    rid = add_ride(fl, "owner", src=7, dst=8)
    for n in ("b", "a", "c"):
        is_json(send("POST", f"{rides(fl)}/{rid}", {"username": n}), 200, {})
    d = requests.get(f"{rides(fl)}/{rid}", timeout=10).json()
    assert d["users"] == ["b", "a", "c"] and d["created_by"] == "owner"
    assert set(d) == {"rideId", "created_by", "users", "timestamp", "source", "destination"}


@pytest.mark.parametrize("rid", BAD_IDS)
def test_bad_ride_ids_are_400(fl, rid):
    add_user(fl, "alice")
    is_error(requests.get(f"{rides(fl)}/{rid}", timeout=10), 400)
    is_error(send("POST", f"{rides(fl)}/{rid}", {"username": "alice"}), 400)
    is_error(send("DELETE", f"{rides(fl)}/{rid}"), 400)


def test_missing_ride_is_204_for_details_and_join_400_for_delete(fl):
    add_user(fl, "alice")
    is_empty(requests.get(rides(fl) + "/12345", timeout=10))
    is_empty(send("POST", rides(fl) + "/12345", {"username": "alice"}))
    is_error(send("DELETE", rides(fl) + "/12345"), 400)


def test_join_failures(fl):
    add_user(fl, "owner")
    add_user(fl, "rider")
    rid = add_ride(fl, "owner")
    url = f"{rides(fl)}/{rid}"
    is_error(send("POST", url, {"username": "nobody"}), 400)
    is_error(send("POST", url, {"username": "owner"}), 400)
    is_error(send("POST", url, {}), 400)
    is_error(send("POST", url, {"username": 3}), 400)
    is_error(send("POST", url, raw="{"), 400)
    is_error(send("POST", url, raw="[]"), 400)
    is_json(send("POST", url, {"username": "rider"}), 200, {})
    is_error(send("POST", url, {"username": "rider"}), 400)
    assert requests.get(url, timeout=10).json()["users"] == ["rider"]


def test_delete_ride(fl):
    add_user(fl, "owner")
    add_user(fl, "rider")
    rid = add_ride(fl, "owner")
    is_json(send("POST", f"{rides(fl)}/{rid}", {"username": "rider"}), 200, {})
    is_json(send("DELETE", f"{rides(fl)}/{rid}"), 200, {})
    is_empty(requests.get(f"{rides(fl)}/{rid}", timeout=10))
    is_error(send("DELETE", f"{rides(fl)}/{rid}"), 400)
    assert db_read(fl, {"table": "ride_users", "where": {"ride_id": rid}}) == []
    is_json(requests.get(rides(fl) + "/count", timeout=10), 200, [0])
    is_json(requests.get(users(fl), timeout=10), 200, ["owner", "rider"])


def test_ride_count(fl):
    is_json(requests.get(rides(fl) + "/count", timeout=10), 200, [0])
    add_user(fl, "alice")
    for i in range(3):
        add_ride(fl, "alice", when=past(i + 1) if i else future())
    is_json(requests.get(rides(fl) + "/count", timeout=10), 200, [3])


# ---- 413 ----

def test_body_over_64k_is_413_and_counted(fl):
    big = json.dumps({"username": "x" * (64 * 1024), "password": PW})
    for url, counter in ((users(fl), fl.users_url), (fl.users_url + "/api/v1/users", fl.users_url)):
        before = count(counter)
        is_error(send("PUT", url, raw=big), 413)
        assert count(counter) == before + 1
    ride = json.dumps({"created_by": "x" * (64 * 1024), "timestamp": ts(future()), "source": 1, "destination": 2})
    for url in (rides(fl), fl.rides_url + "/api/v1/rides"):
        is_error(send("POST", url, raw=ride), 413)
    assert count(fl.rides_url) == 2
    is_error(send("PUT", users(fl), raw="x" * (2 << 20)), 413)  # stopped by nginx itself
    is_empty(requests.get(users(fl), timeout=10))


def test_body_of_exactly_64k_is_not_413(fl):
    pad = 64 * 1024 - len(json.dumps({"username": "alice", "password": PW, "p": ""}))
    raw = json.dumps({"username": "alice", "password": PW, "p": "x" * pad})
    assert len(raw) == 64 * 1024
    is_json(send("PUT", users(fl), raw=raw), 201, {})


# ---- _count ----

def test_users_count_arithmetic(fl):
    u = fl.users_url
    assert count(u) == 0
    assert count(u) == 0                                   # _count itself is not counted
    add_user(fl, "alice")                                  # 1
    send("PUT", users(fl), {"username": "alice", "password": PW})   # 2 (400)
    requests.get(users(fl), timeout=10)                    # 3
    send("POST", users(fl))                                # 4 (405)
    send("GET", users(fl) + "/alice")                      # 5 (405)
    requests.get(u + "/api/v1/users/a/b", timeout=10)      # 6 (404 under the prefix)
    send("PUT", users(fl), raw="{")                        # 7 (400)
    send("DELETE", users(fl) + "/nobody")                  # 8 (400)
    send("DELETE", u + "/api/v1/users/alice")              # 9 (directly, not through nginx)
    requests.get(u + "/healthz", timeout=10)               # not counted
    send("POST", u + "/api/v1/db/clear")                   # not counted
    send("POST", u + "/api/v1/_count")                     # not counted (405 on _count)
    requests.get(u + "/api/v1/usersx", timeout=10)         # not counted (not /api/v1/users/...)
    requests.get(u + "/api/v1/nope", timeout=10)           # not counted
    assert count(u) == 9
    assert count(fl.rides_url) == 0
    is_json(send("DELETE", u + "/api/v1/_count"), 200, {})
    assert count(u) == 0


def test_rides_count_arithmetic_and_users_checks(fl):
    add_user(fl, "alice")
    add_user(fl, "bob")
    reset_counts = lambda: [send("DELETE", x + "/api/v1/_count") for x in (fl.users_url, fl.rides_url)]
    reset_counts()
    r = fl.rides_url
    rid = add_ride(fl, "alice")                            # rides 1, users check 1
    assert (count(r), count(fl.users_url)) == (1, 1)
    send("POST", rides(fl), {"created_by": "nobody", "timestamp": ts(future()), "source": 1,
                             "destination": 2})            # rides 2, users check 2 (400)
    send("POST", rides(fl), {"created_by": "alice", "timestamp": "bad", "source": 1,
                             "destination": 2})            # rides 3, invalid body: no users check
    send("POST", rides(fl), {"created_by": "alice", "timestamp": ts(future()), "source": 1,
                             "destination": 1})            # rides 4, no users check
    assert (count(r), count(fl.users_url)) == (4, 2)
    send("POST", f"{rides(fl)}/{rid}", {"username": "bob"})    # rides 5, users 3
    send("POST", f"{rides(fl)}/{rid}", {"username": "bob"})    # rides 6, users 4 (already joined)
    send("POST", f"{rides(fl)}/{rid}", {"username": "alice"})  # rides 7, creator: no users check
    send("POST", rides(fl) + "/999", {"username": "bob"})      # rides 8, 204: no users check
    assert (count(r), count(fl.users_url)) == (8, 4)
    requests.get(rides(fl) + "?source=1&destination=2", timeout=10)   # 9
    requests.get(rides(fl), timeout=10)                    # 10 (400)
    requests.get(f"{rides(fl)}/{rid}", timeout=10)         # 11
    requests.get(rides(fl) + "/count", timeout=10)         # 12
    send("PUT", rides(fl))                                 # 13 (405)
    send("PATCH", f"{rides(fl)}/{rid}")                    # 14 (405)
    send("DELETE", f"{rides(fl)}/{rid}")                   # 15
    send("DELETE", f"{rides(fl)}/{rid}")                   # 16 (400)
    requests.get(r + "/api/v1/rides/1/x", timeout=10)      # 17 (404 under the prefix)
    requests.get(r + "/healthz", timeout=10)               # not counted
    send("PUT", r + "/api/v1/_count")                      # not counted
    requests.get(r + "/api/v1/ridesx", timeout=10)         # not counted
    assert count(r) == 17
    assert count(fl.users_url) == 4
    is_json(send("DELETE", r + "/api/v1/_count"), 200, {})
    assert count(r) == 0


def test_db_clear_empties_everything(fl):
    add_user(fl, "alice")
    add_user(fl, "bob")
    rid = add_ride(fl, "alice")
    send("POST", f"{rides(fl)}/{rid}", {"username": "bob"})
    is_json(send("POST", fl.users_url + "/api/v1/db/clear"), 200, {})
    is_empty(requests.get(users(fl), timeout=10))
    is_json(requests.get(rides(fl) + "/count", timeout=10), 200, [0])
    assert db_read(fl, {"table": "ride_users"}) == []


# ---- a dead orchestrator or users service is a 503 ----

def _closed_port():
    return fleetmod.free_port()


@pytest.fixture
def orphan_services(tmp_path):
    """A users and a rides service whose orchestrator and users service do not exist."""
    dead = f"http://127.0.0.1:{_closed_port()}"
    procs, urls = [], {}
    for name in ("users", "rides"):
        port = fleetmod.free_port()
        env = dict(os.environ, PORT=str(port), ORCH_URL=dead, USERS_URL=dead + "/api/v1/users",
                   DB_TIMEOUT_MS="2000", USERS_TIMEOUT_MS="2000")
        log = open(tmp_path / f"{name}.log", "wb")
        procs.append((subprocess.Popen([os.path.join(fleetmod.BIN, name)], env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True), log))
        urls[name] = f"http://127.0.0.1:{port}"
        fleetmod.wait_port(port, 20, procs[-1][0])
    yield urls
    for p, log in procs:
        p.send_signal(signal.SIGTERM)
        p.wait(10)
        log.close()
        assert p.returncode == 0


def test_unavailable_backends_are_503(orphan_services):
    u, r = orphan_services["users"], orphan_services["rides"]
    is_error(requests.get(u + "/api/v1/users", timeout=10), 503)
    is_error(send("PUT", u + "/api/v1/users", {"username": "a", "password": PW}), 503)
    is_error(send("DELETE", u + "/api/v1/users/a"), 503)
    is_error(send("POST", u + "/api/v1/db/clear"), 503)
    is_error(requests.get(r + "/api/v1/rides?source=1&destination=2", timeout=10), 503)
    is_error(send("POST", r + "/api/v1/rides", {"created_by": "a", "timestamp": ts(future()), "source": 1,
                                                "destination": 2}), 503)
    is_error(requests.get(r + "/api/v1/rides/1", timeout=10), 503)
    is_error(requests.get(r + "/api/v1/rides/count", timeout=10), 503)
    # Validation still answers 400 without any backend.
    is_error(send("PUT", u + "/api/v1/users", {"username": "a/b", "password": PW}), 400)
    is_error(requests.get(r + "/api/v1/rides?source=0&destination=2", timeout=10), 400)
    is_json(requests.get(u + "/api/v1/_count", timeout=10), 200, [4])
