# SPDX-License-Identifier: MIT
# t_pycompile.py - the Python side of t_pycompile.c.
#   prepare DIR          unpack pip's wheel from /usr/share/python-wheels
#                        into DIR, or copy a few stdlib packages there
#   check MANIFEST ROOT  each .pyc the pool wrote (manifest: opt, mode, src,
#                        out, dfile) against py_compile's; tracebacks name
#                        the real source; importing every module under ROOT
#                        rewrites and adds no .pyc
import glob, importlib.util, marshal, os, py_compile, shutil, subprocess
import sys, tempfile, zipfile

MODES = [py_compile.PycInvalidationMode.TIMESTAMP,
         py_compile.PycInvalidationMode.CHECKED_HASH,
         py_compile.PycInvalidationMode.UNCHECKED_HASH]


def prepare(root):
    wheels = sorted(glob.glob('/usr/share/python-wheels/pip-*.whl'))
    if wheels:
        zipfile.ZipFile(wheels[-1]).extractall(root)
        return
    os.makedirs(root)
    for mod in ('json', 'email', 'http', 'logging', 'xml'):
        src = os.path.dirname(importlib.import_module(mod).__file__)
        shutil.copytree(src, os.path.join(root, mod),
                        ignore=shutil.ignore_patterns('__pycache__'))


def same_filename(code, name):
    if code.co_filename != name:
        return False
    return all(same_filename(c, name) for c in code.co_consts
               if hasattr(c, 'co_filename'))


def snapshot(root):
    seen = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith('.pyc') or '.tmp' in f:
                st = os.stat(os.path.join(d, f))
                seen[os.path.join(d, f)] = (st.st_ino, st.st_mtime_ns,
                                            st.st_size)
    return seen


IMPORT_ALL = r'''
import os, sys, importlib
root = sys.argv[1]
sys.path.insert(0, root)
ok = 0
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if x.isidentifier()]
    rel = os.path.relpath(d, root)
    pkg = [] if rel == '.' else rel.split(os.sep)
    if pkg and not os.path.exists(os.path.join(d, '__init__.py')):
        continue
    for f in files:
        if not f.endswith('.py') or f == '__main__.py':
            continue
        name = f[:-3]
        mod = '.'.join(pkg + ([] if name == '__init__' else [name]))
        if not mod or not all(p.isidentifier() for p in mod.split('.')):
            continue
        try:
            importlib.import_module(mod)
            ok += 1
        except BaseException:
            pass
print(ok)
'''

TRACEBACK = r'''
import sys, traceback
sys.path.insert(0, sys.argv[1])
import tb_mod
try:
    tb_mod.boom()
except ValueError as e:
    print(traceback.extract_tb(e.__traceback__)[-1].filename)
print(tb_mod.boom.__code__.co_filename)
'''


def check(manifest, root):
    n = exact = 0
    bad = []
    tmp = tempfile.mkdtemp()
    for line in open(manifest):
        opt, mode, src, out, dfile = line.rstrip('\n').split('\t')
        ref = os.path.join(tmp, 'ref.pyc')
        py_compile.compile(src, cfile=ref, dfile=dfile, doraise=True,
                           optimize=int(opt), invalidation_mode=MODES[int(mode)])
        a, b = open(out, 'rb').read(), open(ref, 'rb').read()
        n += 1
        if a == b:
            exact += 1
            continue
        ca, cb = marshal.loads(a[16:]), marshal.loads(b[16:])
        # code objects compare everything but co_filename
        if a[:16] != b[:16] or ca != cb or not same_filename(ca, dfile):
            bad.append(out)
    shutil.rmtree(tmp)
    print('equivalence: %d .pyc, %d byte-identical to py_compile, %d differ'
          % (n, exact, len(bad)))
    for b in bad[:10]:
        print('  differs:', b)
    if bad or n == 0:
        return 1

    # tb_mod: compiled here with a cache-like dfile, as the cache will.
    src = os.path.join(root, 'tb_mod.py')
    with open(src, 'w') as f:
        f.write('def boom():\n    raise ValueError("boom")\n')
    pyc = importlib.util.cache_from_source(src)
    py_compile.compile(src, cfile=pyc, dfile='/nonexistent-cache/tb_mod.py',
                       doraise=True)
    before = snapshot(root)
    r = subprocess.run([sys.executable, '-I', '-c', TRACEBACK, root],
                       capture_output=True, text=True)
    names = r.stdout.split('\n')[:2]
    if names != [src, src]:
        print('traceback names %r, want %r' % (names, src), r.stderr)
        return 1
    r = subprocess.run([sys.executable, '-I', '-c', IMPORT_ALL, root],
                       capture_output=True, text=True, timeout=120)
    after = snapshot(root)
    imported = int(r.stdout.strip() or 0)
    changed = [p for p in after if before.get(p) != after[p]]
    print('import: %d modules imported, %d .pyc written or rewritten'
          % (imported, len(changed)))
    for c in changed[:10]:
        print('  written:', c)
    return 1 if changed or imported < 20 else 0


if sys.argv[1] == 'prepare':
    prepare(sys.argv[2])
else:
    sys.exit(check(sys.argv[2], sys.argv[3]))
