#!/bin/bash
# The core promise: an unprivileged user's O_NOATIME open of root-owned
# store files fails on SOURCE and succeeds through the view, with identical
# bytes and metadata; the view is read-only and leaves SOURCE untouched.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
echo canary >"$SV_TMP/outside-canary"
sv_make_store "$src"
# A root-only directory around a world-readable file.
private=$src/0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12/share/secret-dir
chmod u+w "$(dirname "$private")"
mkdir "$private"
echo inside >"$private/file"
chmod 444 "$private/file"
chmod 500 "$private"
chmod u-w "$(dirname "$private")"
mkdir "$mnt"
# Root's readlink of SOURCE's symlinks (by the tree walk below) sets their
# atimes once under relatime; settle them now so that the snapshot catches
# what the view changes.  Files and dirs are read with O_NOATIME by svprobe.
"$PROBE" tree "$src" >"$SV_TMP/src.tree"
"$PROBE" times "$src" >"$SV_TMP/times.before"

sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other
main_log=$SV_LOG

# 1. O_NOATIME as nobody: EPERM on SOURCE, success on the view, same bytes.
mapfile -d '' files < <("$PROBE" files "$src" | grep -zv secret)
(cd "$src" && as_nobody "$PROBE" noatime-open "${files[@]}") >"$SV_TMP/raw.open"
(cd "$mnt" && as_nobody "$PROBE" noatime-open "${files[@]}") >"$SV_TMP/view.open"
n=${#files[@]}
[ "$n" -ge 55 ] || sv_fail "fixture has only $n files"
[ "$(grep -c ' err EPERM$' "$SV_TMP/raw.open")" = "$n" ] ||
	sv_fail "raw SOURCE did not refuse O_NOATIME with EPERM for all $n files: $(grep -v EPERM "$SV_TMP/raw.open" | head -3)"
[ "$(grep -c ' ok ' "$SV_TMP/view.open")" = "$n" ] ||
	sv_fail "view refused O_NOATIME opens: $(grep -v ' ok ' "$SV_TMP/view.open" | head -3)"
(cd "$src" && "$PROBE" noatime-open "${files[@]}") >"$SV_TMP/root.open"
diff -u "$SV_TMP/root.open" "$SV_TMP/view.open" || sv_fail "bytes read through the view differ from SOURCE"
sv_pass "$n files: O_NOATIME as nobody EPERM on SOURCE, ok on the view, identical sha256"

# 2. Same tree: names, types, modes, sizes, mtimes, links, xattrs, contents.
"$PROBE" tree "$mnt" >"$SV_TMP/view.tree"
# Root-only entries are shown with the access others really have: none.
sed -E 's#^(\S*/share/secret(-dir)?) (.) 0[45]00 #\1 \3 0000 #' "$SV_TMP/src.tree" >"$SV_TMP/expected.tree"
[ "$(diff "$SV_TMP/src.tree" "$SV_TMP/expected.tree" | grep -c '^>')" = 2 ] || sv_fail "expected-tree rewrite"
diff -u "$SV_TMP/expected.tree" "$SV_TMP/view.tree" || sv_fail "the view's tree differs from SOURCE"
grep -q 'README .*user.storeview.test=736f6d652076616c7565' "$SV_TMP/view.tree" || sv_fail "xattr missing in the view"
grep -q 'README.hardlink f .* nlink=2 ' "$SV_TMP/view.tree" || sv_fail "hard link count lost"
sv_pass "tree of $(wc -l <"$SV_TMP/view.tree") entries identical to SOURCE (modes, sizes, mtimes, nlink, targets, xattrs, sha256)"

# 3. Every entry is reported as owned by the configured user.
others=$("$PROBE" owners "$mnt" | grep -cv ' 65534:65534$' || true)
[ "$others" = 0 ] || sv_fail "$others entries not reported as 65534:65534"
sv_pass "every entry reported as owned by 65534:65534"

# 4. The view grants nothing SOURCE does not, even though root's walk above
# left every entry in the kernel's cache: a root-only file and a file in a
# root-only directory stay closed to nobody, the reported owner.
for f in share/secret share/secret-dir/file; do
	out=$(as_nobody "$PROBE" noatime-open "$mnt/0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12/$f")
	case $out in *" err EACCES") ;; *) sv_fail "$f readable by nobody through the view: $out" ;; esac
