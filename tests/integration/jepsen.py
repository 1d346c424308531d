"""A small Jepsen-style toolkit for the fault-injection suite (test_faults_jepsen.py).

* History: every logical write (a unique insert into `users`) with its Idempotency-Key and
  every attempt (invoke/complete time, outcome: HTTP status, "timeout" or "error"); every
  read with its invoke/complete time, the worker that served it and what it expected.
* Clients: writer threads (retry a 503/504/409 with the same key and body, a bounded number
  of times) and reader threads (point reads of the newest acknowledged write, range reads of
  every write acknowledged before the read started).
* Checker: lost (a 200 write missing on a slave), stale (a read that started after an
  acknowledgement and did not see it), ghost (a write whose final answer was a definite
  failure and that is in the database anyway), heal times.

Every loop is bounded in count and time.
"""
import json
import random
import statistics
import threading
import time
import uuid

import requests

PW = "c" * 40
CLIENT_TIMEOUT_S = 12.0       # above the fleet's RPC_TIMEOUT_MS (8 s): the orchestrator answers first
RETRIES = 2                   # extra attempts of a 503/504/409, same key and body
# 504: the orchestrator lost the broker with the write in flight and says its outcome is
# unknown (docs/DESIGN.md "Ghost writes"); like a timeout, it is no definite answer
UNKNOWN = ("timeout", "error", 504)
RETRY_PAUSE_S = (0.3, 0.8)
MAX_OPS_PER_WRITER = 200_000  # a hard bound besides the stop event


def now():
    return time.monotonic()


class Op:
    """One logical write."""

    __slots__ = ("name", "key", "body", "attempts", "nemesis", "round")

    def __init__(self, name, nemesis, rnd):
        self.name, self.key, self.nemesis, self.round = name, uuid.uuid4().hex, nemesis, rnd
        self.body = json.dumps({"table": "users", "insert": {"username": name, "password": PW}})
        self.attempts = []  # [invoke, complete, outcome] ; outcome: int status, "timeout", "error"

    @property
    def outcome(self):
        """ok: some attempt got 200; indeterminate: none did and some timed out, never got
        an answer or got a 504 (outcome unknown); failed: every attempt got a definite non-200
        answer."""
        outs = [a[2] for a in self.attempts]
        if 200 in outs:
            return "ok"
        if not outs or any(o in UNKNOWN for o in outs):
            return "indeterminate"
        return "failed"

    @property
    def acked_at(self):
        for inv, comp, out in self.attempts:
            if out == 200:
                return comp
        return None

    @property
    def final(self):
        return self.attempts[-1][2] if self.attempts else None


class History:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []
        self.reads = []          # dicts
        self.last_acked = None   # the most recently acknowledged Op
        self.acked = []          # (acked_at, name), in ack order
        self.nemesis, self.round = "setup", 0
        self.events = []         # (time, what)

    def phase(self, nemesis, rnd):
        with self.lock:
            self.nemesis, self.round = nemesis, rnd

    def event(self, what):
        with self.lock:
            self.events.append((now(), what))

    def new_op(self, name):
        with self.lock:
            op = Op(name, self.nemesis, self.round)
            self.ops.append(op)
            return op

    def ack(self, op, t):
        with self.lock:
            self.last_acked = op
            self.acked.append((t, op.name))

    def acked_before(self, t):
        with self.lock:
            return [name for at, name in self.acked if at < t]

    def first_ack_after(self, t):
        """The completion time of the first write invoked after t and answered 200."""
        with self.lock:
            best = None
            for op in self.ops:
                for inv, comp, out in op.attempts:
                    if out == 200 and inv >= t and (best is None or comp < best):
                        best = comp
            return best


class Writer(threading.Thread):
    def __init__(self, url, hist, prefix, stop, pause=0.0):
        super().__init__(daemon=True)
        self.url, self.hist, self.prefix, self.stop_ev, self.pause = url, hist, prefix, stop, pause
        self.session = requests.Session()

    def attempt(self, op):
        t0 = now()
        rec = [t0, None, None]
        op.attempts.append(rec)
        try:
            r = self.session.post(self.url + "/api/v1/db/write", data=op.body, timeout=CLIENT_TIMEOUT_S,
                                  headers={"Idempotency-Key": op.key, "Content-Type": "application/json"})
            rec[2] = r.status_code
        except requests.Timeout:
            rec[2] = "timeout"
            self.session = requests.Session()
        except requests.RequestException:
            rec[2] = "error"
            self.session = requests.Session()
        rec[1] = now()
        if rec[2] == 200:
            self.hist.ack(op, rec[1])
        return rec[2]

    def run(self):
        for i in range(MAX_OPS_PER_WRITER):
            if self.stop_ev.is_set():
                return
            op = self.hist.new_op(f"{self.prefix}-{i}")
            out = self.attempt(op)
            tries = 0
            while out in (503, 504, 409) and tries < RETRIES and not self.stop_ev.is_set():
                tries += 1
                self.stop_ev.wait(random.uniform(*RETRY_PAUSE_S))
                out = self.attempt(op)
            if self.pause:
                self.stop_ev.wait(self.pause)


