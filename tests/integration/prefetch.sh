#!/bin/bash
# Reading ahead of a walk (prefetch.h): listing a directory has the daemon
# read its subdirectories in the background, and only those (not symlinks,
# files, hidden entries or a whole store's top level); what the view lists
# is unchanged by it; an unmount does not wait for queued work;
# -o no_prefetch turns it off.
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

# 1. Listing a directory reads ahead its subdirectories only.  The top
#    level of a whole store is too wide: only a closure's is read ahead.
printf '%s\n%s\n' "$B" "$A" >"$SV_TMP/closure"
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,closure="$SV_TMP/closure"
[ "$(prefetched)" = 0 ] || sv_fail "read ahead before any listing"
[ "$(as_nobody ls "$mnt" | tr '\n' ' ')" = "$A $B " ] || sv_fail "ls shows: $(ls "$mnt")"
n=$(sv_wait_stat "$SV_DAEMON" "$SV_LOG" prefetched 2)
sleep 0.3
[ "$n" = 2 ] && [ "$(prefetched)" = 2 ] || sv_fail "listing a root of 2 visible directories read $(prefetched) ahead"
sv_unmount "$mnt"
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other
as_nobody ls "$mnt" >/dev/null
sleep 0.3
[ "$(prefetched)" = 0 ] || sv_fail "listing the top level of a whole store read $(prefetched) ahead"
[ "$(as_nobody ls "$mnt/$A" | tr '\n' ' ')" = "lib link readme " ] || sv_fail "ls $A shows: $(ls "$mnt/$A")"
n=$(sv_wait_stat "$SV_DAEMON" "$SV_LOG" prefetched 1)
sleep 0.3
[ "$n" = 1 ] && [ "$(prefetched)" = 1 ] ||
	sv_fail "listing a directory, a file and a symlink to the directory read $(prefetched) ahead, expected 1"
sv_pass "a listing reads ahead exactly its subdirectories: not files, symlinks, a whole store's top level or what the closure hides"

# 2. A walk through the view lists what SOURCE holds, with the same types.
(cd "$src" && find . -printf '%y %p\n' | sort) >"$SV_TMP/source.find"
(cd "$mnt" && as_nobody find . -printf '%y %p\n' | sort) >"$SV_TMP/view.find"
diff -u "$SV_TMP/source.find" "$SV_TMP/view.find" >&2 || sv_fail "the walk differs from SOURCE"
[ "$(as_nobody cat "$mnt/$A/lib/sub/file")" = a ] || sv_fail "file unreadable after the walk"
n=$(prefetched)
[ "$n" -ge 3000 ] || sv_fail "a walk of $(wc -l <"$SV_TMP/source.find") entries read only $n directories ahead"
sv_pass "a walk of $(wc -l <"$SV_TMP/view.find") entries matches SOURCE; $n directories read ahead"
sv_unmount "$mnt"

# 3. Unmounting right after listing 3000 directories does not wait for them all.
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other
as_nobody ls "$mnt/$W" >/dev/null
umount "$mnt"
sv_wait_exit "$SV_DAEMON" 10
[ "$SV_STATUS" = 0 ] || sv_fail "storeview exited with status $SV_STATUS after unmount"
left=$(sv_stat_field prefetched "$(grep 'stats:' "$SV_LOG" | tail -1)")
sv_pass "unmounted while reading ahead: exit 0 at once, $left of 3000 directories had been read"

# 4. -o no_prefetch: nothing read ahead, the same walk.
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,no_prefetch
(cd "$mnt" && as_nobody find . -printf '%y %p\n' | sort) >"$SV_TMP/view.find"
diff -u "$SV_TMP/source.find" "$SV_TMP/view.find" >&2 || sv_fail "the walk differs from SOURCE with no_prefetch"
[ "$(prefetched)" = 0 ] || sv_fail "no_prefetch read $(prefetched) directories ahead"
sv_pass "-o no_prefetch: the same walk, nothing read ahead"
sv_unmount "$mnt"
