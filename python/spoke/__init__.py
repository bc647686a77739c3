# SPDX-License-Identifier: MIT
"""spoke - install Python wheels with libspoke, from Python.

A pure-Python binding (ctypes, standard library only) of libspoke, the
parallel bulk installer engine: nothing is compiled when it is installed;
it needs libspoke.so.0 at run time. It is meant as the install backend of a
resolver: the resolver decides which wheels, spoke materialises them.

    import spoke
    report = spoke.install(["/wheels/pip-23.0.1-py3-none-any.whl"],
                           venv="/srv/app/.venv", link_mode="hardlink",
                           progress=lambda p: print(p.files_done, p.files_total))
    for d in report.distributions:
        print(d.action, d.name, d.version)

Every call makes its own libspoke context, so calls from several threads
run concurrently. While a call runs, the GIL is released; progress and log
callbacks run on libspoke's worker threads (one at a time) and take it
back. A failed call raises a SpokeError subclass whose code, errno, path
and message are libspoke's (spoke_ctx_error_*); the run's report is on the
exception as .report. docs/EMBEDDING.md has the whole story.

The library is found, in order: $SPOKE_LIBRARY (a path; nothing else is
tried when it is set), the library `make install` installed this package
with (spoke/_libpath.py, written by the Makefile), libspoke.so.0 next to
this package, the build/ directory of a source checkout this package sits
in, then the system's linker search path (ctypes.util.find_library).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json as _json
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional,
                    Union)

__all__ = [
    "install", "uninstall", "run_plan", "recover", "copy_tree", "cache_add",
    "cache_dir", "cache_list", "cache_verify", "cache_prune", "cache_clean",
    "version", "strerror", "load_library", "Canceler", "Progress", "Report",
    "Distribution", "Wheel", "WheelResult", "CacheEntry", "SpokeError", "LibraryNotFoundError", "UsageError",
    "UnsupportedError", "BadWheelError", "UnsafePathError", "ConflictError",
    "HashError", "CanceledError", "NotInstalledError", "LockedError",
    "CorruptError", "NoMemoryError", "ProtectedError",
]

__version__ = "0.1.0"

#: The libspoke ABI this binding speaks: the SONAME's number.
ABI_MAJOR = 0

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

LINK_MODES = ("auto", "clone", "hardlink", "copy", "symlink")
IO_BACKENDS = ("auto", "uring", "sync")
SCHEME_KEYS = ("purelib", "platlib", "scripts", "headers", "data")

_log = logging.getLogger("spoke")

# ---- errors -----------------------------------------------------------------


class LibraryNotFoundError(OSError):
    """libspoke could not be loaded (the message lists where it looked)."""


class SpokeError(Exception):
    """A libspoke call failed.

    code: the return value (a SPOKE_E_* value of spoke.h, or -errno);
    errno: the system error behind it, 0 when there is none;
    path: the file or directory it concerns, "" when none;
    message: libspoke's message (names what, path and cause);
    report: the run's Report when the call produces one, else None.
    """

    def __init__(self, code: int, message: str, errno: int = 0,
                 path: str = "", report: "Optional[Report]" = None) -> None:
        super().__init__(message)
        self.code = code
        self.errno = errno
        self.path = path
        self.message = message
        self.report = report

    def __str__(self) -> str:
        return self.message or strerror(self.code)


class UsageError(SpokeError):
    """SPOKE_E_USAGE: a bad argument, option, plan or environment."""


class UnsupportedError(SpokeError):
    """SPOKE_E_UNSUPPORTED: the link mode is unsupported (no_fallback)."""


class BadWheelError(SpokeError):
    """SPOKE_E_BADWHEEL: malformed wheel, WHEEL, METADATA or RECORD."""


class UnsafePathError(SpokeError):
    """SPOKE_E_UNSAFE_PATH: a path escapes its root."""


class ConflictError(SpokeError):
    """SPOKE_E_CONFLICT: two wheels, or a wheel and the environment, collide."""


class HashError(SpokeError):
    """SPOKE_E_HASH: size or digest differs from RECORD."""


class CanceledError(SpokeError):
    """SPOKE_E_CANCELED: the run was canceled and rolled back."""


class NotInstalledError(SpokeError):
    """SPOKE_E_NOT_INSTALLED: a name to uninstall is not installed."""


class LockedError(SpokeError):
    """SPOKE_E_LOCKED: another process holds the environment."""


class CorruptError(SpokeError):
    """SPOKE_E_CORRUPT: a cache entry or journal is damaged."""


class NoMemoryError(SpokeError):
    """SPOKE_E_NOMEM: libspoke ran out of memory."""


class ProtectedError(SpokeError):
    """SPOKE_E_PROTECTED: would replace the interpreter or activate."""


# The stable values of enum spoke_err in spoke.h.
_ERRORS = {
    -5001: UsageError, -5002: UnsupportedError, -5003: BadWheelError,
    -5004: UnsafePathError, -5005: ConflictError, -5006: HashError,
    -5007: CanceledError, -5008: NotInstalledError, -5009: LockedError,
    -5010: CorruptError, -5011: NoMemoryError, -5012: ProtectedError,
}
E_CANCELED = -5007

# ---- results ----------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """One progress call. phase is "prepare" (first, within moments of the
    call: wheels looked up, opened and laid out, wheels_done of
    wheels_total; files and bytes 0 of 0), "unpack" (a cold install writes
    new wheels into the cache meanwhile: files and bytes written,
    wheels_done of wheels_total; "prepare" resumes after it, its counters
    continuing) or "link" (files and bytes linked; wheels 0 of 0), later
    perhaps "compile". Within a phase the totals are fixed, the counters
    monotonic, and the phase's last call of a run that completes has done
    == total. current names the wheel being unpacked or linked (or None).
    """

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    current: Optional[str]
    phase: str = "link"
    wheels_done: int = 0
    wheels_total: int = 0


@dataclass(frozen=True)
class Distribution:
    """A distribution a run touched. action: "installed", "upgraded",
    "downgraded", "reinstalled", "unchanged", "removed" (a removal of an
    install), "uninstalled", "failed" or a "would ..." form in a dry
    run."""

    name: str
    version: str
    action: str


@dataclass(frozen=True)
class Wheel:
    """A wheel of an install with what a resolver knows about it: a path
    (a .whl or an unpacked tree) or a cache_key (the .whl's sha256, of an
    entry already in the cache); sha256: the digest the .whl must have;
    requested: REQUESTED for this wheel alone (None: install()'s
    requested); direct_url: its PEP 610 dict or JSON text."""

    path: Optional[PathLike] = None
    cache_key: Optional[str] = None
    sha256: Optional[str] = None
    requested: Optional[bool] = None
    direct_url: Optional[Union[str, Mapping[str, Any]]] = None


@dataclass(frozen=True)
class CacheEntry:
    """An entry of the wheel cache: its key, the wheel file name an index
    gives it (None if none), and with verify its status (0, or the
    SPOKE_E_* / -errno of a failed check) and what differs."""

    key: str
    wheel_name: Optional[str]
    status: int
    message: str


@dataclass(frozen=True)
class WheelResult:
    """The per-wheel result of a run (spoke_report_wheel): index is the
    wheel's place in the plan (-1 for a removal); wheel the path or cache
    key given; dist_info the dist-info directory written or removed;
    previous_version the version replaced or removed ("" if none); action
    what was done: "installed", "upgraded", "downgraded", "reinstalled",
    "unchanged", "removed", or "none" (the run failed, or a dry run);
    planned what the run was to do; error the run's error code when the
    failure belongs to this wheel, else 0."""

    index: int
    wheel: str
    dist_info: str
    name: str
    version: str
    previous_version: str
    action: str
    planned: str
    error: int


@dataclass
class Report:
    """What a run did (spoke_report_json): ok, the counters (files, dirs,
    bytes, cloned, hardlinked, copied, symlinked, replaced,
    failed_attempts, removed, written), the link-mode fallbacks, the
    distributions, the per-wheel results (wheels) and, for a failed run,
    error {code, message, path, errno, wheel} and error_wheel (the plan
    index of the wheel the failure belongs to, -1 for none). recover()
    sets status: 0 nothing to do, 1 rolled back, 2 finished."""

    ok: bool
    counters: Dict[str, int]
    distributions: List[Distribution]
    fallbacks: List[Dict[str, Any]] = field(default_factory=list)
    error: Optional[Dict[str, Any]] = None
    json: str = ""
    wheels: List[WheelResult] = field(default_factory=list)
    status: int = 0

    @property
    def error_wheel(self) -> int:
        return int((self.error or {}).get("wheel", -1))

    @classmethod
    def from_json(cls, text: str) -> "Report":
        d = _json.loads(text)
        counters = {k: int(v) for k, v in d.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)}
        dists = d.get("distributions", [])
        return cls(ok=bool(d.get("ok")), counters=counters,
                   distributions=[Distribution(x["name"], x["version"],
                                               x["action"]) for x in dists],
                   fallbacks=list(d.get("fallbacks", [])),
                   error=d.get("error"), json=text,
                   wheels=[WheelResult(int(x.get("index", -1)),
                                       x.get("wheel", ""),
                                       x.get("dist_info", ""), x["name"],
                                       x["version"],
                                       x.get("previous_version", ""),
                                       x.get("result", "none"),
                                       x.get("planned", "none"),
                                       int(x.get("error", 0)))
                           for x in dists if "index" in x])

    def as_dict(self) -> Dict[str, Any]:
        """The report as libspoke's JSON object."""
        return _json.loads(self.json)


