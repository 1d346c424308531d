"""procs.py - a process and its descendants, from /proc, for the bench scripts (nginx
workers, RabbitMQ's beam, Chromium's renderers: the process a harness started is not the
whole cost)."""
import os


def descendants(root):
    """root's pid and every live descendant's."""
    kids = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/stat") as f:
                    kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(e))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out
