"""common/ in two layers: the generic libraries directly under common/ know nothing of
Rideshare, and what the orchestrator, the workers and the services share of Rideshare's own
lives under common/fleet/ (the README's layout table).

A file of the generic layer that names a queue, a role, a table or a znode of the fleet, or
includes a header of the fleet layer, belongs in common/fleet/ (or must learn the name from
its caller). No fleet is started: this reads the sources."""
import glob
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# What the fleet layer alone may name; each as a whole word, in any case.
FLEET_NAMES = {
    "queue": r"readQ|writeQ|syncQ|responseQ",
    "role": r"masters?|slaves?",
    "table": r"users|rides|ride_users|write_log|meta",
    "znode": r"/rideshare\w*",
}


def generic_files():
    files = sorted(glob.glob(os.path.join(ROOT, "common", "*.[ch]")))
    assert files, "no generic layer found under common/"
    return files


def offenders(pattern):
    rx = re.compile(pattern)
    found = []
    for path in generic_files():
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if rx.search(line):
                    found.append(f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}")
    return found


@pytest.mark.parametrize("kind", sorted(FLEET_NAMES))
def test_generic_layer_names_nothing_of_the_fleet(kind):
    found = offenders(r"(?i)(?<![\w/])(?:%s)(?!\w)" % FLEET_NAMES[kind])
    assert not found, f"the generic layer names a {kind} of Rideshare:\n" + "\n".join(found)


def test_generic_layer_includes_no_fleet_header():
    fleet_headers = [os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "common", "fleet", "*.h"))]
    names = "|".join(re.escape(h) for h in fleet_headers) or r"(?!)"
    found = offenders(r'#\s*include\s*"(?:fleet/[^"]*|(?:%s))"' % names)
    assert not found, "the generic layer includes the fleet layer:\n" + "\n".join(found)
