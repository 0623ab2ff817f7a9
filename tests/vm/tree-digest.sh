# shellcheck shell=sh
# tree-digest.sh: canonical digest of a directory tree, run by busybox sh.
#
# Usage: busybox sh tree-digest.sh DIR
# Prints one line:
#   files=N bytes=N errors=N dirs=N symlinks=N link_errors=N digest=SHA256HEX
#
# The same script runs on the host (against the source store) and in the
# guest (against the overlay over the 9p share), always with busybox
# applets, so both sides produce byte-identical listings.  The digest covers,
# for every entry below DIR (DIR itself excluded: an overlay root takes its
# mode from the upper dir), the relative path, the file type, the permission
# bits, the sha256 of a regular file's content and a symlink's target.
# Owners are not covered: showing another owner is the point of the view.
# Symlinks are never followed.
#
# errors counts regular files whose content could not be read; their hash is
# recorded as ERROR, so the digest cannot match.  link_errors does the same
# for symlinks whose target could not be read.  bytes is the st_size total of
# the files that were read.  Names must not contain newlines.
#
# Environment:
#   BUSYBOX                      the busybox binary (default: found in PATH)
#   TREE_DIGEST_NO_LINK_TARGETS  if set, symlink targets stay out of the
#                                digest (their errors are still counted)
#   TREE_DIGEST_ERRORS=FILE      keep the read errors' messages in FILE
#   TREE_DIGEST_LISTING=FILE     keep the canonical listing in FILE
#   TREE_DIGEST_ENTRIES=FILE     only the top-level entries FILE names, one
#                                a line (a store's closure); the others are
#                                not walked

set -eu

if [ $# -ne 1 ]; then
	echo "usage: tree-digest.sh DIR" >&2
	exit 2
fi

# Applets are called through the busybox binary by absolute path: the host's
# coreutils must not stand in for them, and busybox 1.35's xargs garbles the
# arguments of a bare applet name it runs in-process.
BB=${BUSYBOX:-}
if [ -z "$BB" ]; then
	for BB in /bin/busybox /usr/bin/busybox ""; do
		[ -x "$BB" ] && break
	done
fi
if [ -z "$BB" ]; then
	echo "tree-digest.sh: busybox not found (set BUSYBOX)" >&2
	exit 2
fi

tmp=$($BB mktemp -d)
trap '$BB rm -rf "$tmp"' EXIT
cd "$1"

# One walk of the tree (each lookup is a round trip on a 9p share); the
# files and symlinks to read are taken from its listing.  Unreadable entries
# are expected in a failing run: stderr goes to a file and the missing lines
# are counted below.
walk() {
	if [ -n "${TREE_DIGEST_ENTRIES:-}" ]; then
		while IFS= read -r entry; do
			[ -z "$entry" ] || $BB find "./$entry" -print0
		done <"$TREE_DIGEST_ENTRIES"
	else
		$BB find . -print0
	fi
}
walk | $BB xargs -0 "$BB" stat -c '%F|%a|%s|%n' >"$tmp/meta" 2>"$tmp/meta.err" || :
names() {
	$BB sed -n "s/^$1|[^|]*|[^|]*|//p" "$tmp/meta" | $BB tr '\n' '\0'
}
names 'symbolic link' |
	$BB xargs -0 -r "$BB" stat -c '%N' >"$tmp/links" 2>"$tmp/links.err" || :
names 'regular \(empty \)\{0,1\}file' |
	$BB xargs -0 -r "$BB" sha256sum >"$tmp/sums" 2>"$tmp/sums.err" || :

LC_ALL=C
export LC_ALL
# shellcheck disable=SC2016 # awk program: its $1.. are awk fields
$BB awk -v sums="$tmp/sums" -v links="$tmp/links" -v stats="$tmp/stats" \
	-v notargets="${TREE_DIGEST_NO_LINK_TARGETS:+1}" '
BEGIN {
	FS = "|"
	# sha256sum: "HEX  NAME"
	while ((getline l < sums) > 0)
		sum[substr(l, 67)] = substr(l, 1, 64)
	# stat %N on a symlink: "'\''NAME'\'' -> '\''TARGET'\''"
	sep = "'\'' -> '\''"
	while ((getline l < links) > 0) {
		i = index(l, sep)
		if (i > 0)
			target[substr(l, 2, i - 2)] = substr(l, i + 6, length(l) - i - 6)
	}
	files = bytes = errors = dirs = nlinks = lerrors = 0
}
{
	# %F|%a|%s|%n: the name is everything after the third separator.
	type = $1; mode = $2; size = $3
	name = substr($0, length($1 $2 $3) + 4)
	if (name == ".")
		next
	if (type == "regular file" || type == "regular empty file") {
		files++
		if (name in sum) {
			extra = sum[name]
			bytes += size
		} else {
			extra = "ERROR"
			errors++
		}
		type = "F"
	} else if (type == "directory") {
		dirs++
		type = "D"; extra = "-"
	} else if (type == "symbolic link") {
		nlinks++
		if (name in target) {
			extra = target[name]
		} else {
			extra = "ERROR"
			lerrors++
		}
		if (notargets)
			extra = "-"
		type = "L"
	} else {
		type = "O"; extra = "-"
	}
	printf "%s\t%s\t%s\t%s\n", name, type, mode, extra
}
END {
	printf "files=%d bytes=%.0f errors=%d dirs=%d symlinks=%d link_errors=%d", \
		files, bytes, errors, dirs, nlinks, lerrors > stats
}' "$tmp/meta" | $BB sort >"$tmp/listing"

digest=$($BB sha256sum <"$tmp/listing")
digest=${digest%% *}
echo "$($BB cat "$tmp/stats") digest=$digest"
# Debugging aids: the canonical listing diffs two runs, the errors say why.
if [ -n "${TREE_DIGEST_LISTING:-}" ]; then
	$BB cp "$tmp/listing" "$TREE_DIGEST_LISTING"
fi
if [ -n "${TREE_DIGEST_ERRORS:-}" ]; then
	$BB cat "$tmp/meta.err" "$tmp/links.err" "$tmp/sums.err" >"$TREE_DIGEST_ERRORS"
fi