# ---- the library ------------------------------------------------------------


class _CProgress(ctypes.Structure):
    _fields_ = [("files_done", ctypes.c_uint64),
                ("files_total", ctypes.c_uint64),
                ("bytes_done", ctypes.c_uint64),
                ("bytes_total", ctypes.c_uint64),
                ("current", ctypes.c_char_p),
                ("phase", ctypes.c_int),
                ("wheels_done", ctypes.c_uint64),
                ("wheels_total", ctypes.c_uint64)]


_PHASES = {0: "link", 1: "unpack", 2: "compile", 3: "prepare"}


_PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p,
                                ctypes.POINTER(_CProgress))
_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int,
                           ctypes.c_char_p)
_CACHE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p,
                             ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)

_P = ctypes.c_void_p
_S = ctypes.c_char_p
_I = ctypes.c_int
# name: (restype, argtypes), the declarations of spoke.h.
_PROTOTYPES = {
    "spoke_strerror": (_S, [_I]),
    "spoke_version": (_S, []),
    "spoke_version_number": (_I, []),
    "spoke_ctx_create": (_P, []),
    "spoke_ctx_free": (None, [_P]),
    "spoke_ctx_set_link_mode": (_I, [_P, _I]),
    "spoke_ctx_set_jobs": (_I, [_P, ctypes.c_uint]),
    "spoke_ctx_set_io": (_I, [_P, _I]),
    "spoke_ctx_set_no_fallback": (_I, [_P, _I]),
    "spoke_ctx_set_log": (_I, [_P, _LOG_FN, _P]),
    "spoke_ctx_set_progress": (_I, [_P, _PROGRESS_FN, _P]),
    "spoke_ctx_set_cache_dir": (_I, [_P, _S]),
    "spoke_ctx_set_verify": (_I, [_P, _I]),
    "spoke_ctx_cancel": (None, [_P]),
    "spoke_ctx_error_code": (_I, [_P]),
    "spoke_ctx_error_errno": (_I, [_P]),
    "spoke_ctx_error_path": (_S, [_P]),
    "spoke_ctx_error_message": (_S, [_P]),
    "spoke_report_free": (None, [_P]),
    "spoke_report_json": (_P, [_P]),
    "spoke_free": (None, [_P]),
    "spoke_plan_create": (_P, []),
    "spoke_plan_free": (None, [_P]),
    "spoke_plan_add_wheel": (_I, [_P, _S]),
    "spoke_plan_add_name": (_I, [_P, _S]),
    "spoke_plan_set_venv": (_I, [_P, _S]),
    "spoke_plan_set_target": (_I, [_P, _S]),
    "spoke_plan_set_prefix": (_I, [_P, _S]),
    "spoke_plan_set_root": (_I, [_P, _S]),
    "spoke_plan_set_scheme_path": (_I, [_P, _I, _S]),
    "spoke_plan_set_python": (_I, [_P, _S]),
    "spoke_plan_set_reinstall": (_I, [_P, _I]),
    "spoke_plan_set_dry_run": (_I, [_P, _I]),
    "spoke_plan_set_requested": (_I, [_P, _I]),
    "spoke_plan_set_allow_overwrite": (_I, [_P, _I]),
    "spoke_plan_set_direct_url": (_I, [_P, _I, _S]),
    "spoke_plan_set_no_wait": (_I, [_P, _I]),
    "spoke_plan_set_compile_bytecode": (_I, [_P, _I, _I]),
    "spoke_plan_load_json": (_I, [_P, _P, _S, ctypes.c_size_t]),
    "spoke_install": (_I, [_P, _P, ctypes.POINTER(_P)]),
    "spoke_uninstall": (_I, [_P, _P, ctypes.POINTER(_P)]),
    "spoke_cache_add": (_I, [_P, _S, _S]),
    "spoke_cache_dir": (_S, [_P]),
    "spoke_recover": (_I, [_P, _P, ctypes.POINTER(_P)]),
    "spoke_copy_tree": (_I, [_P, _S, _S, ctypes.POINTER(_P)]),
    "spoke_cache_add_sha256": (_I, [_P, _S, _S, _S]),
    "spoke_cache_list": (_I, [_P, _I, _CACHE_FN, _P]),
    "spoke_cache_prune": (_I, [_P]),
    "spoke_cache_clean": (_I, [_P]),
    "spoke_ctx_error_wheel": (_I, [_P]),
    "spoke_plan_add_wheel_sha256": (_I, [_P, _S, _S]),
    "spoke_plan_add_cache_key": (_I, [_P, _S]),
    "spoke_plan_set_wheel_requested": (_I, [_P, _I, _I]),
    "spoke_plan_set_installer": (_I, [_P, _S]),
    "spoke_plan_add_remove": (_I, [_P, _S]),
}

