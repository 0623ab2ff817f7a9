/*
 * The closure filter: the set of top-level entries of SOURCE a view shows,
 * read from a file in the format of `nix-store -qR` output.
 */
#ifndef STOREVIEW_CLOSURE_H
#define STOREVIEW_CLOSURE_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

typedef struct sv_closure sv_closure;

/*
 * Parses text: one store path per line, either absolute under store_dir
 * (a deeper path names the top-level entry holding it) or a bare entry
 * name; blank lines and lines starting with '#' are skipped.  origin names
 * the text in messages.  Returns NULL with *error set to a one-line message
 * naming the first bad line.
 */
struct sv_closure *sv_closure_parse(const char *text, size_t len, const char *origin,
				    const char *store_dir, char **error);

/* Reads and parses path. */
struct sv_closure *sv_closure_load(const char *path, const char *store_dir, char **error);

void sv_closure_free(struct sv_closure *closure);

bool sv_closure_contains(const struct sv_closure *closure, const char *name);
unsigned int sv_closure_size(const struct sv_closure *closure);

/* The entries of closure that are not in other (other may be NULL: all). */
GPtrArray *sv_closure_difference(const struct sv_closure *closure,
				 const struct sv_closure *other);

/* The entries of closure that do not exist in the directory dirfd. */
GPtrArray *sv_closure_missing(const struct sv_closure *closure, int dirfd);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sv_closure, sv_closure_free)

#endif
