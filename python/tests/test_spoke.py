# SPDX-License-Identifier: MIT
"""Tests of the Python binding against a real libspoke ($SPOKE_LIBRARY, as
tests/t_python.sh sets it): installs into fresh venvs, progress, errors
carrying code/errno/path, uninstall, the cache, plans, cancellation and
concurrent calls. The wheels are Debian's (/usr/share/python-wheels) and
trees generated here."""

import errno
import hashlib
import io
import os
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import spoke  # noqa: E402

DEB_WHEELS = sorted(Path("/usr/share/python-wheels").glob("*.whl"))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable


def test_library_loads():
    # Fails (not skips) when the library is missing: t_python.sh points
    # SPOKE_LIBRARY at the build.
    spoke.load_library()
    assert spoke.version().count(".") == 2
    assert spoke.strerror(-5007) == "canceled"


@pytest.fixture
def wheels():
    names = {w.name.split("-")[0] for w in DEB_WHEELS}
    if not {"pip", "setuptools", "wheel"} <= names:
        pytest.skip("Debian's pip/setuptools/wheel wheels are not in "
                    "/usr/share/python-wheels (apt-get install "
                    "python3-pip-whl python3-setuptools-whl python3-wheel-whl)")
    return [str(w) for w in DEB_WHEELS]


def make_venv(path):
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(path)],
                   check=True)
    return path


