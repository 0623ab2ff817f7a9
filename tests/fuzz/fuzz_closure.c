/*
 * libFuzzer target: the closure file of -o closure=FILE (nix-store -qR
 * output), which may come from anyone who can write that file.  Parsing
 * must not crash or leak; it must either refuse with a one-line message or
 * give a set of single store entry names, never a path.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "closure.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, const char *store_dir)
{
	char *error = NULL;
	g_autoptr(sv_closure) closure = sv_closure_parse((const char *)data, size, "fuzz",
							   store_dir, &error);

	if (!closure) {
		if (!error || strchr(error, '\n'))
			abort();
		g_free(error);
		return;
	}
	if (error)
		abort();
	g_autoptr(GPtrArray) names = sv_closure_difference(closure, NULL);

	if (names->len != sv_closure_size(closure))
		abort();
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];

		if (!sv_policy_name_is_valid(name) || !sv_closure_contains(closure, name))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, "/nix/store");
	check(data, size, "/nix/store/");
	return 0;
}
