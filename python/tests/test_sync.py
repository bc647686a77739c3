# SPDX-License-Identifier: MIT
"""Tests of what a resolver needs from the binding: per-wheel results,
INSTALLER and per-wheel REQUESTED, removals in the install's transaction,
wheels by cache key or expected sha256, recover() after a killed run,
Ctrl-C on the main thread, the cache calls and copy_tree()."""

import base64
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import spoke  # noqa: E402
from test_spoke import PYTHON, make_tree, make_venv, manifest  # noqa: E402


@pytest.fixture
def venv(tmp_path):
    return make_venv(tmp_path / "venv")


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def make_whl(root, name, version, body=b"x = 1\n"):
    """A small valid .whl (RECORD with sha256 rows)."""
    di = "%s-%s.dist-info" % (name, version)
    files = {
        "%s.py" % name: body,
        di + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n\n"
                           % (name, version)).encode(),
        di + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
                       b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    rows = []
    for path, data in files.items():
        dig = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
        rows.append("%s,sha256=%s,%d" % (path, dig.rstrip(b"=").decode(),
                                         len(data)))
    rows.append(di + "/RECORD,,")
    files[di + "/RECORD"] = ("\n".join(rows) + "\n").encode()
    whl = Path(root) / ("%s-%s-py3-none-any.whl" % (name, version))
    with zipfile.ZipFile(whl, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    return whl


def sha256_of(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def site(venv):
    return next(Path(venv).glob("lib/python3*/site-packages"))


def test_sync_results_installer_requested_and_removals(venv, cache,
                                                      tmp_path):
    a = make_whl(tmp_path, "alpha", "1.0")
    six2 = make_whl(tmp_path, "six", "2.0")
    c = make_whl(tmp_path, "gamma", "1.0")
    r = spoke.install([spoke.Wheel(path=a, requested=True), six2, c], venv,
                      cache_dir=cache, installer="pdm")
    assert [(w.index, w.name, w.action) for w in r.wheels] == [
        (0, "alpha", "installed"), (1, "six", "installed"),
        (2, "gamma", "installed")]
    sp = site(venv)
    assert (sp / "alpha-1.0.dist-info/REQUESTED").exists()
    assert not (sp / "six-2.0.dist-info/REQUESTED").exists()
    assert (sp / "six-2.0.dist-info/INSTALLER").read_text() == "pdm\n"
    assert r.wheels[1].dist_info == str(sp / "six-2.0.dist-info")
    assert r.wheels[1].wheel == str(six2)

    six1 = make_whl(tmp_path, "six", "1.0")
    r = spoke.install([six1, a], venv, cache_dir=cache, installer="pdm",
                      remove=["Gamma"])
    got = [(w.index, w.name, w.previous_version, w.action)
           for w in r.wheels]
    assert got == [(0, "six", "2.0", "downgraded"),
                   (1, "alpha", "1.0", "unchanged"),
                   (-1, "gamma", "1.0", "removed")]
    assert not (sp / "gamma.py").exists()
    assert not (sp / "gamma-1.0.dist-info").exists()
    assert (sp / "six-1.0.dist-info").is_dir()


def test_failure_names_its_wheel_and_changes_nothing(venv, cache, tmp_path):
    a = make_whl(tmp_path, "alpha", "1.0")
    spoke.install([a], venv, cache_dir=cache)
    before = manifest(venv)
    b = make_whl(tmp_path, "beta", "1.0")
    with pytest.raises(spoke.UsageError) as ei:
        spoke.install([b, tmp_path / "missing-1.0-py3-none-any.whl"], venv,
                      cache_dir=cache, remove=["alpha"])
    rep = ei.value.report
    assert rep.error_wheel == 1
    assert [(w.index, w.error, w.action) for w in rep.wheels[:2]] == [
        (0, 0, "none"), (1, -5001, "none")]
    assert rep.wheels[1].wheel.endswith("missing-1.0-py3-none-any.whl")
    assert manifest(venv) == before
    with pytest.raises(spoke.NotInstalledError):
        spoke.install([b], venv, cache_dir=cache, remove=["nothere"])
    assert manifest(venv) == before


def test_sha256_and_cache_key(venv, cache, tmp_path):
    a = make_whl(tmp_path, "alpha", "1.0")
    with pytest.raises(spoke.HashError):
        spoke.install([spoke.Wheel(path=a, sha256="0" * 64)], venv,
                      cache_dir=cache)
    assert spoke.cache_list(cache_dir=cache) == [] or all(
        e.key != sha256_of(a) for e in spoke.cache_list(cache_dir=cache))
    r = spoke.install([spoke.Wheel(path=a, sha256=sha256_of(a).upper())],
                      venv, cache_dir=cache)
    assert r.wheels[0].action == "installed"
    b = make_whl(tmp_path, "beta", "1.0")
    key = spoke.cache_add(b, cache_dir=cache, sha256=sha256_of(b))
    assert key == sha256_of(b)
    with pytest.raises(spoke.HashError):
        spoke.cache_add(make_whl(tmp_path, "delta", "1.0"), cache_dir=cache,
                        sha256="1" * 64)
    r = spoke.install([spoke.Wheel(cache_key=key)], venv, cache_dir=cache)
    assert (r.wheels[0].name, r.wheels[0].wheel) == ("beta", key)
    with pytest.raises(spoke.UsageError):
        spoke.install([spoke.Wheel(cache_key="ab" * 32)], venv,
                      cache_dir=cache)


def test_cache_calls(cache, tmp_path):
    keys = {spoke.cache_add(make_whl(tmp_path, n, "1.0"), cache_dir=cache)
            for n in ("alpha", "beta")}
    entries = spoke.cache_list(cache_dir=cache)
    assert {e.key for e in entries} == keys
    assert {e.wheel_name for e in entries} == {
        "alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"}
    assert spoke.cache_verify(cache_dir=cache) == []
    # Damage one entry's file: verify names it.
    entry = Path(spoke.cache_dir(cache)) / "archive-v2" / sorted(keys)[0]
    victim = next(entry.glob("*.py"))
    os.chmod(victim, 0o644)
    victim.write_bytes(b"y = 2\n")
    bad = spoke.cache_verify(cache_dir=cache)
    assert [e.key for e in bad] == [sorted(keys)[0]] and bad[0].status < 0
    tmpdir = Path(spoke.cache_dir(cache)) / "tmp"
    tmpdir.mkdir(exist_ok=True)
    leftover = tmpdir / ("%s.1.abc" % ("0" * 64))
    leftover.mkdir()
    os.utime(leftover, (0, 0))  # prune takes only what is old
    assert spoke.cache_prune(cache_dir=cache) >= 1
    spoke.cache_clean(cache_dir=cache)
    assert spoke.cache_list(cache_dir=cache) == []


def test_copy_tree(tmp_path):
    src = make_tree(tmp_path, "copied", 20)
    r = spoke.copy_tree(src, tmp_path / "dst", link_mode="copy")
    assert manifest(tmp_path / "dst") == manifest(src)
    assert r.counters["files"] == 23


def _child(script, *args):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    return subprocess.run([PYTHON, "-c", textwrap.dedent(script)] +
                          [str(a) for a in args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_recover_after_a_killed_run(venv, tmp_path):
    """A process killed mid-install leaves a journal; recover() rolls it
    back to the environment as it was (status 1), then has nothing to do."""
    tree = make_tree(tmp_path, "killed", 400)
    before = manifest(venv)
    p = _child("""
        import os, sys, spoke
        def progress(p):
            if p.files_done:
                os._exit(9)
        spoke.install([sys.argv[1]], sys.argv[2], jobs=1, link_mode="copy",
                      progress=progress)
        """, tree, venv)
    assert p.returncode == 9, p.stderr
    assert manifest(venv) != before
    r = spoke.recover(venv)
    assert r.status == 1
    assert manifest(venv) == before
    assert spoke.recover(venv).status == 0


def test_ctrl_c_on_the_main_thread_rolls_back(venv, tmp_path):
    """SIGINT during a run on the main thread: the run is canceled, rolled
    back, and KeyboardInterrupt is raised after that (not lost)."""
    tree = make_tree(tmp_path, "interrupted", 1024)
    before = manifest(venv)
    p = _child("""
        import os, signal, sys, time, spoke
        sent = []
        def progress(p):
            if p.phase != "link":
                return  # in the middle: among the links, as before
            if not sent:
                os.kill(os.getpid(), signal.SIGINT)
            sent.append(p)
            time.sleep(0.11)
        try:
            spoke.install([sys.argv[1]], sys.argv[2], jobs=2,
                          link_mode="copy", progress=progress)
        except KeyboardInterrupt as e:
            # Canceled at once, not when the run came back by itself.
            last = sent[-1]
            # (How far it got depends on the machine's load: not asked.)
            print("interrupted", type(e.__cause__).__name__,
                  last.files_done < last.files_total)
            sys.exit(0)
        print("not interrupted")
        sys.exit(1)
        """, tree, venv)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split() == ["interrupted", "CanceledError", "True"]
    assert manifest(venv) == before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
