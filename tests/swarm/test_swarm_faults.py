"""Infrastructure faults on the swarm, under a write load (issue 14). In turn:
  1. kill the ZooKeeper leader's container, 2. kill the RabbitMQ node that leads writeQ,
  3. kill the orchestrator's task, 4. cut a ZooKeeper member off the overlay network
  (docker network disconnect) for CUT_S seconds, then reconnect it, 5. the same with a
  RabbitMQ node, 6. freeze the Erlang VM of the RabbitMQ node that leads writeQ (SIGSTOP,
  never continued): its healthcheck must find it and Swarm replace it.
Checked: no acknowledged write is lost and every read sees the writes acknowledged before
it (tests/integration/jepsen.py's checker); writes answered 503 that are in the database
anyway are printed ("ghost: ...") and counted in the figures, not failed on: a master that
dies between its commit and its answers while no new master is elected in time leaves one
(docs/DESIGN.md "Ghost writes", what remains); ZooKeeper and RabbitMQ keep a quorum while a
member is gone; Swarm brings the orchestrator back and it adopts the running workers (the
same pids, none started); after each fault the whole stack heals: every service's tasks
running, 3 ZooKeeper members in the ensemble, 3 RabbitMQ nodes in the cluster with every
quorum queue on all of them, a master and the wanted slaves serving, writes acknowledged.
The time to heal of each fault goes to the run's summary ("swarm: figures").

Every container is found through the swarm (docker service ps, docker inspect) and reached
on its node's engine (SWARM_DOCKER_HOSTS, conftest.py), so the test runs unchanged on a
swarm of three machines. SWARM_CUT_S [10] sets how long a member is cut off; SWARM_HEAL_S
[150] how long each fault may take to heal (the freeze 90 s more); SWARM_FAULTS (names of FAULTS, below) runs only
those."""
import json
import os
import re
import time
import uuid

import pytest
import requests

import jepsen
import swarmlib
from e2e import metric, wait_for, workers
from test_4_faults_e2e import final_names

CUT_S = float(os.environ.get("SWARM_CUT_S", "10"))
HEAL_S = float(os.environ.get("SWARM_HEAL_S", "150"))
FREEZE_EXTRA_S = 90.0  # what a frozen RabbitMQ node may take beyond HEAL_S (fault_freeze_rabbit)
NETWORK = "rideshare-swarm"
ZK = ("zk1", "zk2", "zk3")
RABBITS = ("rabbitmq1", "rabbitmq2", "rabbitmq3")


# ---- what the infrastructure says ----

def zk_mode(swarm, member):
    """"leader", "follower", or None (not serving, not running, unreachable)."""
    try:
        out = swarm.exec(member, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2181 && echo srvr >&3 && cat <&3",
                         timeout=10, check=False)
    except (AssertionError, Exception):
        return None
    m = re.search(r"^Mode: (\w+)", out, re.M)
    return m.group(1) if m and m.group(1) in ("leader", "follower") else None


def zk_modes(swarm, members=ZK):
    return {m: zk_mode(swarm, m) for m in members}


def zk_quorum(modes):
    """A quorum of 3: two serving members, one of them the leader."""
    serving = [m for m in modes.values() if m]
    return len(serving) >= 2 and serving.count("leader") == 1


def rabbit_queues(swarm, via, timeout=30):
    """{queue: (members, online)} of the quorum queues, asked of node via; None if it cannot say
    (a node still connected to a peer that was cut off waits for it: net_ticktime)."""
    try:
        out = swarm.exec(via, "rabbitmqctl", "-q", "list_queues", "name", "type", "members", "online",
                         "--formatter", "json", timeout=timeout, check=False)
        rows = json.loads(out)
    except Exception:
        return None
    return {r["name"]: (len(r.get("members") or []), len(r.get("online") or [])) for r in rows
            if r.get("type") == "quorum"}


def rabbit_queue_leader(swarm, queue="writeQ"):
    for via in RABBITS:
        try:
            out = swarm.exec(via, "rabbitmqctl", "-q", "list_queues", "name", "leader", "--formatter", "json",
                             timeout=30, check=False)
            for r in json.loads(out):
                if r["name"] == queue:
                    return r["leader"].split("@", 1)[1]
        except Exception:
            continue
    return None