# Calls newer than libspoke 0.1.0: the binding works without them and says
# so when one is asked for.
_OPTIONAL = {"spoke_plan_set_no_wait", "spoke_plan_load_json",
             "spoke_cache_add_sha256", "spoke_ctx_error_wheel",
             "spoke_plan_add_wheel_sha256", "spoke_plan_add_cache_key",
             "spoke_plan_set_wheel_requested", "spoke_plan_set_installer",
             "spoke_plan_add_remove",
             "spoke_plan_set_compile_bytecode", "spoke_plan_set_prefix",
             "spoke_plan_set_root"}

_lib_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_free: Optional[Callable[[int], None]] = None


def _candidates() -> List[str]:
    env = os.environ.get("SPOKE_LIBRARY")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    try:
        from . import _libpath  # type: ignore[attr-defined]
        out.append(_libpath.LIBRARY)
    except ImportError:
        pass
    out.append(os.path.join(here, "libspoke.so.0"))
    # python/spoke/ in a source checkout: the library is in ../../build/.
    build = os.path.join(os.path.dirname(os.path.dirname(here)), "build")
    out += [os.path.join(build, "libspoke.so.0")]
    found = ctypes.util.find_library("spoke")
    if found:
        out.append(found)
    return out


def load_library(path: Optional[str] = None) -> ctypes.CDLL:
    """Load libspoke (once; later calls return the same handle) from path,
    or from the first place of the search order that has it. Raises
    LibraryNotFoundError when none loads or its major version differs."""
    global _lib, _free
    with _lib_lock:
        if _lib is not None:
            return _lib
        tried = []
        lib = None
        for cand in [path] if path else _candidates():
            # A bare name (from find_library) goes to the dynamic linker.
            if os.sep in cand and not os.path.exists(cand):
                tried.append("%s (missing)" % cand)
                continue
            try:
                lib = ctypes.CDLL(cand)
                break
            except OSError as e:
                tried.append("%s (%s)" % (cand, e))
        if lib is None:
            raise LibraryNotFoundError(
                "cannot load libspoke; tried: %s. Build it (make) or set "
                "SPOKE_LIBRARY to the path of libspoke.so.0"
                % ("; ".join(tried) or "nothing (find_library found none)"))
        for name, (res, args) in _PROTOTYPES.items():
            try:
                fn = getattr(lib, name)
            except AttributeError:
                if name in _OPTIONAL:
                    continue
                raise LibraryNotFoundError(
                    "%s lacks %s: not a libspoke this binding knows"
                    % (cand, name)) from None
            fn.restype = res
            fn.argtypes = args
        major = lib.spoke_version_number() // 10000
        if major != ABI_MAJOR:
            raise LibraryNotFoundError(
                "%s is libspoke %s; this binding needs major version %d"
                % (cand, lib.spoke_version().decode(), ABI_MAJOR))
        # spoke_report_json's string goes back through the library's own
        # spoke_free, not whatever free() ctypes would find in the process.
        _free = lib.spoke_free
        _lib = lib
        return lib


