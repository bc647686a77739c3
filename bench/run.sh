#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/run.sh - the spoke benchmark. Materialises generated site-packages
# trees with spoke's copy-tree and with its peers, side by side, and reports
# min and median wall time, files/s, MB/s and spoke's speed-up factors.
# Peers: bench/baselines.c (sequential, per-wheel, floor) and GNU cp (cp -al,
# cp -a --reflink=always, cp -a; single-threaded). Every run's output tree is
# checked against the source (file and dir count, bytes; on spoke's first run
# in each cell also a digest of every file's content) and a failed check marks
# that row FAILED.
#
# Filesystems (each a sparse image loop-mounted here, source and destination
# on it, so no other work on the machine shares the filesystem under test):
#   ext4       mkfs.ext4 defaults (journal), mounted -o discard; modes
#              hardlink, copy, auto; also the scale series (hardlink,
#              scale-1000 .. scale-200000, spoke and sequential, 3 runs)
#   xfs        mkfs.xfs -m reflink=1; modes clone, hardlink
#   btrfs      mkfs.btrfs defaults; mode clone
#   ext4-host  optional: the work dir's own filesystem (see below)
# Loop mounts need root; without it the run falls back to ext4-host only.
#
# Method, per run: the destination BASE/rN-K/dst does not exist (its parent is
# made untimed); the command runs under bench/rss (wall clock around
# fork..wait4, peak RSS from wait4); the output is checked; then, untimed, the
# destination is removed, `sync`, `fstrim` on ext4 (mounted with discard),
# and a 0.2 s sleep, so deletes are settled before the next timed run. The
# page cache stays warm: sources are read in full before each cell, caches
# are never dropped. Strategies take turns within a cell, the order rotating
# each round. Jobs = nproc.
#
# ext4-host: ext4 without a journal (like this host's root) skips, when
# allocating an inode, every inode freed in the last 60 s (360 s while its
# inode-table block is dirty), one buffer lookup each; creating a tree where
# one was just deleted then costs O(recently deleted) per inode, so a
# benchmark that deletes between runs measures its own cleanup. For
# ext4-host the harness marks the work dir top-level (chattr +T, so Orlov
# spreads new directories over flex groups) and probes fresh parent names
# until one lands in a flex group ("zone") it has not freed in the last
# ZONE_QUIET seconds (remembered across invocations). Other processes' deletes
# on that filesystem still interfere; prefer the loop-mounted ext4.
#
# Usage: bench/run.sh [--quick] [--runs N] [--shapes LIST] [--fs LIST]
#                     [--no-scale] [--help]
#   --quick     3 runs of scale-10000 on ext4 (hardlink, copy) and XFS
#               (clone), no scale series; under two minutes
#   --runs N    timed runs per strategy and cell (default 5)
#   --shapes L  many,huge,flat (default) or any gentree shape
#   --fs L      ext4,xfs,btrfs (default); ext4-host: the host dir, see above
#   --no-scale  skip the scale series
# Results: bench/results/run-<stamp>.json and runs-<stamp>.jsonl for every
# run; latest.{json,md,png} only from the default full run, quick-latest.*
# from --quick, custom-latest.* from any other selection.
# Environment: SPOKE_BENCH_DIR (work dir, default /var/tmp/spoke-bench),
# SPOKE_BIN (default build/spoke), BUILD (default build), CC (default cc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BB=$BUILD/bench
SPOKE=${SPOKE_BIN:-$BUILD/spoke}
WORK=${SPOKE_BENCH_DIR:-/var/tmp/spoke-bench}
RESULTS=$ROOT/bench/results
JOBS=$(nproc)
TIMEOUT=600          # seconds, per timed command
SETTLE_SLEEP=0.2
SCALE_SHAPES="scale-1000 scale-10000 scale-100000 scale-200000"
SCALE_RUNS=3         # capped: a 200,000-file cell costs ~15 s per run untimed

QUICK=0
CUSTOM=0   # any selection option: results go to custom-latest.*
RUNS=
SHAPES=
FSLIST=
SCALE=1
ARGV=("$@")

usage() {
	sed -n '/^# Usage:/,/^# SPOKE_BIN/p' "$0" | sed 's/^# \{0,1\}//'
}

