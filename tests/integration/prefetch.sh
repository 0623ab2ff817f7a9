#!/bin/bash
# Reading ahead of a walk (prefetch.h): listing a directory has the daemon
# read the tree below it in the background, directories only (not
# symlinks, files or hidden entries), a bounded number ahead; the walk
# is then answered from what was read, and shows what SOURCE holds, with
# the same attributes; a directory changed since it was read is read
# again; an unmount does not wait for pending work; -o no_prefetch turns
# it off.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
A=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a-1.0
B=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b-1.0
C=cccccccccccccccccccccccccccccccc-c-1.0
W=wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww-wide-1.0
mkdir -p "$src/$A/lib/sub" "$src/$B/share" "$src/$C/bin" "$src/$W"
echo a >"$src/$A/lib/sub/file"
echo b >"$src/$B/share/file"
echo readme >"$src/$A/readme"
ln -s lib "$src/$A/link"
# Wide: more subdirectories than one listing reply holds.
(cd "$src/$W" && mkdir $(seq -f d%04g 3000))
chmod -R a-w "$src"
mkdir "$mnt"

prefetched() { sv_stat_field prefetched "$(sv_stats "$SV_DAEMON" "$SV_LOG")"; }
used() { sv_stat_field read_ahead_used "$(sv_stats "$SV_DAEMON" "$SV_LOG")"; }

# 1. Listing a directory reads ahead the directories below it, to the
#    bottom, and not what the closure hides; a listing of the top level of
#    a whole store reads no more than 64 of its directories.
printf '%s\n%s\n' "$B" "$A" >"$SV_TMP/closure"
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,closure="$SV_TMP/closure"
[ "$(prefetched)" = 0 ] || sv_fail "read ahead before any listing"
[ "$(as_nobody ls "$mnt" | tr '\n' ' ')" = "$A $B " ] || sv_fail "ls shows: $(ls "$mnt")"
# A, A/lib, A/lib/sub, B, B/share.
n=$(sv_wait_stat "$SV_DAEMON" "$SV_LOG" prefetched 5)
sleep 0.3
{ [ "$n" = 5 ] && [ "$(prefetched)" = 5 ]; } ||
	sv_fail "listing a root of 2 visible paths of 5 directories read $(prefetched) ahead"
sv_unmount "$mnt"
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other
[ "$(as_nobody ls "$mnt/$A" | tr '\n' ' ')" = "lib link readme " ] || sv_fail "ls $A shows: $(ls "$mnt/$A")"
# lib and lib/sub.
n=$(sv_wait_stat "$SV_DAEMON" "$SV_LOG" prefetched 2)
sleep 0.3
{ [ "$n" = 2 ] && [ "$(prefetched)" = 2 ]; } ||
	sv_fail "listing a directory, a file and a symlink to the directory read $(prefetched) ahead, expected 2"
as_nobody ls "$mnt" >/dev/null
n=$(sv_wait_stat "$SV_DAEMON" "$SV_LOG" prefetched 66)
sleep 0.3
{ [ "$n" = 66 ] && [ "$(prefetched)" = 66 ]; } ||
	sv_fail "listing the top level of a whole store of 3008 directories read $(($(prefetched) - 2)) ahead, expected 64"
sv_pass "a listing reads ahead the directories below it, not files, symlinks or what the closure hides, and 64 at most while nobody lists them"

# 2. A walk through the view is answered from what was read ahead, and
#    lists what SOURCE holds, with the same attributes (as nobody sees them).
# Mode as the view narrows it for nobody: the others' bits for everyone.
walk() {
	find . -printf '%y %m %s %n %i %T@ %C@ %p\n' |
		sed 's/^\([a-z]\) \([0-7]\)[0-7]\([0-7]\)/\1 \3\3\3/' | LC_ALL=C sort
}
# Walks SOURCE as root and the view as nobody.
walk_both() {
	(cd "$src" && walk) >"$SV_TMP/source.find"
	(cd "$mnt" && as_nobody bash -c "$(declare -f walk); walk") >"$SV_TMP/view.find"
}
walk_both
diff -u "$SV_TMP/source.find" "$SV_TMP/view.find" >&2 || sv_fail "the walk differs from SOURCE"
[ "$(as_nobody cat "$mnt/$A/lib/sub/file")" = a ] || sv_fail "file unreadable after the walk"
n=$(prefetched) u=$(used)
# The wide directory's 3000 subdirectories are listed only after all of it.
{ [ "$n" -ge 5 ] && [ "$u" -ge 5 ]; } ||
	sv_fail "a walk of $(wc -l <"$SV_TMP/source.find") entries: $n directories read ahead, $u listings answered from them"
sv_pass "a walk of $(wc -l <"$SV_TMP/view.find") entries matches SOURCE; $n directories read ahead, $u listings answered from them"
sv_unmount "$mnt"

# 3. A directory changed after it was read ahead is listed as it is now.
chmod u+w "$src/$B/share"
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other
as_nobody ls "$mnt/$B" >/dev/null
sv_wait_stat "$SV_DAEMON" "$SV_LOG" prefetched 1 >/dev/null
sleep 0.1
echo new >"$src/$B/share/new"
[ "$(as_nobody ls "$mnt/$B/share" | tr '\n' ' ')" = "file new " ] ||
	sv_fail "a directory changed after it was read ahead lists: $(ls "$mnt/$B/share")"
[ "$(used)" = 0 ] || sv_fail "a listing read before the change was used"
rm "$src/$B/share/new"
chmod u-w "$src/$B/share"
sv_pass "a directory changed after it was read ahead is listed as it is now"
sv_unmount "$mnt"

# 4. Unmounting right after listing 3000 directories does not wait for them all.
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other
as_nobody ls "$mnt/$W" >/dev/null
umount "$mnt"
sv_wait_exit "$SV_DAEMON" 10
[ "$SV_STATUS" = 0 ] || sv_fail "storeview exited with status $SV_STATUS after unmount"
left=$(sv_stat_field prefetched "$(grep 'stats:' "$SV_LOG" | tail -1)")
sv_pass "unmounted while reading ahead: exit 0 at once, $left of 3000 directories had been read"

# 5. -o no_prefetch: nothing read ahead, the same walk (test 3 changed a time).
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,no_prefetch
walk_both
diff -u "$SV_TMP/source.find" "$SV_TMP/view.find" >&2 || sv_fail "the walk differs from SOURCE with no_prefetch"
[ "$(prefetched)" = 0 ] || sv_fail "no_prefetch read $(prefetched) directories ahead"
sv_pass "-o no_prefetch: the same walk, nothing read ahead"
sv_unmount "$mnt"
