#!/bin/bash
# A hostile store: symlinks out of SOURCE and in loops, names and paths at
# and beyond the limits, special files, setuid programs, unreadable entries,
# and directories renamed or removed under a mounted view.  The daemon must
# never open anything outside SOURCE, the view must not reach a device nor
# honour setuid, and the daemon must keep serving throughout.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
e=$src/hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh-hostile
v=$mnt/${e##*/}
mkdir -p "$e" "$SV_TMP/outside"
echo canary >"$SV_TMP/canary"
echo outside >"$SV_TMP/outside/file"

# Symlinks that leave SOURCE or never end.
ln -s "$SV_TMP/canary" "$e/abs-link"
ln -s ../../canary "$e/dotdot-link"
ln -s "$SV_TMP/outside" "$e/abs-dir-link"
ln -s ../.. "$e/dotdot-dir-link"
ln -s loop-b "$e/loop-a"
ln -s loop-a "$e/loop-b"
ln -s self "$e/self"
long_target=$(printf 'x/%.0s' $(seq 2047))x
ln -s "$long_target" "$e/long-target"	# 4095 bytes: PATH_MAX - 1
# Names at the limits.
long_name=$(printf 'n%.0s' $(seq 255))
echo long >"$e/$long_name"
printf 'newline\n' >"$e/new
line"
printf 'invalid utf-8\n' >"$e/"$'\xff\xfe-latin1-\xe9'
printf 'quote\n' >"$e/"$'back\\slash "quote" \t tab'
# A chain of directories whose path is longer than PATH_MAX.
deep_name=$(printf 'd%.0s' $(seq 200))
(cd "$e" && mkdir deep && cd deep && for _ in $(seq 25); do mkdir "$deep_name" && cd "$deep_name"; done &&
	echo bottom >leaf)
# Special files, and setuid and setgid programs.
mkfifo "$e/fifo"
"$PROBE" mksock "$e/socket"
mknod "$e/null" c 1 3
mknod "$e/zero" c 1 5
mknod "$e/loop0" b 7 0
install "$(command -v id)" "$e/setuid-id"
install "$(command -v id)" "$e/setgid-id"
# Unreadable for everyone, a directory nobody can list or enter, and one
# that can be entered but not listed.
echo secret >"$e/mode-000" && chmod 000 "$e/mode-000"
mkdir "$e/dir-000" && echo in >"$e/dir-000/file" && chmod 000 "$e/dir-000"
mkdir "$e/dir-111" && echo known >"$e/dir-111/known" && chmod 444 "$e/dir-111/known" &&
	chmod 111 "$e/dir-111"
# Directories renamed and removed while mounted.
for d in moved removed swapped; do mkdir "$e/$d" && echo "$d" >"$e/$d/file"; done
# Files that fifos replace while mounted, more than the daemon has threads.
mkdir "$e/to-fifo" && for i in $(seq 12); do echo "$i" >"$e/to-fifo/f$i" && echo "$i" >"$e/to-fifo/n$i"; done
chown -R root:root "$src"
# After the chown, which clears them.
chmod 4755 "$e/setuid-id" && chmod 2755 "$e/setgid-id"

mkdir "$mnt"
"$PROBE" tree "$src" >"$SV_TMP/src.tree"
# A past atime that any read of the canary would move (relatime).
touch -a -d 2001-01-01 "$SV_TMP/canary" "$SV_TMP/outside/file"
canary_before=$(stat -c %X "$SV_TMP/canary" "$SV_TMP/outside/file")

# Reported owner root, so that a setuid bit honoured through the view would show.
sv_mount "$src" "$mnt" -o uid=0,gid=0,allow_other,timeout=0
daemon=$SV_DAEMON
sv_trace_start "$daemon" "$SV_TMP/strace.log"
cases=0
case_ok() { cases=$((cases + 1)); sv_pass "$*"; }

# 1. The whole tree, names, link targets and contents, as SOURCE shows them.
"$PROBE" tree "$mnt" >"$SV_TMP/view.tree"
diff -u "$SV_TMP/src.tree" "$SV_TMP/view.tree" || sv_fail "the view's tree differs from SOURCE"
grep -q '^hhhh*-hostile/new\\nline f ' "$SV_TMP/view.tree" || sv_fail "newline name missing"
grep -q '^hhhh*-hostile/\\377\\376-latin1-\\351 f ' "$SV_TMP/view.tree" || sv_fail "invalid UTF-8 name missing"
grep -q "^hhhh*-hostile/$long_name f .* [0-9a-f]\{64\}$" "$SV_TMP/view.tree" || sv_fail "255-byte name not read"
[ "$(readlink "$v/long-target")" = "$long_target" ] || sv_fail "4095-byte link target changed"
case_ok "tree of $(wc -l <"$SV_TMP/view.tree") hostile entries identical to SOURCE (newline, invalid UTF-8, 255-byte names, 4095-byte link target)"

# 2. Past PATH_MAX, one component at a time.
"$PROBE" deep "$e/deep" >"$SV_TMP/deep.src"
"$PROBE" deep "$v/deep" >"$SV_TMP/deep.view"
diff -u "$SV_TMP/deep.src" "$SV_TMP/deep.view" || sv_fail "deep chain differs through the view"
grep -q '^depth=25 pathlen=5025 leaf [0-9a-f]\{64\}$' "$SV_TMP/deep.view" || sv_fail "deep chain: $(cat "$SV_TMP/deep.view")"
out=$(cat "$v/deep/$deep_name/$deep_name/$deep_name/$(printf "$deep_name/%.0s" $(seq 22))leaf" 2>&1 || true)
case $out in *"File name too long"*) ;; *) sv_fail "a path past PATH_MAX was not refused: $out" ;; esac
case_ok "a 25-level chain (5025 bytes) read one component at a time; the full path gives ENAMETOOLONG"

