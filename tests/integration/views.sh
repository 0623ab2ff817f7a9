#!/bin/bash
# Four views of one store read at once, as CI hosts run several guests on
# one store: every byte of every file through each view, compared with
# SOURCE, by four readers at once (nobody), then by four readers each going
# through all four views.  The store holds store paths whose files are
# hard links to another's, as nix-store --optimise leaves them.  The views
# differ in data path: two default, one -o no_passthrough, one -o no_open.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store
mkdir "$src"
# 6 store paths of 60 files, slices of one random blob: most a few kB,
# every 20th of 1-3 MiB.
head -c 8388608 /dev/urandom >"$SV_TMP/blob"
perl -e '
	my ($src, $blob_file) = @ARGV;
	srand(18);
	open(my $b, "<", $blob_file) or die; local $/; my $blob = <$b>;
	for my $e (1 .. 6) {
		my $dir = sprintf("%s/%032d-pkg-%d", $src, $e * 7, $e);
		for my $sub ("bin", "lib", "share/doc") {
			system("mkdir", "-p", "$dir/$sub") == 0 or die;
		}
		for my $f (1 .. 60) {
			my $sub = ("bin", "lib", "share/doc")[$f % 3];
			my $size = $f % 20 == 0 ? (1 << 20) + int(rand(2 << 20)) : int(rand(256) ** 2 / 8);
			open(my $o, ">", "$dir/$sub/f$f") or die;
			print $o substr($blob, int(rand(length($blob) - $size)), $size);
			close($o);
		}
	}' "$src" "$SV_TMP/blob"
# Two store paths whose files are hard links to the first two's, and one
# hard link within a store path.
cp -al "$src/$(printf '%032d' 7)-pkg-1" "$src/$(printf '%032d' 71)-pkg-1-again"
cp -al "$src/$(printf '%032d' 14)-pkg-2" "$src/$(printf '%032d' 72)-pkg-2-again"
ln "$src/$(printf '%032d' 21)-pkg-3/lib/f1" "$src/$(printf '%032d' 21)-pkg-3/share/doc/f1-linked"
chown -R root:root "$src"
chmod -R a-w "$src"
linked=$(find "$src" -type f -links +1 | wc -l)
[ "$linked" -ge 200 ] || sv_fail "the fixture has only $linked hard-linked names"

# Each regular file: path, size, sha256.
contents() { awk '$2 == "f" { print $1, $4, $NF }'; }
"$PROBE" tree "$src" | contents >"$SV_TMP/src.files"
nfiles=$(wc -l <"$SV_TMP/src.files")

options=("" ",no_passthrough" ",no_open" "")
for i in 1 2 3 4; do
	mkdir "$SV_TMP/view$i"
	sv_mount "$src" "$SV_TMP/view$i" -o "uid=65534,gid=65534,allow_other${options[i - 1]}"
done

# read_at_once ROUND VIEWS...: one reader per argument at once, each reading
# the views listed in it (space-separated numbers) whole, one after another.
read_at_once() {
	local round=$1 pids=() r=0 v
	shift
	for views in "$@"; do
		r=$((r + 1))
		(for v in $views; do
			as_nobody "$PROBE" tree "$SV_TMP/view$v" | contents >"$SV_TMP/$round.$r.view$v" || exit 1
		done) &
		pids+=($!)
	done
	SV_PIDS+=("${pids[@]}")
	for p in "${pids[@]}"; do
		sv_wait_exit "$p" 300
		[ "$SV_STATUS" = 0 ] || sv_fail "round $round: a reader failed (status $SV_STATUS)"
	done
	for f in "$SV_TMP/$round".*; do
		diff -u "$SV_TMP/src.files" "$f" >&2 ||
			sv_fail "round $round: ${f##*/} differs from SOURCE"
	done
}

read_at_once 1 1 2 3 4
sv_pass "4 views (default, default, no_passthrough, no_open) read at once, one reader each:" \
	"$nfiles files each ($linked hard-linked names), every byte as SOURCE's"
read_at_once 2 "1 2 3 4" "2 3 4 1" "3 4 1 2" "4 1 2 3"
sv_pass "4 readers at once each reading all 4 views: 16 reads of $nfiles files, every byte as SOURCE's"

for i in 1 2 3 4; do
	sv_unmount "$SV_TMP/view$i"
done
