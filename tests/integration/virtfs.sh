#!/bin/bash
# -o virtfs_xattrs: the layout QEMU's security_model=mapped-xattr reads.
# Every entry carries user.virtfs.{uid,gid,mode} (32-bit little-endian) from
# the real file, devices also user.virtfs.rdev; symlinks and special files
# are regular files, a symlink's content being its target.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view e=$SV_TMP/store/dddddddddddddddddddddddddddddddd-d
mkdir -p "$e/dir"
printf 'data\n' >"$e/file"
chmod 4555 "$e/file"
ln -s ../some/target "$e/link"
mknod "$e/null" c 1 3
mkfifo "$e/fifo"
setfattr -n user.real -v kept "$e/file"
chown 0:0 -R "$src"
chmod 555 "$e" "$e/dir"
mkdir "$mnt"
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,virtfs_xattrs
v=$mnt/dddddddddddddddddddddddddddddddd-d

hexattr() { getfattr --absolute-names -h -e hex -n "$1" "$2" | sed -n "s/^$1=0x//p"; }
# 32-bit little-endian hex of a number.
le32() { printf '%08x' "$1" | sed -E 's/(..)(..)(..)(..)/\4\3\2\1/'; }

for f in file dir link null fifo; do
	real_mode=$(stat -c '%f' "$e/$f")
	[ "$(hexattr user.virtfs.uid "$v/$f")" = 00000000 ] || sv_fail "$f: uid xattr"
	[ "$(hexattr user.virtfs.gid "$v/$f")" = 00000000 ] || sv_fail "$f: gid xattr"
	[ "$(hexattr user.virtfs.mode "$v/$f")" = "$(le32 $((16#$real_mode)))" ] ||
		sv_fail "$f: mode xattr $(hexattr user.virtfs.mode "$v/$f"), real mode 0x$real_mode"
	[ "$(stat -c %u:%g "$v/$f")" = 65534:65534 ] || sv_fail "$f: host-side owner"
done
sv_pass "uid/gid/mode xattrs decode to the real 0:0 and modes (setuid, dir, symlink, device, fifo)"

[ "$(hexattr user.virtfs.rdev "$v/null")" = 0301000000000000 ] || sv_fail "rdev of /dev/null-like node: $(hexattr user.virtfs.rdev "$v/null")"
[ "$(stat -c %F "$v/link")" = "regular file" ] || sv_fail "symlink not shown as a file"
[ "$(as_nobody cat "$v/link")" = "../some/target" ] || sv_fail "symlink content is not its target"
[ "$(stat -c %F:%s "$v/null")" = "regular empty file:0" ] || sv_fail "device not shown as an empty file"
[ -z "$(as_nobody cat "$v/null")" ] || sv_fail "device content"
timeout 5 cat "$v/fifo" >/dev/null || sv_fail "the fifo was opened (it would block)"
getfattr --absolute-names -d -m - "$v/file" | grep '^user.real="kept"' >/dev/null || sv_fail "real xattr lost"
[ "$(getfattr --absolute-names -m - "$v/file" | grep -c '^user.virtfs')" = 3 ] || sv_fail "listxattr"
sv_pass "symlinks are files holding their targets, specials are empty files never opened, real xattrs kept"