def version() -> str:
    """libspoke's runtime version ("0.1.0")."""
    return load_library().spoke_version().decode()


def strerror(code: int) -> str:
    """libspoke's name for a return value (SPOKE_E_* or -errno)."""
    return load_library().spoke_strerror(code).decode()


def _fs(p: PathLike) -> bytes:
    return os.fsencode(os.fspath(p))


def _dec(b: Optional[bytes]) -> str:
    return os.fsdecode(b) if b else ""


def _error(lib: ctypes.CDLL, ctx: int, ret: int,
           report: Optional[Report] = None) -> SpokeError:
    code = lib.spoke_ctx_error_code(ctx) or ret
    msg = _dec(lib.spoke_ctx_error_message(ctx)) or strerror(ret)
    cls = _ERRORS.get(code, SpokeError)
    return cls(code, msg, lib.spoke_ctx_error_errno(ctx),
               _dec(lib.spoke_ctx_error_path(ctx)), report)


def _usage(msg: str) -> UsageError:
    return UsageError(-5001, msg)


def _has(lib: ctypes.CDLL, name: str) -> bool:
    """Whether lib has an optional call: load_library() declared it, and
    ctypes keeps the functions it looked up in the handle's __dict__."""
    return name in lib.__dict__


# ---- cancellation -----------------------------------------------------------


