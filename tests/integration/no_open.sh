#!/bin/bash
# -o no_open: the kernel stops sending opens after the first, reads are
# served through the daemon's cached fds, and the narrowed modes keep the
# kernel from granting what SOURCE refuses, even for entries it has cached.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
sv_make_store "$src"
e=0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12
# A root-only directory whose file is world-readable by itself.
mkdir -m 700 "$src/$e/private"
echo hidden >"$src/$e/private/inside"
chmod 444 "$src/$e/private/inside"
chmod 500 "$src/$e/private"
mkdir "$mnt"
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,no_open,dir_fd_cache=16

# 1. Same bytes as SOURCE for every file nobody may read, O_NOATIME included,
#    twice each (the second from cached pages or fds).
mapfile -d '' files < <("$PROBE" files "$src" | grep -zv -e secret -e private/)
(cd "$src" && "$PROBE" noatime-open "${files[@]}") >"$SV_TMP/root.open"
for pass in 1 2; do
	(cd "$mnt" && as_nobody "$PROBE" noatime-open "${files[@]}") >"$SV_TMP/view.open"
	diff -u "$SV_TMP/root.open" "$SV_TMP/view.open" || sv_fail "pass $pass: bytes through the view differ"
done
sv_pass "${#files[@]} files read twice as nobody with O_NOATIME, identical to SOURCE (more files than the 16-fd cache)"

# 2. Root walks everything first, so the kernel has it all cached; nobody
#    still gets nothing SOURCE would refuse.
"$PROBE" tree "$mnt" >/dev/null
for f in "$e/share/secret" "$e/private/inside"; do
	out=$(as_nobody "$PROBE" noatime-open "$mnt/$f")
	case $out in *" err EACCES") ;; *) sv_fail "nobody read $f through the view: $out" ;; esac
done
mode=$(stat -c %a "$mnt/$e/share/secret")
[ "$mode" = 0 ] || sv_fail "0400 root file shown as $mode, expected 0 (narrowed)"
[ "$(stat -c %a "$mnt/$e/bin/hello")" = 555 ] || sv_fail "store file mode not kept"
sv_pass "root-only file and a file in a root-only dir refused to nobody after root cached them"

# 3. The kernel asked once and then opened alone.
kill -USR1 "$SV_DAEMON"
for _ in $(seq 50); do grep -q 'stats:' "$SV_LOG" && break; sleep 0.1; done
opens=$(grep -o 'stats: lookups=[0-9]* opens=[0-9]*' "$SV_LOG" | tail -1 | grep -o '[0-9]*$')
[ "${opens:-x}" = 1 ] || sv_fail "daemon saw ${opens:-no} opens, expected 1: $(grep stats: "$SV_LOG")"
dir_fds=$(grep -o 'dir_fds=[0-9]*' "$SV_LOG" | tail -1 | cut -d= -f2)
[ "$dir_fds" -le 16 ] || sv_fail "$dir_fds cached fds, above dir_fd_cache=16"
sv_pass "the daemon saw 1 open for $((2 * ${#files[@]})) opens; $dir_fds cached fds"
sv_unmount "$mnt"

# 4. With the QEMU mapped-xattr layout, files shown for symlinks still read
#    as their targets without a handle.
mkdir "$SV_TMP/vview"
sv_mount "$src" "$SV_TMP/vview" -o uid=65534,gid=65534,allow_other,no_open,virtfs_xattrs
link=$SV_TMP/vview/$e/lib/relative-link
[ "$(as_nobody cat "$link")" = ../share/doc/README ] || sv_fail "symlink shown as file reads '$(cat "$link")'"
[ "$(as_nobody cat "$SV_TMP/vview/$e/share/doc/README")" = readme ] || sv_fail "regular file through no_open,virtfs_xattrs"
sv_pass "no_open with virtfs_xattrs: a symlink reads as its target, a file as itself"
sv_unmount "$SV_TMP/vview"
