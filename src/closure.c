/* The closure filter; see closure.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "closure.h"
#include "policy.h"

struct sv_closure {
	GHashTable *names;	/* owned strings, a set */
};

static char *line_error(const char *origin, unsigned int lineno, const char *line,
			const char *why)
{
	g_autofree char *shown = g_strescape(line, NULL);

	return g_strdup_printf("closure %s:%u: '%s' %s", origin, lineno, shown, why);
}

/* The top-level entry a line names, or NULL with *why set. */
static char *entry_of_line(const char *line, const char *store_dir, const char **why)
{
	const char *rest = line;
	size_t dirlen = strlen(store_dir);

	while (dirlen > 1 && store_dir[dirlen - 1] == '/')
		dirlen--;
	if (line[0] == '/') {
		if (strncmp(line, store_dir, dirlen) != 0 || line[dirlen] != '/') {
			*why = "is not under the store directory";
			return NULL;
		}
		rest = line + dirlen + 1;
	}
	const char *slash = strchr(rest, '/');
	g_autofree char *name = slash ? g_strndup(rest, slash - rest) : g_strdup(rest);

	/* A bare name may not have a path below it: "foo/bar" is ambiguous. */
	if (slash && line[0] != '/') {
		*why = "is neither an absolute store path nor an entry name";
		return NULL;
	}
	if (!sv_policy_name_is_valid(name)) {
		*why = "does not name a store entry";
		return NULL;
	}
	return g_steal_pointer(&name);
}

struct sv_closure *sv_closure_parse(const char *text, size_t len, const char *origin,
				    const char *store_dir, char **error)
{
	g_autoptr(sv_closure) closure = g_new0(struct sv_closure, 1);
	const char *end = text + len;
	unsigned int lineno = 0;

	closure->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (const char *p = text; p < end;) {
		const char *nl = memchr(p, '\n', end - p);
		size_t linelen = (nl ? nl : end) - p;
		g_autofree char *line = g_strndup(p, linelen);
		const char *why = "contains a NUL byte";
		char *entry = NULL;

		bool has_nul = memchr(p, '\0', linelen) != NULL;

		lineno++;
		p = nl ? nl + 1 : end;
		if (!has_nul) {
			g_strstrip(line);
			if (line[0] == '\0' || line[0] == '#')
				continue;
			entry = entry_of_line(line, store_dir, &why);
		}
		if (!entry) {
			*error = line_error(origin, lineno, line, why);
			return NULL;
		}
		g_hash_table_add(closure->names, entry);
	}
	return g_steal_pointer(&closure);
}

struct sv_closure *sv_closure_load(const char *path, const char *store_dir, char **error)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	gsize len;

	if (!g_file_get_contents(path, &text, &len, &err)) {
		*error = g_strdup_printf("closure: %s", err->message);
		return NULL;
	}
	return sv_closure_parse(text, len, path, store_dir, error);
}

void sv_closure_free(struct sv_closure *closure)
{
	if (!closure)
		return;
	g_hash_table_destroy(closure->names);
	g_free(closure);
}

bool sv_closure_contains(const struct sv_closure *closure, const char *name)
{
	return g_hash_table_contains(closure->names, name);
}

unsigned int sv_closure_size(const struct sv_closure *closure)
{
	return g_hash_table_size(closure->names);
}

GPtrArray *sv_closure_difference(const struct sv_closure *closure,
				 const struct sv_closure *other)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, closure->names);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		if (!other || !g_hash_table_contains(other->names, key))
			g_ptr_array_add(names, g_strdup(key));
	return names;
}

GPtrArray *sv_closure_missing(const struct sv_closure *closure, int dirfd)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter iter;
	gpointer key;
	struct stat st;

	g_hash_table_iter_init(&iter, closure->names);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		if (fstatat(dirfd, key, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			g_ptr_array_add(names, g_strdup(key));
	return names;
}
