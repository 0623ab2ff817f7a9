#!/bin/bash
# storeview without root, as on a developer's machine: an ordinary user
# runs the daemon and storeview exec, /dev/fuse is 0666 and views mount
# through the setuid fusermount3.  The test runs in a private mount
# namespace (see sv_require_unprivileged_fuse): nothing it mounts, nor its
# /dev/fuse or its user, is seen outside, and it all goes when it ends.
. "$(dirname "$0")/../lib.sh"
sv_require_unprivileged_fuse
sv_tmpdir
sv_make_user

e=0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12
f=3x4d0kd7n0h3wjvh1g43r6w9z9nls0vz-lib-1.0
store=$SV_TMP/store
echo canary >"$SV_TMP/outside-canary"
sv_make_store "$store"
# An entry with what svprobe write-attempts tries to change.
w=00000000000000000000000000000000-w
chmod u+w "$store"
mkdir -p "$store/$w/dir"
echo x >"$store/$w/file"
ln -s file "$store/$w/link"
setfattr -n user.test -v 1 "$store/$w/file"
chmod -R a-w "$store/$w" "$store"
# SOURCE as NixOS mounts its store: read-only.  Root's readlinks in the
# tree walk set the symlinks' atimes on the writable mount once; settle
# them first so that the snapshot catches what the view changes.
src=$SV_TMP/ro-store
mkdir "$src"
mount --bind "$store" "$src"
mount -o remount,bind,ro "$src"
SV_MOUNTS+=("$src")
"$PROBE" tree "$store" >"$SV_TMP/src.tree"
"$PROBE" times "$src" >"$SV_TMP/times.before"
home=$SV_USER_HOME
mnt=$home/view
as_user mkdir "$mnt"
SV_AS=("${SV_USER[@]}")

# user_mount SOURCE [OPTIONS...]: the user's view on $mnt, its log fresh.
user_mount() {
	rm -f "$SV_TMP/daemon.$(basename "$mnt").log"
	sv_mount "$1" "$mnt" "${@:2}"
}

# user_unmount MOUNTPOINT: the user's own unmount.
user_unmount() { as_user fusermount3 -u "$1"; }

# no_user_processes LABEL: nothing of the user runs any more.
no_user_processes() {
	local left
	left=$(pgrep -a -U "$SV_UID" || true)
	[ -z "$left" ] || sv_fail "$1: the user's processes still run: $left"
}

# 1. The core promise.  The daemon runs as the user, without root.
user_mount "$src"
[ "$(stat -c %u "/proc/$SV_DAEMON")" = "$SV_UID" ] || sv_fail "the daemon does not run as the user"
mapfile -d '' files < <("$PROBE" files "$src" | grep -zv secret)
n=${#files[@]}
[ "$n" -ge 55 ] || sv_fail "fixture has only $n files"
(cd "$src" && as_user "$PROBE" noatime-open "${files[@]}") >"$SV_TMP/raw.open"
as_user env -C "$mnt" "$PROBE" noatime-open "${files[@]}" >"$SV_TMP/view.open"
[ "$(grep -c ' err EPERM$' "$SV_TMP/raw.open")" = "$n" ] ||
	sv_fail "SOURCE did not refuse the user's O_NOATIME opens: $(grep -v EPERM "$SV_TMP/raw.open" | head -3)"
(cd "$src" && "$PROBE" noatime-open "${files[@]}") >"$SV_TMP/root.open"
diff -u "$SV_TMP/root.open" "$SV_TMP/view.open" || sv_fail "the user's O_NOATIME opens through the view"
sv_pass "$n files: the user's O_NOATIME opens EPERM on SOURCE, ok through the view, identical sha256"

as_user "$PROBE" tree "$mnt" >"$SV_TMP/view.tree"
# The root-only file shows the access the user really has: none.
sed -E 's#^(\S*/share/secret) f 0400 (.* xattrs= ).*#\1 f 0000 \2openerr:EACCES#' \
	"$SV_TMP/src.tree" >"$SV_TMP/expected.tree"
diff -u "$SV_TMP/expected.tree" "$SV_TMP/view.tree" || sv_fail "the view's tree differs from SOURCE"
others=$(as_user "$PROBE" owners "$mnt" | grep -cv " $SV_UID:$SV_UID\$" || true)
[ "$others" = 0 ] || sv_fail "$others entries not reported as the user's"
out=$(as_user "$PROBE" noatime-open "$mnt/$e/share/secret")
case $out in *" err EACCES") ;; *) sv_fail "a root-only file readable through the user's view: $out" ;; esac
sv_pass "tree of $(wc -l <"$SV_TMP/view.tree") entries identical (modes, sizes, mtimes, links, xattrs, sha256), all the user's, a root-only file still EACCES"

