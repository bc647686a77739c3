/* SPDX-License-Identifier: MIT */
/*
 * spoke.h - the one public header of libspoke, a parallel bulk installer
 * engine for Python wheels.
 *
 * Conventions: every handle is opaque and made by a *_create call and released
 * by the matching *_free, which accepts NULL. Calls return 0 (or a count) on
 * success and a negative value on failure: either -errno (a plain syscall
 * failure) or one of the SPOKE_E* codes below, which are all below -4096 so the
 * two ranges never overlap. The library never prints and never exits: warnings
 * reach the host through the log callback, progress through the progress
 * callback, and the last error's detail (path, errno, message) through
 * spoke_ctx_error_*(). Out of memory is always SPOKE_E_NOMEM, never
 * -ENOMEM. A spoke_ctx may be used by one run at a time; separate contexts
 * may run concurrently from different host threads.
 *
 * Where each section is implemented (every spoke_* function of a section
 * lives in one file):
 *   error codes, version, context   engine/api_ctx.c
 *   reports                         engine/api_report.c
 *   copy-tree                       engine/api_copytree.c
 *   install plans: setters          engine/api_plan.c
 *                  spoke_plan_load_json  engine/api_plan_json.c
 *   install, uninstall, recover     engine/api_install.c
 *   the wheel cache                 engine/api_cache.c
 */
#ifndef SPOKE_H
#define SPOKE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPOKE_VERSION_MAJOR 0
#define SPOKE_VERSION_MINOR 1
#define SPOKE_VERSION_PATCH 0
#define SPOKE_VERSION_NUMBER \
	(SPOKE_VERSION_MAJOR * 10000 + SPOKE_VERSION_MINOR * 100 + SPOKE_VERSION_PATCH)

#if defined(SPOKE_BUILDING) && defined(__GNUC__)
#define SPOKE_API __attribute__((visibility("default")))
#else
#define SPOKE_API
#endif

/* Error codes. Stable: every value is written out and never changes or is
 * reused once released; new codes take the next free value below the last.
 * There is no count or "last" member: a host must treat an unknown
 * negative value as a failure (spoke_strerror names it "unknown error"). */
enum spoke_err {
	SPOKE_OK = 0,
	SPOKE_E_BASE = -5000,        /* every SPOKE_E_* is below this */
	SPOKE_E_USAGE = -5001,       /* bad argument or option */
	SPOKE_E_UNSUPPORTED = -5002, /* link mode unsupported and --no-fallback */
	SPOKE_E_BADWHEEL = -5003,    /* malformed wheel, WHEEL, RECORD, METADATA */
	SPOKE_E_UNSAFE_PATH = -5004, /* a path escapes its root (.., absolute, symlink) */
	SPOKE_E_CONFLICT = -5005,    /* two wheels or a file and a directory collide */
	SPOKE_E_HASH = -5006,        /* size or sha256 differs from RECORD */
	SPOKE_E_CANCELED = -5007,    /* spoke_ctx_cancel() was called */
	SPOKE_E_NOT_INSTALLED = -5008,
	SPOKE_E_LOCKED = -5009,      /* environment locked by another process */
	SPOKE_E_CORRUPT = -5010,     /* cache entry or journal damaged */
	SPOKE_E_NOMEM = -5011,       /* out of memory (never -ENOMEM) */
	SPOKE_E_PROTECTED = -5012    /* would replace the interpreter or activate */
};

/* A human-readable name for any return value: SPOKE_E* or -errno. */
SPOKE_API const char *spoke_strerror(int code);
SPOKE_API const char *spoke_version(void);
SPOKE_API int spoke_version_number(void);

/* ---- context: options and error state for runs ------------------------- */

typedef struct spoke_ctx spoke_ctx;

enum spoke_link_mode {
	SPOKE_LINK_AUTO = 0, /* clone, then hardlink, then copy */
	SPOKE_LINK_CLONE,
	SPOKE_LINK_HARDLINK,
	SPOKE_LINK_COPY,
	SPOKE_LINK_SYMLINK
};

enum spoke_io_backend {
	SPOKE_IO_AUTO = 0,
	SPOKE_IO_URING,
	SPOKE_IO_SYNC
};

enum spoke_log_level { SPOKE_LOG_WARN = 0, SPOKE_LOG_INFO, SPOKE_LOG_DEBUG };

