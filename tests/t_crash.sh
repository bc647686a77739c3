#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_crash - SIGKILL in the middle of an install, then recovery. The
# scenario is t_sweep's (three wheels, about 200 files, two upgrades). The
# process is killed at 20 random io calls (SPOKE_FAULT=any:k:KILL: the kth
# io call or allocation raises SIGKILL, so every crash point is
# reproducible from the seed printed) plus chosen ones: the first move
# aside, mid-link, and the commit mark's fdatasync. After each, `spoke
# recover` must leave the environment byte-identical to before the install
# (killed before its commit point) or to a completed install (killed
# after it, and recover must then say it finished), with no temporary,
# journal, backup or lock file left. Then: a kill followed by a plain
# `spoke install` that recovers first on its own; a killed uninstall; and
# kills from outside at random moments.
#
#   tests/t_crash.sh            20 random points (make test)
#   tests/t_crash.sh --full     200 random points and 40 outside kills
#   SPOKE_CRASH_SEED=N          replay a run's points
. "$(dirname "$0")/lib.sh"
need_spoke_venv
FULL=0
[ "${1:-}" = --full ] && FULL=1

. "$(dirname "$0")/scenario.sh"
make_scenario

exec $PY - "$SPOKE" "$TMP" "$V0" "$G/trees" "$FULL" <<'PY'
import os, random, signal, subprocess, sys, time

sys.path.insert(0, os.environ["SPOKE_TESTS_DIR"])
from treecheck import FaultRun, differ, leftovers, manifest  # noqa: E402

spoke, tmp, v0, trees, full = sys.argv[1:6]
full = full == "1"
V = os.path.join(tmp, "v")
seed = int(os.environ.get("SPOKE_CRASH_SEED", str(int(time.time()) % 100000)))
rng = random.Random(seed)


def fail(msg):
    print("FAIL (SPOKE_CRASH_SEED=%d): %s" % (seed, msg), file=sys.stderr)
    sys.exit(1)


def note(msg):
    print("  " + msg, file=sys.stderr, flush=True)


FAULTS = FaultRun(spoke, v0, V)
restore = FAULTS.restore
count = FAULTS.calls


def run(args, fault=None):
    rc, out, err = FAULTS.run(args, fault)
    return rc, out + err


INSTALL = ["install", "--venv", V] + [os.path.join(trees, t) for t in
                                      ("spoke_edge-2.0", "spoke_bulk-2.0", "spoke_plat-0.1")]
restore()
before = manifest(V)
rc, out = run(INSTALL)
if rc != 0:
    fail("the scenario fails: " + out)
after = manifest(V)
stats = {"rolled back": 0, "finished": 0, "nothing to recover": 0}


def recover_and_check(what, killed_rc, allow_after=True):
    """After a kill: spoke recover, then before (or after, if the run had
    committed) byte for byte, and nothing of spoke's left."""
    if killed_rc != -9:
        fail("%s: expected SIGKILL, got exit %d" % (what, killed_rc))
    rc, out = run(["recover", "--venv", V])
    if rc != 0:
        fail("%s: spoke recover failed (exit %d): %s" % (what, rc, out))
    said = next((k for k in stats if out.startswith(k)), None)
    if said is None:
        fail("%s: spoke recover said: %s" % (what, out))
    stats[said] += 1
    m = manifest(V)
    # Killed before its commit point: rolled back (or nothing had begun).
    # After it: finished, or, killed after its own cleanup, nothing left.
    if m == before and said != "finished":
        state = "before"
    elif m == after and allow_after and said != "rolled back":
        state = "after"
    else:
        fail("%s: after recovery (%s) the environment is neither as before nor "
             "as installed:\n%s" % (what, said, "\n".join(differ(before, m))))
    left = leftovers(V)
    if left:
        fail("%s: left behind: %s" % (what, left[:5]))
    rc, out = run(["recover", "--venv", V])
    if rc != 0 or not out.startswith("nothing to recover"):
        fail("%s: a second recover was not a no-op: %s" % (what, out))
    if state == "after":
        restore()
    return state


# -- chosen points: the first move aside, mid-link, the commit mark -------
k_any = min(count(INSTALL, "any") for _ in range(2))
k_write = count(INSTALL, "write")
k_link = count(INSTALL, "link")
note("scenario: %d io calls and allocations, %d writes, %d links (seed %d)"
     % (k_any, k_write, k_link, seed))
