#!/bin/bash
# mount(8) and fstab: `mount -t fuse.storeview`, an fstab line given to
# `mount --fstab`, and the `-t fuse PROGRAM#SOURCE` form reach storeview
# through libfuse's mount.fuse3 with the options of mount(8), fstab and
# systemd; mount returns with the view working for the unprivileged user;
# an unknown option is refused by name and nothing is mounted.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
[ -x /sbin/mount.fuse3 ] || [ -x /usr/sbin/mount.fuse3 ] || sv_skip "needs mount.fuse3 (Debian package fuse3)"
command -v flock >/dev/null || sv_skip "needs flock (util-linux)"
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
sv_make_store "$src"
mkdir "$mnt"
mapfile -d '' files < <("$PROBE" files "$src" | grep -zv secret)
(cd "$src" && "$PROBE" noatime-open "${files[@]}") >"$SV_TMP/root.open"
binary=$(realpath "$STOREVIEW")
systemd_opts=nofail,x-systemd.requires=local-fs.target,_netdev,comment=storeview-test,noauto

# check_view HOW: mounted at once, by this build, everything owned by
# nobody, which reads SOURCE's bytes with O_NOATIME; umount ends the daemon.
check_view() {
	sv_is_mounted "$mnt" || sv_fail "$1: mount returned but no view is mounted"
	sv_adopt_daemon "$mnt"
	[ "$(realpath "/proc/$SV_DAEMON/exe")" = "$binary" ] ||
		sv_fail "$1: the daemon is $(realpath "/proc/$SV_DAEMON/exe"), not this build"
	others=$("$PROBE" owners "$mnt" | grep -cv ' 65534:65534$' || true)
	[ "$others" = 0 ] || sv_fail "$1: $others entries not owned by 65534:65534"
	(cd "$mnt" && as_nobody "$PROBE" noatime-open "${files[@]}") >"$SV_TMP/view.open"
	diff -u "$SV_TMP/root.open" "$SV_TMP/view.open" || sv_fail "$1: nobody's O_NOATIME reads differ from SOURCE"
	umount "$mnt"
	sv_wait_gone "$SV_DAEMON" 10
}

# 1. mount -t fuse PROGRAM#SOURCE: needs no PATH lookup.
mount -t fuse "$STOREVIEW#$src" "$mnt" -o "uid=nobody,allow_other,$systemd_opts"
check_view "-t fuse PROGRAM#SOURCE"
sv_pass "mount -t fuse 'storeview#SOURCE' with $systemd_opts: ${#files[@]} O_NOATIME reads as nobody"

# mount(8) clears PATH and mount.fuse3 finds `storeview` through /bin/sh,
# whose default PATH starts with /usr/local/sbin: a symlink there, removed
# on exit, puts this build first.  A lock on the directory keeps parallel
# runs apart.
link=/usr/local/sbin/storeview
exec 9</usr/local/sbin
flock -w 300 9 || sv_fail "another test holds the lock on /usr/local/sbin"
{ [ ! -e "$link" ] && [ ! -L "$link" ]; } || sv_skip "$link exists and is not this test's to replace"
SV_REMOVE+=("$link")
ln -s "$binary" "$link"

# 2. mount -t fuse.storeview, names translated by libmount.
mount -t fuse.storeview "$src" "$mnt" -o "uid=nobody,gid=nogroup,allow_other,$systemd_opts"
check_view "-t fuse.storeview"
sv_pass "mount -t fuse.storeview -o uid=nobody,gid=nogroup,allow_other,$systemd_opts"

# 3. An fstab line with the usual options, given to mount --fstab.
printf '# storeview test\n%s %s fuse.storeview ro,uid=nobody,gid=nogroup,allow_other,%s,user,users,defaults 0 0\n' \
	"$src" "$mnt" "$systemd_opts" >"$SV_TMP/fstab"
mount --fstab "$SV_TMP/fstab" "$mnt"
check_view "fstab"
sv_pass "fstab line: $(sed -n 2p "$SV_TMP/fstab" | cut -d' ' -f3-)"

# 4. An unknown option: refused by name, nothing mounted, no daemon left.
rc=0
mount -t fuse.storeview "$src" "$mnt" -o uid=nobody,no_such_option 2>"$SV_TMP/err" || rc=$?
[ "$rc" != 0 ] || sv_fail "mount with an unknown option succeeded"
grep -qx "storeview: unknown option 'no_such_option'" "$SV_TMP/err" || sv_fail "unclear message: $(cat "$SV_TMP/err")"
! sv_is_mounted "$mnt" || sv_fail "mounted despite an unknown option"
sv_pass "unknown option refused: $(cat "$SV_TMP/err") (mount status $rc), nothing mounted"