as_user "$PROBE" write-attempts "$mnt/$w" >"$SV_TMP/writes"
bad=$(grep -v ' EROFS$' "$SV_TMP/writes" || true)
[ -z "$bad" ] || sv_fail "writes not refused with EROFS: $bad"
sv_pass "$(wc -l <"$SV_TMP/writes") writing calls answer EROFS"

# No passthrough without root; a SOURCE on a read-only mount needs no warning.
grep -Eq ' passthrough=0( |$)' <<<"$(sv_stats "$SV_DAEMON" "$SV_LOG")" || sv_fail "passthrough without root"
grep -q 'warning' "$SV_LOG" && sv_fail "warnings for a read-only SOURCE: $(cat "$SV_LOG")"
user_unmount "$mnt"
sv_wait_exit "$SV_DAEMON" 10
[ "$SV_STATUS" = 0 ] || sv_fail "the daemon exited $SV_STATUS after fusermount3 -u"
"$PROBE" times "$src" >"$SV_TMP/times.after"
diff -u "$SV_TMP/times.before" "$SV_TMP/times.after" || sv_fail "SOURCE's times changed"
sv_pass "fusermount3 -u: the daemon exits 0; SOURCE, read-only, unchanged (atimes included)"

# 2. SOURCE on a mount that lets reads set atimes: the daemon says so at start.
case ,$(findmnt -n -o VFS-OPTIONS -T "$store"), in
*,ro,* | *,noatime,*) sv_fail "the scratch dir's mount is read-only or noatime: no relatime SOURCE to test with" ;;
esac
user_mount "$store"
grep -q "warning: reads through the view update atimes in SOURCE '$store'" "$SV_LOG" ||
	sv_fail "no warning for a relatime SOURCE: $(cat "$SV_LOG")"
[ "$(grep -c warning "$SV_LOG")" = 1 ] || sv_fail "more than one warning: $(cat "$SV_LOG")"
user_unmount "$mnt"
sv_wait_exit "$SV_DAEMON" 10
mkdir "$SV_TMP/noatime-store"
mount --bind "$store" "$SV_TMP/noatime-store"
mount -o remount,bind,noatime "$SV_TMP/noatime-store"
SV_MOUNTS+=("$SV_TMP/noatime-store")
user_mount "$SV_TMP/noatime-store"
grep -q 'warning' "$SV_LOG" && sv_fail "a warning for a noatime SOURCE: $(cat "$SV_LOG")"
user_unmount "$mnt"
sv_wait_exit "$SV_DAEMON" 10
sv_pass "one warning at start for a relatime SOURCE, none for a noatime or read-only one"

# 3. storeview exec as the user: the view under $XDG_RUNTIME_DIR, quiet,
#    the command's status, nothing left however the command ends.
runtime=$SV_USER_RUNTIME
no_leftovers() {
	! grep -qs " $runtime/" /proc/self/mounts || sv_fail "$1: a view is still mounted under $runtime"
	[ -z "$(ls -A "$runtime")" ] || sv_fail "$1: left behind in $runtime: $(ls -A "$runtime")"
	no_user_processes "$1"
}
rc=0
# shellcheck disable=SC2016 # expanded by the inner sh
as_user "$STOREVIEW" exec "$src" -- sh -c 'echo "$STOREVIEW_MOUNT"; "$@"' sh \
	"$PROBE" noatime-open "{view}/$e/share/doc/README" "{view}/$f/lib/f1" \
	>"$SV_TMP/exec.out" 2>"$SV_TMP/exec.err" || rc=$?