die() { echo "bench: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--runs) [ $# -ge 2 ] || die "--runs needs a number"; RUNS=$2; CUSTOM=1; shift ;;
	--runs=*) RUNS=${1#*=}; CUSTOM=1 ;;
	--shapes) [ $# -ge 2 ] || die "--shapes needs a list"; SHAPES=$2; CUSTOM=1; shift ;;
	--shapes=*) SHAPES=${1#*=}; CUSTOM=1 ;;
	--fs) [ $# -ge 2 ] || die "--fs needs a list"; FSLIST=$2; CUSTOM=1; shift ;;
	--fs=*) FSLIST=${1#*=}; CUSTOM=1 ;;
	--no-scale) SCALE=0; CUSTOM=1 ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
if [ -n "$RUNS" ] && [ "$RUNS" -lt "$SCALE_RUNS" ] 2>/dev/null; then SCALE_RUNS=$RUNS; fi

if [ "$QUICK" = 1 ]; then
	: "${RUNS:=3}"
	: "${SHAPES:=scale-10000}"
	: "${FSLIST:=ext4 xfs}"
	SCALE=0
else
	: "${RUNS:=5}"
	: "${SHAPES:=many huge flat}"
	: "${FSLIST:=ext4 xfs btrfs}"
fi
SHAPES=${SHAPES//,/ }
FSLIST=${FSLIST//,/ }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs: not a positive number: $RUNS"
for s in $SHAPES; do
	[[ $s =~ ^(many|huge|flat|scale-[0-9]+)$ ]] || die "unknown shape $s"
done
for f in $FSLIST; do
	[[ $f =~ ^(ext4|xfs|btrfs|ext4-host)$ ]] || die "unknown filesystem $f (ext4, xfs, btrfs, ext4-host)"
done

IS_ROOT=0
if [ "$(id -u)" = 0 ]; then IS_ROOT=1; fi
SKIPPED=()
if [ "$IS_ROOT" = 0 ]; then
	echo "bench: skipped: XFS/btrfs need root (so does the loop-mounted ext4: using the host dir, ext4-host)"
	SKIPPED+=("xfs, btrfs, ext4 (loop): need root; ext4-host used instead")
	nf=
	for f in $FSLIST; do
		case $f in ext4|ext4-host) nf="$nf ext4-host" ;; esac
	done
	FSLIST=$(echo "$nf" | xargs -n1 2>/dev/null | sort -u | xargs || true)
	[ -n "$FSLIST" ] || die "nothing to run without root (ext4-host is the only non-root filesystem)"
fi

# Link modes per filesystem. Quick: ext4 hardlink+copy, XFS clone.
modes_for() {
	case $1 in
	ext4|ext4-host) if [ "$QUICK" = 1 ]; then echo "hardlink copy"; else echo "hardlink copy auto"; fi ;;
	xfs) if [ "$QUICK" = 1 ]; then echo "clone"; else echo "clone hardlink"; fi ;;
	btrfs) echo "clone" ;;
	esac
}

# the scale series runs on the loop ext4, else on ext4-host
SCALE_FS=
if [ "$SCALE" = 1 ]; then
	for f in ext4 ext4-host; do
		if [[ " $FSLIST " == *" $f "* ]]; then SCALE_FS=$f; break; fi
	done
	[ -n "$SCALE_FS" ] || echo "bench: note: scale series needs ext4 in --fs; skipped"
fi

START_EPOCH=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
TMP=$WORK/tmp
RUNLOG=$TMP/runs-$STAMP.jsonl

# ---- build the helpers ---------------------------------------------------------

CC=${CC:-cc}
CFLAGS_BENCH="-std=c11 -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -pthread"
mkdir -p "$BB"
for prog in gentree baselines rss treestat; do
	if [ ! -x "$BB/$prog" ] || [ "$ROOT/bench/$prog.c" -nt "$BB/$prog" ]; then
		# shellcheck disable=SC2086
		$CC $CFLAGS_BENCH -o "$BB/$prog" "$ROOT/bench/$prog.c" -lm ||
			die "building $BB/$prog failed"
	fi
done

mkdir -p "$WORK/data" "$TMP/run" "$RESULTS"

# spoke: a snapshot of the binary, so a rebuild during the run changes nothing
HAVE_SPOKE=1
SPOKE_SHA=none
if [ ! -x "$SPOKE" ]; then
	HAVE_SPOKE=0
	echo "bench: $SPOKE not found (run make): spoke rows pending"
