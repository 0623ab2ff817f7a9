/*
 * libFuzzer target: the command line and -o option strings, as mount(8),
 * fstab or a user would pass them.  The input is split at NUL bytes into
 * argv.  Whatever it says, parsing must not crash or leak, and a parsed
 * command line must keep the view read-only, nosuid and nodev.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "options.h"

#define MAX_ARGS 64

/* Appends each option of a -o list (commas escaped by backslashes) to out. */
static void split_opts(const char *list, GPtrArray *out)
{
	GString *cur = g_string_new(NULL);

	for (const char *p = list;; p++) {
		if (*p == '\\' && p[1]) {
			g_string_append_c(cur, *++p);
		} else if (*p == ',' || *p == '\0') {
			g_ptr_array_add(out, g_string_free(cur, FALSE));
			if (*p == '\0')
				return;
			cur = g_string_new(NULL);
		} else {
			g_string_append_c(cur, *p);
		}
	}
}

static gboolean has(GPtrArray *opts, const char *opt)
{
	for (guint i = 0; i < opts->len; i++)
		if (strcmp(opts->pdata[i], opt) == 0)
			return TRUE;
	return FALSE;
}

/* What reaches libfuse always says ro,nosuid,nodev and never the opposite. */
static void check_forced(const struct fuse_args *args)
{
	g_autoptr(GPtrArray) opts = g_ptr_array_new_with_free_func(g_free);

	for (int i = 1; i < args->argc; i++) {
		const char *a = args->argv[i];

		if (strcmp(a, "-o") == 0 && i + 1 < args->argc)
			split_opts(args->argv[++i], opts);
		else if (g_str_has_prefix(a, "-o"))
			split_opts(a + 2, opts);
	}
	if (!has(opts, "ro") || !has(opts, "nosuid") || !has(opts, "nodev") ||
	    !has(opts, "default_permissions"))
		abort();
	if (has(opts, "rw") || has(opts, "suid") || has(opts, "dev"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = g_malloc(size + 1);
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	struct fuse_args fuse_args;
	struct sv_options opts;
	char *error = NULL;

	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = "storeview";
	for (char *p = copy; p < copy + size && argc < MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	if (sv_options_parse(argc, argv, &opts, &fuse_args, &error) < 0) {
		/* A refusal always says why. */
		if (!error || !*error)
			abort();
		g_free(error);
	} else {
		if (error)
			abort();
		if (!opts.show_help && !opts.show_version) {
			if (!opts.source || !opts.mountpoint)
				abort();
			check_forced(&fuse_args);
		}
		fuse_opt_free_args(&fuse_args);
		sv_options_clear(&opts);
	}
	g_free(copy);
	return 0;
}