# 3. Symlinks are shown, never followed by the daemon; loops end in ELOOP.
for l in abs-link dotdot-link abs-dir-link dotdot-dir-link loop-a self; do
	[ "$(readlink "$v/$l")" = "$(readlink "$e/$l")" ] || sv_fail "$l target changed"
done
"$PROBE" try-open "$v/abs-link" "$v/dotdot-link" "$v/loop-a" "$v/self" >"$SV_TMP/links.open"
[ "$(grep -c ' err ELOOP$' "$SV_TMP/links.open")" = 4 ] || sv_fail "O_NOFOLLOW opens of links: $(cat "$SV_TMP/links.open")"
for l in loop-a loop-b self; do
	out=$(cat "$v/$l" 2>&1 || true)
	case $out in *"Too many levels of symbolic links"*) ;; *) sv_fail "$l: $out" ;; esac
done
case_ok "6 outside-pointing and looping symlinks shown with their targets; O_NOFOLLOW opens and loops give ELOOP"

# 4. Special files are shown but reach no device (nodev) and are never opened by the daemon.
"$PROBE" try-open "$e/null" "$e/zero" >"$SV_TMP/dev.src"
[ "$(grep -c ' ok read=' "$SV_TMP/dev.src")" = 2 ] || sv_fail "control: devices in SOURCE: $(cat "$SV_TMP/dev.src")"
for who in root nobody; do
	if [ $who = root ]; then run=(); else run=(as_nobody); fi
	"${run[@]}" "$PROBE" try-open "$v/null" "$v/zero" "$v/loop0" >"$SV_TMP/dev.$who"
	[ "$(grep -c ' err EACCES$' "$SV_TMP/dev.$who")" = 3 ] || sv_fail "devices through the view as $who: $(cat "$SV_TMP/dev.$who")"