else
	cp "$SPOKE" "$TMP/spoke-$STAMP" || die "cannot copy $SPOKE"
	SPOKE=$TMP/spoke-$STAMP
	SPOKE_SHA=$(sha256sum "$SPOKE" | cut -c1-16)
fi

# ---- cleanup ---------------------------------------------------------------------

MOUNTS=()   # mount points we made
LOOPS=()    # loop devices we attached
IMAGES=()   # image files we created
cleanup() {
	local m d i
	set +e
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m"
		rmdir "$m"
	done
	for d in "${LOOPS[@]}"; do losetup -d "$d" 2>/dev/null; done
	for i in "${IMAGES[@]}"; do rm -f "$i"; done
	rm -rf "$WORK/ext4-host/"r* 2>/dev/null
	rm -f "$TMP/spoke-$STAMP"
	save_zones 2>/dev/null
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# ---- small helpers -----------------------------------------------------------------

json_str() { # a JSON string literal of $1
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/}
	printf '"%s"' "$s"
}

json_num() { # the number after "key": in JSON text $2, or empty
	local re="\"$1\":(-?[0-9]+(\\.[0-9]+)?)"
	if [[ $2 =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}

json_strval() { # the string after "key": in JSON text $2, or empty
	local re="\"$1\":\"([^\"]*)\""
	if [[ $2 =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}

clean_text() { # first 2000 bytes of file $1 without control characters
	head -c 2000 "$1" | tr -d '\000-\010\013\014\016-\037'
}

# Source trees: generated once per shape; the stamp names the generator's
# source hash, so editing gentree.c regenerates.
GEN_ID=$(sha256sum "$ROOT/bench/gentree.c" | cut -c1-16)
declare -A SRCSTAT   # shape -> treestat JSON of the source (with digest)
ensure_shape() {
	local shape=$1 dir=$WORK/data/$1 stamp=$WORK/data/$1.stamp info st
	if [ -d "$dir" ] && [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "gentree $GEN_ID" ]; then
		SRCSTAT[$shape]=$(sed -n 3p "$stamp")
		return
	fi
	echo "bench: generating $shape in $dir"
	rm -rf "$dir" "$dir.tmp" "$stamp"
	info=$("$BB/gentree" "$shape" "$dir.tmp") || die "gentree $shape failed"
	mv "$dir.tmp" "$dir"
	st=$("$BB/treestat" --content "$dir") || die "treestat $dir failed"
	sync
	printf 'gentree %s\n%s\n%s\n' "$GEN_ID" "$info" "$st" > "$stamp"
	SRCSTAT[$shape]=$st
}

inodes_of() { # shape -> files + dirs
	echo $(($(json_num files "${SRCSTAT[$1]}") + $(json_num dirs "${SRCSTAT[$1]}")))
}

# ---- ext4-host zone steering (see the header) ---------------------------------------

ZONE_INODES=0   # 0: no steering
ZONE_BYTES=0
ZONE_SPAN=1
ZONE_QUIET=400  # > 60 s + 300 s (dirty inode-table block) of ext4's window
PARENT_ZONE=-1
ZONE_STATE=$WORK/ext4-host-zones.state
declare -A ZONE_FREED   # zone -> epoch second of our last delete in it

save_zones() {
	local z
	[ "$ZONE_INODES" != 0 ] || return 0
	for z in "${!ZONE_FREED[@]}"; do echo "$z ${ZONE_FREED[$z]}"; done > "$ZONE_STATE"
}

setup_zones() { # enable steering when the work dir's fs is ext4 without a journal
	local src dev groups inodes bsize z t
	src=$(findmnt -n -o SOURCE -T "$WORK" | head -1)
	dev=${src#/dev/}
	if compgen -G "/proc/fs/jbd2/$dev-*" > /dev/null; then
		return # a journal: the allocator does not skip recent deletes
	fi
	if [ ! -r "/proc/fs/ext4/$dev/mb_groups" ]; then
		echo "bench: note: /proc/fs/ext4/$dev/mb_groups unreadable, no zone steering"
		return
	fi
	groups=$(($(wc -l < "/proc/fs/ext4/$dev/mb_groups") - 1))
	inodes=$(stat -f -c %c "$WORK")
	bsize=$(stat -f -c %S "$WORK")
	[ "$groups" -gt 0 ] || return 0
	ZONE_INODES=$((inodes * 16 / groups)) # mke2fs default: 16 groups per flex group
	ZONE_BYTES=$((16 * 8 * bsize * bsize)) # 16 groups of 8*bsize blocks
	if [ -f "$ZONE_STATE" ]; then
		while read -r z t; do ZONE_FREED[$z]=$t; done < "$ZONE_STATE"
	fi
	echo "bench: ext4-host ($dev) has no journal: steering runs to zones of $ZONE_INODES inodes not freed for ${ZONE_QUIET}s"
}

# fresh_parent BASE STEER: make BASE/rN-K (untimed) and set PARENT; with
# STEER=1 retry new names until it lands in a quiet zone.
RUN_SEQ=0
fresh_parent() {
	local base=$1 steer=$2 p ino zone k=0
	RUN_SEQ=$((RUN_SEQ + 1))
	PARENT_ZONE=-1
	while :; do
		p=$base/r$RUN_SEQ-$k
		mkdir "$p" || die "mkdir $p failed"
		if [ "$steer" != 1 ] || [ "$ZONE_INODES" = 0 ]; then break; fi
		ino=$(stat -c %i "$p")
		zone=$((ino / ZONE_INODES))
		if [ $((EPOCHSECONDS - ${ZONE_FREED[$zone]:-0})) -ge "$ZONE_QUIET" ]; then
			PARENT_ZONE=$zone
			break
		fi
		k=$((k + 1))
		if [ "$k" -ge 64 ]; then
			echo "bench: warning: no quiet ext4-host zone after 64 probes"
			PARENT_ZONE=$zone
			break
		fi
	done
	PARENT=$p
}

# forget_parent BASE NINODES: remove this run's parent and probes (untimed);
# on a steered ext4-host mark the zones the tree occupied.
forget_parent() {
	local base=$1 n=$2 z
	rm -rf "$base/r$RUN_SEQ-"*
	if [ "$PARENT_ZONE" -ge 0 ]; then
		ZONE_SPAN=$((n / ZONE_INODES + 2))
		for ((z = PARENT_ZONE; z < PARENT_ZONE + ZONE_SPAN; z++)); do
			ZONE_FREED[$z]=$EPOCHSECONDS
		done
	fi
}

# settle FS MOUNT: flush, trim (ext4, mounted with discard), pause. On
# ext4-host only the zones just freed are trimmed: a whole fstrim of this
# host's 250 GB root takes 4-11 s every time, as other work frees blocks.
declare -A CAN_TRIM
settle() {
	local fs=$1 mnt=$2 range=()
	sync
	if [[ $fs == ext4* ]] && [ "${CAN_TRIM[$mnt]:-1}" = 1 ] && command -v fstrim >/dev/null; then
		if [ "$fs" = ext4-host ]; then
			[ "$PARENT_ZONE" -ge 0 ] || { sleep "$SETTLE_SLEEP"; return; }
			range=(-o $((PARENT_ZONE * ZONE_BYTES)) -l $((ZONE_SPAN * ZONE_BYTES)))
		fi
		if ! fstrim "${range[@]}" "$mnt" 2> "$TMP/fstrim.err"; then
			echo "bench: note: fstrim $mnt failed ($(clean_text "$TMP/fstrim.err")); not trimming"
			CAN_TRIM[$mnt]=0
		fi
	fi
	sleep "$SETTLE_SLEEP"
}

# ---- one timed run, one cell --------------------------------------------------------

cp_peer_args() { # the cp command line for a mode, empty when none
	case $1 in
	hardlink) echo "cp -al" ;;
	clone) echo "cp -a --reflink=always" ;;
	copy) echo "cp -a" ;;
	*) echo "" ;;
	esac
}

strategies_for() { # mode -> the strategies compared in that mode
	local s="sequential per-wheel"
	if [ "$HAVE_SPOKE" = 1 ]; then s="$s spoke-sync spoke-uring"; fi
	s="$s floor"
	if [ -n "$(cp_peer_args "$1")" ]; then s="$s cp"; fi
	echo "$s"
}

# run_one FS MODE SHAPE STRATEGY RUN SRC BASE MNT SERIES
run_one() {
	local fs=$1 mode=$2 shape=$3 strat=$4 run=$5 src=$6 base=$7 mnt=$8 series=$9
	local -a cmd copt=()
	local dst rc=0 out rssj wall rss secs ok=true err="" check="" want load1 cpu_psi="" k
	fresh_parent "$base" "$([ "$fs" = ext4-host ] && echo 1 || echo 0)"
	dst=$PARENT/dst
	case $strat in
	sequential|per-wheel|floor)
		cmd=("$BB/baselines" "$strat" "$mode" "$JOBS" "$src" "$dst") ;;
	spoke-sync)
		cmd=("$SPOKE" copy-tree --link-mode "$mode" --jobs "$JOBS" --io sync --json "$src" "$dst") ;;
	spoke-uring)
		cmd=("$SPOKE" copy-tree --link-mode "$mode" --jobs "$JOBS" --io uring --json "$src" "$dst") ;;
	cp)
		# shellcheck disable=SC2207
		cmd=($(cp_peer_args "$mode") "$src" "$dst") ;;
	*) die "unknown strategy $strat" ;;
	esac
	[ ! -e "$dst" ] || die "$dst exists before a timed run"
	read -r load1 _ < /proc/loadavg
	if [ -r /proc/pressure/cpu ]; then
		cpu_psi=$(sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu)
	fi

	local p0=$EPOCHREALTIME p1 p2 p3
	"$BB/rss" -t "$TIMEOUT" -o "$TMP/run/rss.json" -- "${cmd[@]}" \
		> "$TMP/run/out" 2> "$TMP/run/err" || rc=$?
	p1=$EPOCHREALTIME
	out=$(clean_text "$TMP/run/out")
	rssj=$(cat "$TMP/run/rss.json" 2>/dev/null || true)
	wall=$(json_num wall "$rssj")
	rss=$(json_num maxrss_kb "$rssj")
	secs=$wall
	if [ "$strat" = floor ]; then secs=$(json_num seconds "$out"); fi

	if [ "$rc" != 0 ] || [ -z "$secs" ]; then
		ok=false
		if [[ $rssj == *'"timeout":true'* ]]; then
			err="timed out after ${TIMEOUT}s"
		else
			err="exit $(json_num exit "$rssj"): $(clean_text "$TMP/run/err")"
		fi
	else
		# the check: counts and bytes every run; on spoke's first run of a
		# cell also every file's content (peers: counts only, as reading
		# cloned trees back through the loop device costs ~10 s each)
		if [ "$run" = 1 ] && [[ $strat == spoke-* ]]; then copt=(--content); fi
		if ! check=$("$BB/treestat" "${copt[@]}" "$dst" 2> "$TMP/run/cerr"); then
			ok=false
			err="check failed: $(clean_text "$TMP/run/cerr")"
			check=""
		else
			want=${SRCSTAT[$shape]}
			for k in files dirs other bytes; do
				if [ "$(json_num "$k" "$check")" != "$(json_num "$k" "$want")" ]; then
					ok=false
					err="check: $k $(json_num "$k" "$check") != source $(json_num "$k" "$want")"
					break
				fi
			done
			if [ "$ok" = true ] && [ "${#copt[@]}" -gt 0 ] &&
			   [ "$(json_strval digest "$check")" != "$(json_strval digest "$want")" ]; then
				ok=false
				err="check: content digest differs from the source"
			fi
		fi
	fi

	p2=$EPOCHREALTIME
	printf '{"series":"%s","fs":"%s","mode":"%s","shape":"%s","strategy":"%s","run":%s,"seconds":%s,"wall":%s,"maxrss_kb":%s,"ok":%s,"error":%s,"load1":%s,"cpu_psi10":%s,"stdout":%s,"check":%s}\n' \
		"$series" "$fs" "$mode" "$shape" "$strat" "$run" "${secs:-null}" "${wall:-null}" \
		"${rss:-null}" "$ok" "$(json_str "$err")" "$load1" "${cpu_psi:-null}" \
		"$(json_str "$out")" "${check:-null}" >> "$RUNLOG"
	if [ "$ok" = true ]; then
		printf '  %-9s %-8s %-12s %-11s run %d/%d  %9.4f s\n' "$fs" "$mode" "$shape" "$strat" "$run" "$RUNS" "$secs"
	else
		printf '  %-9s %-8s %-12s %-11s run %d/%d  FAILED: %s\n' "$fs" "$mode" "$shape" "$strat" "$run" "$RUNS" "$err"
	fi

	# untimed: remove, flush, trim, pause
	forget_parent "$base" "$(inodes_of "$shape")"
	p3=$EPOCHREALTIME
	settle "$fs" "$mnt"
	PH_RUN=$(awk -v a="$PH_RUN" -v x="$p0" -v y="$p1" 'BEGIN { print a + y - x }')
	PH_CHECK=$(awk -v a="$PH_CHECK" -v x="$p1" -v y="$p2" 'BEGIN { print a + y - x }')
	PH_RM=$(awk -v a="$PH_RM" -v x="$p2" -v y="$p3" 'BEGIN { print a + y - x }')
	PH_SETTLE=$(awk -v a="$PH_SETTLE" -v x="$p3" -v y="$EPOCHREALTIME" 'BEGIN { print a + y - x }')
}

