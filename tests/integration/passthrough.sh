#!/bin/bash
# Passthrough (passthrough.c, open_files.c): every regular file is read by
# the kernel straight from SOURCE's file, with no READ request, no fd of
# the daemon per open file and no copy of its pages in the view; all open
# files of one file share its backing file, under all its names (hard
# links across store paths).  -o no_passthrough turns it off (the view then
# keeps a copy); files the kernel refuses to back are read through the
# daemon.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
sv_make_store "$src"
big=0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12/lib/big.bin
small=0c8y7w4ihxq4i2r1n5bjbyq0m1gz0kxa-hello-2.12/share/doc/README
# 12 more names of big.bin in another store path, as nix-store --optimise
# links identical files.
other=3x4d0kd7n0h3wjvh1g43r6w9z9nls0vz-lib-1.0/lib
linked=()
for i in $(seq 1 12); do
	ln "$src/$big" "$src/$other/big-linked-$i.bin"
	linked+=("$other/big-linked-$i.bin")
done
"$PROBE" times "$src" >"$SV_TMP/times.before"
want=$(cd "$src" && "$PROBE" noatime-open "$big")
mkdir "$mnt"
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other

stats() { sv_stats "$SV_DAEMON" "$SV_LOG"; }
field() { sv_stat_field "$1" "$2"; }

# 1. The large file, three times as nobody with O_NOATIME: same bytes, and
#    the daemon answered the opens but no read.
for _ in 1 2 3; do
	got=$(cd "$mnt" && as_nobody "$PROBE" noatime-open "$big")
	[ "$got" = "$want" ] || sv_fail "$big through the view: '$got', SOURCE: '$want'"
done
s=$(stats)
if [ "$(field passthrough "$s")" = 0 ]; then
	kernel=$(uname -r)
	IFS=. read -r major minor _ <<<"$kernel"
	if [ "$major" -lt 6 ] || { [ "$major" = 6 ] && [ "${minor%%[!0-9]*}" -lt 9 ]; }; then
		sv_skip "kernel $kernel has no FUSE passthrough (Linux 6.9 and later)"
	fi
	for config in /proc/config.gz "/boot/config-$kernel"; do
		[ -r "$config" ] || continue
		zgrep -q '^CONFIG_FUSE_PASSTHROUGH=y' "$config" ||
			sv_skip "kernel $kernel is built without CONFIG_FUSE_PASSTHROUGH ($config)"
		break
	done
	sv_fail "no open read by passthrough on kernel $kernel: $s; $(grep passthrough "$SV_LOG")"
fi
{ [ "$(field passthrough "$s")" = 3 ] && [ "$(field reads "$s")" = 0 ]; } ||
	sv_fail "3 opens of $big: expected passthrough=3 reads=0: $s"
[ "$(cd "$mnt" && as_nobody cat "$small")" = readme ] || sv_fail "$small through the view"
s=$(stats)
{ [ "$(field passthrough "$s")" = 4 ] && [ "$(field reads "$s")" = 0 ]; } ||
	sv_fail "a 7-byte file: expected passthrough=4 reads=0: $s"