done
{ [ -p "$v/fifo" ] && [ -S "$v/socket" ] && [ -c "$v/zero" ] && [ -b "$v/loop0" ]; } || sv_fail "special file types not shown"
# A fifo opened through the view is the client's own pipe, unconnected to SOURCE's.
[ "$("$PROBE" try-open "$v/fifo")" = "$v/fifo ok read=0" ] || sv_fail "fifo through the view: $("$PROBE" try-open "$v/fifo")"
case_ok "char and block devices give EACCES through the view as root and nobody (readable in SOURCE); fifo and socket shown"

# 5. setuid and setgid bits have no effect through the view (nosuid).
as_nobody "$e/setuid-id" -u >"$SV_TMP/suid.src"
as_nobody "$e/setgid-id" -g >>"$SV_TMP/suid.src"
[ "$(cat "$SV_TMP/suid.src")" = $'0\n0' ] || sv_fail "control: the setuid/setgid copies of id do not work in SOURCE"
as_nobody "$v/setuid-id" -u >"$SV_TMP/suid.view"
as_nobody "$v/setgid-id" -g >>"$SV_TMP/suid.view"
[ "$(cat "$SV_TMP/suid.view")" = $'65534\n65534' ] || sv_fail "setuid honoured through the view: $(cat "$SV_TMP/suid.view")"
[ "$(stat -c %a "$v/setuid-id")" = 4755 ] || sv_fail "setuid bit not shown"
case_ok "setuid and setgid id run by nobody: euid/egid 0 from SOURCE, 65534 through the view (bits still shown)"

# 6. What nobody may not read stays closed.
as_nobody "$PROBE" try-open "$v/mode-000" "$v/dir-000/file" "$v/dir-111/known" >"$SV_TMP/unreadable"
grep -qx "$v/mode-000 err EACCES" "$SV_TMP/unreadable" || sv_fail "mode 000 file: $(cat "$SV_TMP/unreadable")"
grep -qx "$v/dir-000/file err EACCES" "$SV_TMP/unreadable" || sv_fail "file in mode 000 dir: $(cat "$SV_TMP/unreadable")"
grep -qx "$v/dir-111/known ok read=1" "$SV_TMP/unreadable" || sv_fail "known name in mode 111 dir: $(cat "$SV_TMP/unreadable")"
as_nobody ls "$v/dir-111" >/dev/null 2>&1 && sv_fail "nobody listed a mode 111 directory"
as_nobody ls "$v/dir-000" >/dev/null 2>&1 && sv_fail "nobody listed a mode 000 directory"
case_ok "nobody gets EACCES on a mode 000 file, in and on a mode 000 dir, listing a mode 111 dir (a known name there opens)"

# 7. Directories renamed, removed and replaced under the view.
exec 3<"$v/moved/file" 4<"$v/removed/file"
cat "$v/swapped/file" >/dev/null
mv "$e/moved" "$e/moved-away"
rm -rf "$e/removed"
mv "$e/swapped" "$e/swapped-old" && mkdir "$e/swapped" && echo new >"$e/swapped/file"
{ read -r moved <&3 && read -r removed <&4; } || sv_fail "open files unreadable after their directory moved or vanished"
[ "$moved $removed" = "moved removed" ] || sv_fail "open files changed: $moved $removed"
exec 3<&- 4<&-
"$PROBE" try-open "$v/moved/file" "$v/removed/file" >"$SV_TMP/vanished"
[ "$(grep -Ec ' err (ENOENT|ESTALE)$' "$SV_TMP/vanished")" = 2 ] || sv_fail "vanished entries: $(cat "$SV_TMP/vanished")"
[ "$(cat "$v/moved-away/file")" = moved ] || sv_fail "renamed directory not found under its new name"
[ "$(cat "$v/swapped/file")" = new ] || sv_fail "replaced directory shows stale content"
[ "$(cat "$v/swapped-old/file")" = swapped ] || sv_fail "renamed old directory lost"
case_ok "renamed, removed and replaced directories: open files keep their bytes, old names give ENOENT/ESTALE, new names the new content"