typedef void (*spoke_log_fn)(void *user, int level, const char *msg);

/* Progress: called from worker threads (the last call may come from the
 * thread that called the run), serialised by the library (never two calls
 * at once): at the start of each phase, then at most ten times a second,
 * and once at the end of the phase, with done == total when it succeeds.
 * Totals are fixed for a phase, done counters monotonic within it
 * (docs/EMBEDDING.md). The fields after current were added later: phase
 * says which phase the counters count; an install with .whl files not in
 * the cache yet has an unpack phase (files and bytes written into the
 * cache, wheels unpacked of wheels_total) before the link phase (files
 * and bytes linked; wheels 0 of 0); with bytecode, a compile phase (files
 * compiled of those sent to compile) and a second link phase (the .pyc)
 * follow. */
enum spoke_phase {
	SPOKE_PHASE_LINK = 0,
	SPOKE_PHASE_UNPACK,
	SPOKE_PHASE_COMPILE,
	/* Added later: an install's work before its first link (wheels
	 * looked up, opened, checked and laid out: wheels_done of
	 * wheels_total; files and bytes 0 of 0). It comes first, within
	 * moments of the call; a cold install's unpack phase runs inside it
	 * (prepare, unpack, prepare again with the counters continuing),
	 * and the link phase follows it. */
	SPOKE_PHASE_PREPARE
};
struct spoke_progress {
	uint64_t files_done, files_total;
	uint64_t bytes_done, bytes_total;
	const char *current; /* wheel or tree being processed, may be NULL */
	int phase;           /* enum spoke_phase */
	uint64_t wheels_done, wheels_total;
};
typedef void (*spoke_progress_fn)(void *user, const struct spoke_progress *p);

SPOKE_API spoke_ctx *spoke_ctx_create(void);
SPOKE_API void spoke_ctx_free(spoke_ctx *ctx);
SPOKE_API int spoke_ctx_set_link_mode(spoke_ctx *ctx, enum spoke_link_mode mode);
SPOKE_API int spoke_ctx_set_jobs(spoke_ctx *ctx, unsigned jobs); /* 0: CPUs */
SPOKE_API int spoke_ctx_set_io(spoke_ctx *ctx, enum spoke_io_backend io);
/* Fail with SPOKE_E_UNSUPPORTED instead of falling back. */
SPOKE_API int spoke_ctx_set_no_fallback(spoke_ctx *ctx, int on);
SPOKE_API int spoke_ctx_set_log(spoke_ctx *ctx, spoke_log_fn fn, void *user);
SPOKE_API int spoke_ctx_set_progress(spoke_ctx *ctx, spoke_progress_fn fn,
				     void *user);
SPOKE_API int spoke_ctx_set_cache_dir(spoke_ctx *ctx, const char *dir);
SPOKE_API int spoke_ctx_set_verify(spoke_ctx *ctx, int on); /* default on */
/* Thread-safe, async-signal-safe: asks the running call to stop; it returns
 * SPOKE_E_CANCELED and leaves the target as it was before the run. */
SPOKE_API void spoke_ctx_cancel(spoke_ctx *ctx);

/* Detail of the last failure of a call on this context. Strings are owned by
 * the context and valid until its next run; never NULL ("" when unknown). */
SPOKE_API int spoke_ctx_error_code(const spoke_ctx *ctx);
SPOKE_API int spoke_ctx_error_errno(const spoke_ctx *ctx);
SPOKE_API const char *spoke_ctx_error_path(const spoke_ctx *ctx);
SPOKE_API const char *spoke_ctx_error_message(const spoke_ctx *ctx);
/* The plan index of the wheel the last failure belongs to (the wheel that
 * failed to open, to validate or to link), or -1 when it belongs to none
 * (the environment, the lock, an option, a removal). */
SPOKE_API int spoke_ctx_error_wheel(const spoke_ctx *ctx);

/* ---- reports: what a run did --------------------------------------------- */

typedef struct spoke_report spoke_report;