def rabbit_quorum(queues, need):
    """Every quorum queue has at least `need` members online (and the shared ones exist)."""
    return bool(queues) and {"readQ", "writeQ"} <= set(queues) and all(on >= need for _, on in queues.values())


def services_converged(swarm):
    """Every service of the stack runs as many tasks as it wants (docker service ls)."""
    out = swarm.docker("service", "ls", "--filter", f"label=com.docker.stack.namespace={swarm.stack}",
                       "--format", "{{.Name}} {{.Replicas}}")
    bad = []
    for line in out.splitlines():
        name, rep = line.split()[:2]
        have, want = rep.split("/")[:2]
        if have != want.split()[0]:
            bad.append(line)
    return not bad


def fleet_whole(f):
    """A master, the wanted slaves serving, nothing starting (the autoscaler may want more
    than one slave under the load's reads)."""
    try:
        want = metric(f, "rideshare_slaves_wanted")
        return (metric(f, 'rideshare_workers{role="master"}') == 1
                and metric(f, 'rideshare_workers{role="slave"}') == want
                and metric(f, 'rideshare_workers{role="starting"}') == 0 and len(workers(f)) == want + 1)
    except (KeyError, ValueError, requests.RequestException):
        return False


# ---- faults ----

def container_of(swarm, service):
    return swarm.task(service)


def kill(swarm, service):
    t = container_of(swarm, service)
    swarm.docker("kill", t["container"], node=t["node"])
    return t


def cut(swarm, service):
    """Disconnects the service's container from the overlay network for CUT_S seconds; the
    quorum check of the others runs meanwhile. The container is reconnected whatever happens."""
    t = container_of(swarm, service)
    swarm.docker("network", "disconnect", NETWORK, t["container"], node=t["node"])
    return t


def reconnect(swarm, t):
    """Reconnects the container, unless Swarm replaced it meanwhile (docker/attached.sh)."""
    swarm.docker("network", "connect", NETWORK, t["container"], node=t["node"], check=False)


class Run:
    def __init__(self, swarm, hist):
        self.swarm, self.hist, self.figures, self.problems = swarm, hist, [], []

    def healed(self, t0, extra=lambda: True, budget=None):
        """Waits until the stack is whole again (within budget seconds of t0, HEAL_S by
        default); the seconds since t0."""
        s = self.swarm
        checks = [
            ("services", lambda: services_converged(s)),
            ("zookeeper ensemble", lambda: all(zk_modes(s).values()) and zk_quorum(zk_modes(s))),
            ("rabbitmq queues", lambda: rabbit_quorum(rabbit_queues(s, "rabbitmq1") or
                                                      rabbit_queues(s, "rabbitmq2"), 3)),
            ("fleet", lambda: fleet_whole(s)),
            ("writes", lambda: self.hist.first_ack_after(t0 + 0.01) is not None),
            ("extra", extra),
        ]
        deadline = t0 + (HEAL_S if budget is None else budget)
        for what, pred in checks:
            left = deadline - jepsen.now()
            wait_for(pred, max(left, 1), f"healed: {what}", interval=0.5)
        return jepsen.now() - t0

    def record(self, name, took, note=""):
        line = f"{name:<28} healed in {took:6.1f} s{'  ' + note if note else ''}"
        self.figures.append(line)
        swarmlib.REPORT.append(line)


def quorum_seen_while(pred_down, pred_quorum, seconds):
    """Polls for `seconds`: True when pred_quorum held at least once while pred_down did."""
    end = time.time() + seconds
    while time.time() < end:
        if pred_down() and pred_quorum():
            return True
        time.sleep(0.3)
    return False


def fault_kill_zk_leader(run):
    s = run.swarm
    modes = zk_modes(s)
    leader = next(m for m, mode in modes.items() if mode == "leader")
    t0 = jepsen.now()
    kill(s, leader)
    others = [m for m in ZK if m != leader]
    kept = quorum_seen_while(lambda: True, lambda: zk_quorum(zk_modes(s, others)), 20)
    if not kept:
        run.problems.append(f"ZooKeeper: {others} formed no quorum after {leader} was killed")
    run.record(f"kill ZooKeeper leader {leader}", run.healed(t0))


