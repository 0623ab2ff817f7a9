/* Resolving user and group names or numbers given on the command line. */
#ifndef STOREVIEW_IDS_H
#define STOREVIEW_IDS_H

#include <sys/types.h>

/* Each returns 0, or -1 with *error set to a one-line message. */
int sv_resolve_uid(const char *spec, uid_t *uid, gid_t *primary_gid, char **error);
int sv_resolve_gid(const char *spec, gid_t *gid, char **error);

#endif
