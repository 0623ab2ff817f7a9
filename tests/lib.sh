# shellcheck shell=bash
# Shared helpers for the tests that mount: sourced, never run.  Adds to
# lib-core.sh (skip, fail, waiting, stopping, counters) set -e, a scratch
# directory and the cleanup on exit.
#
# Every mount made through sv_mount is unmounted, and every daemon killed,
# when the test exits, fails or is interrupted.
#
# STOREVIEW_WRAPPER, if set, is a command line the daemon runs under (e.g.
# valgrind), in which @REPORTS@ names the directory the reports go to.  A report of ASan, UBSan or valgrind about the daemon fails the
# test that started it, whichever way the test ends.

set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib-core.sh"

: "${STOREVIEW:?STOREVIEW must name the storeview binary}"
: "${SVPROBE:?SVPROBE must name the svprobe helper}"

SV_TRACERS=()
SV_REMOVE=()	# files the test put outside $SV_TMP
SV_UNDO=()	# commands that undo the test's changes to the machine, run first
declare -A SV_DAEMON_OF	# mountpoint -> pid of the daemon sv_mount started
SV_TMP=
read -ra SV_WRAPPER <<<"${STOREVIEW_WRAPPER:-}"
# A wrapped daemon starts and stops slowly.
[ ${#SV_WRAPPER[@]} -eq 0 ] || SV_WAIT_TENTHS=300

sv_require_fuse() {
	[ "$(id -u)" = 0 ] || sv_skip "needs root to mount (/dev/fuse is root-only here)"
	[ -c /dev/fuse ] || sv_skip "no /dev/fuse"
	command -v setpriv >/dev/null || sv_skip "needs setpriv (util-linux)"
}

# Prints the sanitizer and valgrind reports about the daemons; false if any.
sv_daemon_reports_clean() {
	local f clean=0

	for f in "$SV_TMP"/reports/*; do
		[ -s "$f" ] || continue
		case $f in
		*/valgrind.*)
			# Only a finished run has a summary; a killed daemon has none.
			grep -q 'ERROR SUMMARY: [1-9]' "$f" || continue ;;
		esac
		echo "daemon report $f:" >&2
		cat "$f" >&2
		clean=1
	done
	return $clean
}

sv_cleanup() {
	local status=$? m p f u
	sv_ended_early "$status" "$BASH_COMMAND"
	for u in "${SV_UNDO[@]}"; do
		eval "$u" || true
	done
	# A traced daemon cannot exit until its tracer lets go.
	for p in "${SV_TRACERS[@]}"; do
		if kill "$p" 2>/dev/null; then
			wait "$p" 2>/dev/null || true
		fi
	done
	sv_release
	# Mounts made by others (mount(8), storeview exec) under the scratch dir.
	if [ -n "$SV_TMP" ]; then
		awk -v t="$SV_TMP/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts |
			while read -r m; do umount -l "$m" 2>/dev/null || true; done
	fi
	for f in "${SV_REMOVE[@]}"; do
		rm -f "$f"
	done
	if [ -n "$SV_TMP" ]; then
		if ! sv_daemon_reports_clean; then
			echo "FAIL: the daemon's sanitizer or valgrind reports above" >&2
			[ "$status" != 0 ] || status=1
		fi
		rm -rf "$SV_TMP"
	fi
	exit "$status"
}
trap sv_cleanup EXIT
trap 'exit 130' INT TERM

# A scratch directory that the unprivileged user can traverse, with a copy
# of svprobe it can run wherever the build tree lives.
sv_tmpdir() {
	SV_TMP=$(mktemp -d /tmp/storeview-test.XXXXXX)
	chmod 755 "$SV_TMP"
	mkdir "$SV_TMP/reports"
	install -m 755 "$SVPROBE" "$SV_TMP/svprobe"
	# shellcheck disable=SC2034 # for the tests that source this file
	PROBE="$SV_TMP/svprobe"
}

# Without root: an ordinary user of the test's own, and /dev/fuse with the
# mode distributions give it (0666), both only inside a private mount
# namespace the test re-runs itself in.  The machine's /dev/fuse and
# /etc/passwd stay as they are; views mount through the setuid fusermount3.
# sv_require_unprivileged_fuse: first thing in such a test.
sv_require_unprivileged_fuse() {
	local c
	[ "$(id -u)" = 0 ] || sv_skip "needs root to make a user and a private mount namespace"
	[ -c /dev/fuse ] || sv_skip "no /dev/fuse"
	for c in unshare setpriv fusermount3 pgrep; do
		command -v "$c" >/dev/null || sv_skip "needs $c"
	done
	[ -u "$(command -v fusermount3)" ] || sv_skip "fusermount3 is not setuid root"
	if [ -z "${SV_PRIVATE_NS:-}" ]; then
		SV_PRIVATE_NS=1 exec unshare --mount --propagation private -- "$BASH" "$0"
	fi
}

# sv_make_user: after sv_tmpdir, in the private namespace: binds a 0666
# node over /dev/fuse and adds a user (name $SV_USER_NAME, uid and gid
# $SV_UID, unused on this machine) with a home and a $XDG_RUNTIME_DIR
# under $SV_TMP.  as_user runs a command as that user; every process of
# the user is stopped when the test ends.
sv_make_user() {
	local uid home
	mknod -m 666 "$SV_TMP/fuse" c 10 229
	mount --bind "$SV_TMP/fuse" /dev/fuse
	for uid in $(shuf -i 40000-49999 -n 50); do
		getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null ||
			pgrep -U "$uid" >/dev/null || break
	done
	SV_UID=$uid SV_USER_NAME=svtest$uid home=$SV_TMP/home
	cp /etc/passwd "$SV_TMP/passwd"
	cp /etc/group "$SV_TMP/group"
	echo "$SV_USER_NAME:x:$uid:$uid:storeview test user:$home:/bin/sh" >>"$SV_TMP/passwd"
	echo "$SV_USER_NAME:x:$uid:" >>"$SV_TMP/group"
	mount --bind "$SV_TMP/passwd" /etc/passwd
	mount --bind "$SV_TMP/group" /etc/group
	SV_UNDO+=("sv_stop_user_processes")
	install -d -m 700 -o "$uid" -g "$uid" "$home" "$home/run"
	# The daemon's sanitizer reports, if any, are written as the user.
	chmod 1777 "$SV_TMP/reports"
	SV_USER=(setpriv --reuid="$uid" --regid="$uid" --init-groups -- env HOME="$home"
		USER="$SV_USER_NAME" LOGNAME="$SV_USER_NAME" XDG_RUNTIME_DIR="$home/run")
	# shellcheck disable=SC2034 # for the tests that source this file
	SV_USER_HOME=$home SV_USER_RUNTIME=$home/run
}
as_user() { "${SV_USER[@]}" "$@"; }

# Stops every process of the test's user (a daemon unmounts its view).
sv_stop_user_processes() {
	local pids
	mapfile -t pids < <(pgrep -U "$SV_UID")
	sv_stop "$SV_WAIT_TENTHS" "${pids[@]}"
}

# sv_wait_exit PID SECONDS: waits for a background job of this shell to end,
# at most SECONDS, and sets SV_STATUS to its exit status.
sv_wait_exit() {
	local pid=$1 status=0
	sv_gone_within "$pid" $(($2 * 10)) || sv_fail "process $pid still running after $2 s"
	wait "$pid" || status=$?
	# shellcheck disable=SC2034 # for the tests that source this file
	SV_STATUS=$status
}

# sv_wait_for FILE SECONDS: waits until FILE exists and is not empty.
sv_wait_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	sv_fail "$1 did not appear within $2 s"
}

