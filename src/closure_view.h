/*
 * The closure in force in a running view: read at start (a bad file is
 * fatal), read again on SIGHUP (a bad file leaves the old one in force),
 * asked by every lookup and listing at the root, and the inode table's
 * filter, which refuses what is below a store path that left the view.
 */
#ifndef STOREVIEW_CLOSURE_VIEW_H
#define STOREVIEW_CLOSURE_VIEW_H

#include <stdbool.h>

#include "fs.h"

/* Whether name in parent is part of the view: always true below the top level. */
bool sv_closure_view_shows(struct sv_fs *fs, const struct sv_inode *parent, const char *name);

/*
 * (Re)reads the closure file, if the view has one.  At start a bad file is
 * fatal (-1 with *error set); on reload the old closure stays in force and
 * the kernel forgets the entries that left it.
 */
int sv_closure_view_load(struct sv_fs *fs, char **error);

#endif