class Canceler:
    """Cancels a running install or uninstall from any thread.

    Pass it as cancel= and call cancel() from another thread or from the
    progress callback: the call stops, rolls the environment back and
    raises CanceledError. A cancel requested before the call starts makes
    it raise at once, changing nothing. One Canceler serves one call.
    Ctrl-C needs none: a KeyboardInterrupt on the main thread during a
    run cancels it, waits for the rollback, then is raised.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ctx: Optional[int] = None
        self._requested = False

    def cancel(self) -> None:
        with self._lock:
            self._requested = True
            if self._ctx is not None:
                load_library().spoke_ctx_cancel(self._ctx)

    @property
    def requested(self) -> bool:
        return self._requested

    def _attach(self, ctx: Optional[int]) -> None:
        with self._lock:
            self._ctx = ctx


# ---- runs -------------------------------------------------------------------


class _Run:
    """One context with its callbacks, used by a single call."""

    def __init__(self, progress: Optional[Callable[[Progress], Any]],
                 cancel: Optional[Canceler],
                 log: Optional[Callable[[int, str], Any]]) -> None:
        self.lib = load_library()
        self.ctx = self.lib.spoke_ctx_create()
        if not self.ctx:
            raise NoMemoryError(-5011, "out of memory")
        self.progress = progress
        self.canceler = cancel
        self.log = log
        self.exc: Optional[BaseException] = None
        self.interrupted: Optional[BaseException] = None
        # ctypes callbacks must outlive the run: kept on self.
        self._log_cb = _LOG_FN(self._on_log)
        self.lib.spoke_ctx_set_log(self.ctx, self._log_cb, None)
        self._progress_cb = _PROGRESS_FN(self._on_progress)
        if progress is not None or cancel is not None:
            self.lib.spoke_ctx_set_progress(self.ctx, self._progress_cb,
                                            None)

    def close(self) -> None:
        if self.ctx:
            self.lib.spoke_ctx_free(self.ctx)
            self.ctx = None

    def __enter__(self) -> "_Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # Callbacks run on libspoke's threads: nothing may escape into C, so
    # an exception cancels the run and is raised once it has rolled back.
    def _on_progress(self, _user: Any, p: Any) -> None:
        try:
            if self.canceler is not None and self.canceler.requested:
                # A cancel that came before the run began was reset by it.
                self.lib.spoke_ctx_cancel(self.ctx)
            if self.progress is None:
                return
            c = p.contents
            cur = c.current
            if self.progress(Progress(c.files_done, c.files_total,
                                      c.bytes_done, c.bytes_total,
                                      _dec(cur) if cur else None,
                                      _PHASES.get(c.phase, str(c.phase)),
                                      c.wheels_done,
                                      c.wheels_total)) is False:
                self.lib.spoke_ctx_cancel(self.ctx)
        except BaseException as e:  # noqa: B036 - must not reach C
            if self.exc is None:
                self.exc = e
            self.lib.spoke_ctx_cancel(self.ctx)

    def _on_log(self, _user: Any, level: int, msg: bytes) -> None:
        try:
            text = _dec(msg)
            if self.log is not None:
                self.log(level, text)
            else:
                _log.log((logging.WARNING, logging.INFO,
                          logging.DEBUG)[min(max(level, 0), 2)], "%s", text)
        except BaseException as e:  # noqa: B036 - must not reach C
            if self.exc is None:
                self.exc = e
            self.lib.spoke_ctx_cancel(self.ctx)

    def check(self, ret: int, what: str) -> None:
        """A setter's result: they fail only on bad values or memory."""
        if ret < 0:
            raise _ERRORS.get(ret, SpokeError)(ret, "%s: %s"
                                               % (what, strerror(ret)))

    def options(self, link_mode: str, jobs: int, io: str, verify: bool,
                no_fallback: bool, cache_dir: Optional[PathLike]) -> None:
        if link_mode not in LINK_MODES:
            raise _usage("link_mode %r is not one of %s"
                         % (link_mode, ", ".join(LINK_MODES)))
        if io not in IO_BACKENDS:
            raise _usage("io %r is not one of %s"
                         % (io, ", ".join(IO_BACKENDS)))
        if not isinstance(jobs, int) or not 0 <= jobs <= 1024:
            raise _usage("jobs must be a whole number from 0 (one per CPU) "
                         "to 1024, not %r" % (jobs,))
        lib, ctx = self.lib, self.ctx
        lib.spoke_ctx_set_link_mode(ctx, LINK_MODES.index(link_mode))
        lib.spoke_ctx_set_io(ctx, IO_BACKENDS.index(io))
        lib.spoke_ctx_set_jobs(ctx, jobs)
        lib.spoke_ctx_set_verify(ctx, int(bool(verify)))
        lib.spoke_ctx_set_no_fallback(ctx, int(bool(no_fallback)))
        if cache_dir is not None:
            # Absolute: the run resolves it against its own cwd otherwise.
            self.check(lib.spoke_ctx_set_cache_dir(
                ctx, _fs(os.path.abspath(os.fspath(cache_dir)))), "cache_dir")

    def call(self, fn: Any, *args: Any) -> int:
        """fn(*args) with the GIL released (ctypes releases it for CDLL
        calls). Python raises KeyboardInterrupt only on the main thread,
        between bytecodes, never while that thread is inside C: so on the
        main thread the call runs on a helper thread while this one waits,
        interruptibly. Ctrl-C then cancels the run, waits for it to roll
        back (further Ctrl-C are absorbed: the rollback must finish) and is
        raised by run()."""
        if threading.current_thread() is not threading.main_thread():
            return int(fn(*args))
        done = threading.Event()
        box: Dict[str, Any] = {}

        def target() -> None:
            try:
                box["ret"] = fn(*args)
            except BaseException as e:  # noqa: B036 - re-raised below
                box["exc"] = e
            finally:
                done.set()

        t = threading.Thread(target=target, name="spoke-run", daemon=True)
        t.start()
        while True:
            try:
                done.wait()
                break
            except KeyboardInterrupt as e:
                if self.interrupted is None:
                    self.interrupted = e
                self.lib.spoke_ctx_cancel(self.ctx)
        t.join()
        if "exc" in box:
            raise box["exc"]
        return int(box["ret"])

    def report(self, rep: Any) -> Optional[Report]:
        """The report's JSON as a Report; frees rep."""
        if not rep.value:
            return None
        try:
            text = self.lib.spoke_report_json(rep)
            if not text:
                raise NoMemoryError(-5011, "out of memory")
            try:
                return Report.from_json(
                    ctypes.string_at(text).decode("utf-8", "surrogateescape"))
            finally:
                assert _free is not None
                _free(text)
        finally:
            self.lib.spoke_report_free(rep)

    def run(self, fn: Any, *args: Any) -> Report:
        """A run (spoke_install, _uninstall, _recover, _copy_tree) on the
        context: its Report, or raise on failure."""
        if self.canceler is not None:
            if self.canceler.requested:
                raise CanceledError(E_CANCELED, "canceled before the run "
                                    "started (nothing was changed)")
            self.canceler._attach(self.ctx)
        rep = ctypes.c_void_p()
        try:
            ret = self.call(fn, self.ctx, *args, ctypes.byref(rep))
        finally:
            if self.canceler is not None:
                self.canceler._attach(None)
        report = self.report(rep)
        if self.interrupted is not None:
            err = _error(self.lib, self.ctx, ret, report) if ret < 0 else None
            raise self.interrupted from err
        if ret >= 0 and report is not None:
            report.status = ret
        if ret < 0:
            err = _error(self.lib, self.ctx, ret, report)
            if self.exc is not None:
                raise self.exc from err
            raise err
        if self.exc is not None:
            raise self.exc
        assert report is not None
        return report


