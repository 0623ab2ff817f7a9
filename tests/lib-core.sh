# shellcheck shell=bash
# The helpers every shell program under tests/ shares: the tests (through
# lib.sh), the VM test and the benchmark.  Sourced, never run.  It sets no
# option, no trap and needs no variable: each program keeps its own way out.

# Polling bounds, in tenths of a second.
SV_WAIT_TENTHS=50

# How a test ends on purpose; SV_ENDED tells that end from a command that
# failed under set -e.  Exit status follows automake: 0 pass, 77 skip,
# 99 hard error, anything else fail.
SV_ENDED=
sv_skip() { SV_ENDED=yes; echo "SKIP: $*"; exit 77; }
sv_fail() { SV_ENDED=yes; echo "FAIL: $*" >&2; exit 1; }
sv_error() { SV_ENDED=yes; echo "ERROR: $*" >&2; exit 99; }
sv_pass() { echo "ok: $*"; }

# sv_ended_early STATUS COMMAND: for an EXIT trap, given $? and
# $BASH_COMMAND: says where a command that failed outside any check ended
# the program.
sv_ended_early() {
	[ "$1" -eq 0 ] || [ -n "$SV_ENDED" ] ||
		echo "FAIL: the test stopped early, status $1, at: $2" >&2
}

# The unprivileged user, as a command prefix for programs that run others.
SV_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
as_nobody() { "${SV_NOBODY[@]}" "$@"; }

# A command prefix under which the daemons of sv_mount, and the checks that
# their views are up, run: empty but for the tests without root.
SV_AS=()

# sv_gone_within PID TENTHS: true once PID has ended, false if it still runs
# TENTHS tenths of a second later.
sv_gone_within() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# sv_running PID...: whether any PID still runs.
sv_running() {
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}

# sv_stop TENTHS PID...: SIGTERM to each PID, SIGKILL to those still running
# TENTHS tenths of a second later; reaps those that are this shell's children.
sv_stop() {
	local tenths=$1 i p
	shift
	[ $# -gt 0 ] || return 0
	kill "$@" 2>/dev/null || true
	for ((i = 0; i < tenths; i++)); do
		sv_running "$@" || break
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null || true
	for p in "$@"; do
		wait "$p" 2>/dev/null || true
	done
}

# What sv_release stops and unmounts: processes, readers before daemons,
# and the mountpoints of those daemons.
SV_PIDS=()
SV_MOUNTS=()

# sv_release: stops every process of SV_PIDS (SIGTERM makes a daemon
# unmount its view; what ignores it for SV_WAIT_TENTHS tenths of a second
# is killed), then unmounts what is still mounted of SV_MOUNTS.
sv_release() {
	local m
	sv_stop "$SV_WAIT_TENTHS" "${SV_PIDS[@]}"
	for m in "${SV_MOUNTS[@]}"; do
		if grep -qs " $m " /proc/self/mounts; then
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		fi
	done
}

# sv_wait_mounted MOUNTPOINT PID: waits, SV_WAIT_TENTHS tenths of a second at
# most, until a live FUSE filesystem is mounted on MOUNTPOINT; false if the
# daemon PID ended first or the time ran out.  A dead view already there
# must not pass for the new one, nor the bare directory between the two:
# one statfs must reach a live FUSE mount.
sv_wait_mounted() {
	local i
	for ((i = 0; i < SV_WAIT_TENTHS * 2; i++)); do
		if grep -qs " $1 fuse" /proc/self/mounts &&
		   [ "$("${SV_AS[@]}" stat -f -c %t "$1" 2>/dev/null)" = 65735546 ]; then
			return 0
		fi
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# sv_stats PID LOG: asks the daemon for its counters (SIGUSR1) and prints
# the fresh "stats:" line from LOG.
sv_stats() {
	local pid=$1 log=$2 before n
	before=$(grep -c 'stats:' "$log" || true)
	kill -USR1 "$pid"
	for _ in $(seq "$SV_WAIT_TENTHS"); do
		n=$(grep -c 'stats:' "$log" || true)
		[ "$n" -gt "$before" ] && break
		sleep 0.1
	done
	[ "$n" -gt "$before" ] || sv_fail "daemon $pid did not log its counters"
	grep 'stats:' "$log" | tail -1
}

# sv_stat_field FIELD STATS-LINE: one counter of a stats line.
sv_stat_field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