done
sv_pass "a 0400 root file and a file in a 0500 root dir give EACCES to nobody through the view, cache or not"

# 5. Symlinks are shown, never followed by the daemon.
e=$mnt/0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12/lib
[ "$(readlink "$e/absolute-outside")" = /etc/hostname ] || sv_fail "absolute symlink target changed"
[ "$(readlink "$e/dotdot-outside")" = ../../../outside-canary ] || sv_fail "dotdot symlink target changed"
{ [ -L "$e/absolute-outside" ] && [ -L "$e/dotdot-outside" ]; } || sv_fail "symlinks not shown as symlinks"
sv_pass "outside-pointing symlinks shown as symlinks with their targets"

# 6. Every writing path answers EROFS, as root and as nobody.
w=$mnt/0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12/wtest
[ ! -e "$w" ] || sv_fail "unexpected $w"
wdir=$SV_TMP/wstore/e
mkdir -p "$wdir/dir" && echo x >"$wdir/file" && ln -s file "$wdir/link"
setfattr -n user.test -v 1 "$wdir/file"
chmod -R a-w "$SV_TMP/wstore"
"$PROBE" times "$SV_TMP/wstore" >"$SV_TMP/wtimes.before"
mkdir "$SV_TMP/wview"
sv_mount "$SV_TMP/wstore" "$SV_TMP/wview" -o uid=65534,gid=65534,allow_other
# Reading a file, a directory and a symlink through the view leaves their atimes be.
cat "$SV_TMP/wview/e/file" >/dev/null
ls "$SV_TMP/wview/e/dir" >/dev/null
[ "$(readlink "$SV_TMP/wview/e/link")" = file ] || sv_fail "readlink through the view"
"$PROBE" write-attempts "$SV_TMP/wview/e" >"$SV_TMP/writes.root"
as_nobody "$PROBE" write-attempts "$SV_TMP/wview/e" >"$SV_TMP/writes.nobody"
for who in root nobody; do
	bad=$(grep -v ' EROFS$' "$SV_TMP/writes.$who" || true)
	[ -z "$bad" ] || sv_fail "writes as $who not refused with EROFS: $bad"
done
sv_pass "$(wc -l <"$SV_TMP/writes.root") writing calls answer EROFS as root and as nobody"
sv_unmount "$SV_TMP/wview"
"$PROBE" times "$SV_TMP/wstore" >"$SV_TMP/wtimes.after"
diff -u <(sv_comparable_times "$SV_LOG" "$SV_TMP/wtimes.before") \
	<(sv_comparable_times "$SV_LOG" "$SV_TMP/wtimes.after") || sv_fail "write attempts changed SOURCE"

# 7. SOURCE is unchanged, atimes included, after all that reading.
sv_unmount "$mnt"
"$PROBE" times "$src" >"$SV_TMP/times.after"
diff -u <(sv_comparable_times "$main_log" "$SV_TMP/times.before") \
	<(sv_comparable_times "$main_log" "$SV_TMP/times.after") || sv_fail "SOURCE changed (times above)"
dropped=$(grep -o 'noatime_dropped=[0-9]*' "$main_log" | cut -d= -f2)
[ "${dropped:-0}" -ge "$n" ] || sv_fail "daemon dropped O_NOATIME ${dropped:-0} times, expected at least $n"
sv_pass "SOURCE unchanged (atime, mtime, ctime, size of every entry); the daemon dropped O_NOATIME $dropped times"
