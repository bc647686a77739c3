#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_sweep - the fault sweep: an install scenario (three wheels, about 200
# files, two of them upgrades over installed older versions whose bytecode
# is compiled) is run once per io operation kind to count its calls (SPOKE_FAULT=OP:k:KILL kills the
# process at call k, so "call k exists" is a yes/no question and a binary
# search finds the count K exactly); then every call k of every kind fails
# once with ENOSPC and once with EIO. After each failure the environment
# must be byte-identical to before (path, type, mode, size, content, link
# target of every entry), hold no temporary, journal or lock file, the exit
# code must be 1 and the message must name a path and the errno.
#
#   tests/t_sweep.sh          every k of the install scenario (make test)
#   tests/t_sweep.sh --full   also --link-mode copy, an uninstall, and
#                             ENOMEM at every allocation (make stress;
#                             an allocation after the commit point cannot
#                             undo it: there the run must complete)
#
# The last lines print the totals that docs/RELIABILITY.md quotes.
. "$(dirname "$0")/lib.sh"
need_spoke_venv
FULL=0
[ "${1:-}" = --full ] && FULL=1

. "$(dirname "$0")/scenario.sh"
make_scenario

exec $PY - "$SPOKE" "$TMP" "$V0" "$G/trees" "$FULL" <<'PY'
import os, sys, time

sys.path.insert(0, os.environ["SPOKE_TESTS_DIR"])
from treecheck import FaultRun, differ, leftovers, manifest  # noqa: E402

spoke, tmp, v0, trees, full = sys.argv[1:6]
full = full == "1"
V = os.path.join(tmp, "v")
OPS = ["clone", "link", "copy", "symlink", "mkdir", "open", "write", "rename", "unlink"]
TEXT = {"ENOSPC": ["No space left on device"], "EIO": ["Input/output error"],
        "ENOMEM": ["out of memory", "Cannot allocate memory"]}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def note(msg):
    print("  " + msg, file=sys.stderr, flush=True)


FAULTS = FaultRun(spoke, v0, V)
restore = FAULTS.restore
count = FAULTS.calls


def run(args, fault=None):
    rc, out, err = FAULTS.run(args, fault)
    return rc, err


def check_checks(before):
    """The checks themselves can fail: a changed byte, a lost file, a mode
    and a leftover are each caught."""
    victim = sorted(p for p in (os.path.join(d, f) for d, _, fs in os.walk(V) for f in fs)
                    if p.endswith(".py"))[0]
    with open(victim, "ab") as f:
        f.write(b"#")
    assert manifest(V) != before, "a changed byte went unnoticed"
    restore()
    os.chmod(victim, 0o600)
    assert manifest(V) != before, "a changed mode went unnoticed"
    restore()
    os.unlink(victim)
    assert manifest(V) != before, "a lost file went unnoticed"
    restore()
    open(os.path.join(V, ".spoke-journal"), "w").close()
    assert leftovers(V), "a leftover journal went unnoticed"
    restore()


def sweep(name, args, errnos, ops):
    """Fail every call of every op once per errno; returns faults injected."""
    restore()
    before = manifest(V)
    rc, err = run(args)
    if rc != 0:
        fail("%s: the scenario itself fails: %s" % (name, err))
    after = manifest(V)
    if after == before:
        fail("%s: the scenario changes nothing" % name)
    counts = {op: count(args, op) for op in ops}
    note("%s: io calls per kind: %s" % (name, " ".join(
        "%s=%d" % (op, n) for op, n in counts.items() if n)))
    restore()
    check_checks(before)
    injected = completed = 0
    for e in errnos:
        for op in ops:
            for k in range(1, counts[op] + 1):
                spec = "%s:%d:%s" % (op, k, e)
                rc, err = run(args, spec)
                injected += 1
                what = "%s: SPOKE_FAULT=%s" % (name, spec)
                if rc == 0 and e == "ENOMEM":
                    # Past the commit point (the report's allocations):
                    # nothing can be undone, the run must be complete. An
                    # io call failing must always fail the run.
                    m = manifest(V)
                    if m != after or leftovers(V):
                        fail("%s: exit 0 but not the complete result" % what)
                    completed += 1
                    restore()
                    continue
                if rc != 1:
                    fail("%s: exit %d, expected 1: %s" % (what, rc, err.strip()))
                if not any(t in err for t in TEXT[e]):
                    fail("%s: the message does not name the cause: %s" % (what, err.strip()))
                if e != "ENOMEM" and "'/" not in err:
                    fail("%s: the message names no path: %s" % (what, err.strip()))
                m = manifest(V)
                if m != before:
                    fail("%s: the environment changed:\n%s" % (what, "\n".join(differ(before, m))))
                left = leftovers(V)
                if left:
                    fail("%s: left behind: %s" % (what, left[:5]))
    if completed:
        note("%s: %d faults came after the commit point: the run completed, as it must"
             % (name, completed))
    return injected, sum(counts.values()), completed


start = time.time()
base = ["install", "--venv", V] + [os.path.join(trees, t) for t in
                                   ("spoke_edge-2.0", "spoke_bulk-2.0", "spoke_plat-0.1")]
total, calls, done = sweep("install", base, ["ENOSPC", "EIO"], OPS)
note("install: %d faults injected (%d io calls x ENOSPC, EIO), all rolled back (%.0fs)"
     % (total, calls, time.time() - start))
if full:
    for name, args, errnos, ops in (
            ("install --link-mode copy", base[:1] + ["--link-mode", "copy"] + base[1:],
             ["ENOSPC", "EIO"], OPS),
            ("uninstall", ["uninstall", "--venv", V, "spoke-edge", "spoke-bulk"],
             ["ENOSPC", "EIO"], OPS),
            ("install, ENOMEM", base, ["ENOMEM"], ["alloc"])):
        n, c, d = sweep(name, args, errnos, ops)
        total += n
        done += d
        note("%s: %d faults injected (%d calls)" % (name, n, c))
print("t_sweep: %d faults injected: %d rolled back byte for byte, %d after the commit "
      "point completed; 0 files lost (%.0fs)" % (total, total - done, done, time.time() - start))
PY