enum spoke_counter {
	SPOKE_COUNT_FILES = 0,   /* regular files materialised */
	SPOKE_COUNT_DIRS,        /* directories created */
	SPOKE_COUNT_BYTES,       /* bytes of regular files materialised */
	SPOKE_COUNT_CLONED,
	SPOKE_COUNT_HARDLINKED,
	SPOKE_COUNT_COPIED,
	SPOKE_COUNT_SYMLINKED,   /* includes symlinks recreated from the source */
	SPOKE_COUNT_REPLACED,    /* existing targets replaced atomically */
	SPOKE_COUNT_FAILED_ATTEMPTS, /* link/clone calls that failed unsupported */
	SPOKE_COUNT_REMOVED,     /* files removed (uninstall, upgrade) */
	SPOKE_COUNT_WRITTEN,     /* files generated (RECORD, scripts, ...) */
	/* bytecode (spoke_plan_set_compile_bytecode): .py files compiled in
	 * this run, .pyc taken from the cache compiled, sources that did not
	 * compile (Python 2 syntax: a warning each, the install goes on) */
	SPOKE_COUNT_PYC_COMPILED,
	SPOKE_COUNT_PYC_CACHED,
	SPOKE_COUNT_PYC_FAILED,
	SPOKE_COUNT__MAX
};

SPOKE_API void spoke_report_free(spoke_report *r);
SPOKE_API uint64_t spoke_report_counter(const spoke_report *r,
					enum spoke_counter c);
/* Link-mode switches made during the run, in order. */
SPOKE_API size_t spoke_report_fallback_count(const spoke_report *r);
SPOKE_API int spoke_report_fallback(const spoke_report *r, size_t i,
				    const char **from, const char **to,
				    int *err, const char **path);
/* Distributions a run installed or removed, in plan order. action is
 * "installed", "upgraded", "downgraded", "reinstalled", "unchanged",
 * "removed" (a removal of an install plan), "uninstalled" or "failed" (or
 * a "would ..." form on a dry run). */
SPOKE_API size_t spoke_report_dist_count(const spoke_report *r);
SPOKE_API int spoke_report_dist(const spoke_report *r, size_t i,
				const char **name, const char **version,
				const char **action);
/* A distribution's size as its RECORD lists it: files and bytes (0 for an
 * uninstall by name). */
SPOKE_API int spoke_report_dist_counts(const spoke_report *r, size_t i,
				       uint64_t *files, uint64_t *bytes);
/* The whole report as one JSON object; release it with spoke_free(). NULL
 * when out of memory. */
SPOKE_API char *spoke_report_json(const spoke_report *r);
/* Release memory the library returned to the caller (spoke_report_json).
 * Hosts whose free() may not be the library's (other C runtimes, ctypes,
 * static linking with a custom allocator) must use this. NULL is a no-op. */
SPOKE_API void spoke_free(void *p);

/* Per-wheel results: one entry per wheel of the plan, in plan order, then
 * one per distribution removed (a removal of an install plan, or each
 * dist-info spoke_uninstall removed; by name as given when the run failed
 * before looking them up). A wheel that failed to open still has its entry
 * (name and version ""). */
enum spoke_action {
	SPOKE_ACTION_NONE = 0,     /* nothing done: the run failed */
	SPOKE_ACTION_INSTALLED,    /* no version was installed */
	SPOKE_ACTION_UPGRADED,     /* replaced a lower version */
	SPOKE_ACTION_DOWNGRADED,   /* replaced a higher version (PEP 440) */
	SPOKE_ACTION_REINSTALLED,  /* replaced the same version */
	SPOKE_ACTION_UNCHANGED,    /* same version installed, left alone */
	SPOKE_ACTION_REMOVED       /* a removal or an uninstall */
};
/* Grows only at its end. The caller sets size = sizeof(struct
 * spoke_wheel_result); the library fills the members that fit in size, so
 * a host built against an older header keeps working. Strings are owned by
 * the report; never NULL ("" when unknown). */
struct spoke_wheel_result {
	size_t size;
	int index;              /* plan wheel index; -1 for a removal */
	const char *wheel;      /* the path (or cache key) the plan gave */
	const char *dist_info;  /* the dist-info directory written or removed */
	const char *name, *version;
	const char *previous_version; /* the version replaced or removed */
	enum spoke_action action;  /* SPOKE_ACTION_NONE when the run failed */
	enum spoke_action planned; /* what the run was to do (also on dry
				    * run); NONE if it failed before deciding */
	int error;              /* the run's error code when the failure
				 * belongs to this entry, else 0 */
};
SPOKE_API size_t spoke_report_wheel_count(const spoke_report *r);
/* 0, or SPOKE_E_USAGE for i out of range or out->size too small. */
SPOKE_API int spoke_report_wheel(const spoke_report *r, size_t i,
				 struct spoke_wheel_result *out);