# bench_cell FS MODE SHAPE SRC BASE MNT SERIES STRATEGIES...
bench_cell() {
	local fs=$1 mode=$2 shape=$3 src=$4 base=$5 mnt=$6 series=$7
	shift 7
	local strats=("$@") n=$# r i t0=$EPOCHSECONDS
	PH_RUN=0 PH_CHECK=0 PH_RM=0 PH_SETTLE=0
	echo "bench: $fs $mode $shape: ${strats[*]} x $RUNS runs"
	"$BB/treestat" --content "$src" > /dev/null || die "reading $src failed" # warm
	PARENT_ZONE=-1
	for ((r = 1; r <= RUNS; r++)); do
		for ((i = 0; i < n; i++)); do
			run_one "$fs" "$mode" "$shape" "${strats[(i + r - 1) % n]}" "$r" \
				"$src" "$base" "$mnt" "$series"
		done
	done
	printf 'bench: %s %s %s: %d s (commands %.0f s, checks %.0f s, removal %.0f s, sync+trim+sleep %.0f s)\n' \
		"$fs" "$mode" "$shape" $((EPOCHSECONDS - t0)) "$PH_RUN" "$PH_CHECK" "$PH_RM" "$PH_SETTLE"
}

# ---- loop-mounted filesystems -------------------------------------------------------

