#!/bin/bash
# Reading data ahead (readahead.h): reading one file through the view
# brings the data of the small regular files a depth-first reader would
# read next, within its store path, into SOURCE's page cache; opening
# files without reading them reads nothing ahead; reading in another store
# path moves the read-ahead there; -o no_prefetch turns it off.  Files read
# by passthrough (as root, Linux 6.9 and later) start it when released
# having been read, others (-o no_passthrough) at their first READ.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir
command -v fincore >/dev/null || sv_skip "fincore (util-linux) missing"

src=$SV_TMP/store mnt=$SV_TMP/view
A=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a-1.0
B=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b-1.0
C=cccccccccccccccccccccccccccccccc-c-1.0
mkdir -p "$src/$A/lib/sub" "$src/$B/share" "$src/$C/etc"
for i in $(seq -w 1 20); do head -c 16384 /dev/urandom >"$src/$A/lib/f$i"; done
for i in $(seq -w 1 10); do
	head -c 16384 /dev/urandom >"$src/$B/share/g$i"
	head -c 16384 /dev/urandom >"$src/$C/etc/h$i"
done
head -c 16384 /dev/urandom >"$src/$A/lib/sub/below"
# Top-level files, as a store's .drv files: unrelated to each other.
head -c 16384 /dev/urandom >"$src/x.drv"
head -c 16384 /dev/urandom >"$src/y.drv"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$src/$A/lib/large"
chmod -R a-w "$src"
mkdir "$mnt"
sync

# Bytes of the file in SOURCE's page cache.
resident() { fincore --noheadings --bytes --output RES "$1" | tr -d " "; }
evict_all() {
	find "$src" -type f -exec dd if={} iflag=nocache count=0 status=none \;
	[ "$(resident "$src/$A/lib/f20")" = 0 ] ||
		sv_skip "the filesystem of $SV_TMP keeps file pages in memory (tmpfs?)"
}
# For a failure's message: the counter, and the bytes in memory of DIR's files in listing order.
residency() {
	local f out
	out="data_read_ahead=$(data_read_ahead):"
	while IFS= read -r f; do
		out+=" $f=$(resident "$src/$1/$f")"
	done < <(find "$src/$1" -mindepth 1 -maxdepth 1 -type f -printf '%f\n')
	echo "$out"
}
# readahead(2) only starts the reads: waits for them.  And it is a hint:
# under load the kernel here (6.18) has left files the thread had passed to
# it (counted) with only some of their pages in memory, or none, so some
# pages in any of FILES are the proof that the reads reached SOURCE.
wait_read_ahead() {
	local f
	for _ in $(seq "$SV_WAIT_TENTHS"); do
		for f in "$@"; do
			[ "$(resident "$f")" != 0 ] && return 0
		done
		sleep 0.1
	done
	return 1
}
data_read_ahead() { sv_stat_field data_read_ahead "$(sv_stats "$SV_DAEMON" "$SV_LOG")"; }
# The counter once it has reached $1 and stayed the same for 0.3 s: whether
# the thread counts the file read itself depends on who got there first.
settled_data_read_ahead() {
	local last now
	now=$(sv_wait_stat "$SV_DAEMON" "$SV_LOG" data_read_ahead "$1")
	for _ in $(seq "$SV_WAIT_TENTHS"); do
		last=$now
		sleep 0.3
		now=$(data_read_ahead)
		[ "$now" = "$last" ] && break
	done
	echo "$now"
}

