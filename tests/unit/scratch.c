/* Scratch directories for unit tests, see scratch.h. */
#include "config.h"

#include <stdlib.h>
#include <check.h>
#include <glib.h>

#include "scratch.h"

char *sv_scratch_new(const char *what)
{
	g_autofree char *template = g_strdup_printf("storeview-%s-XXXXXX", what);
	char *dir = g_dir_make_tmp(template, NULL);

	ck_assert_ptr_nonnull(dir);
	return dir;
}

void sv_scratch_free(char *dir)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

	ck_assert_int_eq(system(cmd), 0);
	g_free(dir);
}

unsigned int sv_open_fds(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	unsigned int n = 0;

	ck_assert_ptr_nonnull(dir);
	while (g_dir_read_name(dir))
		n++;
	return n;
}
