#!/bin/bash
# Who may use the view.  Without allow_other only the mounting user (root
# here) gets in: anyone else gets EACCES on the mountpoint itself.  With
# allow_other the kernel still checks the reported owner and mode
# (default_permissions) before the daemon checks SOURCE's real ones.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store
e=$src/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-access
mkdir -p "$e/dir-0700" "$SV_TMP/private" "$SV_TMP/shared"
echo public >"$e/public" && chmod 444 "$e/public"
echo private >"$e/private-0600" && chmod 600 "$e/private-0600"
echo inside >"$e/dir-0700/file" && chmod 444 "$e/dir-0700/file" && chmod 700 "$e/dir-0700"
chown -R root:root "$src"
as_user() { setpriv --reuid="$1" --regid="$1" --clear-groups -- "${@:2}"; }

# 1. No allow_other: the mountpoint is closed to everyone but root.
sv_mount "$src" "$SV_TMP/private" -o uid=65534,gid=65534
for u in 65534 1234; do
	for what in stat ls cat; do
		case $what in
		stat) out=$(as_user "$u" stat "$SV_TMP/private" 2>&1 || true) ;;
		ls) out=$(as_user "$u" ls "$SV_TMP/private" 2>&1 || true) ;;
		cat) out=$(as_user "$u" cat "$SV_TMP/private/${e##*/}/public" 2>&1 || true) ;;
		esac
		case $out in *"Permission denied"*) ;; *) sv_fail "uid $u's $what without allow_other: $out" ;; esac
	done
done
[ "$(cat "$SV_TMP/private/${e##*/}/public")" = public ] || sv_fail "root cannot read its own view"
sv_pass "without allow_other: stat, ls and cat give EACCES to uid 65534 (the reported owner) and 1234; root reads"
sv_unmount "$SV_TMP/private"

# 2. allow_other, reported owner 1234: the kernel judges by that owner and the modes.
sv_mount "$src" "$SV_TMP/shared" -o uid=1234,gid=1234,allow_other
daemon=$SV_DAEMON
v=$SV_TMP/shared/${e##*/}
denied0=$(sv_stat_field denied "$(sv_stats "$daemon" "$SV_LOG")")
[ "$(as_user 65534 cat "$v/public")" = public ] || sv_fail "nobody cannot read a 0444 file"
as_user 65534 "$PROBE" try-open "$v/private-0600" "$v/dir-0700/file" | sed "s|$v/||" >"$SV_TMP/other"
as_user 65534 ls "$v/dir-0700" >/dev/null 2>&1 && sv_fail "nobody listed a 0700 dir owned by 1234"
[ "$(cat "$SV_TMP/other")" = $'private-0600 err EACCES\ndir-0700/file err EACCES' ] || sv_fail "nobody: $(cat "$SV_TMP/other")"
denied1=$(sv_stat_field denied "$(sv_stats "$daemon" "$SV_LOG")")
[ "$denied1" = "$denied0" ] || sv_fail "the daemon, not the kernel, refused nobody ($denied0 -> $denied1 denials)"
sv_pass "allow_other: nobody reads 0444, gets EACCES from the kernel (no daemon denial) on 0600 and into 0700 of owner 1234"

# 3. The reported owner gets no more than SOURCE gives it either, even
# once root has walked the view and the kernel answers from its cache
# without asking the daemon: the reported modes carry SOURCE's limits.
ls -lR "$SV_TMP/shared" >/dev/null
cat "$v/dir-0700/file" "$v/private-0600" >/dev/null
as_user 1234 "$PROBE" try-open "$v/private-0600" "$v/dir-0700/file" "$v/public" | sed "s|$v/||" >"$SV_TMP/owner"
[ "$(cat "$SV_TMP/owner")" = $'private-0600 err EACCES\ndir-0700/file err EACCES\npublic ok read=1' ] || sv_fail "uid 1234: $(cat "$SV_TMP/owner")"
[ "$(stat -c %a "$v/private-0600" "$v/dir-0700" | paste -sd' ')" = "200 200" ] ||
	sv_fail "reported modes of root's 0600 file and 0700 dir: $(stat -c %a "$v/private-0600" "$v/dir-0700")"
sv_pass "allow_other: after root walked the view, uid 1234, the reported owner, still gets EACCES on SOURCE's 0600 root file and into its 0700 root dir (shown as 0200)"
sv_unmount "$SV_TMP/shared"