# 1. Reading one file reads ahead the small files beside it and below,
#    not the large one, nor another store path.
evict_all
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other
# Compared afterwards: SOURCE's f01 read meanwhile would be in memory when
# the view opens it, and a file in memory starts nothing (SOURCE is warm).
as_nobody cat "$mnt/$A/lib/f01" >"$SV_TMP/f01"
# Wherever the kernel has passthrough it has cachestat(2), but valgrind 3.19
# knows no cachestat: a daemon under it cannot tell that passthrough read a
# file, says so, and cases 1 and 2 read through it instead.
if grep -q 'cachestat(2) fails' "$SV_LOG"; then
	[ ${#SV_WRAPPER[@]} -gt 0 ] || sv_fail "$(cat "$SV_LOG")"
	echo "passthrough left out: the daemon under '$STOREVIEW_WRAPPER' has no cachestat" >&2
	sv_unmount "$mnt"
	evict_all
	sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,no_passthrough
	as_nobody cat "$mnt/$A/lib/f01" >"$SV_TMP/f01"
fi
cmp "$src/$A/lib/f01" "$SV_TMP/f01" || sv_fail "f01 reads other data than SOURCE holds"
# f01 is counted too if the thread found it before the daemon read it.
n1=$(settled_data_read_ahead 20)
{ [ "$n1" -ge 20 ] && [ "$n1" -le 21 ]; } ||
	sv_fail "reading f01 read $n1 files ahead, expected 20 or 21 (f02-f20, sub/below, f01)"
wait_read_ahead "$src/$A"/lib/f{02..20} "$src/$A/lib/sub/below" ||
	sv_fail "none of f02-f20 and sub/below in SOURCE's page cache after reading f01 ($(residency "$A/lib"))"
for f in "$A/lib/large" "$B/share/g01"; do
	[ "$(resident "$src/$f")" = 0 ] || sv_fail "$f was read ahead ($(resident "$src/$f") bytes)"
done
# Read by the kernel from the page cache it filled, as SOURCE holds it.
cmp "$src/$A/lib/f20" <(as_nobody cat "$mnt/$A/lib/f20") || sv_fail "f20 reads other data than SOURCE holds"
sv_pass "reading one file read its 19 small siblings and a file below ahead, not a 2 MiB file or another store path"

# 2. Opening files without reading them reads nothing ahead, nor reading
#    a top-level file or a second file; reading in another store path
#    moves the read-ahead there.
for i in $(seq -w 1 10); do as_nobody sh -c ": <'$mnt/$B/share/g$i'" || sv_fail "cannot open g$i"; done
as_nobody cat "$mnt/$A/lib/f02" "$mnt/x.drv" >/dev/null
sleep 0.3
[ "$(data_read_ahead)" = "$n1" ] || sv_fail "$(( $(data_read_ahead) - n1 )) more files read ahead by opening 10 files and reading a second one and a top-level one"
[ "$(resident "$src/$B/share/g10")" = 0 ] || sv_fail "opening g01..g10 read them"
[ "$(resident "$src/y.drv")" = 0 ] || sv_fail "reading x.drv read y.drv ahead"
as_nobody cat "$mnt/$C/etc/h01" >/dev/null
n=$(( $(settled_data_read_ahead $((n1 + 9))) - n1 ))
{ [ "$n" -ge 9 ] && [ "$n" -le 10 ] && wait_read_ahead "$src/$C"/etc/h{02..10}; } ||
	sv_fail "reading h01 in another store path read $n files ahead, expected h02-h10 (and h01) ($(residency "$C/etc"))"
sv_pass "opening 10 files without reading them read nothing ahead, nor reading a top-level file or a second file; reading in another store path read its other 9 files"
sv_unmount "$mnt"

# 3. -o no_prefetch: reading a file reads nothing else.
evict_all
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,no_prefetch
as_nobody cat "$mnt/$C/etc/h01" >/dev/null
sleep 0.3
{ [ "$(data_read_ahead)" = 0 ] && [ "$(resident "$src/$C/etc/h10")" = 0 ]; } ||
	sv_fail "no_prefetch read $(data_read_ahead) files ahead"
sv_pass "-o no_prefetch: reading a file reads nothing ahead"
sv_unmount "$mnt"

# 4. -o no_passthrough, as an unprivileged daemon reads: the first READ
#    through the daemon starts it.
evict_all
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,no_passthrough
as_nobody cat "$mnt/$B/share/g01" >/dev/null
n=$(settled_data_read_ahead 9)
{ [ "$n" -ge 9 ] && [ "$n" -le 10 ] && wait_read_ahead "$src/$B"/share/g{02..10}; } ||
	sv_fail "no_passthrough: reading g01 read $n files ahead, expected g02-g10 (and g01) ($(residency "$B/share"))"
sv_pass "-o no_passthrough: reading one file through the daemon read its 9 siblings ahead"
sv_unmount "$mnt"