# The view's own files hold no pages (cachestat of the reader's open file);
# SOURCE's hold them, one copy.
cached=$(cd "$mnt" && as_nobody "$PROBE" read-cached "$big" "$small")
[ "$cached" = "$big pages=0 of=1024
$small pages=0 of=1" ] || sv_fail "the view's page cache of files read by passthrough: $cached"
cached=$(cd "$src" && "$PROBE" read-cached "$big" "$small")
[ "$cached" = "$big pages=1024 of=1024
$small pages=1 of=1" ] || sv_fail "SOURCE's page cache of them: $cached"
sv_pass "4 MiB file read 3 times with O_NOATIME by passthrough (no READ), and a 7-byte file; no page of either in the view's cache"

# 1b. The 13 names of one file, in two store paths: each read through the
#     view with no page of its own, and held open at once, 4 open files a
#     name, on one backing file (one fd of the daemon's, not 13).
cached=$(cd "$mnt" && as_nobody "$PROBE" read-cached "$big" "${linked[@]}" | sed 's/^[^ ]* //' | sort -u)
[ "$cached" = "pages=0 of=1024" ] || sv_fail "the names of a hard-linked file through the view: $cached"
fds_before=$(find "/proc/$SV_DAEMON/fd" -mindepth 1 | wc -l)
mkfifo "$SV_TMP/links.in"
names=()
for n in "$big" "${linked[@]}"; do names+=("$mnt/$n" "$mnt/$n" "$mnt/$n" "$mnt/$n"); done
as_nobody "$PROBE" hold "${names[@]}" <"$SV_TMP/links.in" >"$SV_TMP/links.out" &
hold_pid=$!
SV_PIDS+=("$hold_pid")
exec {links_w}>"$SV_TMP/links.in"
sv_wait_for "$SV_TMP/links.out" 10
fds_held=$(find "/proc/$SV_DAEMON/fd" -mindepth 1 | wc -l)
exec {links_w}>&-
sv_wait_exit "$hold_pid" 60
[ "$(head -1 "$SV_TMP/links.out")" = "opened 52 failed 0" ] ||
	sv_fail "52 open files of 13 names of one file: $(cat "$SV_TMP/links.out")"
[ $((fds_held - fds_before)) -lt 8 ] ||
	sv_fail "13 names of one file held open: the daemon's fds went from $fds_before to $fds_held (one backing file expected)"
sv_pass "a file under 13 names in 2 store paths: no page in the view; 52 open files on one backing file (fds $fds_before -> $fds_held)"

# 2. Open files of one file share its backing file: 4 readers at once, each
#    holding 4 open files of it (one mapped), closing and reopening half.
readers=()
for i in 1 2 3 4; do
	(for _ in 1 2 3 4 5; do as_nobody "$PROBE" share "$mnt/$big" 4; done) >"$SV_TMP/share.$i" &
	readers+=($!)
done
SV_PIDS+=("${readers[@]}")
for p in "${readers[@]}"; do sv_wait_exit "$p" 120; done
sort "$SV_TMP"/share.* | uniq -c >"$SV_TMP/share.all"
[ "$(cat "$SV_TMP/share.all")" = "     20 share ok ${want##* }" ] ||
	sv_fail "shared open files of $big: $(cat "$SV_TMP/share.all")"
sv_pass "20 rounds of 4 open files of one file at once, by 4 readers: all read whole, one mapped"

# 3. No fd of the daemon per open file: 300 held open.
fds_before=$(find "/proc/$SV_DAEMON/fd" -mindepth 1 | wc -l)
mkfifo "$SV_TMP/hold.in"
held_files=()
for _ in $(seq 300); do held_files+=("$mnt/$big"); done
as_nobody "$PROBE" hold "${held_files[@]}" <"$SV_TMP/hold.in" >"$SV_TMP/hold.out" &
hold_pid=$!
SV_PIDS+=("$hold_pid")
exec {hold_w}>"$SV_TMP/hold.in"
for _ in $(seq "$SV_WAIT_TENTHS"); do [ -s "$SV_TMP/hold.out" ] && break; sleep 0.1; done
read -r held <"$SV_TMP/hold.out"
fds_held=$(find "/proc/$SV_DAEMON/fd" -mindepth 1 | wc -l)
exec {hold_w}>&-
sv_wait_exit "$hold_pid" 60
reread=$(sed -n 2p "$SV_TMP/hold.out")
{ [ "$held" = "opened 300 failed 0" ] && [ "$reread" = "read 300 failed 0" ]; } ||
	sv_fail "300 open files of $big: $held; $reread"
[ $((fds_held - fds_before)) -lt 10 ] ||
	sv_fail "the daemon's fds went from $fds_before to $fds_held with 300 open files"
sv_pass "300 open files of $big held and read; the daemon's fds $fds_before -> $fds_held"
sv_unmount "$mnt"

# 4. -o no_passthrough: the same bytes, every read through the daemon.
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,no_passthrough
got=$(cd "$mnt" && as_nobody "$PROBE" noatime-open "$big")
[ "$got" = "$want" ] || sv_fail "$big with no_passthrough: '$got'"
s=$(stats)
{ [ "$(field passthrough "$s")" = 0 ] && [ "$(field reads "$s")" -ge 1 ]; } ||
	sv_fail "no_passthrough: expected reads through the daemon only: $s"
cached=$(cd "$mnt" && as_nobody "$PROBE" read-cached "$big" "${linked[0]}")
[ "$cached" = "$big pages=1024 of=1024
${linked[0]} pages=1024 of=1024" ] || sv_fail "no_passthrough: the view's own copies: $cached"
sv_pass "no_passthrough: $big read through the daemon ($(field reads "$s") reads);" \
	"the view keeps a copy of it under each of two names"

sv_unmount "$mnt"

"$PROBE" times "$src" >"$SV_TMP/times.after"
diff -u <(sv_comparable_times "$SV_LOG" "$SV_TMP/times.before") \
	<(sv_comparable_times "$SV_LOG" "$SV_TMP/times.after") >&2 || sv_fail "SOURCE's times changed"
sv_pass "SOURCE's times unchanged by checks 1-4"

# 5. A SOURCE spanning filesystems, one store path on an overlayfs, which
#    the kernel will not back files with (itself stacked): its large file
#    is read through the daemon, the refusal said once, and large files
#    elsewhere in SOURCE still by passthrough.
stacked=5v9cx2iz5l0fxm9qw7d8y2a0n8dxkq9j-stacked-1.0
src2=$SV_TMP/store2 ov=$SV_TMP/overlay
mkdir -p "$src2/$stacked" "$ov/lower/lib" "$ov/upper" "$ov/work"
cp -a "$src/${big%%/*}" "$src2/"
head -c 3145728 /dev/urandom >"$ov/lower/lib/big.bin"
want2=$(cd "$ov/lower" && "$PROBE" noatime-open lib/big.bin)
if mount -t overlay overlay -o "lowerdir=$ov/lower,upperdir=$ov/upper,workdir=$ov/work" \
	"$src2/$stacked"; then
	SV_UNDO+=("umount -l '$src2/$stacked' 2>/dev/null")
	sv_mount "$src2" "$mnt" -o uid=65534,gid=65534,allow_other
	for _ in 1 2; do
		got=$(cd "$mnt/$stacked" && as_nobody "$PROBE" noatime-open lib/big.bin)
		[ "$got" = "${want2}" ] || sv_fail "a large file on overlayfs: '$got', not '$want2'"
	done
	s=$(stats)
	{ [ "$(field passthrough "$s")" = 0 ] && [ "$(field reads "$s")" -ge 1 ]; } ||
		sv_fail "a large file on overlayfs: expected reads through the daemon only: $s"
	got=$(cd "$mnt" && as_nobody "$PROBE" noatime-open "$big")
	[ "$got" = "$want" ] || sv_fail "$big beside the overlayfs: '$got'"
	s=$(stats)
	[ "$(field passthrough "$s")" = 1 ] ||
		sv_fail "$big beside the overlayfs: expected passthrough=1: $s"
	[ "$(grep -c 'refuses passthrough' "$SV_LOG")" = 1 ] ||
		sv_fail "the refusal was not said once: $(grep passthrough "$SV_LOG")"
	sv_pass "a large file on overlayfs read twice through the daemon, the refusal said once" \
		"($(grep -o 'refuses passthrough ([^)]*)' "$SV_LOG")); one beside it by passthrough"
	sv_unmount "$mnt"
	umount "$src2/$stacked"
else
	echo "skip: no overlayfs here, so no file the kernel refuses to back"
fi