[ "$rc" = 0 ] || sv_fail "exec exited $rc: $(cat "$SV_TMP/exec.err")"
[ ! -s "$SV_TMP/exec.err" ] || sv_fail "exec was not quiet: $(cat "$SV_TMP/exec.err")"
view=$(head -1 "$SV_TMP/exec.out")
case $view in "$runtime/storeview-"*) ;; *) sv_fail "the view is not under \$XDG_RUNTIME_DIR: $view" ;; esac
sed -n '2,$p' "$SV_TMP/exec.out" | sed "s|^$view/||" >"$SV_TMP/exec.open"
(cd "$src" && "$PROBE" noatime-open "$e/share/doc/README" "$f/lib/f1") >"$SV_TMP/exec.want"
diff -u "$SV_TMP/exec.want" "$SV_TMP/exec.open" || sv_fail "exec: the command's O_NOATIME opens through {view}"
no_leftovers "exec of a succeeding command"
for want in "3 exit 3" "137 kill -KILL \$\$" "143 kill -TERM \$\$"; do
	rc=0
	as_user "$STOREVIEW" exec "$src" -- sh -c "${want#* }" 2>"$SV_TMP/exec.err" || rc=$?
	[ "$rc" = "${want%% *}" ] || sv_fail "exec -- sh -c '${want#* }': status $rc: $(cat "$SV_TMP/exec.err")"
	no_leftovers "exec -- sh -c '${want#* }'"
done
sv_pass "exec: the view under \$XDG_RUNTIME_DIR, O_NOATIME opens ok, nothing on stderr; status 0, 3, 137 (SIGKILL), 143 (SIGTERM) passed; view, mountpoint and daemon gone each time"

# exec_bg: starts storeview exec as the user in the background, with a
# command that records its pid and view, and waits.
exec_bg() {
	rm -f "$home/cmd.pid" "$home/cmd.view"
	# shellcheck disable=SC2016 # expanded by the inner sh
	as_user "$STOREVIEW" exec "$src" -- sh -c \
		'echo "$STOREVIEW_MOUNT" >"$1.view"; echo $$ >"$1.pid"; exec sleep 60' sh "$home/cmd" \
		2>"$SV_TMP/bg.err" &
	wrapper=$!
	SV_PIDS+=("$wrapper")
	sv_wait_for "$home/cmd.pid" 10
	cmd=$(cat "$home/cmd.pid")
	view=$(cat "$home/cmd.view")
	SV_PIDS+=("$cmd")
	sv_is_mounted "$view" || sv_fail "no view mounted at $view while the command runs"
	daemon=$(pgrep -P "$wrapper" | grep -vx "$cmd")
	[ -n "$daemon" ] || sv_fail "cannot find the daemon child of $wrapper"
}

exec_bg
kill -KILL "$cmd"
sv_wait_exit "$wrapper" 15
[ "$SV_STATUS" = 137 ] || sv_fail "exec whose command was SIGKILLed from outside exited $SV_STATUS"
no_leftovers "command SIGKILLed from outside"
exec_bg
kill -KILL "$wrapper"
sv_wait_exit "$wrapper" 5
kill "$cmd"
for _ in $(seq 100); do
	pgrep -U "$SV_UID" >/dev/null || [ -e "$view" ] || break
	sleep 0.1
done
no_leftovers "storeview exec SIGKILLed (daemon said: $(cat "$SV_TMP/bg.err"))"
sv_pass "exec: command SIGKILLed from outside: 137; storeview exec itself SIGKILLed: its daemon unmounts through fusermount3, removes the view and exits"

# 4. The closure filter, and its reload on SIGHUP.
printf '%s\n' "$store/$e" >"$SV_TMP/closure"
user_mount "$src" -o "closure=$SV_TMP/closure,store_dir=$store"
[ "$(as_user ls "$mnt")" = "$e" ] || sv_fail "closure: the view lists $(as_user ls "$mnt" | tr '\n' ' ')"
out=$(as_user "$PROBE" try-open "$mnt/$f/lib/f1")
case $out in *" err ENOENT") ;; *) sv_fail "closure: an entry outside it: $out" ;; esac
printf '%s\n' "$store/$e" "$store/$f" >"$SV_TMP/closure"
kill -HUP "$SV_DAEMON"
for _ in $(seq "$SV_WAIT_TENTHS"); do grep -q 'reloaded' "$SV_LOG" && break; sleep 0.1; done
grep -q "closure $SV_TMP/closure reloaded: 2 entries, 1 added, 0 removed" "$SV_LOG" ||
	sv_fail "SIGHUP: $(cat "$SV_LOG")"