@pytest.fixture
def venv(tmp_path):
    return make_venv(tmp_path / "venv")


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def manifest(root, skip=()):
    """Path, type, mode, size and content hash of everything below root
    (but names in skip): equal manifests mean byte-identical trees."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            if name in skip:
                continue
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out.append((rel, "l", mode, os.readlink(p)))
            elif stat.S_ISDIR(st.st_mode):
                out.append((rel, "d", mode))
            else:
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
                out.append((rel, "f", mode, st.st_size, h))
    return sorted(out)


def make_tree(root, name, nfiles):
    """An unpacked wheel tree with nfiles modules in one directory, so the
    linker works through it in many batches (progress and cancellation
    need a run long enough to be seen in the middle)."""
    tree = root / ("%s-1.0" % name)
    pkg = tree / name
    di = tree / ("%s-1.0.dist-info" % name)
    pkg.mkdir(parents=True)
    di.mkdir()
    rows = []
    for i in range(nfiles):
        data = (b"value = %d\n" % i) * 40
        (pkg / ("m%05d.py" % i)).write_bytes(data)
        rows.append("%s/m%05d.py,,%d" % (name, i, len(data)))
    (di / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\n"
                                 "Version: 1.0\n\n" % name)
    (di / "WHEEL").write_text("Wheel-Version: 1.0\nGenerator: test\n"
                              "Root-Is-Purelib: true\nTag: py3-none-any\n")
    rows += ["%s/METADATA,," % di.name, "%s/WHEEL,," % di.name,
             "%s/RECORD,," % di.name]
    (di / "RECORD").write_text("\n".join(rows) + "\n")
    return tree


def test_install_into_fresh_venv(wheels, venv, cache):
    r = spoke.install(wheels, venv=venv, cache_dir=cache,
                      link_mode="hardlink", jobs=2)
    assert r.ok
    assert sorted(d.name for d in r.distributions) == \
        ["pip", "setuptools", "wheel"]
    assert {d.action for d in r.distributions} == {"installed"}
    assert r.counters["files"] > 100
    assert r.counters["hardlinked"] == r.counters["files"]
    # setuptools apart: with pip imported first, Debian's distutils is
    # already loaded and setuptools' distutils hack refuses (as in a venv
    # pip made itself).
    for mod in ("pip", "setuptools", "wheel"):
        out = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import %s; print(%s.__file__)" % (mod, mod)],
                             check=True, capture_output=True,
                             text=True).stdout
        assert out.startswith(str(venv)), out
    out = subprocess.run([str(venv / "bin" / "pip"), "--version"],
                         check=True, capture_output=True, text=True).stdout
    assert out.startswith("pip ") and str(venv) in out
    # Same versions again: left alone.
    again = spoke.install(wheels, venv=venv, cache_dir=cache)
    assert {d.action for d in again.distributions} == {"unchanged"}


def test_progress_monotonic_and_ends_at_totals(wheels, venv, cache,
                                               tmp_path):
    """Per phase: prepare first, unpack (the .whl files new to the cache)
    inside it, then link; fixed totals, monotonic counters (prepare's across
    its two stretches), the last call at the totals."""
    tree = make_tree(tmp_path, "spoke_many", 3000)
    seen = []

    def progress(p):
        seen.append(p)

    r = spoke.install(wheels + [str(tree)], venv=venv, cache_dir=cache,
                      jobs=2, link_mode="hardlink", progress=progress)
    assert len(seen) >= 2, seen
    phases = [p.phase for p in seen]
    runs = [ph for i, ph in enumerate(phases) if i == 0 or
            phases[i - 1] != ph]
    assert runs == ["prepare", "unpack", "prepare", "link"], runs
    for phase in set(phases):
        run = [p for p in seen if p.phase == phase]
        totals = {(p.files_total, p.bytes_total, p.wheels_total)
                  for p in run}
        assert len(totals) == 1, "totals changed in %s: %s" % (phase, totals)
        files_total, bytes_total, wheels_total = totals.pop()
        for a, b in zip(run, run[1:]):
            assert a.files_done <= b.files_done
            assert a.bytes_done <= b.bytes_done
            assert a.wheels_done <= b.wheels_done
        assert all(p.files_done <= p.files_total and
                   p.bytes_done <= p.bytes_total for p in run)
        assert (run[-1].files_done, run[-1].bytes_done,
                run[-1].wheels_done) == \
            (files_total, bytes_total, wheels_total)
        if phase == "unpack":
            assert 0 < wheels_total <= len(wheels)
        elif phase == "prepare":
            assert (files_total, bytes_total) == (0, 0)
            assert wheels_total == len(wheels) + 1
        else:
            assert files_total == r.counters["files"] > 3000
            assert bytes_total == r.counters["bytes"]
    assert any(p.current for p in seen)


def test_progress_reports_compilation(wheels, venv, cache):
    """With bytecode compiled now, a compile phase follows the first link
    phase, its counter monotonic and ending at its total, which is what
    the report counts as compiled or failed."""
    seen = []
    r = spoke.install(wheels, venv=venv, cache_dir=cache, jobs=2,
                      compile_bytecode=True, progress=seen.append)
    assert r.ok
    comp = [p for p in seen if p.phase == "compile"]
    assert comp, [p.phase for p in seen]
    phases = [p.phase for p in seen]
    first = phases.index("compile")
    assert "link" in phases[:first], phases
    assert {p.files_total for p in comp} == {comp[0].files_total}
    assert all(a.files_done <= b.files_done for a, b in zip(comp, comp[1:]))
    assert comp[-1].files_done == comp[-1].files_total > 0
    assert comp[-1].files_total == (r.counters["pyc_compiled"] +
                                    r.counters["pyc_failed"])


def test_missing_wheel_raises_with_errno_and_path(venv, cache, tmp_path):
    before = manifest(venv)
    missing = tmp_path / "nope-1.0-py3-none-any.whl"
    with pytest.raises(spoke.UsageError) as ei:
        spoke.install([missing], venv=venv, cache_dir=cache)
    e = ei.value
    assert isinstance(e, spoke.SpokeError)
    assert e.code == -5001
    assert e.errno == errno.ENOENT
    assert e.path == str(missing)
    assert str(missing) in str(e)
    assert e.report is not None and not e.report.ok
    assert e.report.error["code"] == -5001
    assert manifest(venv) == before


def test_bad_wheels_raise_with_code_and_path(wheels, venv, cache, tmp_path):
    before = manifest(venv)
    garbage = tmp_path / "garbage-1.0-py3-none-any.whl"
    garbage.write_bytes(b"this is not a zip file")
    with pytest.raises(spoke.BadWheelError) as ei:
        spoke.install([wheels[0], garbage], venv=venv, cache_dir=cache)
    assert ei.value.code == -5003
    assert ei.value.path == str(garbage)
    assert "zip" in ei.value.message
    assert [d.action for d in ei.value.report.distributions] == \
        ["failed"] * len(ei.value.report.distributions)

    # A digest that does not match RECORD: caught by the cache's verify.
    liar = tmp_path / "liar-1.0-py3-none-any.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("liar.py", "x = 1\n")
        z.writestr("liar-1.0.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: liar\nVersion: 1.0\n\n")
        z.writestr("liar-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n"
                   "Root-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("liar-1.0.dist-info/RECORD",
                   "liar.py,sha256=" + "A" * 43 + ",6\n"
                   "liar-1.0.dist-info/METADATA,,\n"
                   "liar-1.0.dist-info/WHEEL,,\n"
                   "liar-1.0.dist-info/RECORD,,\n")
    liar.write_bytes(buf.getvalue())
    with pytest.raises(spoke.SpokeError) as ei:
        spoke.install([liar], venv=venv, cache_dir=cache)
    assert ei.value.code in (-5003, -5006)
    assert ei.value.path
    assert manifest(venv) == before


def test_uninstall_restores_the_venv(wheels, venv, cache):
    pristine = manifest(venv)
    spoke.install(wheels, venv=venv, cache_dir=cache, link_mode="hardlink")
    r = spoke.uninstall(["pip", "Setuptools", "wheel"], venv=venv)
    assert {d.action for d in r.distributions} == {"uninstalled"}
    assert r.counters["removed"] > 100
    assert manifest(venv) == pristine
    with pytest.raises(spoke.NotInstalledError) as ei:
        spoke.uninstall(["pip"], venv=venv)
    assert ei.value.code == -5008 and "pip" in str(ei.value)


def test_cache_add_returns_the_key_plans_can_name(wheels, venv, cache):
    whl = wheels[-1]
    with open(whl, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    key = spoke.cache_add(whl, cache_dir=cache)
    assert key == digest
    assert (cache / "archive-v2" / key).is_dir()
    assert spoke.cache_dir(cache) == str(cache)
    r = spoke.run_plan({"version": 1,
                        "wheels": [{"cache_key": key,
                                    "direct_url": {"url": "file://" + whl,
                                                   "archive_info": {}}}],
                        "environment": {"venv": str(venv)},
                        "options": {"cache_dir": str(cache),
                                    "link_mode": "hardlink",
                                    "requested": True}})
    assert [d.action for d in r.distributions] == ["installed"]
    name = r.distributions[0].name
    di = next((venv / "lib").glob("python*/site-packages/%s-*.dist-info"
                                  % name))
    assert (di / "REQUESTED").exists()
    assert '"url"' in (di / "direct_url.json").read_text()


def test_plan_errors_name_the_key(venv, cache):
    with pytest.raises(spoke.UsageError) as ei:
        spoke.run_plan({"wheels": [], "options": {"link-mode": "copy"}})
    assert "options" in str(ei.value) and "link-mode" in str(ei.value)
    with pytest.raises(spoke.UsageError) as ei:
        spoke.run_plan({"wheels": [{"cache_key": "0" * 64}],
                        "environment": {"venv": str(venv)},
                        "options": {"cache_dir": str(cache)}})
    assert "wheels[0].cache_key" in str(ei.value)
    assert ei.value.errno == errno.ENOENT
    with pytest.raises(spoke.UsageError) as ei:
        spoke.run_plan('{"wheels": [1,]}')
    assert "line 1" in str(ei.value)


def test_bad_arguments_raise_usage_errors(venv):
    with pytest.raises(spoke.UsageError):
        spoke.install(["x.whl"], venv=venv, link_mode="teleport")
    with pytest.raises(spoke.UsageError):
        spoke.install("single.whl", venv=venv)
    with pytest.raises(spoke.UsageError):
        spoke.install(["x.whl"], venv=venv, target=venv)
    with pytest.raises(spoke.UsageError):
        spoke.install(["x.whl"], venv=venv, prefix=venv)


def test_prefix_and_root_lay_out_as_pip(wheels, venv, cache, tmp_path):
    # pip's --prefix layout for the venv's interpreter, and --root placing
    # the venv's own layout below a staging directory.
    py = str(venv / "bin" / "python")
    xy = subprocess.run([py, "-c", "import sys; print('%d.%d' % "
                         "sys.version_info[:2])"], check=True,
                        capture_output=True, text=True).stdout.strip()
    r = spoke.install(wheels, prefix=tmp_path / "pfx", python=py,
                      cache_dir=cache)
    assert r.ok
    assert (tmp_path / "pfx" / "lib" / ("python" + xy) / "site-packages" /
            "pip" / "__init__.py").is_file()
    assert (tmp_path / "pfx" / "bin" / "pip").is_file()
    r = spoke.install(wheels, venv=venv, root=tmp_path / "stage",
                      cache_dir=cache)
    assert r.ok
    staged = tmp_path / "stage" / str(venv).lstrip("/")
    assert (staged / "lib" / ("python" + xy) / "site-packages" / "wheel" /
            "__init__.py").is_file()
    assert not (venv / "lib" / ("python" + xy) / "site-packages" /
                "wheel").exists()


def test_cancel_from_the_callback_leaves_the_venv_as_it_was(venv, tmp_path):
    """Cancel at half of the files: the run stops with CanceledError and
    rolls back, so the venv is byte-identical to before."""
    tree = make_tree(tmp_path, "spoke_cancel", 1024)
    before = manifest(venv)
    seen = []

    def progress(p):
        if p.phase != "link":
            return None  # the prepare phase comes first
        seen.append(p)
        if p.files_done * 2 >= p.files_total:
            return False
        # One worker (jobs=1) and at most ten calls a second: sleeping
        # past that interval makes the next batch report again, so the
        # cancel lands near the middle, not after the end.
        time.sleep(0.11)
        return None

    with pytest.raises(spoke.CanceledError) as ei:
        spoke.install([tree], venv=venv, jobs=1, link_mode="copy",
                      progress=progress)
    assert ei.value.code == -5007
    last = seen[-1]
    assert 0 < last.files_done < last.files_total, seen
    assert manifest(venv) == before, "the canceled run left changes"


def test_exception_in_callback_cancels_and_propagates(venv, tmp_path):
    tree = make_tree(tmp_path, "spoke_boom", 600)
    before = manifest(venv)

    def progress(p):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom") as ei:
        spoke.install([tree], venv=venv, jobs=1, link_mode="hardlink",
                      progress=progress)
    assert isinstance(ei.value.__cause__, spoke.CanceledError)
    assert manifest(venv) == before


def test_canceler_before_start_changes_nothing(wheels, venv, cache):
    before = manifest(venv)
    c = spoke.Canceler()
    c.cancel()
    with pytest.raises(spoke.CanceledError):
        spoke.install(wheels, venv=venv, cache_dir=cache, cancel=c)
    assert manifest(venv) == before


def test_canceler_from_another_thread(venv, tmp_path):
    tree = make_tree(tmp_path, "spoke_other", 640)
    before = manifest(venv)
    c = spoke.Canceler()
    started = threading.Event()
    outcome = []

    def progress(p):
        started.set()
        time.sleep(0.11)  # keep the single worker busy: see above

    def work():
        try:
            spoke.install([tree], venv=venv, jobs=1, link_mode="hardlink",
                          progress=progress, cancel=c)
            outcome.append(None)
        except BaseException as e:  # checked below
            outcome.append(e)

    t = threading.Thread(target=work)
    t.start()
    assert started.wait(30)
    c.cancel()
    t.join()
    assert isinstance(outcome[0], spoke.CanceledError), outcome
    assert manifest(venv) == before


def test_two_threads_install_at_once(wheels, tmp_path):
    venvs = [make_venv(tmp_path / ("v%d" % i)) for i in range(2)]
    results, errors = {}, []
    start = threading.Barrier(2)

    def work(i):
        try:
            start.wait()
            results[i] = spoke.install(wheels, venv=venvs[i], jobs=2,
                                       cache_dir=tmp_path / "cache",
                                       link_mode="hardlink")
        except BaseException as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert results[0].counters == results[1].counters
    # The same files but RECORD, which hashes launchers naming each venv.
    sp = [next((v / "lib").glob("python*/site-packages")) for v in venvs]
    assert manifest(sp[0], skip={"RECORD"}) == \
        manifest(sp[1], skip={"RECORD"})
