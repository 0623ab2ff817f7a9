#!/bin/bash
# -o closure=FILE: only the listed top-level entries exist in the view, by
# every path (ls, stat, open, readlink, "..", symlinks); SIGHUP swaps the
# list atomically and the kernel forgets entries that left it.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view closure=$SV_TMP/closure
A=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a-1.0
B=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b-1.0
C=cccccccccccccccccccccccccccccccc-c-1.0
for e in $A $B $C; do
	mkdir -p "$src/$e"
	echo "$e" >"$src/$e/file"
done
ln -s ../$C/file "$src/$B/to-c"
ln -s file "$src/$C/link"
chmod -R a-w "$src"
mkdir "$mnt"

expect_enoent() {
	local what=$1
	shift
	if out=$("$@" 2>&1); then
		sv_fail "$what succeeded on a hidden entry: $out"
	fi
	case $out in *"No such file or directory"*) ;; *) sv_fail "$what: expected ENOENT, got: $out" ;; esac
}

# names DIR: DIR's entries on one line, sorted.
names() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort | paste -sd' '; }

# Bad closure files are refused before anything is mounted.
printf '/nix/store/%s\n' "$A" >"$closure"
if out=$("$STOREVIEW" -o closure="$closure" "$src" "$mnt" 2>&1); then sv_fail "foreign store path accepted"; fi
[ "$out" = "storeview: closure $closure:1: '/nix/store/$A' is not under the store directory" ] ||
	sv_fail "unexpected error: $out"
sv_is_mounted "$mnt" && sv_fail "mounted despite a bad closure"
printf '%s\nzzzz-missing\n' "$A" >"$closure"
if out=$("$STOREVIEW" -o closure="$closure",closure_strict "$src" "$mnt" 2>&1); then sv_fail "closure_strict accepted a missing entry"; fi
[ "$out" = "storeview: closure $closure: 1 entries are not in SOURCE, e.g. 'zzzz-missing'" ] ||
	sv_fail "unexpected error: $out"
sv_pass "malformed and (with closure_strict) incomplete closures refused, nothing mounted"

# nix-store -qR style: absolute paths under store_dir, comments, a missing entry (a warning).
printf '# closure of b\n/nix/store/%s\n/nix/store/%s/file\n\n/nix/store/zzzz-missing\n' "$A" "$B" >"$closure"
sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,closure="$closure",store_dir=/nix/store
grep -q "warning: closure $closure: 1 entries are not in SOURCE, e.g. 'zzzz-missing'" "$SV_LOG" ||
	sv_fail "no warning for the missing entry"
[ "$(names "$mnt")" = "$A $B" ] || sv_fail "the view lists: $(names "$mnt")"
expect_enoent "stat" stat "$mnt/$C"
expect_enoent "open" cat "$mnt/$C/file"
expect_enoent "readlink" readlink -v "$mnt/$C/link"
expect_enoent "stat through .." stat "$mnt/$A/../$C"
expect_enoent "open through a symlink" as_nobody cat "$mnt/$B/to-c"
[ "$(readlink "$mnt/$B/to-c")" = "../$C/file" ] || sv_fail "the symlink itself must stay visible"
[ "$(as_nobody cat "$mnt/$A/file")" = "$A" ] || sv_fail "visible entry unreadable"
sv_pass "only the closure is visible: ls, stat, open, readlink, '..' and symlinks all give ENOENT for the rest"

# Reload under a reader: A (and the missing entry) leave, C arrives.  A's dentry is cached (long
# timeouts), so ENOENT afterwards proves the kernel was told to forget it.
stat "$mnt/$A/file" >/dev/null
# Stopped by a file, not a signal, so that no cat it started outlives it and holds the view.
(while [ ! -e "$SV_TMP/stop-reader" ]; do cat "$mnt/$B/file" >/dev/null || exit 1; done) &
reader=$!
SV_PIDS+=("$reader")
printf '%s\n%s\n' "$B" "$C" >"$closure.new"
mv "$closure.new" "$closure"
kill -HUP "$SV_DAEMON"
for _ in $(seq 100); do grep -q 'reloaded' "$SV_LOG" && break; sleep 0.05; done
grep -q "closure $closure reloaded: 2 entries, 1 added, 2 removed" "$SV_LOG" || sv_fail "no reload logged: $(cat "$SV_LOG")"
[ "$(names "$mnt")" = "$B $C" ] || sv_fail "after reload the view lists: $(names "$mnt")"
expect_enoent "stat of a removed entry" stat "$mnt/$A/file"
[ "$(cat "$mnt/$C/file")" = "$C" ] || sv_fail "added entry unreadable"
kill -0 "$reader" || sv_fail "the reader of a kept entry failed during the reload"
touch "$SV_TMP/stop-reader"
wait "$reader" || sv_fail "the reader of a kept entry failed during the reload"
sv_pass "SIGHUP reload: removed entry gone despite the kernel's cache, added entry readable, reader undisturbed"

# A broken file on reload keeps the previous closure in force.
printf '../escape\n' >"$closure"
kill -HUP "$SV_DAEMON"
for _ in $(seq 100); do grep -q 'stays in force' "$SV_LOG" && break; sleep 0.05; done
grep -q "warning: closure $closure:1: '../escape' .*; the previous closure stays in force" "$SV_LOG" ||
	sv_fail "bad reload not reported: $(tail -2 "$SV_LOG")"
[ "$(names "$mnt")" = "$B $C" ] || sv_fail "a bad reload changed the view"
sv_unmount "$mnt"
grep -q 'hidden=[1-9]' "$SV_LOG" || sv_fail "hidden lookups not counted"
sv_pass "a bad closure on reload is reported and the previous one stays in force"