# 8. The daemon served all that, and never reached outside SOURCE.
kill -0 "$daemon" || sv_fail "the daemon died"
sv_trace_stop
calls=$(grep -Ec '^[0-9]+ +[a-z0-9_]+\(' "$SV_TMP/strace.log" || true)
[ "$calls" -gt 100 ] || sv_fail "only $calls path calls traced: is strace working?"
sv_trace_check "$SV_TMP/strace.log" || sv_fail "the daemon named paths outside one component of SOURCE (above)"
[ "$(stat -c %X "$SV_TMP/canary" "$SV_TMP/outside/file")" = "$canary_before" ] || sv_fail "a canary outside SOURCE was read"
case_ok "$calls traced path calls of the daemon: each one component under a SOURCE dir fd (or a known /dev/fuse, /proc path); canaries outside unread"
sv_unmount "$mnt"

# 9. Regular files replaced by fifos after the kernel looked them up (views
# with the default hour-long timeout keep their entries): opening them, or
# under no_open reading them, must not block the daemon, whose threads
# would all wait for a writer; another client is answered meanwhile, and
# the daemon still stops on SIGTERM.
declare -A fifo_files=([cached]=f [cached-no_open]=n) answers=()
for view in cached cached-no_open; do
	mkdir "$SV_TMP/$view"
	if [ "$view" = cached ]; then opts=(); else opts=(-o no_open); fi
	sv_mount "$src" "$SV_TMP/$view" -o uid=0,gid=0,allow_other "${opts[@]}"
	stat "$SV_TMP/$view/${e##*/}/to-fifo/${fifo_files[$view]}"* >/dev/null
done
for i in $(seq 12); do
	for f in f n; do rm "$e/to-fifo/$f$i" && mkfifo "$e/to-fifo/$f$i"; done
done
for view in cached cached-no_open; do
	c=$SV_TMP/$view/${e##*/}
	daemon=${SV_DAEMON_OF[$SV_TMP/$view]}
	openers=()
	for i in $(seq 12); do
		timeout -k 1 10 "$PROBE" try-open "$c/to-fifo/${fifo_files[$view]}$i" \
			>"$SV_TMP/to-fifo.$view.$i" 2>&1 & openers+=($!)
	done
	SV_PIDS+=("${openers[@]}")
	timeout -k 1 1 "${SV_NOBODY[@]}" cat "$c/dir-111/known" >/dev/null ||
		sv_fail "$view: another client's read got no answer within a second while fifos were opened"
	for p in "${openers[@]}"; do
		wait "$p" || sv_fail "$view: an open of a file turned fifo did not return ($(cat "$SV_TMP"/to-fifo.*))"
	done
	# The daemon says the entry it knew is gone: without no_open the kernel
	# then finds the fifo, which the client opens as its own, unconnected
	# to SOURCE's; under no_open the read answers the error.
	sed "s|$c/||" "$SV_TMP"/to-fifo."$view".* | sort -V >"$SV_TMP/to-fifo.$view"
	grep -Evx 'to-fifo/[fn][0-9]+ (err (ESTALE|ENOENT)|ok read=0|ok readerr=(ESTALE|ENOENT))' "$SV_TMP/to-fifo.$view" &&
		sv_fail "$view: opens of files turned fifos (above)"
	kill "$daemon"
	sv_wait_exit "$daemon" 10
	[ "$SV_STATUS" = 0 ] || sv_fail "$view: the daemon exited with status $SV_STATUS on SIGTERM"
	answers[$view]=$(sed 's/^to-fifo\/[fn][0-9]* //' "$SV_TMP/to-fifo.$view" | sort -u | paste -sd, -)
done
case_ok "12 files looked up, then replaced by fifos in SOURCE, opened at once: every open returned" \
	"(${answers[cached]}; under no_open ${answers[cached-no_open]}), another client was answered within" \
	"a second, and the daemon stopped on SIGTERM"
echo "hostile cases: $cases passed"
