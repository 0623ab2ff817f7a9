#!/bin/bash
# The request loop (loop.c, init.c): a request that blocks in SOURCE does
# not hold up the others, not even lookups in the same directory.  A store
# path of SOURCE is a second view whose daemon is stopped, so that any
# request reaching into it blocks until the daemon goes on.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
case ${STOREVIEW_WRAPPER:-} in
*valgrind*)
	sv_skip "under valgrind a thread blocked in a stat of SOURCE keeps valgrind's lock, and no other thread runs" ;;
esac
sv_tmpdir

src=$SV_TMP/store inner=$SV_TMP/inner
S=ssssssssssssssssssssssssssssssss-slow-1.0
F=ffffffffffffffffffffffffffffffff-fast-1.0
mkdir -p "$src/$S" "$src/$F/share" "$inner"
for i in $(seq 1 20); do printf 'inner %s\n' "$i" >"$inner/file$i"; done
for i in $(seq 1 200); do printf 'fast %s\n' "$i" >"$src/$F/share/f$i"; done
chmod -R a-w "$src" "$inner"
mkdir "$SV_TMP/view" "$SV_TMP/view1" "$SV_TMP/view2"

# timeout=0: every stat of its root asks its daemon.
sv_mount "$inner" "$src/$S" -o timeout=0
INNER=$SV_DAEMON
SV_UNDO+=("kill -CONT $INNER 2>/dev/null")

# block_a_read VIEW N: stops the inner daemon and leaves nobody's read of
# its file N through VIEW blocked in the view's daemon, as SLOW.
block_a_read() {
	local view=$1 n=$2 i
	kill -STOP "$INNER"
	as_nobody cat "$view/$S/file$n" >"$SV_TMP/slow.out" &
	SLOW=$!
	SV_PIDS+=("$SLOW")
	for ((i = 0; i < SV_WAIT_TENTHS * 2; i++)); do
		grep -qx request_wait_answer /proc/"$SV_DAEMON"/task/*/wchan 2>/dev/null && return 0
		sleep 0.05
	done
	sv_fail "reading through the stopped view on $view did not block: the test proves nothing"
}

# unblock N: lets the inner daemon go on; the blocked read must end right.
unblock() {
	kill -CONT "$INNER"
	sv_wait_exit "$SLOW" 10
	{ [ "$SV_STATUS" = 0 ] && [ "$(cat "$SV_TMP/slow.out")" = "inner $1" ]; } ||
		sv_fail "the read blocked in SOURCE ended with status $SV_STATUS: $(cat "$SV_TMP/slow.out")"
}

# Reads every fast file through VIEW, as nobody, within SECONDS; false if
# that takes longer or a file reads wrong.
read_fast_files() {
	local view=$1 seconds=$2
	# shellcheck disable=SC2016 # expanded by the inner sh
	timeout "$seconds" "${SV_NOBODY[@]}" sh -c '
		for i in $(seq 1 200); do
			[ "$(cat "$1/f$i")" = "fast $i" ] || exit 1
		done' sh "$view/$F/share"
}

# Both store paths looked up first: the read blocks below the top level.
sv_mount "$src" "$SV_TMP/view" -o uid=65534,gid=65534,allow_other
as_nobody stat "$SV_TMP/view/$S" "$SV_TMP/view/$F" >/dev/null
block_a_read "$SV_TMP/view" 1
read_fast_files "$SV_TMP/view" 20 ||
	sv_fail "200 files could not be read in 20 s while one request was blocked in SOURCE"
kill -0 "$SLOW" 2>/dev/null || sv_fail "the blocked read ended while SOURCE's daemon was stopped"
unblock 1
sv_pass "200 files read while a request was blocked in SOURCE, which then read right"
sv_unmount "$SV_TMP/view"

# The lookup of the stopped store path blocks in the top level, where the
# fast one must still be looked up: without FUSE_PARALLEL_DIROPS (init.c)
# the kernel would hold that lookup back.
sv_mount "$src" "$SV_TMP/view2" -o uid=65534,gid=65534,allow_other
block_a_read "$SV_TMP/view2" 3
read_fast_files "$SV_TMP/view2" 20 ||
	sv_fail "a store path could not be looked up in 20 s while a lookup was blocked beside it"
unblock 3
sv_pass "200 files of a store path read while a lookup beside it was blocked"
sv_unmount "$SV_TMP/view2"

# With one request thread a blocked request holds up the rest: what the
# tests above saw was the loop's doing, not the kernel's.
sv_mount "$src" "$SV_TMP/view1" -o uid=65534,gid=65534,allow_other,max_threads=1
as_nobody stat "$SV_TMP/view1/$S" "$SV_TMP/view1/$F" >/dev/null
block_a_read "$SV_TMP/view1" 2
if read_fast_files "$SV_TMP/view1" 2; then
	sv_fail "with max_threads=1 files were read while the one thread was blocked"
fi
unblock 2
read_fast_files "$SV_TMP/view1" 20 || sv_fail "with max_threads=1 files could not be read once SOURCE went on"
sv_pass "with max_threads=1 a request blocked in SOURCE holds up the others until it ends"
sv_unmount "$SV_TMP/view1"
sv_unmount "$src/$S"