def fault_kill_rabbit(run):
    s = run.swarm
    node = rabbit_queue_leader(s) or "rabbitmq1"
    others = [r for r in RABBITS if r != node]
    t0 = jepsen.now()
    kill(s, node)
    kept = quorum_seen_while(lambda: True, lambda: rabbit_quorum(rabbit_queues(s, others[0]), 2), 30)
    if not kept:
        run.problems.append(f"RabbitMQ: the quorum queues lost their majority when {node} was killed")
    run.record(f"kill RabbitMQ node {node}", run.healed(t0), "(the writeQ leader)")


def fault_kill_orchestrator(run):
    s = run.swarm
    before_task = s.task("orchestrator")["task"]
    pids = sorted(workers(s))
    t0 = jepsen.now()
    kill(s, "orchestrator")

    def back():
        try:
            return (requests.get(s.orch_url + "/healthz", timeout=2).status_code == 200
                    and s.tasks("orchestrator") and s.task("orchestrator")["task"] != before_task)
        except (requests.RequestException, AssertionError):
            return False

    wait_for(back, HEAL_S, "the orchestrator rescheduled", interval=0.25)
    returned = jepsen.now() - t0
    # It adopts every running worker; its autoscaler then starts over from one slave and may
    # scale the surplus in at once: those count as scaled in, nothing as dead or started.
    after = sorted(workers(s))
    started = metric(s, "rideshare_workers_started_total")
    gone = {r: metric(s, f'rideshare_workers_removed_total{{reason="{r}"}}')
            for r in ("dead", "hung", "never_registered", "crashed_or_scaled_in")}
    scaled_in = len(set(pids) - set(after))
    if set(after) - set(pids) or started != 0 or gone["crashed_or_scaled_in"] != scaled_in or \
            gone["dead"] + gone["hung"] + gone["never_registered"]:
        run.problems.append(f"orchestrator: had workers {pids}, after the restart {after}, started "
                            f"{started:.0f}, removed {gone}")
    run.record("kill the orchestrator's task", run.healed(t0),
               f"(back, a new task, in {returned:.1f} s; adopted {len(pids)} workers, started 0, "
               f"then scaled in {scaled_in})")


def fault_cut(run, kind):
    s = run.swarm
    if kind == "zk":
        member = next(m for m, mode in zk_modes(s).items() if mode == "leader")
        others = [m for m in ZK if m != member]
        quorum = lambda: zk_quorum(zk_modes(s, others))
    else:
        member = rabbit_queue_leader(s) or "rabbitmq2"
        others = [r for r in RABBITS if r != member]
        # the others say so, or (while they still wait for the cut one) a write went through
        quorum = lambda: (run.hist.first_ack_after(t0 + 1.0) is not None
                          or rabbit_quorum(rabbit_queues(s, others[0], timeout=5), 2))
    t0 = jepsen.now()
    t = cut(s, member)
    try:
        kept = quorum_seen_while(lambda: True, quorum, CUT_S)
    finally:
        reconnect(s, t)
    # Reconnected, it is still out of reach (its name resolves to its old address) until
    # Swarm replaces it: the others' quorum may be seen until then too.
    still_out = lambda: any(x["container"] == t["container"] for x in s.tasks(member))
    kept = kept or quorum_seen_while(still_out, quorum, 25)
    if not kept:
        run.problems.append(f"{kind}: {others} held no quorum while {member} was cut off")
    took = run.healed(t0)
    replaced = s.task(member)["container"] != t["container"]
    run.record(f"cut {member} off for {CUT_S:.0f} s", took,
               "(from the cut; " + ("Swarm replaced it, its address gone)" if replaced else "it rejoined)"))