# sv_hold_dir NAME DIR LEVELS FILE: a client holds the directory LEVELS
# levels of "d" below DIR (svprobe hold-dir) until sv_release_dir NAME,
# which sets SV_RELEASED to what it then saw, on one line.
sv_hold_dir() {
	local name=$1 fd
	mkfifo "$SV_TMP/$name.in"
	"$PROBE" hold-dir "$2" "$3" "$4" <"$SV_TMP/$name.in" >"$SV_TMP/$name.out" &
	eval "SV_HELD_PID_$name=$!"
	exec {fd}>"$SV_TMP/$name.in"
	eval "SV_HELD_FD_$name=$fd"
	sv_wait_for "$SV_TMP/$name.out" 120
	grep -q '^held ' "$SV_TMP/$name.out" || sv_fail "$name: $(cat "$SV_TMP/$name.out")"
}
sv_release_dir() {
	local fd pid
	eval "fd=\$SV_HELD_FD_$1 pid=\$SV_HELD_PID_$1"
	exec {fd}>&-
	wait "$pid" || sv_fail "$1: hold-dir failed: $(cat "$SV_TMP/$1.out")"
	# shellcheck disable=SC2034 # for the tests that source this file
	SV_RELEASED=$(sed 1d "$SV_TMP/$1.out" | tr '\n' ' ')
}

