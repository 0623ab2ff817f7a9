#!/bin/bash
# What a client holds once the view no longer shows it, and what the
# kernel's node ids tell: node ids are small counted numbers, not the
# daemon's addresses.  Each case has its expected answer, and after each
# the daemon answers another client within a second.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

# SOURCE and a directory outside it on one tmpfs, so that a rename can
# move a directory out of SOURCE.
src=$SV_TMP/fs/store outside=$SV_TMP/fs/outside mnt=$SV_TMP/view
mkdir "$SV_TMP/fs" "$mnt"
mount -t tmpfs -o size=64m,mode=755 tmpfs "$SV_TMP/fs"
SV_MOUNTS+=("$SV_TMP/fs")
mkdir "$src" "$outside"
other=$src/oooooooooooooooooooooooooooooooo-other
mkdir -p "$other/dir" "$other/deep/dir"
echo deep >"$other/deep/dir/file"
for i in 1 2 3; do echo "$i" >"$other/dir/file$i"; done
revoked=$src/rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr-revoked
mkdir -p "$revoked/sub"
echo revoked >"$revoked/sub/file"
echo revoked >"$revoked/sub/handle"
moved=$src/mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm-moved
mkdir -p "$moved/dir"
echo moved >"$moved/dir/file"
closure=$SV_TMP/closure
printf '%s\n' "${other##*/}" "${revoked##*/}" "${moved##*/}" >"$closure"
sv_mount "$src" "$mnt" -o allow_other,closure="$closure"
daemon=$SV_DAEMON
v_other=$mnt/${other##*/} v_revoked=$mnt/${revoked##*/} v_moved=$mnt/${moved##*/}
cases=0
case_ok() { cases=$((cases + 1)); sv_pass "$*"; }


# reload ENTRY...: the closure becomes these entries, and the daemon has
# re-read it once SIGHUP's reload is logged.
reloads=0
reload() {
	printf '%s\n' "$@" >"$closure.new" && mv "$closure.new" "$closure"
	reloads=$((reloads + 1))
	kill -HUP "$daemon"
	for _ in $(seq "$SV_WAIT_TENTHS"); do
		[ "$(grep -c "closure .* reloaded" "$SV_LOG")" -ge $reloads ] && return
		sleep 0.1
	done
	sv_fail "reload $reloads not logged: $(cat "$SV_LOG")"
}

# 1. Node ids, which file handles show to any local user, are counted from
# the root's (1), distinct, and far below any address of the daemon's.
out=$("$PROBE" node-id "$mnt" "$v_other" "$v_other/dir" "$v_other"/dir/file*)
ids=$(awk -F' id=' '{ print $2 }' <<<"$out" | tr '\n' ' ')
read -ra id <<<"$ids"
[ "${id[0]}" = 1 ] || sv_fail "the root's node id: $out"
[ "$(printf '%s\n' "${id[@]}" | sort -u | wc -l)" = 6 ] || sv_fail "node ids not distinct: $out"
for n in "${id[@]}"; do
	[ "$n" -lt 1000 ] || sv_fail "a node id is no counted number: $out"
done
sv_alive "$v_other" "node ids"
case_ok "node ids are counted numbers: $ids"

# hold_cwd NAME DIR LATER: a shell holds DIR as its working directory
# until release_cwd NAME, then reads file and LATER there and lists it.
hold_cwd() {
	local fd
	mkfifo "$SV_TMP/$1.in"
	(
		set +e
		cd "$2" || exit
		echo held >"$SV_TMP/$1.out"
		read -r _
		{ cat file; cat "$3"; ls; } >>"$SV_TMP/$1.out" 2>&1
	) <"$SV_TMP/$1.in" &
	eval "held_pid_$1=$!"
	exec {fd}>"$SV_TMP/$1.in"
	eval "held_fd_$1=$fd"
	sv_wait_for "$SV_TMP/$1.out" 10
}

# release_cwd NAME ERROR WHAT: all three of NAME's reads after WHAT gave ERROR.
release_cwd() {
	local fd pid
	eval "fd=\$held_fd_$1 pid=\$held_pid_$1"
	exec {fd}>&-
	wait "$pid" || true
	[ "$(grep -c "$2" "$SV_TMP/$1.out")" = 3 ] ||
		sv_fail "a working directory held across $3: $(cat "$SV_TMP/$1.out")"
}

# 2. A closure reload that removes a store path revokes all below it: a
# directory fd held there, a working directory there, a file handle
# (open_by_handle_at, as virtiofsd holds inodes), and a file made there
# after the reload.  A reload that adds the path again restores it.
# Each holder inherits the pipes of those started before it: they are
# released in the reverse order.
mkfifo "$SV_TMP/handle.in"
"$PROBE" hold-handle "$v_revoked/sub/handle" <"$SV_TMP/handle.in" >"$SV_TMP/handle.out" &
handle_pid=$!
exec {handle_fd}>"$SV_TMP/handle.in"
sv_wait_for "$SV_TMP/handle.out" 10
hold_cwd cwd "$v_revoked/sub" after
sv_hold_dir revoked "$v_revoked/sub" 0 file
cat "$v_revoked/sub/file" >/dev/null
reload "${other##*/}" "${moved##*/}"
grep -q "reloaded: 2 entries, 0 added, 1 removed" "$SV_LOG" || sv_fail "reload: $(cat "$SV_LOG")"
echo after >"$revoked/sub/after"
sv_release_dir revoked
[ "$SV_RELEASED" = "list err ENOENT file err ENOENT " ] ||
	sv_fail "a directory fd held across the reload: $SV_RELEASED"
release_cwd cwd 'No such file or directory' "the reload"
exec {handle_fd}>&-
wait "$handle_pid" || sv_fail "hold-handle: $(cat "$SV_TMP/handle.out")"
[ "$(sed 1d "$SV_TMP/handle.out")" = "err ENOENT" ] ||
	sv_fail "a file handle held across the reload: $(cat "$SV_TMP/handle.out")"
out=$(cat "$v_revoked/sub/file" 2>&1) && sv_fail "the removed path is still read by name: $out"
sv_alive "$v_other" "the closure reload"
reload "${other##*/}" "${revoked##*/}" "${moved##*/}"
[ "$(cat "$v_revoked/sub/after")" = after ] || sv_fail "the path added again is not read"
sv_alive "$v_other" "the second reload"
case_ok "a reload that removed a store path: a directory fd, a working directory and a file handle held below it get ENOENT (a listing, a file read before, a file made after); added again, it is read again"

# 3. A store path moved out of SOURCE while clients hold a directory of
# it (a working directory, a directory fd): what they hold answers ESTALE,
# also for a file made there after the move.
hold_cwd mcwd "$v_moved/dir" new
sv_hold_dir moved "$v_moved/dir" 0 new
cat "$v_moved/dir/file" >/dev/null
mv "$moved" "$outside/"
echo new >"$outside/${moved##*/}/dir/new"
# The watcher has seen the move once the name is gone from the view.
for _ in $(seq "$SV_WAIT_TENTHS"); do
	[ -e "$v_moved" ] || break
	sleep 0.1
done
[ ! -e "$v_moved" ] || sv_fail "the moved path still shows"
sv_release_dir moved
[ "$SV_RELEASED" = "list err ESTALE new err ESTALE " ] ||
	sv_fail "a directory fd held across the move: $SV_RELEASED"
release_cwd mcwd 'Stale file handle' "the move"
sv_alive "$v_other" "the move"
case_ok "a store path moved out of SOURCE: a directory fd and a working directory held in it get ESTALE (a listing, a file read before, a file made after)"

# 4. A directory moved out from below a store path while clients hold it:
# what they hold answers ESTALE once the daemon's trust in its cached fd
# (one second) has run out, also for a file made there after the move.
hold_cwd dcwd "$v_other/deep/dir" new
sv_hold_dir deep "$v_other/deep/dir" 0 new
cat "$v_other/deep/dir/file" >/dev/null
mv "$other/deep" "$outside/"
echo new >"$outside/deep/dir/new"
sleep 1.2
sv_release_dir deep
[ "$SV_RELEASED" = "list err ESTALE new err ESTALE " ] ||
	sv_fail "a directory fd held across the move: $SV_RELEASED"
release_cwd dcwd 'Stale file handle' "the move"
sv_alive "$v_other" "the move below a store path"
case_ok "a directory moved out from below a store path: a directory fd and a working directory held in it get ESTALE (a listing, a file read before, a file made after)"

kill -0 "$daemon" || sv_fail "the daemon died"
sv_unmount "$mnt"

# 5. In the mapped-xattr layout, where special files show as empty files
# the daemon makes up, a fifo held by a file handle across a reload that
# removed its store path is refused like any file there.
special=$src/ssssssssssssssssssssssssssssssss-special
mkdir "$special"
mkfifo "$special/fifo"
printf '%s\n' "${other##*/}" "${special##*/}" >"$closure"
sv_mount "$src" "$mnt" -o allow_other,virtfs_xattrs,closure="$closure"
daemon=$SV_DAEMON reloads=0
mkfifo "$SV_TMP/fifo.in"
"$PROBE" hold-handle "$mnt/${special##*/}/fifo" <"$SV_TMP/fifo.in" >"$SV_TMP/fifo.out" &
fifo_pid=$!
exec {fifo_fd}>"$SV_TMP/fifo.in"
sv_wait_for "$SV_TMP/fifo.out" 10
reload "${other##*/}"
exec {fifo_fd}>&-
wait "$fifo_pid" || sv_fail "hold-handle: $(cat "$SV_TMP/fifo.out")"
[ "$(sed 1d "$SV_TMP/fifo.out")" = "err ENOENT" ] ||
	sv_fail "a fifo shown as a file, held across the reload: $(cat "$SV_TMP/fifo.out")"
sv_alive "$v_other" "the reload under virtfs_xattrs"
case_ok "virtfs_xattrs: a fifo shown as a file, held by a file handle across a reload that removed it, gets ENOENT"

kill -0 "$daemon" || sv_fail "the daemon died"
sv_unmount "$mnt"
echo "revocation cases: $cases passed"
