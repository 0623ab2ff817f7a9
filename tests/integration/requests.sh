#!/bin/bash
# The request loop (loop.c): a request that blocks in SOURCE does not hold
# up the others.  A store
# path of SOURCE is a second view whose daemon is stopped, so that any
# request reaching into it blocks until the daemon goes on.  Both store
# paths are looked up first: libfuse 3.14 does not ask for parallel
# directory operations, so the kernel lets one lookup at a time into a
# directory, and a lookup blocked in the top level would hold up every
# other lookup there, whatever the threads.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store inner=$SV_TMP/inner
S=ssssssssssssssssssssssssssssssss-slow-1.0
F=ffffffffffffffffffffffffffffffff-fast-1.0
mkdir -p "$src/$S" "$src/$F/share" "$inner"
for i in $(seq 1 20); do printf 'inner %s\n' "$i" >"$inner/file$i"; done
for i in $(seq 1 200); do printf 'fast %s\n' "$i" >"$src/$F/share/f$i"; done
chmod -R a-w "$src" "$inner"
mkdir "$SV_TMP/view" "$SV_TMP/view1"

sv_mount "$inner" "$src/$S"
INNER=$SV_DAEMON
SV_UNDO+=("kill -CONT $INNER 2>/dev/null")

# blocked_in_source VIEW_PID: true once a thread of the view waits for an
# answer from the stopped daemon.
blocked_in_source() {
	local i
	for ((i = 0; i < SV_WAIT_TENTHS * 2; i++)); do
		grep -qx request_wait_answer /proc/"$1"/task/*/wchan 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# Reads every fast file through VIEW, as nobody, within SECONDS; false if
# that takes longer or a file reads wrong.
read_fast_files() {
	local view=$1 seconds=$2
	timeout "$seconds" "${SV_NOBODY[@]}" sh -c '
		for i in $(seq 1 200); do
			[ "$(cat "$1/f$i")" = "fast $i" ] || exit 1
		done' sh "$view/$F/share"
}

sv_mount "$src" "$SV_TMP/view" -o uid=65534,gid=65534,allow_other
VIEW=$SV_DAEMON
as_nobody stat "$SV_TMP/view/$S" "$SV_TMP/view/$F" >/dev/null
kill -STOP "$INNER"
as_nobody cat "$SV_TMP/view/$S/file1" >"$SV_TMP/slow.out" &
SLOW=$!
SV_PIDS+=("$SLOW")
blocked_in_source "$VIEW" || sv_fail "reading through the stopped view did not block: the test proves nothing"
read_fast_files "$SV_TMP/view" 20 ||
	sv_fail "200 files could not be read in 20 s while one request was blocked in SOURCE"
kill -0 "$SLOW" 2>/dev/null || sv_fail "the blocked read ended while SOURCE's daemon was stopped"
kill -CONT "$INNER"
sv_wait_exit "$SLOW" 10
[ "$SV_STATUS" = 0 ] && [ "$(cat "$SV_TMP/slow.out")" = "inner 1" ] ||
	sv_fail "the read blocked in SOURCE ended with status $SV_STATUS: $(cat "$SV_TMP/slow.out")"
sv_pass "200 files read while a request was blocked in SOURCE, which then read right"

sv_unmount "$SV_TMP/view"

# With one request thread a blocked request holds up the rest: what the
# first test saw was the loop's doing, not the kernel's.
sv_mount "$src" "$SV_TMP/view1" -o uid=65534,gid=65534,allow_other,max_threads=1
VIEW=$SV_DAEMON
as_nobody stat "$SV_TMP/view1/$S" "$SV_TMP/view1/$F" >/dev/null
kill -STOP "$INNER"
as_nobody cat "$SV_TMP/view1/$S/file2" >"$SV_TMP/slow.out" &
SLOW=$!
SV_PIDS+=("$SLOW")
blocked_in_source "$VIEW" || sv_fail "reading through the stopped view did not block with max_threads=1"
if read_fast_files "$SV_TMP/view1" 2; then
	sv_fail "with max_threads=1 files were read while the one thread was blocked"
fi
kill -CONT "$INNER"
sv_wait_exit "$SLOW" 10
[ "$SV_STATUS" = 0 ] && [ "$(cat "$SV_TMP/slow.out")" = "inner 2" ] ||
	sv_fail "the read blocked in SOURCE ended with status $SV_STATUS: $(cat "$SV_TMP/slow.out")"
read_fast_files "$SV_TMP/view1" 20 || sv_fail "with max_threads=1 files could not be read once SOURCE went on"
sv_pass "with max_threads=1 a request blocked in SOURCE holds up the others until it ends"
sv_unmount "$SV_TMP/view1"
sv_unmount "$src/$S"