/* "installed", "upgraded", ... "removed", "none". */
SPOKE_API const char *spoke_action_name(enum spoke_action a);

/* ---- copy-tree: the linker as a general tool ----------------------------- */

/* Materialise SRC into DST (created if missing, merged into if present) with
 * the context's link mode. *report (may be NULL) receives a report even on
 * failure. */
SPOKE_API int spoke_copy_tree(spoke_ctx *ctx, const char *src, const char *dst,
			      spoke_report **report);

/* ---- install plans -------------------------------------------------------- */

/* A plan says what to install or uninstall and where; spoke_install() and
 * spoke_uninstall() run it. The environment is a virtual environment
 * (set_venv; by default $VIRTUAL_ENV when neither a venv, a target nor a
 * scheme path is set), a --target directory (set_target) or scheme paths
 * given one by one (set_scheme_path, which also overrides single keys of a
 * venv or target). docs/INSTALL.md has the layouts and every difference from
 * pip. Setters copy their strings and only fail on bad arguments
 * (SPOKE_E_USAGE) or memory; paths are checked when the plan runs. */
typedef struct spoke_plan spoke_plan;

enum spoke_scheme_key {
	SPOKE_SCHEME_PURELIB = 0,
	SPOKE_SCHEME_PLATLIB,
	SPOKE_SCHEME_SCRIPTS,
	SPOKE_SCHEME_HEADERS, /* the dist name is appended, as pip does */
	SPOKE_SCHEME_DATA,
	SPOKE_SCHEME__MAX
};

SPOKE_API spoke_plan *spoke_plan_create(void);
SPOKE_API void spoke_plan_free(spoke_plan *plan);
/* A .whl file (unpacked once into the context's cache, then linked from
 * there) or an unpacked wheel tree. Returns the wheel's index (>= 0). */
SPOKE_API int spoke_plan_add_wheel(spoke_plan *plan, const char *path);
/* A distribution name to uninstall (for spoke_uninstall); compared after
 * PEP 503 normalisation. */
SPOKE_API int spoke_plan_add_name(spoke_plan *plan, const char *name);
SPOKE_API int spoke_plan_set_venv(spoke_plan *plan, const char *venv);
SPOKE_API int spoke_plan_set_target(spoke_plan *plan, const char *dir);
/* pip's --prefix: its posix_prefix layout under dir (lib/pythonX.Y/
 * site-packages, <platlibdir>/pythonX.Y/site-packages, bin, include,
 * dir), learned by running the plan's python (else python3 on $PATH).
 * Excludes set_venv and set_target. */
SPOKE_API int spoke_plan_set_prefix(spoke_plan *plan, const char *dir);
/* pip's --root: every scheme path of the venv, target or prefix is
 * placed under dir (a staged install); scripts still name the unrooted
 * interpreter. */
SPOKE_API int spoke_plan_set_root(spoke_plan *plan, const char *dir);
SPOKE_API int spoke_plan_set_scheme_path(spoke_plan *plan,
					 enum spoke_scheme_key key,
					 const char *path);
/* The interpreter generated scripts name in their shebang (default: the
 * venv's bin/python; required with a target or scheme paths when a wheel
 * has scripts). Also run to learn X.Y when pyvenv.cfg does not say. */
SPOKE_API int spoke_plan_set_python(spoke_plan *plan, const char *python);
/* Reinstall a distribution whose installed version is the same (else it is
 * left alone and reported "unchanged"). */
SPOKE_API int spoke_plan_set_reinstall(spoke_plan *plan, int on);
/* Check everything and report what would happen ("would install", "would
 * upgrade", "would reinstall", "would uninstall"); change nothing. */
SPOKE_API int spoke_plan_set_dry_run(spoke_plan *plan, int on);
/* Write an empty REQUESTED into each installed dist-info (PEP 376). */
SPOKE_API int spoke_plan_set_requested(spoke_plan *plan, int on);
/* Let a later wheel of the plan overwrite a file of an earlier one
 * (default: SPOKE_E_CONFLICT naming both wheels). */
