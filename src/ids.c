/* Resolving user and group names or numbers given on the command line. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <glib.h>

#include "ids.h"

/* A purely numeric spec is an id even when no passwd entry has it. */
static gboolean parse_id_number(const char *spec, guint32 *id)
{
	guint64 value;

	if (!g_ascii_string_to_unsigned(spec, 10, 0, G_MAXUINT32 - 1, &value, NULL))
		return FALSE;
	*id = (guint32)value;
	return TRUE;
}

int sv_resolve_uid(const char *spec, uid_t *uid, gid_t *primary_gid, char **error)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	guint32 id;
	int err;

	if (!spec || !*spec) {
		*error = g_strdup("empty user in uid=");
		return -1;
	}
	if (parse_id_number(spec, &id)) {
		*uid = id;
		err = getpwuid_r(id, &pw, buf, sizeof(buf), &found);
		*primary_gid = (err == 0 && found) ? found->pw_gid : (gid_t)-1;
		return 0;
	}
	err = getpwnam_r(spec, &pw, buf, sizeof(buf), &found);
	if (err != 0 || !found) {
		*error = g_strdup_printf("unknown user '%s' in uid=", spec);
		return -1;
	}
	*uid = found->pw_uid;
	*primary_gid = found->pw_gid;
	return 0;
}

int sv_resolve_gid(const char *spec, gid_t *gid, char **error)
{
	struct group gr, *found = NULL;
	char buf[16384];
	guint32 id;
	int err;

	if (!spec || !*spec) {
		*error = g_strdup("empty group in gid=");
		return -1;
	}
	if (parse_id_number(spec, &id)) {
		*gid = id;
		return 0;
	}
	err = getgrnam_r(spec, &gr, buf, sizeof(buf), &found);
	if (err != 0 || !found) {
		*error = g_strdup_printf("unknown group '%s' in gid=", spec);
		return -1;
	}
	*gid = found->gr_gid;
	return 0;
}
