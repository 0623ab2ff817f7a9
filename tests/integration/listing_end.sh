#!/bin/bash
# The end of a listing (do_readdir in ops.c): below the top level, the empty
# reply that tells the kernel a listing is complete comes without reopening
# the directory, and no listing is cut short by it; the top level, which
# changes, is always read again.
. "$(dirname "$0")/../lib.sh"
sv_require_fuse
sv_tmpdir

src=$SV_TMP/store mnt=$SV_TMP/view
A=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a-1.0
E=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-empty-1.0
mkdir -p "$src/$A/share" "$src/$E"
# More entries than one listing reply holds, so the end is reached after
# several replies.
(cd "$src/$A/share" && touch $(seq -f "file-with-a-long-name-%05g" 3000))
chmod -R a-w "$src"
mkdir "$mnt"

listing_ends() { sv_stat_field listing_ends "$(sv_stats "$SV_DAEMON" "$SV_LOG")"; }

sv_mount "$src" "$mnt" -o uid=65534,gid=65534,allow_other,no_prefetch
[ "$(listing_ends)" = 0 ] || sv_fail "listing ends told before any listing"
as_nobody ls -f "$mnt/$A/share" | sort >"$SV_TMP/view.ls"
# shellcheck disable=SC2012 # the same ls -f as the view's, . and .. included; plain names
ls -f "$src/$A/share" | sort >"$SV_TMP/source.ls"
diff -u "$SV_TMP/source.ls" "$SV_TMP/view.ls" >&2 || sv_fail "a listing of 3002 entries differs from SOURCE"
[ "$(listing_ends)" = 1 ] || sv_fail "listing $A/share told $(listing_ends) ends without a reopen, expected 1"
[ "$(as_nobody ls -fA "$mnt/$E")" = "" ] || sv_fail "an empty directory lists: $(ls -fA "$mnt/$E")"
[ "$(listing_ends)" = 2 ] || sv_fail "listing an empty directory told $(($(listing_ends) - 1)) ends, expected 1"
sv_pass "3002 entries and an empty directory listed whole, each end told without a reopen"

# The top level changes: its end is read from SOURCE every time.
[ "$(as_nobody ls "$mnt" | tr '\n' ' ')" = "$A $E " ] || sv_fail "ls shows: $(ls "$mnt")"
chmod u+w "$src"
mkdir "$src/new"
chmod u-w "$src"
for _ in $(seq 20); do
	as_nobody ls "$mnt" | grep -x new >/dev/null && break
	sleep 0.1
done
[ "$(as_nobody ls "$mnt" | tr '\n' ' ')" = "$A $E new " ] || sv_fail "a path added at the top level is not listed: $(ls "$mnt")"
[ "$(listing_ends)" = 2 ] || sv_fail "listing the top level told $(($(listing_ends) - 2)) ends without reading SOURCE"
sv_pass "the top level is read to its end each time: a path added after a listing is listed"
sv_unmount "$mnt"