SPOKE_API int spoke_plan_set_allow_overwrite(spoke_plan *plan, int on);
/* direct_url.json (PEP 610) content for wheel index `wheel`. */
SPOKE_API int spoke_plan_set_direct_url(spoke_plan *plan, int wheel,
					const char *json);
/* Install, uninstall and recover hold an exclusive lock on the
 * environment; when another process holds it they wait (logging once that
 * they do), or with no_wait fail at once with SPOKE_E_LOCKED. */
SPOKE_API int spoke_plan_set_no_wait(spoke_plan *plan, int on);
/* Refuse (SPOKE_E_BADWHEEL, before any change) a wheel the environment's
 * interpreter cannot use, as pip does: none of its tags (file name, or
 * WHEEL's Tag lines for a tree) among those the interpreter supports, or
 * a METADATA Requires-Python excluding its version. The tags are learned
 * by running the interpreter once and cached in the cache directory.
 * Default off (a resolver that picked the wheels has checked them). */
SPOKE_API int spoke_plan_set_compat_check(spoke_plan *plan, int on);
/* The interpreter generated scripts name in their shebang instead of
 * set_python's (or the venv's), which stays the one whose version and
 * tags count: for a --target built for another machine's interpreter. */
SPOKE_API int spoke_plan_set_shebang_python(spoke_plan *plan,
					    const char *python);
/* Install bytecode with the wheels (default off): every .py a wheel puts
 * in purelib or platlib, compiled by the environment's interpreter (the
 * --python one for a target) at optimization level optimize (0, 1 for -O,
 * 2 for -OO), as timestamp .pyc. Compiled once per cache entry and kept in
 * the cache (docs/CACHE.md), linked like the wheel's files, listed in
 * RECORD. Only for wheels installed from a .whl (a tree is not compiled: a
 * warning). SPOKE_E_USAGE for another optimize. */
SPOKE_API int spoke_plan_set_compile_bytecode(spoke_plan *plan, int on,
					      int optimize);
/* Load a plan file (JSON, len bytes, need not be NUL-terminated; schema in
 * docs/EMBEDDING.md): wheels by path or by cache key (resolved to the
 * entry in the cache of ctx, or of options.cache_dir), names to uninstall,
 * the environment (venv, target, python, scheme paths) and options. Plan
 * options go to plan; link_mode, jobs, io, no_verify, no_fallback and
 * cache_dir are run options and go to ctx, which also receives the error
 * detail. Keys the document leaves out leave their setting as it was;
 * wheels and names are appended. Unknown keys (except "x-..."), wrong
 * types, bad values and cache keys with no entry fail with SPOKE_E_USAGE
 * and a message naming the key ("plan: wheels[1].cache_key: ..."). The
 * whole document is checked before anything is set: on failure plan and
 * ctx are unchanged. */
SPOKE_API int spoke_plan_load_json(spoke_ctx *ctx, spoke_plan *plan,
				   const char *json, size_t len);
/* Plan-level control for resolvers and lock tools (docs/EMBEDDING.md). */
/* A .whl that must have this sha256 (64 hex digits): installing fails with
 * SPOKE_E_HASH naming both digests when it differs. Returns the index. */
SPOKE_API int spoke_plan_add_wheel_sha256(spoke_plan *plan, const char *path,
					  const char *sha256);
/* A wheel by its cache key (the sha256 of the .whl, 64 lowercase hex
 * digits), installed from the entry in the context's cache; a key with no
 * entry fails the run with SPOKE_E_USAGE. Returns the index. */
SPOKE_API int spoke_plan_add_cache_key(spoke_plan *plan, const char *key);
/* REQUESTED for wheel `wheel` alone (on 1, off 0), overriding
 * spoke_plan_set_requested: a resolver marks the user's direct
 * requirements only. */
SPOKE_API int spoke_plan_set_wheel_requested(spoke_plan *plan, int wheel,
					     int on);
/* The text of INSTALLER (a tool name: printable ASCII, no spaces, at most
 * 64 bytes; NULL: "spoke"). */
SPOKE_API int spoke_plan_set_installer(spoke_plan *plan, const char *name);
/* A distribution spoke_install() removes in the same transaction (an
 * upgrade-and-prune sync). SPOKE_E_NOT_INSTALLED when it is not installed,
 * SPOKE_E_USAGE when a wheel of the plan is the same distribution, both
 * before any change. Report action "removed" ("would remove"). */