out=$(as_user "$PROBE" try-open "$mnt/$f/lib/f1")
case $out in *" ok read=1") ;; *) sv_fail "closure reloaded: the added entry: $out" ;; esac
[ "$(as_user ls "$mnt" | wc -l)" = 2 ] || sv_fail "closure reloaded: the view lists $(as_user ls "$mnt" | tr '\n' ' ')"
printf '%s\n' "$store/$f" >"$SV_TMP/closure"
kill -HUP "$SV_DAEMON"
for _ in $(seq "$SV_WAIT_TENTHS"); do [ "$(grep -c 'reloaded' "$SV_LOG")" = 2 ] && break; sleep 0.1; done
out=$(as_user "$PROBE" try-open "$mnt/$e/share/doc/README")
case $out in *" err ENOENT") ;; *) sv_fail "closure reloaded: the removed entry: $out" ;; esac
user_unmount "$mnt"
sv_wait_exit "$SV_DAEMON" 10
sv_pass "closure: only its entries; SIGHUP adds one (found at once) and removes one (gone at once)"

# 5. A SIGKILLed daemon leaves a dead view: refused by name, then recovered
#    with -o recover_stale, which unmounts it through fusermount3 -u -z.
user_mount "$src"
as_user stat "$mnt" >/dev/null
kill -KILL "$SV_DAEMON"
sv_wait_exit "$SV_DAEMON" 10
err=$(as_user ls "$mnt" 2>&1 || true)
case $err in *"Transport endpoint is not connected"*) ;; *) sv_fail "no dead view to test with: $err" ;; esac
rc=0
as_user "$STOREVIEW" "$src" "$mnt" 2>"$SV_TMP/stale.err" || rc=$?
[ "$rc" = 1 ] || sv_fail "storeview on a dead view exited $rc, expected 1"
grep -q "MOUNTPOINT '$mnt' holds a dead view .*: unmount it with 'fusermount3 -u -z $mnt' or pass -o recover_stale" \
	"$SV_TMP/stale.err" || sv_fail "unclear: $(cat "$SV_TMP/stale.err")"
user_mount "$src" -o recover_stale
grep -q "unmounted the dead view on '$mnt'" "$SV_LOG" || sv_fail "recovery not logged: $(cat "$SV_LOG")"
[ "$(grep -c " $mnt " /proc/self/mounts)" = 1 ] || sv_fail "the dead view is still under the new one"
out=$(as_user "$PROBE" noatime-open "$mnt/$e/share/doc/README")
case $out in *" ok "*) ;; *) sv_fail "the recovered view does not serve: $out" ;; esac
sv_pass "a dead view: refused ($(cat "$SV_TMP/stale.err")), then replaced with -o recover_stale"

# 6. Stopping while a reader holds a file open: fusermount3 -u refuses
#    (busy) and the view keeps serving; SIGTERM detaches it and the daemon
#    exits; the reader's next read fails, nothing hangs.
mkfifo "$SV_TMP/hold.in"
as_user "$PROBE" hold "$mnt/$e/lib/big.bin" <"$SV_TMP/hold.in" >"$SV_TMP/hold.out" &
hold_pid=$!
SV_PIDS+=("$hold_pid")
exec {hold_w}>"$SV_TMP/hold.in"
sv_wait_for "$SV_TMP/hold.out" 10
[ "$(head -1 "$SV_TMP/hold.out")" = "opened 1 failed 0" ] || sv_fail "hold: $(cat "$SV_TMP/hold.out")"
as_user fusermount3 -u "$mnt" 2>"$SV_TMP/busy.err" && sv_fail "fusermount3 -u unmounted a view with a file open"
grep -q 'busy' "$SV_TMP/busy.err" || sv_fail "fusermount3 -u: $(cat "$SV_TMP/busy.err")"
out=$(as_user "$PROBE" noatime-open "$mnt/$e/share/doc/README")
case $out in *" ok "*) ;; *) sv_fail "the view stopped serving after a refused unmount: $out" ;; esac
kill -TERM "$SV_DAEMON"
sv_wait_exit "$SV_DAEMON" 10
[ "$SV_STATUS" = 0 ] || sv_fail "the daemon exited $SV_STATUS on SIGTERM with a file open"
sv_is_mounted "$mnt" && sv_fail "SIGTERM left the view mounted"
exec {hold_w}>&-
sv_wait_exit "$hold_pid" 10
[ "$(sed -n 2p "$SV_TMP/hold.out")" = "read 0 failed 1" ] || sv_fail "the reader after the stop: $(cat "$SV_TMP/hold.out")"
no_user_processes "stopped with a file open"
sv_pass "a file held open: fusermount3 -u refused as busy and the view served on; SIGTERM: detached, daemon exited 0, the reader's read failed, nothing left"