def fault_freeze_rabbit(run):
    """The writeQ leader's Erlang VM stopped (SIGSTOP) for good: its ports still take TCP
    connections (the kernel completes them), so only the liveness check of its healthcheck
    (docker/rabbitmq/alive.sh) can tell, and Swarm must replace it with no help."""
    s = run.swarm
    node = rabbit_queue_leader(s) or "rabbitmq1"
    t = s.task(node)
    t0 = jepsen.now()
    s.docker("exec", t["container"], "sh", "-c",
             'n=0; for p in /proc/[0-9]*; do if [ "$(cat $p/comm 2>/dev/null)" = beam.smp ]; then '
             'kill -STOP "${p#/proc/}" && n=$((n + 1)); fi; done; [ "$n" -gt 0 ]', node=t["node"])
    replaced = lambda: any(x["container"] != t["container"] for x in s.tasks(node))
    # Slower than a kill by design: two failed pings, the healthcheck's retries, the stop of
    # a container that cannot take its SIGTERM, then a restart; 93-133 s seen here.
    took = run.healed(t0, extra=replaced, budget=HEAL_S + FREEZE_EXTRA_S)
    run.record(f"freeze RabbitMQ node {node}", took, "(for good; Swarm replaced it)")


FAULTS = (("kill-zk", fault_kill_zk_leader), ("kill-rabbitmq", fault_kill_rabbit),
          ("kill-orchestrator", fault_kill_orchestrator), ("cut-zk", lambda r: fault_cut(r, "zk")),
          ("cut-rabbitmq", lambda r: fault_cut(r, "rabbitmq")), ("freeze-rabbitmq", fault_freeze_rabbit))
ONLY = os.environ.get("SWARM_FAULTS", "").split()  # a subset of FAULTS' names, to try one


def test_infrastructure_faults_under_write_load(swarm):
    f = swarm
    wait_for(lambda: fleet_whole(f), 120, "a whole fleet before the faults")
    tag = uuid.uuid4().hex[:8]
    hist = jepsen.History()
    run = Run(swarm, hist)
    t_start = jepsen.now()
    with jepsen.Load(f.orch_url, hist, tag, writers=3, readers=1):
        wait_for(lambda: len(hist.acked) >= 20, 60, "writes flowing")
        for i, (name, fault) in enumerate(FAULTS):
            if ONLY and name not in ONLY:
                continue
            hist.phase(name, i)
            print(f"fault {name} at {jepsen.now() - t_start:.1f} s")
            fault(run)
        time.sleep(1)
    total = jepsen.now() - t_start
    wait_for(lambda: fleet_whole(f), 120, "a whole fleet after the faults")
    def worker_services():
        return len(swarm.docker("service", "ls", "-q", "--filter", "label=rideshare.role=worker",
                                "--filter", "label=rideshare.fleet=rideshare-swarm").split())

    try:
        wait_for(lambda: worker_services() == len(workers(f)), 90, "a worker service for each worker")
    except AssertionError:
        run.problems.append(f"{worker_services()} worker services run for {len(workers(f))} workers")
    final = final_names(f, "j" + tag)
    res = jepsen.check(hist, final)
    line = jepsen.summary_line("swarm", res, [], [])
    swarmlib.REPORT.append(f"writes: acknowledged {res['ok']}, lost {len(res['lost'])}, partial "
                           f"{len(res['partial'])}, stale reads {len(res['stale_reads'])} of {res['reads']}, "
                           f"failed {res['failed']}, indeterminate {res['indeterminate']}, answered 503 and applied "
                           f"{len(res['ghost'])} ({total:.0f} s of load)")
    print("\n" + line + "\n" + "\n".join(run.figures))
    by_name = {o.name: o for o in hist.ops}
    for name, outs in res["ghost"]:
        o = by_name[name]
        print(f"ghost: {name} in {o.nemesis}, attempts " +
              ", ".join(f"{a[2]} at {a[0] - t_start:.1f}-{a[1] - t_start:.1f} s" for a in o.attempts))
    assert final, "no slave answered the final read"
    assert not res["lost"] and not res["partial"], \
        f"{len(res['lost'])} acknowledged writes lost, {len(res['partial'])} on some slaves only: {res['lost'][:5]}"
    assert not res["stale_reads"], f"{len(res['stale_reads'])} reads missed an acknowledged write"
    assert not run.problems, "; ".join(run.problems)


@pytest.fixture(autouse=True)
def _no_leftover_cut(swarm):
    """Should a test fail mid-cut, every stack container gets its network back."""
    yield
    for svc in ZK + RABBITS:
        for t in swarm.tasks(svc):
            nets = swarm.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", t["container"],
                                node=t["node"], check=False)
            if NETWORK not in nets:
                reconnect(swarm, t)
