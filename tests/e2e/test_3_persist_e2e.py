"""Data outlives the fleet: a user written before `make down` is there after `make up`."""
import os
import subprocess
import time

import requests

from e2e import PW

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def fleet(cmd):
    t0 = time.time()
    subprocess.run([os.path.join(ROOT, "scripts", "fleet.sh"), cmd], check=True, cwd=ROOT)
    return time.time() - t0


def test_a_user_survives_down_and_up(composed):
    r = requests.put(composed.lb_url + "/api/v1/users", json={"username": "survivor", "password": PW}, timeout=15)
    assert r.status_code in (201, 400), r.text  # 400: already there from an earlier run
    fleet("down")
    left = subprocess.run(["docker", "ps", "-aq", "--filter", "label=rideshare.role=worker"], capture_output=True,
                          text=True, check=True).stdout.split()
    assert left == [], "make down left worker containers behind"
    took = fleet("up")
    users = requests.get(composed.lb_url + "/api/v1/users", timeout=15)
    assert users.status_code == 200 and "survivor" in users.json()
    print(f"make up (warm) took {took:.1f}s")
