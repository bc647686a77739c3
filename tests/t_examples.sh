#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_examples - the embedding story as a newcomer meets it (docs/EMBEDDING.md):
# make install into a fresh prefix (library with its SONAME and only spoke_*
# exported, header, man page, pkg-config file), then build
# examples/install_wheels.c and the doc's ten-line C program with pkg-config
# against that copy and run them, run examples/install_wheels.py and the
# doc's Python snippet, each installing wheels into a new venv and printing
# a report that is checked here; `make examples`; a plan file through
# `spoke install --plan` (by path and by cache key, and a schema error);
# and the CLI's progress line: drawn on a terminal, absent on a pipe.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -z "${SPOKE_SANITIZER:-}" ] || skip "the examples link the shared library, which sanitizer builds do not make"
need_tool pkg-config cc python3 py:venv
unset VIRTUAL_ENV
export SPOKE_CACHE_DIR=$TMP/cache
export PYTHONDONTWRITEBYTECODE=1 # nothing written into the source tree

WHEELS=(/usr/share/python-wheels/*.whl)
if [ ! -e "${WHEELS[0]}" ]; then
	$PY "$ROOT/tests/wheels/mkwheels.py" good "$TMP/gen" || fail "mkwheels.py failed"
	WHEELS=("$TMP"/gen/whl/*.whl)
fi
NAMES=$($PY -c 'import sys
print(" ".join(sorted(w.rsplit("/", 1)[-1].split("-")[0].replace("_", "-").lower() for w in sys.argv[1:])))' "${WHEELS[@]}")
note "wheels: $NAMES"

# check_report JSON VENV WHAT: ok, every wheel installed, files linked.
check_report() {
	$PY - "$1" "$NAMES" "$3" <<'PY' || fail "$3: bad report (in $1)"
import json, sys
j = json.load(open(sys.argv[1]))
what = sys.argv[3]
assert j["ok"] is True, "%s: not ok: %s" % (what, j.get("error"))
got = sorted(d["name"].replace("_", "-").lower() for d in j["distributions"])
assert got == sys.argv[2].split(), "%s: distributions %s" % (what, got)
assert {d["action"] for d in j["distributions"]} == {"installed"}, j["distributions"]
assert j["files"] > 0 and j["bytes"] > 0, j
PY
	ls -d "$2"/lib/python3*/site-packages/*.dist-info/RECORD >/dev/null 2>&1 ||
		fail "$3: no RECORD in $2"
}

# -- make install into a fresh prefix ---------------------------------------
P=$TMP/prefix
make -s -C "$ROOT" install PREFIX="$P" BUILD="$BUILD" >"$TMP/make.log" 2>&1 ||
	{ tail -20 "$TMP/make.log" >&2; fail "make install PREFIX=$P failed"; }
for f in bin/spoke lib/libspoke.so.0 lib/libspoke.so lib/libspoke.a \
	include/spoke.h share/man/man1/spoke.1 lib/pkgconfig/libspoke.pc; do
	[ -e "$P/$f" ] || fail "make install did not install $f"
done
soname=$(readelf -d "$P/lib/libspoke.so.0" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
expect_eq "$soname" libspoke.so.0 "SONAME"
leak=$(nm -D --defined-only "$P/lib/libspoke.so.0" | awk '$2 != "A" && $3 !~ /^spoke_/ { print $3 }' | head -5)
[ -z "$leak" ] || fail "the library exports more than spoke_*: $leak"
export PKG_CONFIG_PATH=$P/lib/pkgconfig
hdr=$(awk '/#define SPOKE_VERSION_(MAJOR|MINOR|PATCH) / { printf "%s%s", s, $3; s = "." }' "$P/include/spoke.h")
expect_eq "$(pkg-config --modversion libspoke)" "$hdr" "pkg-config version vs spoke.h"
read -r -a PC <<<"$(pkg-config --cflags --libs libspoke)"

# -- the C example, via pkg-config against the installed copy ---------------
cc -std=c11 -Wall -Wextra -Werror "$ROOT/examples/install_wheels.c" "${PC[@]}" \
	-o "$TMP/install_wheels" || fail "examples/install_wheels.c does not build with pkg-config"
LD_LIBRARY_PATH=$P/lib ldd "$TMP/install_wheels" | grep -q "$P/lib/libspoke.so.0" ||
	fail "install_wheels is not linked against $P/lib/libspoke.so.0"
LD_LIBRARY_PATH=$P/lib "$TMP/install_wheels" "$TMP/venv-c" "${WHEELS[@]}" \
	>"$TMP/c.json" 2>"$TMP/c.err" || { cat "$TMP/c.err" >&2; fail "install_wheels failed"; }
check_report "$TMP/c.json" "$TMP/venv-c" "C example"
[ -s "$TMP/c.err" ] && { cat "$TMP/c.err" >&2; fail "C example: stderr is not a terminal, yet it got output"; }
if [[ " $NAMES " == *" pip "* ]]; then
	"$TMP/venv-c/bin/python" -m pip --version >/dev/null 2>&1 || fail "pip installed by the C example does not run"
fi
# A failure: exit 1, the report names the error, the venv is untouched.
manifest "$TMP/venv-c" >"$TMP/before"
LD_LIBRARY_PATH=$P/lib "$TMP/install_wheels" "$TMP/venv-c" "${WHEELS[0]}" "$TMP/missing-1.0-py3-none-any.whl" \
	>"$TMP/c-fail.json" 2>"$TMP/c-fail.err"
expect_eq "$?" 1 "C example exit on a missing wheel"
expect_eq "$(json_py "$TMP/c-fail.json" 'j["ok"], j["error"]["path"], j["error"]["errno"]')" \
	"(False, '$TMP/missing-1.0-py3-none-any.whl', 'ENOENT')" "C example failure report"
grep -q "missing-1.0-py3-none-any.whl" "$TMP/c-fail.err" || fail "C example: the error does not name the wheel"
manifest "$TMP/venv-c" | diff "$TMP/before" - >/dev/null || fail "a failed install changed the venv"

# -- the doc's C program ------------------------------------------------------
awk '/^```c$/ && !done { on = 1; next } on && /^```$/ { on = 0; done = 1 } on' \
	"$ROOT/docs/EMBEDDING.md" >"$TMP/quick.c"
[ -s "$TMP/quick.c" ] || fail "no C program in docs/EMBEDDING.md"
cc -std=c11 -Wall -Wextra -Werror "$TMP/quick.c" "${PC[@]}" -o "$TMP/quick" ||
	fail "the C program of docs/EMBEDDING.md does not build"
$PY -m venv --without-pip "$TMP/venv-q" || fail "cannot create a venv"
LD_LIBRARY_PATH=$P/lib "$TMP/quick" "$TMP/venv-q" "${WHEELS[@]}" >"$TMP/q.json" ||
	fail "the C program of docs/EMBEDDING.md failed"
check_report "$TMP/q.json" "$TMP/venv-q" "EMBEDDING.md C program"

# -- make examples (against build/, with an rpath) ----------------------------
make -s -C "$ROOT" examples BUILD="$BUILD" >"$TMP/make-ex.log" 2>&1 ||
	{ tail -20 "$TMP/make-ex.log" >&2; fail "make examples failed"; }
"$BUILD/examples/install_wheels" "$TMP/venv-m" "${WHEELS[@]}" >"$TMP/m.json" ||
	fail "make examples: build/examples/install_wheels failed"
check_report "$TMP/m.json" "$TMP/venv-m" "make examples"

# -- the Python example and the doc's snippet, on the installed library ------
SPOKE_LIBRARY=$P/lib/libspoke.so.0 $PY "$ROOT/examples/install_wheels.py" \
	"$TMP/venv-py" "${WHEELS[@]}" >"$TMP/py.json" 2>"$TMP/py.err" ||
	{ cat "$TMP/py.err" >&2; fail "examples/install_wheels.py failed"; }
check_report "$TMP/py.json" "$TMP/venv-py" "Python example"
# The package copied away from the checkout, so the library is found the
# way an installed binding finds it: the system search path.
mkdir -p "$TMP/site" && cp -r "$ROOT/python/spoke" "$TMP/site/"
awk '/^```python$/ && !done { on = 1; next } on && /^```$/ { on = 0; done = 1 } on' \
	"$ROOT/docs/EMBEDDING.md" >"$TMP/quick.py"
[ -s "$TMP/quick.py" ] || fail "no Python snippet in docs/EMBEDDING.md"
LD_LIBRARY_PATH=$P/lib PYTHONPATH=$TMP/site PYTHONDONTWRITEBYTECODE=1 \
	$PY "$TMP/quick.py" "$TMP/venv-qp" "${WHEELS[@]}" >"$TMP/qp.out" 2>"$TMP/qp.err" ||
	{ cat "$TMP/qp.err" >&2; fail "the Python snippet of docs/EMBEDDING.md failed"; }
for n in $NAMES; do
	grep -qi "^installed $n " "$TMP/qp.out" || { cat "$TMP/qp.out" >&2; fail "Python snippet: $n not installed"; }
done
grep -q "^[0-9]* / [0-9]*$" "$TMP/qp.out" || fail "Python snippet: no progress printed"

# -- a plan file through the CLI ----------------------------------------------
key=$("$P/bin/spoke" cache add "${WHEELS[0]}" | awk '{ print $1 }')
[[ $key =~ ^[0-9a-f]{64}$ ]] || fail "spoke cache add printed no key: '$key'"
$PY -m venv --without-pip "$TMP/venv-plan" || fail "cannot create a venv"
$PY - "$TMP/plan.json" "$key" "$TMP/venv-plan" "$SPOKE_CACHE_DIR" "${WHEELS[@]:1}" <<'PY'
import json, sys
out, key, venv, cache, rest = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
json.dump({"version": 1,
           "wheels": [{"cache_key": key}] + rest,
           "environment": {"venv": venv},
           "options": {"link_mode": "hardlink", "jobs": 2, "requested": True,
                       "cache_dir": cache},
           "x-resolver": {"note": "ignored"}}, open(out, "w"), indent=1)
PY
"$P/bin/spoke" install --plan "$TMP/plan.json" --json >"$TMP/plan.out" 2>"$TMP/plan.err" ||
	{ cat "$TMP/plan.err" >&2; fail "spoke install --plan failed"; }
check_report "$TMP/plan.out" "$TMP/venv-plan" "plan file"
[ -s "$TMP/plan.err" ] && { cat "$TMP/plan.err" >&2; fail "plan: unexpected output on stderr"; }
n=$(ls "$TMP"/venv-plan/lib/python3*/site-packages/*.dist-info/REQUESTED | wc -l)
expect_eq "$n" "${#WHEELS[@]}" "REQUESTED files from the plan's options"
echo '{"wheels": [], "options": {"jobs": "two"}}' | "$P/bin/spoke" install --plan - 2>"$TMP/bad.err"
expect_eq "$?" 2 "exit code of a bad plan"
grep -q "options.jobs" "$TMP/bad.err" || { cat "$TMP/bad.err" >&2; fail "a bad plan's message does not name the key"; }

# -- pip resolves, spoke installs: pip's --report as a plan -------------------
# A venv with pip (Debian's python3-pip-whl), resolving offline against the
# wheels as a --find-links directory; only what was asked for is REQUESTED.
if $PY -m venv "$TMP/pipvenv" >/dev/null 2>&1 && "$TMP/pipvenv/bin/pip" --version >/dev/null 2>&1; then
	mkdir -p "$TMP/links" && cp "${WHEELS[@]}" "$TMP/links/"
	first=${NAMES%% *}
	"$TMP/pipvenv/bin/pip" install -q --dry-run --ignore-installed --no-index \
		--find-links "$TMP/links" --report "$TMP/report.json" $NAMES >/dev/null 2>"$TMP/pip.err" ||
		{ cat "$TMP/pip.err" >&2; fail "pip --report failed"; }
	$PY -m venv --without-pip "$TMP/venv-report" || fail "cannot create a venv"
	$PY "$ROOT/examples/pip_report_plan.py" "$TMP/report.json" --venv "$TMP/venv-report" \
		>"$TMP/report-plan.json" || fail "pip_report_plan.py failed"
	"$P/bin/spoke" install --plan "$TMP/report-plan.json" --json >"$TMP/rp.out" 2>"$TMP/rp.err" ||
		{ cat "$TMP/rp.err" >&2; fail "spoke install of pip's report failed"; }
	check_report "$TMP/rp.out" "$TMP/venv-report" "pip --report plan"
	$PY -c 'import json,sys; w=json.load(open(sys.argv[1]))["wheels"]; assert w and all(len(x.get("sha256", "")) == 64 for x in w), w' \
		"$TMP/report-plan.json" || fail "the plan from pip's report lacks a sha256"
	for d in "$TMP"/venv-report/lib/python3*/site-packages/*.dist-info; do
		expect_eq "$(cat "$d/INSTALLER")" "pip+spoke" "INSTALLER from the report's plan"
	done
	# A wheel whose bytes are not what pip saw is refused (sha256 from the report).
	$PY - "$TMP/report-plan.json" "$TMP/links" <<'PY' || fail "cannot make the tampered plan"
import json, os, shutil, sys
p = json.load(open(sys.argv[1]))
w = p["wheels"][0]
os.makedirs(sys.argv[2] + "/tampered")
bad = sys.argv[2] + "/tampered/" + os.path.basename(w["path"])
shutil.copy(w["path"], bad)
open(bad, "ab").write(b"\0")
w["path"] = bad
json.dump(p, open(sys.argv[1], "w"))
PY
	"$P/bin/spoke" install --plan "$TMP/report-plan.json" >/dev/null 2>"$TMP/rp.err" &&
		fail "a wheel that does not match pip's sha256 was installed"
	grep -qi "sha256\|hash" "$TMP/rp.err" || fail "the mismatch message names no hash: $(cat "$TMP/rp.err")"
	note "pip --report -> examples/pip_report_plan.py -> spoke install --plan ($first ...)"
else
	note "no pip in a fresh venv (python3-pip-whl): pip --report not checked"
fi

# -- the progress line: on a terminal only -------------------------------------
if command -v script >/dev/null; then
	$PY -m venv --without-pip "$TMP/venv-tty" || fail "cannot create a venv"
	# script(1) gives the command a pseudo-terminal: stderr is a TTY.
	script -qec "'$P/bin/spoke' install --link-mode hardlink --venv '$TMP/venv-tty' ${WHEELS[*]}" \
		/dev/null >"$TMP/tty.out" </dev/null || fail "spoke install on a terminal failed"
	grep -q $'\r\033\[K[0-9]*/[0-9]* files' "$TMP/tty.out" ||
		{ cat -A "$TMP/tty.out" | head -5 >&2; fail "no progress line on a terminal"; }
	# The line is cleared before the results are printed.
	grep -q $'^\r\033\[Kinstalled \|\033\[Kinstalled ' "$TMP/tty.out" ||
		{ cat -A "$TMP/tty.out" | head -5 >&2; fail "results printed over the progress line"; }
	"$P/bin/spoke" uninstall --venv "$TMP/venv-tty" $NAMES >/dev/null 2>&1 || fail "uninstall failed"
	"$P/bin/spoke" install --link-mode hardlink --venv "$TMP/venv-tty" "${WHEELS[@]}" \
		>"$TMP/pipe.out" 2>"$TMP/pipe.err" || fail "spoke install to a pipe failed"
	[ -s "$TMP/pipe.err" ] && { cat -A "$TMP/pipe.err" >&2; fail "stderr is a pipe, yet it got output"; }
	grep -q $'\r' "$TMP/pipe.out" && fail "carriage returns on a pipe"
else
	note "no script(1): progress line on a terminal not checked"
fi
exit 0