class _Plan:
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.plan = run.lib.spoke_plan_create()
        if not self.plan:
            raise NoMemoryError(-5011, "out of memory")

    def __enter__(self) -> "_Plan":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.run.lib.spoke_plan_free(self.plan)

    def need(self, name: str, what: str) -> None:
        if not _has(self.run.lib, name):
            raise _usage("this libspoke (%s) has no %s" % (version(), what))

    def add(self, w: Union[PathLike, Wheel]) -> int:
        """Add a wheel; its plan index."""
        lib, p, check = self.run.lib, self.plan, self.run.check
        if not isinstance(w, Wheel):
            idx = lib.spoke_plan_add_wheel(p, _fs(w))
            check(idx, "wheel %r" % (w,))
            return idx
        if (w.path is None) == (w.cache_key is None):
            raise _usage("Wheel needs exactly one of path and cache_key: %r"
                         % (w,))
        if w.cache_key is not None:
            if w.sha256 is not None:
                raise _usage("Wheel: sha256 with cache_key (the key is the "
                             "sha256): %r" % (w,))
            self.need("spoke_plan_add_cache_key", "cache keys")
            idx = lib.spoke_plan_add_cache_key(p, w.cache_key.encode())
        elif w.sha256 is not None:
            self.need("spoke_plan_add_wheel_sha256", "sha256")
            idx = lib.spoke_plan_add_wheel_sha256(p, _fs(w.path),
                                                  w.sha256.encode())
        else:
            idx = lib.spoke_plan_add_wheel(p, _fs(w.path))
        check(idx, "wheel %r" % (w,))
        if w.requested is not None:
            self.need("spoke_plan_set_wheel_requested", "per-wheel requested")
            check(lib.spoke_plan_set_wheel_requested(p, idx,
                                                     int(w.requested)),
                  "requested")
        return idx

    def no_wait(self, on: bool) -> None:
        lib = self.run.lib
        if not _has(lib, "spoke_plan_set_no_wait"):
            if on:
                raise _usage("this libspoke (%s) has no no_wait"
                             % version())
            return
        self.run.check(lib.spoke_plan_set_no_wait(self.plan, int(on)),
                       "no_wait")

    def environment(self, venv: Optional[PathLike],
                    target: Optional[PathLike], python: Optional[PathLike],
                    scheme: Optional[Mapping[str, PathLike]],
                    prefix: Optional[PathLike] = None,
                    root: Optional[PathLike] = None) -> None:
        lib, p, check = self.run.lib, self.plan, self.run.check
        if sum(x is not None for x in (venv, target, prefix)) > 1:
            raise _usage("venv, target and prefix exclude each other: "
                         "give one")
        for name, value in (("prefix", prefix), ("root", root)):
            if value is None:
                continue
            fn = "spoke_plan_set_" + name
            self.need(fn, name)
            check(getattr(lib, fn)(p, _fs(value)), name)
        if venv is not None:
            check(lib.spoke_plan_set_venv(p, _fs(venv)), "venv")
        if target is not None:
            check(lib.spoke_plan_set_target(p, _fs(target)), "target")
        if python is not None:
            check(lib.spoke_plan_set_python(p, _fs(python)), "python")
        for key, path in (scheme or {}).items():
            if key not in SCHEME_KEYS:
                raise _usage("scheme key %r is not one of %s"
                             % (key, ", ".join(SCHEME_KEYS)))
            check(lib.spoke_plan_set_scheme_path(p, SCHEME_KEYS.index(key),
                                                 _fs(path)), "scheme")


def _as_list(items: Union[PathLike, Iterable[PathLike]], what: str) -> list:
    if isinstance(items, (str, bytes, os.PathLike)):
        raise _usage("%s must be a list, not a single %s"
                     % (what, type(items).__name__))
    return list(items)


