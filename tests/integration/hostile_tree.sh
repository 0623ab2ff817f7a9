#!/bin/bash
# A hostile store's shape: a directory chain deeper than any recursion
# survives.  (A directory moved out of SOURCE while a client holds it, and
# a closure reload that removes what clients hold: revoke.sh.)  Each case
# has its expected answer, and after each the daemon answers another
# client within a second.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
mkdir "$src" "$mnt" "$SV_TMP/outside"
# A 250,000-level chain takes seconds to make and unmount on tmpfs, and
# minutes to remove from a disk.
mount -t tmpfs -o size=1g,mode=755 tmpfs "$src"
SV_MOUNTS+=("$src")
chain=$src/cccccccccccccccccccccccccccccccc-chain
other=$src/oooooooooooooooooooooooooooooooo-other
mkdir "$chain" "$other"
for i in $(seq 40); do mkdir "$other/dir$i" && echo "$i" >"$other/dir$i/file"; done
# A daemon that recursed once per level overflowed its request thread's
# 8 MiB stack on this chain.  Under a wrapper (valgrind) the walk through
# the view takes minutes: there the daemon's threads get an eighth of that
# stack, 1 MiB, and the chain an eighth of the levels, which overflow it
# as surely.
levels=250000 stack_kib=
[ ${#SV_WRAPPER[@]} -eq 0 ] || levels=$((250000 / 8)) stack_kib=1024
start=$(date +%s%N)
"$PROBE" mkchain "$chain" "$levels"
echo "made a $levels-level chain in $((($(date +%s%N) - start) / 1000000)) ms"

# dir_fd_cache=16: 40 directories listed evict every cached fd of the chain.
stack_was=$(ulimit -S -s)
[ -z "$stack_kib" ] || ulimit -S -s "$stack_kib"
sv_mount "$src" "$mnt" -o dir_fd_cache=16,allow_other
ulimit -S -s "$stack_was"
daemon=$SV_DAEMON
cases=0
case_ok() { cases=$((cases + 1)); sv_pass "$*"; }


# 1. The bottom of a 250,000-level chain, held while every cached fd of the
# chain is evicted, reached again one name at a time.
start=$(date +%s%N)
sv_hold_dir deep "$mnt/${chain##*/}" "$levels" leaf
echo "walked $levels levels through the view in $((($(date +%s%N) - start) / 1000000)) ms"
ls "$mnt/${other##*/}"/dir* >/dev/null
sv_release_dir deep
[ "$SV_RELEASED" = "list n=3 leaf ok read=1 " ] || sv_fail "the bottom of the chain after eviction: $SV_RELEASED"
sv_alive "$mnt/${other##*/}" "the deep chain"
case_ok "the bottom of a $levels-level chain, its fds evicted, listed and read again"

kill -0 "$daemon" || sv_fail "the daemon died"
sv_unmount "$mnt"
echo "hostile tree cases: $cases passed"
