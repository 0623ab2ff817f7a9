/*
 * libFuzzer target: the user and group names or numbers of uid= and gid=.
 * Resolution must not crash or leak, and must either give an id or say why.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *spec = g_strndup((const char *)data, size);
	char *error = NULL;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1, primary = 0;

	if (sv_resolve_uid(spec, &uid, &primary, &error) < 0) {
		if (!error)
			abort();
		g_clear_pointer(&error, g_free);
	} else if (error || uid == (uid_t)-1) {
		/* (uid_t)-1 means "no change" to chown(2): never a valid answer. */
		abort();
	}
	if (sv_resolve_gid(spec, &gid, &error) < 0) {
		if (!error)
			abort();
		g_free(error);
	} else if (error || gid == (gid_t)-1) {
		abort();
	}
	return 0;
}
