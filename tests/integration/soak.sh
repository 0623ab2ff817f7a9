#!/bin/bash
# Load: 4 readers (2 through the page cache, dropping it after each file,
# 2 with O_DIRECT), a stat walker and a lister hit a view of a few thousand
# files for SV_SOAK_SECONDS (default 60).  Every byte read is compared with
# SOURCE.  Entries and attributes expire after a second (-o timeout=1)
# throughout; in the second half the kernel also drops its unused dentries
# and inodes every second, so that inodes are forgotten and looked up again
# under the readers.  Expected: no mismatch, no error, forgets in the second
# half, the daemon's RSS flat after warm-up and the same number of fds
# before and after.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

seconds=${SV_SOAK_SECONDS:-60}
src=$SV_TMP/store mnt=$SV_TMP/view
mkdir "$mnt"
# 40 entries of 75 files: mostly small, a few of megabytes, slices of one random blob.
head -c 33554432 /dev/urandom >"$SV_TMP/blob"
perl -e '
	my ($src, $blob_file) = @ARGV;
	srand(5);
	open(my $b, "<", $blob_file) or die; local $/; my $blob = <$b>;
	for my $e (1 .. 40) {
		my $dir = sprintf("%s/%032d-pkg-%d", $src, $e, $e);
		for my $sub ("bin", "lib", "share/doc/deep") {
			system("mkdir", "-p", "$dir/$sub") == 0 or die;
		}
		for my $f (1 .. 75) {
			my $sub = ("bin", "lib", "share/doc/deep")[$f % 3];
			my $size = $f % 37 == 0 ? int(rand(4 << 20)) : int(rand(65536) ** 2 / 65536);
			open(my $o, ">", "$dir/$sub/f$f") or die;
			print $o substr($blob, int(rand(length($blob) - $size)), $size);
			close($o);
		}
	}' "$src" "$SV_TMP/blob"
chmod -R a-w "$src"
nfiles=$(find "$src" -type f | wc -l)
mb=$(du -sm "$src" | cut -f1)

# Short timeouts and the smallest fd cache, so lookups and evictions keep coming.
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,timeout=1,dir_fd_cache=16
daemon=$SV_DAEMON log=$SV_LOG

rss_kb() { awk '/^VmRSS:/ { print $2 }' /proc/"$daemon"/status; }
# The daemon's fds beyond its /dev/fuse channels, splice pipes and cached
# directories (all bounded by its threads or the cache): open files and
# directories, the root, stdio.  Asks the daemon for its cache size.
fd_balance() {
	local dir_fds other
	dir_fds=$(sv_stat_field dir_fds "$(sv_stats "$daemon" "$log")")
	other=$(find /proc/"$daemon"/fd -mindepth 1 -printf '%l\n' | grep -cv -e '^/dev/fuse$' -e '^pipe:' || true)
	echo $((other - dir_fds))
}

fds_before=$(fd_balance)
pids=()
for i in 1 2; do
	"$PROBE" soak read "$src" "$mnt" "$seconds" "$i" >"$SV_TMP/soak.read$i" 2>"$SV_TMP/soak.read$i.err" & pids+=($!)
	"$PROBE" soak direct "$src" "$mnt" "$seconds" "$((i + 10))" >"$SV_TMP/soak.direct$i" 2>"$SV_TMP/soak.direct$i.err" & pids+=($!)
done
as_nobody "$PROBE" soak stat "$src" "$mnt" "$seconds" 20 >"$SV_TMP/soak.stat" 2>"$SV_TMP/soak.stat.err" & pids+=($!)
as_nobody "$PROBE" soak list "$src" "$mnt" "$seconds" 21 >"$SV_TMP/soak.list" 2>"$SV_TMP/soak.list.err" & pids+=($!)

# RSS every tenth of the run; warm-up is the first quarter.  From half
# time, the kernel's unused dentries and inodes (of every filesystem: a
# cache, nothing that changes) are dropped every second.
rss=()
for i in $(seq 10); do
	sleep "$(awk "BEGIN { print $seconds / 10 }")"
	rss+=("$(rss_kb)")
	if [ "$i" = 5 ]; then
		forgets_half=$(sv_stat_field forgets "$(sv_stats "$daemon" "$log")")
		(while sleep 1; do echo 2 >/proc/sys/vm/drop_caches; done) & forgetter=$!
		SV_PIDS+=("$forgetter")
	fi
done
for p in "${pids[@]}"; do
	wait "$p" || sv_fail "a soak worker failed: $(cat "$SV_TMP"/soak.*.err)"
done
kill "$forgetter"
forgets_end=$(sv_stat_field forgets "$(sv_stats "$daemon" "$log")")
kill -0 "$daemon" || sv_fail "the daemon died under load"

cat "$SV_TMP"/soak.read1 "$SV_TMP"/soak.read2 "$SV_TMP"/soak.direct1 "$SV_TMP"/soak.direct2 \
	"$SV_TMP"/soak.stat "$SV_TMP"/soak.list
sum() { grep -o " $1=[0-9]*" "$SV_TMP"/soak.{read1,read2,direct1,direct2,stat,list} | awk -F= '{ n += $2 } END { printf "%.0f\n", n }'; }
bytes=$(sum bytes) ops=$(sum ops) mismatches=$(sum mismatches) errors=$(sum errors)
cat "$SV_TMP"/soak.*.err | head -20 >&2
[ "$mismatches" = 0 ] || sv_fail "$mismatches mismatches between the view and SOURCE"
[ "$errors" = 0 ] || sv_fail "$errors unexpected errors through the view"
[ "$bytes" -gt 0 ] || sv_fail "nothing read"
sv_pass "$seconds s, $nfiles files ($mb MB): $ops operations, $bytes bytes verified, 0 mismatches, 0 errors"
[ "$forgets_end" -gt "$forgets_half" ] || sv_fail "no inode forgotten in the second half ($forgets_half forgets at half time, $forgets_end at the end)"
sv_pass "timeout=1 throughout; $forgets_half inodes forgotten in the first half, $((forgets_end - forgets_half)) in the second, while the readers verified"

# Freed memory may stay with the process, but must not keep growing.
warm=${rss[2]} last=${rss[9]} peak=$(printf '%s\n' "${rss[@]:2}" | sort -n | tail -1)
echo "daemon RSS (kB) every $((seconds / 10)) s: ${rss[*]}"
if [ ${#SV_WRAPPER[@]} -gt 0 ] || ldd "$STOREVIEW" | grep libasan >/dev/null; then
	echo "RSS not judged under a wrapper or ASan (their own allocators grow)"
elif [ "$last" -gt $((warm + warm / 5 + 2048)) ]; then
	sv_fail "daemon RSS grew from $warm kB after warm-up to $last kB"
else
	sv_pass "daemon RSS flat after warm-up: $warm kB -> $last kB (peak $peak kB)"
fi

# Releases reach the daemon after the readers' close() returns: wait, bounded.
for _ in $(seq "$SV_WAIT_TENTHS"); do
	fds_after=$(fd_balance)
	[ "$fds_after" = "$fds_before" ] && break
	sleep 0.1
done
[ "$fds_after" = "$fds_before" ] || sv_fail "fd leak: $fds_before fds besides channels, pipes and cached dirs before, $fds_after after"
sv_pass "no fd leak: $fds_before fds besides channels, pipes and cached dirs, before and after"
sv_unmount "$mnt"
grep 'stats:' "$log" | tail -1