restore()
crashes = 0
# write 4: the first generated file's content, after its temporary exists
# (writes 1-3 are the journal's first batch and the syncs around it).
for spec, want in (("rename:1:KILL", "before"), ("link:%d:KILL" % (k_link // 2), "before"),
                   ("write:4:KILL", "before"), ("write:%d:KILL" % k_write, "after")):
    state = recover_and_check(spec, run(INSTALL, spec)[0])
    crashes += 1
    if state != want:
        fail("%s: expected the state %s, got %s" % (spec, want, state))
note("chosen points: the first move aside, mid-link and mid-write of a generated "
     "file roll back; a kill at the commit mark's sync finishes the install")

# -- random points ---------------------------------------------------------
# Most calls and allocations of a run come before its first change (reading
# and checking the wheels), so a quarter of the points are drawn from the
# whole run and the rest from the part that changes the environment: from
# the first call after which a kill leaves a journal or the finished
# install (a monotone predicate, so a binary search finds it) to the end.
def changed(k):
    restore()
    run(INSTALL, "any:%d:KILL" % k)
    return os.path.exists(os.path.join(V, ".spoke-journal")) or manifest(V) == after
lo, hi = 1, k_any
while hi - lo > 1:
    mid = (lo + hi) // 2
    lo, hi = (lo, mid) if changed(mid) else (mid, hi)
k_first = hi
restore()
npoints = 200 if full else 20
points = sorted(rng.sample(range(1, k_any - 2), npoints // 4) +
                rng.sample(range(k_first, k_any - 2), npoints - npoints // 4))
note("the first change comes at call %d of %d" % (k_first, k_any))
for k in points:
    recover_and_check("any:%d:KILL" % k, run(INSTALL, "any:%d:KILL" % k)[0])
    crashes += 1
note("%d random kill points %s..%s recovered" % (npoints, points[0], points[-1]))

# -- a kill, then a plain install: it recovers first, then installs ------
for k in rng.sample(range(1, k_any - 2), 3):
    rc, _ = run(INSTALL, "any:%d:KILL" % k)
    if rc != -9:
        fail("any:%d:KILL: expected SIGKILL, got exit %d" % (k, rc))
    crashes += 1
    journal = os.path.exists(os.path.join(V, ".spoke-journal"))
    rc, out = run(INSTALL)
    if rc != 0:
        fail("install after any:%d:KILL failed: %s" % (k, out))
    if os.path.exists(os.path.join(V, ".spoke-journal")) or leftovers(V):
        fail("install after any:%d:KILL: leftovers %s" % (k, leftovers(V)))
    if manifest(V) != after:
        fail("install after any:%d:KILL: not the installed state:\n%s"
             % (k, "\n".join(differ(after, manifest(V)))))
    if journal and "interrupted spoke run" not in out:
        fail("install after any:%d:KILL did not say it recovered: %s" % (k, out))
    restore()
note("a kill followed by a plain install: recovered automatically, then installed")

# -- a killed uninstall ----------------------------------------------------
UNINSTALL = ["uninstall", "--venv", V, "spoke-edge", "spoke-bulk"]
k_un = count(UNINSTALL, "rename")
restore()
for k in sorted(set([1, k_un // 2, k_un])):
    recover_and_check("uninstall rename:%d:KILL" % k,
                      run(UNINSTALL, "rename:%d:KILL" % k)[0], allow_after=False)
    crashes += 1
note("killed uninstalls (moves aside %s of %d) rolled back"
     % ([1, k_un // 2, k_un], k_un))

# -- kills from outside, at random moments ----------------------------------
outside = 40 if full else 5
for i in range(outside):
    env = dict(os.environ)
    env.pop("SPOKE_FAULT", None)
    p = subprocess.Popen([spoke] + INSTALL[:1] + ["--link-mode", "copy"] + INSTALL[1:],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.0, 0.06))
    p.send_signal(signal.SIGKILL)
    rc = p.wait()
    if rc == -9:
        rc2, out = run(["recover", "--venv", V])
        if rc2 != 0:
            fail("outside kill %d: recover failed: %s" % (i, out))
        crashes += 1
    # copy mode gives other inodes, same manifest; either state is sound
    m = manifest(V)
    if m not in (before, after) or leftovers(V):
        fail("outside kill %d: broken environment:\n%s" % (i, "\n".join(differ(before, m))))
    if m == after:
        restore()
note("%d kills from outside at random moments: sound every time" % outside)

print("t_crash: %d crashes survived (recover: %d rolled back, %d finished after "
      "the commit point, %d found nothing to do), 0 files lost"
      % (crashes, stats["rolled back"], stats["finished"], stats["nothing to recover"]))
PY