# mount_loopfs FS SIZE_BYTES NINODES -> sets LOOP_MNT
mount_loopfs() {
	local fs=$1 size=$2 ninodes=$3 img mnt dev opts=()
	img=$WORK/img-$fs.img
	rm -f "$img"
	IMAGES+=("$img")
	truncate -s "$size" "$img" || return 1
	case $fs in
	ext4)
		# -N: room for every source plus destinations; no lazy itable
		# init thread writing behind the runs' backs (noinit_itable)
		mkfs.ext4 -q -F -N "$ninodes" -E lazy_itable_init=1,nodiscard "$img" > "$TMP/mkfs.log" 2>&1 ||
			{ cat "$TMP/mkfs.log" >&2; return 1; }
		opts=(-o "discard,noinit_itable") ;;
	xfs)
		mkfs.xfs -q -f -K -m reflink=1 "$img" > "$TMP/mkfs.log" 2>&1 ||
			{ cat "$TMP/mkfs.log" >&2; return 1; } ;;
	btrfs)
		mkfs.btrfs -q -f -K "$img" > "$TMP/mkfs.log" 2>&1 ||
			{ cat "$TMP/mkfs.log" >&2; return 1; } ;;
	esac
	mnt=$(mktemp -d "${TMPDIR:-/tmp}/spoke-bench-$fs.XXXXXX")
	# direct I/O on the loop device: no second copy of the data in the host's
	# page cache, so the loop fs behaves more like a disk
	dev=$(losetup --find --show --direct-io=on "$img" 2>/dev/null) ||
		dev=$(losetup --find --show "$img") || { rmdir "$mnt"; return 1; }
	LOOPS+=("$dev")
	if ! mount -t "$fs" "${opts[@]}" "$dev" "$mnt"; then
		rmdir "$mnt"
		return 1
	fi
	MOUNTS+=("$mnt")
	LOOP_MNT=$mnt
}