def install(wheels: Iterable[PathLike], venv: Optional[PathLike] = None, *,
            target: Optional[PathLike] = None,
            prefix: Optional[PathLike] = None,
            root: Optional[PathLike] = None,
            python: Optional[PathLike] = None,
            scheme: Optional[Mapping[str, PathLike]] = None,
            link_mode: str = "auto", jobs: int = 0, io: str = "auto",
            reinstall: bool = False, requested: bool = False,
            allow_overwrite: bool = False, dry_run: bool = False,
            no_wait: bool = False, verify: bool = True,
            no_fallback: bool = False,
            compile_bytecode: bool = False, compile_optimize: int = 0,
            direct_urls: Optional[Mapping[int, Union[str, Mapping]]] = None,
            cache_dir: Optional[PathLike] = None,
            progress: Optional[Callable[[Progress], Any]] = None,
            cancel: Optional[Canceler] = None,
            log: Optional[Callable[[int, str], Any]] = None,
            installer: Optional[str] = None,
            remove: Iterable[str] = ()) -> Report:
    """Install wheels (.whl files, through the cache, or unpacked trees)
    into a venv (default $VIRTUAL_ENV), a target directory or explicit
    scheme paths; see spoke_install() in spoke.h.

    Each wheel is a path or a Wheel (cache key, expected sha256,
    REQUESTED of its own). installer: the text of INSTALLER (default
    "spoke"). remove: distribution names removed in the same transaction
    (an upgrade-and-prune sync); NotInstalledError when one is not
    installed. Report.wheels has the per-wheel results.

    link_mode: auto (clone, then hardlink, then copy), clone, hardlink,
    copy or symlink. jobs: worker threads, 0 = one per CPU. The call
    waits for another process installing into the same environment, or
    with no_wait raises LockedError at once. direct_urls:
    {wheel index: PEP 610 dict or JSON text}. progress(Progress) is called
    from worker threads; returning False (or raising) cancels the run.
    log(level, message) receives warnings (level 0) and info; by default
    they go to the "spoke" logger. compile_bytecode: also install the
    .pyc of every module (compiled once per cached wheel), for
    python -O / -OO with compile_optimize 1 / 2 (docs/INSTALL.md).
    Returns the Report; raises a SpokeError subclass on failure, after the
    environment is rolled back.
    """
    wheels = _as_list(wheels, "wheels")
    with _Run(progress, cancel, log) as run, _Plan(run) as plan:
        run.options(link_mode, jobs, io, verify, no_fallback, cache_dir)
        plan.environment(venv, target, python, scheme, prefix, root)
        lib, p = run.lib, plan.plan
        urls = dict(direct_urls or {})
        for w in wheels:
            idx = plan.add(w)
            if isinstance(w, Wheel) and w.direct_url is not None:
                urls[idx] = w.direct_url
        if installer is not None:
            plan.need("spoke_plan_set_installer", "installer")
            run.check(lib.spoke_plan_set_installer(p, installer.encode()),
                      "installer %r" % (installer,))
        for n in _as_list(remove, "remove"):
            plan.need("spoke_plan_add_remove", "remove")
            run.check(lib.spoke_plan_add_remove(p, str(n).encode()),
                      "remove %r" % (n,))
        for i, url in urls.items():
            text = url if isinstance(url, str) else _json.dumps(url)
            run.check(lib.spoke_plan_set_direct_url(p, i, text.encode()),
                      "direct_urls[%r]" % (i,))
        run.check(lib.spoke_plan_set_reinstall(p, int(reinstall)), "reinstall")
        run.check(lib.spoke_plan_set_requested(p, int(requested)), "requested")
        run.check(lib.spoke_plan_set_allow_overwrite(p, int(allow_overwrite)),
                  "allow_overwrite")
        run.check(lib.spoke_plan_set_dry_run(p, int(dry_run)), "dry_run")
        if compile_bytecode or compile_optimize:
            if not _has(lib, "spoke_plan_set_compile_bytecode"):
                raise _usage("this libspoke has no compile_bytecode")
            run.check(lib.spoke_plan_set_compile_bytecode(
                p, int(bool(compile_bytecode)), int(compile_optimize)),
                "compile_optimize must be 0, 1 or 2")
        plan.no_wait(no_wait)
        return run.run(lib.spoke_install, p)


def uninstall(names: Iterable[str], venv: Optional[PathLike] = None, *,
              target: Optional[PathLike] = None,
              prefix: Optional[PathLike] = None,
              root: Optional[PathLike] = None,
              python: Optional[PathLike] = None,
              scheme: Optional[Mapping[str, PathLike]] = None,
              dry_run: bool = False, no_wait: bool = False,
              cancel: Optional[Canceler] = None,
              log: Optional[Callable[[int, str], Any]] = None) -> Report:
    """Remove installed distributions by name (PEP 503 normalised): every
    RECORD file, their bytecode, the directories left empty. Raises
    NotInstalledError for a name not installed, before removing anything.
    """
    names = _as_list(names, "names")
    with _Run(None, cancel, log) as run, _Plan(run) as plan:
        plan.environment(venv, target, python, scheme, prefix, root)
        lib, p = run.lib, plan.plan
        for n in names:
            run.check(lib.spoke_plan_add_name(p, str(n).encode()),
                      "name %r" % (n,))
        run.check(lib.spoke_plan_set_dry_run(p, int(dry_run)), "dry_run")
        plan.no_wait(no_wait)
        return run.run(lib.spoke_uninstall, p)


def run_plan(plan: Union[Mapping[str, Any], str, bytes], *,
             action: str = "install",
             progress: Optional[Callable[[Progress], Any]] = None,
             cancel: Optional[Canceler] = None,
             log: Optional[Callable[[int, str], Any]] = None) -> Report:
    """Run a plan in the plan-file format (a dict, or its JSON text; the
    schema is in docs/EMBEDDING.md): action "install" takes its wheels,
    "uninstall" its names. Schema errors raise UsageError naming the key.
    """
    if action not in ("install", "uninstall"):
        raise _usage("action must be 'install' or 'uninstall', not %r"
                     % (action,))
    if isinstance(plan, str):
        text = plan.encode()
    elif isinstance(plan, bytes):
        text = plan
    else:
        text = _json.dumps(plan).encode()
    with _Run(progress, cancel, log) as run, _Plan(run) as p:
        lib = run.lib
        if not _has(lib, "spoke_plan_load_json"):
            raise LibraryNotFoundError("this libspoke (%s) cannot read "
                                       "plans" % version())
        ret = lib.spoke_plan_load_json(run.ctx, p.plan, text, len(text))
        if ret:
            raise _error(lib, run.ctx, ret)
        return run.run(lib.spoke_install if action == "install"
                       else lib.spoke_uninstall, p.plan)