SPOKE_API int spoke_plan_add_remove(spoke_plan *plan, const char *name);

/* Install the plan's wheels. Everything is validated before the first
 * change: wheel layout, WHEEL, METADATA, RECORD (SPOKE_E_BADWHEEL, or
 * SPOKE_E_HASH for a size differing from RECORD), paths and symlinks
 * escaping (SPOKE_E_UNSAFE_PATH), collisions between wheels, within one, or
 * with the environment (SPOKE_E_CONFLICT), files replacing the interpreter
 * or activation scripts (SPOKE_E_PROTECTED). An installed version of the
 * same distribution is replaced; the plan's removals
 * (spoke_plan_add_remove) are done in the same transaction. Report
 * actions: "installed", "upgraded", "downgraded", "reinstalled",
 * "unchanged", "removed", the "would ..." forms with dry_run, or "failed"
 * for every entry when the run fails; spoke_report_wheel() has the same
 * per wheel with the failure's code on its wheel's entry. */
SPOKE_API int spoke_install(spoke_ctx *ctx, spoke_plan *plan,
			    spoke_report **report);
/* Remove the named distributions: every RECORD file, the bytecode of
 * their .py files, the directories left empty (never a scheme directory or
 * one above it). SPOKE_E_NOT_INSTALLED for a name not installed and
 * SPOKE_E_UNSAFE_PATH / SPOKE_E_PROTECTED for a RECORD path outside the
 * environment or naming its interpreter, all before removing anything.
 * Report action: "uninstalled" (or "would uninstall"). */
SPOKE_API int spoke_uninstall(spoke_ctx *ctx, spoke_plan *plan,
			      spoke_report **report);
/* Installs and uninstalls are transactions (docs/RELIABILITY.md): a run
 * that fails or is canceled puts the environment back as it was, and one
 * that is killed leaves a journal in it that the next install or uninstall
 * there replays first. This does only that replay, for the plan's
 * environment (venv, target or scheme paths; no wheels or names needed),
 * under its lock: 0 when there was nothing to do, 1 when an interrupted
 * run was rolled back, 2 when a run killed after its commit point was
 * finished. Report counters: SPOKE_COUNT_REPLACED counts the paths put
 * back, SPOKE_COUNT_REMOVED those of the interrupted run removed. A
 * journal naming paths outside the environment is refused with
 * SPOKE_E_CORRUPT and left as it is. */
SPOKE_API int spoke_recover(spoke_ctx *ctx, spoke_plan *plan,
			    spoke_report **report);

/* ---- the wheel cache ------------------------------------------------------ */

/* Unpack, verify and publish a .whl into the context's cache. key_out (may be
 * NULL) receives the entry key (hex sha256 of the wheel, 65 bytes). */
SPOKE_API int spoke_cache_add(spoke_ctx *ctx, const char *wheel,
			      char key_out[65]);
/* The same, refusing (SPOKE_E_HASH, naming both digests) a wheel whose
 * sha256 is not sha256 (64 hex digits; NULL: no expectation). */
SPOKE_API int spoke_cache_add_sha256(spoke_ctx *ctx, const char *wheel,
				     const char *sha256, char key_out[65]);
/* Path of the cache directory in use (owned by ctx). */
SPOKE_API const char *spoke_cache_dir(spoke_ctx *ctx);

/* wheel_name is NULL for an entry no index names; status is 0, or with
 * verify SPOKE_E_HASH / SPOKE_E_CORRUPT / -errno, and msg says what differs. */
typedef void (*spoke_cache_entry_fn)(void *user, const char *key,
				     const char *wheel_name, int status,
				     const char *msg);
/* List entries (re-hashing each against its RECORD with verify). Returns
 * the number of entries, or SPOKE_E_HASH when any failed verification. */
SPOKE_API int spoke_cache_list(spoke_ctx *ctx, int verify,
			       spoke_cache_entry_fn fn, void *user);
/* Remove leftover temporaries of killed runs; returns how many. */
SPOKE_API int spoke_cache_prune(spoke_ctx *ctx);
SPOKE_API int spoke_cache_clean(spoke_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