unmount_loopfs() { # MOUNT: undo mount_loopfs
	local mnt=$1 i d
	umount "$mnt"
	for i in "${!MOUNTS[@]}"; do [ "${MOUNTS[$i]}" != "$mnt" ] || unset 'MOUNTS[i]'; done
	rmdir "$mnt"
	for d in "${LOOPS[@]}"; do losetup -d "$d" 2>/dev/null || true; done
	LOOPS=()
	for i in "${IMAGES[@]}"; do rm -f "$i"; done
	IMAGES=()
}

# ---- meta ----------------------------------------------------------------------------------

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
host_mnt=$(findmnt -n -o TARGET -T "$WORK" | head -1)
host_type=$(findmnt -n -o FSTYPE -T "$WORK" | head -1)
host_opts=$(findmnt -n -o OPTIONS -T "$WORK" | head -1)
spoke_version=pending
if [ "$HAVE_SPOKE" = 1 ]; then
	spoke_version=$("$SPOKE" --version 2>/dev/null | head -1 || true)
	: "${spoke_version:=unknown}"
fi
git_rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)
read -r load_start _ < /proc/loadavg

echo "bench: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $JOBS CPUs, kernel $(uname -r), runs $RUNS, shapes: $SHAPES, fs: $FSLIST"
echo "bench: work dir $WORK ($host_type on $host_mnt, $host_opts)"
if awk -v l="$load_start" 'BEGIN { exit !(l > 0.5) }'; then
	echo "bench: warning: load average is $load_start; other work on this machine skews timings"
