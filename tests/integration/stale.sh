#!/bin/bash
# A view whose daemon was killed is recognised ("transport endpoint is not
# connected"), refused with a clear message, and replaced with
# -o recover_stale.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
e=0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12
sv_make_store "$src"
mkdir "$mnt"

# 1. A killed daemon leaves a dead view: refused by name, nothing mounted.
sv_mount "$src" "$mnt" -o uid=65534,gid=65534
# The root's attributes stay cached: stat still answers, a dead view or not.
stat "$mnt" >/dev/null
kill -KILL "$SV_DAEMON"
sv_wait_exit "$SV_DAEMON" 10
err=$(ls "$mnt" 2>&1 || true)
case $err in *"Transport endpoint is not connected"*) ;; *) sv_fail "no dead view to test with: $err" ;; esac
rc=0
"$STOREVIEW" -o uid=65534,gid=65534 "$src" "$mnt" 2>"$SV_TMP/stale.err" || rc=$?
[ "$rc" = 1 ] || sv_fail "storeview on a dead view exited $rc, expected 1"
grep -q "MOUNTPOINT '$mnt' holds a dead view (transport endpoint is not connected): unmount it with 'umount -l $mnt' or pass -o recover_stale" \
	"$SV_TMP/stale.err" || sv_fail "unclear message: $(cat "$SV_TMP/stale.err")"
[ "$(grep -c " $mnt " /proc/self/mounts)" = 1 ] || sv_fail "something was mounted over the dead view"
sv_pass "a dead view is refused: $(cat "$SV_TMP/stale.err")"

# 2. -o recover_stale detaches it and mounts a working view.
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,recover_stale
grep -q "unmounted the dead view on '$mnt'" "$SV_LOG" || sv_fail "recovery not logged: $(cat "$SV_LOG")"
[ "$(grep -c " $mnt " /proc/self/mounts)" = 1 ] || sv_fail "the dead view is still stacked under the new one"
out=$(cd "$mnt" && as_nobody "$PROBE" noatime-open "$e/share/doc/README")
case $out in *" ok "*) ;; *) sv_fail "recovered view does not serve: $out" ;; esac
sv_unmount "$mnt"
sv_pass "-o recover_stale unmounted the dead view and mounted a working one"