def recover(venv: Optional[PathLike] = None, *,
            target: Optional[PathLike] = None,
            prefix: Optional[PathLike] = None,
            root: Optional[PathLike] = None,
            python: Optional[PathLike] = None,
            scheme: Optional[Mapping[str, PathLike]] = None,
            no_wait: bool = False,
            log: Optional[Callable[[int, str], Any]] = None) -> Report:
    """Replay the journal a killed install or uninstall left in the
    environment, under its lock (spoke_recover). Report.status: 0 nothing
    to do, 1 an interrupted run was rolled back, 2 one killed after its
    commit point was finished. A journal naming paths outside the
    environment raises CorruptError and is left as it is."""
    with _Run(None, None, log) as run, _Plan(run) as plan:
        plan.environment(venv, target, python, scheme, prefix, root)
        plan.no_wait(no_wait)
        return run.run(run.lib.spoke_recover, plan.plan)


def copy_tree(src: PathLike, dst: PathLike, *, link_mode: str = "auto",
              jobs: int = 0, io: str = "auto", no_fallback: bool = False,
              progress: Optional[Callable[[Progress], Any]] = None,
              cancel: Optional[Canceler] = None,
              log: Optional[Callable[[int, str], Any]] = None) -> Report:
    """Materialise the tree src into dst (created, or merged into) with the
    link mode (spoke_copy_tree); the Report counts what was linked."""
    with _Run(progress, cancel, log) as run:
        run.options(link_mode, jobs, io, True, no_fallback, None)
        return run.run(run.lib.spoke_copy_tree, _fs(src), _fs(dst))


def cache_add(wheel: PathLike, *, cache_dir: Optional[PathLike] = None,
              verify: bool = True, jobs: int = 0,
              sha256: Optional[str] = None) -> str:
    """Unpack, verify and publish a .whl into the cache (default
    $SPOKE_CACHE_DIR, else $XDG_CACHE_HOME/spoke, else ~/.cache/spoke);
    returns its key (hex sha256 of the file), which a plan can name.
    sha256: the digest the file must have (HashError when it differs)."""
    with _Run(None, None, None) as run:
        run.options("auto", jobs, "auto", verify, False, cache_dir)
        key = ctypes.create_string_buffer(65)
        if sha256 is not None:
            if not _has(run.lib, "spoke_cache_add_sha256"):
                raise _usage("this libspoke (%s) has no sha256" % version())
            ret = run.call(run.lib.spoke_cache_add_sha256, run.ctx,
                           _fs(wheel), sha256.encode(), key)
        else:
            ret = run.call(run.lib.spoke_cache_add, run.ctx, _fs(wheel), key)
        if ret or run.interrupted is not None:
            err = _error(run.lib, run.ctx, ret) if ret else None
            if run.interrupted is not None:
                raise run.interrupted from err
            assert err is not None
            raise err
        return key.value.decode()


def _cache_call(name: str, cache_dir: Optional[PathLike], *args: Any,
                entries: Optional[List[CacheEntry]] = None) -> int:
    with _Run(None, None, None) as run:
        run.options("auto", 0, "auto", True, False, cache_dir)
        cb = None
        if entries is not None:
            def on_entry(_u: Any, key: bytes, wname: Optional[bytes],
                         status: int, msg: Optional[bytes]) -> None:
                entries.append(CacheEntry(_dec(key),
                                          _dec(wname) if wname else None,
                                          status, _dec(msg)))
            cb = _CACHE_FN(on_entry)
            args = args + (cb, None)
        ret = run.call(getattr(run.lib, name), run.ctx, *args)
        if run.interrupted is not None:
            raise run.interrupted
        if ret < 0 and not (entries is not None and ret == -5006):
            raise _error(run.lib, run.ctx, ret)
        return ret


def cache_list(*, cache_dir: Optional[PathLike] = None,
               verify: bool = False) -> List[CacheEntry]:
    """The cache's entries; with verify each is re-hashed against its
    RECORD and carries its status (spoke_cache_list)."""
    entries: List[CacheEntry] = []
    _cache_call("spoke_cache_list", cache_dir, int(verify), entries=entries)
    return entries


def cache_verify(*, cache_dir: Optional[PathLike] = None) -> List[CacheEntry]:
    """Re-hash every entry; the entries that failed (empty: all good)."""
    return [e for e in cache_list(cache_dir=cache_dir, verify=True)
            if e.status != 0]


def cache_prune(*, cache_dir: Optional[PathLike] = None) -> int:
    """Remove leftover temporaries of killed runs; how many."""
    return _cache_call("spoke_cache_prune", cache_dir)


def cache_clean(*, cache_dir: Optional[PathLike] = None) -> int:
    """Remove every entry of the cache; spoke_cache_clean's count."""
    return _cache_call("spoke_cache_clean", cache_dir)


def cache_dir(cache_dir: Optional[PathLike] = None) -> str:
    """The cache directory libspoke uses (cache_dir, or the default)."""
    with _Run(None, None, None) as run:
        if cache_dir is not None:
            run.check(run.lib.spoke_ctx_set_cache_dir(run.ctx,
                                                      _fs(cache_dir)),
                      "cache_dir")
        return _dec(run.lib.spoke_cache_dir(run.ctx))