fi

: > "$RUNLOG"
for shape in $SHAPES; do ensure_shape "$shape"; done
if [ -n "$SCALE_FS" ]; then
	for shape in $SCALE_SHAPES; do ensure_shape "$shape"; done
fi

# the scale series: spoke (and sequential for reference) in hardlink mode on
# 1,000 to 200,000 files; SCALE_RUNS runs each (capped to fit the time budget)
scale_series() { # FS SRCROOT BASE MNT
	local fs=$1 srcroot=$2 base=$3 mnt=$4 shape runs_main=$RUNS
	local -a list=(sequential)
	if [ "$HAVE_SPOKE" = 1 ]; then list=(spoke-sync spoke-uring sequential); fi
	RUNS=$SCALE_RUNS
	for shape in $SCALE_SHAPES; do
		bench_cell "$fs" hardlink "$shape" "$srcroot/$shape" "$base" "$mnt" scale "${list[@]}"
	done
	RUNS=$runs_main
}

for fs in $FSLIST; do
	if [ "$fs" = ext4-host ]; then
		[ "$host_type" = ext4 ] ||
			echo "bench: note: $WORK is on $host_type, not ext4; the ext4-host rows are $host_type"
		setup_zones
		rm -rf "$WORK/ext4-host"
		mkdir -p "$WORK/ext4-host"
		chattr +T "$WORK/ext4-host" 2>/dev/null ||
			echo "bench: note: chattr +T $WORK/ext4-host failed; runs may land near recent deletes"
		for mode in $(modes_for ext4-host); do
			for shape in $SHAPES; do
				# shellcheck disable=SC2046
				bench_cell ext4-host "$mode" "$shape" "$WORK/data/$shape" "$WORK/ext4-host" \
					"$host_mnt" main $(strategies_for "$mode")
			done
		done
		if [ "$SCALE_FS" = ext4-host ]; then
			scale_series ext4-host "$WORK/data" "$WORK/ext4-host" "$host_mnt"
		fi
		save_zones
		continue
	fi
	if ! command -v "mkfs.$fs" >/dev/null; then
		echo "bench: skipped: $fs: mkfs.$fs not installed"
		SKIPPED+=("$fs: mkfs.$fs missing")
		continue
	fi
	# size: the sources, three times the largest as destination room, 2 GiB
	# headroom (sparse, so cheap); inodes likewise
	onfs="$SHAPES"
	if [ "$SCALE_FS" = "$fs" ]; then onfs="$onfs $SCALE_SHAPES"; fi
	total=0 largest=0 inodes=0 ilargest=0
	for shape in $onfs; do
		b=$(json_num bytes "${SRCSTAT[$shape]}")
		n=$(inodes_of "$shape")
		total=$((total + b)); inodes=$((inodes + n))
		[ "$b" -le "$largest" ] || largest=$b
		[ "$n" -le "$ilargest" ] || ilargest=$n
	done
	size=$(( (total + 3 * largest + (2 << 30)) / 1048576 * 1048576 ))
	[ "$size" -ge $((4 << 30)) ] || size=$((4 << 30))
	LOOP_MNT=
	if ! mount_loopfs "$fs" "$size" $((inodes + 3 * ilargest + 100000)); then
		echo "bench: skipped: $fs: could not make or mount a loop filesystem"
		SKIPPED+=("$fs: loop mount failed")
		continue
	fi
	mnt=$LOOP_MNT
	echo "bench: $fs mounted at $mnt ($(findmnt -n -o SOURCE,OPTIONS "$mnt")), $((size >> 20)) MiB sparse image"
	mkdir -p "$mnt/src" "$mnt/out"
	for shape in $onfs; do
		cp -a "$WORK/data/$shape" "$mnt/src/$shape"
		st=$("$BB/treestat" --content "$mnt/src/$shape")
		[ "$(json_strval digest "$st")" = "$(json_strval digest "${SRCSTAT[$shape]}")" ] ||
			die "copy of $shape onto $fs differs from the source"
	done
	PARENT_ZONE=-1
	settle "$fs" "$mnt"
	for mode in $(modes_for "$fs"); do
		for shape in $SHAPES; do
			# shellcheck disable=SC2046
			bench_cell "$fs" "$mode" "$shape" "$mnt/src/$shape" "$mnt/out" "$mnt" \
				main $(strategies_for "$mode")
		done
	done
	if [ "$SCALE_FS" = "$fs" ]; then
		scale_series "$fs" "$mnt/src" "$mnt/out" "$mnt"
	fi
	unmount_loopfs "$mnt"