# sv_alive DIR WHAT: after WHAT, the daemon of the view DIR is in (started
# by sv_mount) is up and answers within a second a lookup under DIR that no
# cache can answer.
SV_ALIVE_PROBES=0
sv_alive() {
	local out mnt pid=
	SV_ALIVE_PROBES=$((SV_ALIVE_PROBES + 1))
	for mnt in "${!SV_DAEMON_OF[@]}"; do
		[[ $1/ != "$mnt"/* ]] || pid=${SV_DAEMON_OF[$mnt]}
	done
	[ -n "$pid" ] || sv_fail "sv_alive: no view started by sv_mount holds $1"
	kill -0 "$pid" 2>/dev/null || sv_fail "the daemon died after $2"
	out=$(timeout 1 stat "$1/absent-$SV_ALIVE_PROBES" 2>&1) &&
		sv_fail "$1/absent-$SV_ALIVE_PROBES exists"
	case $out in
	*"No such file or directory"*) ;;
	*) sv_fail "the daemon did not answer within a second after $2: $out" ;;
	esac
}

sv_is_mounted() { grep -qs " $1 fuse.storeview " /proc/self/mounts; }

# sv_mount SOURCE MOUNTPOINT [storeview options...]: runs the daemon in the
# foreground, logging to $SV_LOG, and returns once the view is up.
sv_mount() {
	local source=$1 mnt=$2
	shift 2
	local wrap=("${SV_WRAPPER[@]//@REPORTS@/$SV_TMP/reports}")
	SV_MOUNTS+=("$mnt")
	SV_LOG=$SV_TMP/daemon.$(basename "$mnt").log
	# Background jobs start with SIGINT ignored; a daemon started by hand has it.
	# Sanitizer reports go to files the cleanup checks (an unsanitized build ignores these).
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SV_TMP/reports/asan" \
	UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$SV_TMP/reports/ubsan" \
		"${SV_AS[@]}" env --default-signal=INT "${wrap[@]}" "$STOREVIEW" -f "$@" "$source" "$mnt" 2>>"$SV_LOG" &
	SV_DAEMON=$!
	SV_DAEMON_OF[$mnt]=$SV_DAEMON
	SV_PIDS+=("$SV_DAEMON")
	# A dead view already there (recover_stale) does not pass for the new one.
	if ! sv_wait_mounted "$mnt" "$SV_DAEMON" || ! sv_is_mounted "$mnt"; then
		cat "$SV_LOG" >&2
		sv_fail "storeview did not mount $source on $mnt"
	fi
	# As root the daemon always works on a private noatime clone of SOURCE.
	if [ "$(id -u)" = 0 ] && [ ${#SV_WRAPPER[@]} -eq 0 ] &&
	   grep -q 'cannot lock SOURCE down' "$SV_LOG"; then
		sv_fail "$(cat "$SV_LOG")"
	fi
}

# sv_adopt_daemon MOUNTPOINT: finds the detached daemon serving MOUNTPOINT
# (started by mount(8) or without -f), sets SV_DAEMON and kills it on exit.
sv_adopt_daemon() {
	local f pid
	SV_MOUNTS+=("$1")
	SV_DAEMON=
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = storeview ] || continue
		if tr '\0' '\n' <"$f" 2>/dev/null | grep -xF -- "$1" >/dev/null; then
			SV_DAEMON=$pid
			SV_PIDS+=("$pid")
			return 0
		fi
	done
	sv_fail "no daemon found serving $1"
}

# sv_wait_gone PID SECONDS: waits for a process that is not our child to end.
sv_wait_gone() {
	sv_gone_within "$1" $(($2 * 10)) || sv_fail "process $1 still running after $2 s"
}

# sv_comparable_times LOG FILE: FILE, an "svprobe times" listing, without its
# atimes when the daemon logging to LOG could not lock SOURCE down in a
# noatime clone, which only a wrapper lacking open_tree (valgrind 3.19) allows.
sv_comparable_times() {
	if grep -q 'cannot lock SOURCE down' "$1"; then
		echo "atimes not compared: the daemon under '$STOREVIEW_WRAPPER' has no open_tree" >&2
		sed 's/ atime=[^ ]*//' "$2"
	else
		cat "$2"
	fi
}

# sv_unmount MOUNTPOINT: unmounts and waits for the daemon to exit cleanly.
sv_unmount() {
	umount "$1"
	wait "${SV_DAEMON_OF[$1]}" || sv_fail "storeview exited with status $? after unmount"
}

# Root-owned, read-only store fixture covering what the view must keep.
sv_make_store() {
	local s=$1
	mkdir -p "$s"
	local e="$s/0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12"
	mkdir -p "$e/bin" "$e/share/doc/deep/er/still" "$e/empty-dir" "$e/lib"
	printf '#!/bin/sh\necho hello\n' >"$e/bin/hello"
	chmod 555 "$e/bin/hello"
	printf 'readme\n' >"$e/share/doc/README"
	printf 'deep\n' >"$e/share/doc/deep/er/still/file"
	: >"$e/share/empty-file"
	head -c 4194304 /dev/urandom >"$e/lib/big.bin"
	ln "$e/share/doc/README" "$e/share/doc/README.hardlink"
	ln -s ../share/doc/README "$e/lib/relative-link"
	ln -s /etc/hostname "$e/lib/absolute-outside"
	ln -s ../../../outside-canary "$e/lib/dotdot-outside"
	setfattr -n user.storeview.test -v "some value" "$e/share/doc/README"
	printf 'only root\n' >"$e/share/secret"
	chmod 400 "$e/share/secret"
	printf 'newline\n' >"$e/share/name with
newline"
	local f="$s/3x4d0kd7n0h3wjvh1g43r6w9z9nls0vz-lib-1.0"
	mkdir -p "$f/lib"
	for i in $(seq 1 50); do printf 'file %s\n' "$i" >"$f/lib/f$i"; done
	ln -s ../../0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12/bin/hello "$f/lib/cross-entry"
	find "$s" -type f ! -perm -u+x ! -name secret -exec chmod 444 {} +
	find "$s" -type d -exec chmod 555 {} +
	chown -R root:root "$s"
}

# sv_trace_start PID LOG: traces every path-taking syscall of the running
# daemon PID (all its threads) into LOG; returns once all threads are traced.
sv_trace_start() {
	local pid=$1 log=$2 t
	command -v strace >/dev/null || sv_skip "needs strace"
	strace -f -qq -s 65535 -e trace=%file -o "$log" -p "$pid" 2>"$log.err" &
	SV_TRACER=$!
	SV_TRACERS+=("$SV_TRACER")
	for _ in $(seq "$SV_WAIT_TENTHS"); do
		t=$(grep -h '^TracerPid:' /proc/"$pid"/task/*/status | grep -c $'\t0$' || true)
		[ "$t" = 0 ] && return 0
		sleep 0.1
	done
	sv_fail "strace did not attach to $pid: $(cat "$log.err")"
}

sv_trace_stop() {
	kill "$SV_TRACER"
	wait "$SV_TRACER" || true
}

# sv_trace_check LOG: prints every traced call that names a path other than
# one component relative to a directory fd, or a path the daemon is known to
# use (/dev/fuse for a new thread's channel, /proc/sys/fs/pipe-max-size for
# its splice pipe, /proc/PID/task/TID/status for a caller's groups,
# /proc/self/fd/N[/NAME] for xattrs, /proc/sys/vm/overcommit_memory that
# glibc's malloc reads once when a thread's heap shrinks).  cachestat(2),
# which Debian 12's strace shows as syscall_0x1c3, takes an fd, not a
# path.  False if any.
sv_trace_check() {
	perl -ne '
		next if /^\d+\s+(\+\+\+|---)/ || /resumed>/;
		next unless /^\d+\s+(\w+)\((.*)$/;
		my ($call, $args) = ($1, $2);
		next if $call eq "syscall_0x1c3";
		my $str = qr/"((?:[^"\\]|\\.)*)"/;
		if ($args =~ /^\d+, $str/) {
			next if $1 !~ m{/} && $1 ne "..";
		} elsif ($args =~ /^(?:AT_FDCWD, )?$str/) {
			my $p = $1;
			next if $p eq "/dev/fuse" || $p eq "/proc/sys/fs/pipe-max-size" ||
				$p eq "/proc/sys/vm/overcommit_memory";
			next if $p =~ m{^/proc/\d+/task/\d+/status$};
			next if $p =~ m{^/proc/self/fd/\d+(/[^/]+)?$} && $p !~ m{/\.\.$};
		}
		print "outside one component: $_";
		$bad++;
		END { exit($bad ? 1 : 0) }' "$1"
}

# sv_wait_stat PID LOG FIELD MIN: asks the daemon for its counters until
# FIELD reaches MIN, SV_WAIT_TENTHS tenths of a second at most; prints the
# last value read.
sv_wait_stat() {
	local value
	for _ in $(seq "$SV_WAIT_TENTHS"); do
		value=$(sv_stat_field "$3" "$(sv_stats "$1" "$2")")
		[ "$value" -ge "$4" ] && break
		sleep 0.1
	done
	echo "$value"
}
