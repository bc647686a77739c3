#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""install_wheels - what a resolver's backend call looks like in Python:
take wheel files, install them into a venv (made first with `python -m venv`
when VENV does not exist yet) through the spoke binding, print the report
as JSON on stdout.

    python3 install_wheels.py /tmp/venv /usr/share/python-wheels/*.whl

The binding needs libspoke.so.0: installed, or named by $SPOKE_LIBRARY.
Exit status: 0 installed, 1 the install failed (the JSON has "error"; the
venv is as it was), 2 usage.
"""

import json
import os
import subprocess
import sys

try:
    import spoke
except ImportError:  # run from a source checkout: the package is ../python
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    os.pardir, "python"))
    import spoke


def main(argv):
    if len(argv) < 3:
        print("usage: %s VENV WHEEL..." % argv[0], file=sys.stderr)
        return 2
    venv, wheels = argv[1], argv[2:]
    if not os.path.exists(os.path.join(venv, "pyvenv.cfg")):
        # The resolver owns the environment; spoke only fills it.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv],
                       check=True)

    def progress(p):
        # Called on libspoke's threads; a terminal gets a counter.
        if sys.stderr.isatty():
            end = "\n" if p.files_done == p.files_total else ""
            print("\r%d/%d files, %.1f MB" % (p.files_done, p.files_total,
                                              p.bytes_done / 1e6),
                  end=end, file=sys.stderr, flush=True)

    try:
        report = spoke.install(wheels, venv=venv, progress=progress)
    except spoke.SpokeError as e:
        # The failed run's report carries the error and "failed" actions.
        print(json.dumps(e.report.as_dict() if e.report else
                         {"ok": False, "error": {"code": e.code,
                                                 "message": e.message,
                                                 "path": e.path,
                                                 "errno": e.errno}}))
        print("install_wheels: %s (code %d, errno %d, path %r)"
              % (e, e.code, e.errno, e.path), file=sys.stderr)
        return 1
    print(json.dumps(report.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