done

read -r load_end _ < /proc/loadavg
elapsed=$(( $(date +%s) - START_EPOCH ))

# ---- report ----------------------------------------------------------------------------------

META=$TMP/meta-$STAMP.json
{
	printf '{'
	printf '"date":%s,' "$(json_str "$(date -u '+%Y-%m-%d %H:%M:%S UTC')")"
	printf '"command":%s,' "$(json_str "bench/run.sh ${ARGV[*]}")"
	printf '"quick":%s,' "$([ "$QUICK" = 1 ] && echo true || echo false)"
	printf '"runs":%s,"jobs":%s,' "$RUNS" "$JOBS"
	printf '"kernel":%s,' "$(json_str "$(uname -r)")"
	printf '"cpu":%s,"mem_kb":%s,' "$(json_str "$cpu_model")" "${mem_kb:-0}"
	printf '"host_fs":%s,' "$(json_str "$host_type on $host_mnt ($host_opts)")"
	printf '"ext4_mkfs":%s,' "$(json_str "mkfs.ext4 -N <inodes> -E lazy_itable_init=1,nodiscard; mount -o discard,noinit_itable ($(mkfs.ext4 -V 2>&1 | head -1))")"
	printf '"xfs_mkfs":%s,' "$(json_str "mkfs.xfs -K -m reflink=1 ($(mkfs.xfs -V 2>/dev/null | head -1 || true))")"
	printf '"btrfs_mkfs":%s,' "$(json_str "mkfs.btrfs -K ($(mkfs.btrfs --version 2>/dev/null | head -1 || true))")"
	printf '"cp":%s,' "$(json_str "$(cp --version | head -1)")"
	printf '"spoke":%s,"spoke_sha256":"%s","have_spoke":%s,' "$(json_str "$spoke_version")" "$SPOKE_SHA" "$([ "$HAVE_SPOKE" = 1 ] && echo true || echo false)"
	printf '"git":%s,' "$(json_str "$git_rev")"
	printf '"load_start":%s,"load_end":%s,' "$load_start" "$load_end"
	printf '"elapsed_s":%s,' "$elapsed"
	printf '"skipped":['
	sep=
	for s in "${SKIPPED[@]}"; do printf '%s%s' "$sep" "$(json_str "$s")"; sep=,; done
	printf '],'
	printf '"sources":{'
	sep=
	for s in "${!SRCSTAT[@]}"; do printf '%s"%s":%s' "$sep" "$s" "${SRCSTAT[$s]}"; sep=,; done
	printf '}}\n'
} > "$META"

# latest.* (committed) only from the default full run; other selections
# must not replace it
if [ "$QUICK" = 1 ]; then
	name=quick-latest
elif [ "$CUSTOM" = 1 ]; then
	name=custom-latest
else
	name=latest
fi
cp "$RUNLOG" "$RESULTS/runs-$STAMP.jsonl"
python3 "$ROOT/bench/report.py" --meta "$META" --runs "$RUNLOG" \
	--out "$RESULTS/run-$STAMP.json" --summary "$RESULTS/$name.json" \
	--png "$RESULTS/$name.png" --markdown "$RESULTS/$name.md"
echo "bench: done in ${elapsed}s; results in $RESULTS/$name.json, $RESULTS/$name.png, $RESULTS/$name.md"