class Reader(threading.Thread):
    """Point reads of the newest acknowledged write; every `range_every` reads, a range read
    of every write (names from `range_from`) checked against everything acknowledged before
    the read started."""

    def __init__(self, url, hist, stop, range_from, pause=0.05, range_every=10):
        super().__init__(daemon=True)
        self.url, self.hist, self.stop_ev = url, hist, stop
        self.range_from, self.pause, self.range_every = range_from, pause, range_every
        self.session = requests.Session()

    def read(self, where):
        body = json.dumps({"table": "users", "columns": ["username"], "where": where})
        try:
            r = self.session.post(self.url + "/api/v1/db/read", data=body, timeout=CLIENT_TIMEOUT_S)
        except requests.RequestException:
            self.session = requests.Session()
            return "error", None, None
        if r.status_code != 200:
            return r.status_code, None, None
        return 200, {row["username"] for row in r.json()}, r.headers.get("X-Worker")

    def run(self):
        for i in range(1_000_000):
            if self.stop_ev.is_set():
                return
            with self.hist.lock:
                target = self.hist.last_acked
                nemesis, rnd = self.hist.nemesis, self.hist.round
            t0 = now()
            if i % self.range_every == 0:
                expect = set(self.hist.acked_before(t0))
                status, seen, worker = self.read({"username": {">=": self.range_from}})
                kind = "range"
            elif target is not None:
                expect = {target.name}
                status, seen, worker = self.read({"username": target.name})
                kind = "point"
            else:
                self.stop_ev.wait(self.pause)
                continue
            t1 = now()
            missing = sorted(expect - seen) if status == 200 else []
            with self.hist.lock:
                self.hist.reads.append(dict(kind=kind, invoke=t0, complete=t1, status=status, worker=worker,
                                            missing=missing, nemesis=nemesis, round=rnd))
            self.stop_ev.wait(self.pause)


class Load:
    """Writers and readers against one orchestrator URL; a context manager."""

    def __init__(self, url, hist, tag, writers=4, readers=2, range_from="j"):
        self.stop = threading.Event()
        self.threads = [Writer(url, hist, f"{range_from}{tag}-w{k}", self.stop) for k in range(writers)]
        self.threads += [Reader(url, hist, self.stop, range_from) for _ in range(readers)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(CLIENT_TIMEOUT_S * (RETRIES + 1) + 5)
        alive = [t for t in self.threads if t.is_alive()]
        assert not alive, f"{len(alive)} client threads did not stop"


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None


def check(hist, final_by_worker, nemesis=None):
    """The verdict over the history (optionally one nemesis's ops and reads), given
    final_by_worker = {worker id: set of usernames it holds} of every slave."""
    ops = [o for o in hist.ops if nemesis is None or o.nemesis == nemesis]
    reads = [r for r in hist.reads if nemesis is None or r["nemesis"] == nemesis]
    everywhere = set.intersection(*final_by_worker.values()) if final_by_worker else set()
    anywhere = set.union(*final_by_worker.values()) if final_by_worker else set()
    res = dict(ops=len(ops), ok=0, failed=0, indeterminate=0, retried=0, lost=[], ghost=[], partial=[],
               stale_reads=[], reads=len(reads), read_ok=sum(1 for r in reads if r["status"] == 200))
    for o in ops:
        res[o.outcome] += 1
        if len(o.attempts) > 1:
            res["retried"] += 1
        if o.outcome == "ok":
            if o.name not in anywhere:
                res["lost"].append(o.name)
            elif o.name not in everywhere:
                res["partial"].append(o.name)  # on some slaves only: lost there
        elif o.outcome == "failed" and o.name in anywhere:
            res["ghost"].append((o.name, [a[2] for a in o.attempts]))
    res["stale_reads"] = [r for r in reads if r["missing"]]
    return res


def summary_line(name, res, heals, recovers, readable=True):
    h = [x for x in heals if x is not None]
    rc = [x for x in recovers if x is not None]
    unhealed = sum(1 for x in heals if x is None)
    fmt = lambda x: "-" if x is None else f"{x:.2f}"
    stale_ops = {m for r in res["stale_reads"] for m in r["missing"]}
    return (f"{name:<9}: rounds {len(heals)} ops {res['ops']} ok {res['ok']} failed {res['failed']} "
            f"indeterminate {res['indeterminate']} retried {res['retried']} | lost "
            f"{len(res['lost']) if readable else '? (no slave answered)'} "
            f"partial {len(res['partial'])} stale {len(res['stale_reads'])} reads ({len(stale_ops)} writes) "
            f"ghost {len(res['ghost'])} | heal s median {fmt(statistics.median(h) if h else None)} "
            f"max {fmt(max(h) if h else None)} unhealed {unhealed} | writes back s median "
            f"{fmt(statistics.median(rc) if rc else None)} max {fmt(max(rc) if rc else None)}")
