/*
 * The closure filter of a running view: looked up by every lookup and
 * listing at the root, swapped whole on SIGHUP.
 */
#include "config.h"

#include <string.h>

#include "fs.h"

bool sv_fs_visible(struct sv_fs *fs, const struct sv_inode *parent, const char *name)
{
	bool visible;

	if (!fs->opts->closure_path || parent->parent)
		return true;
	g_rw_lock_reader_lock(&fs->closure_lock);
	visible = sv_closure_contains(fs->closure, name);
	g_rw_lock_reader_unlock(&fs->closure_lock);
	if (!visible)
		SV_STAT_ADD(fs, hidden);
	return visible;
}

/* The inode table's filter (inodes.h): whether a top-level name is in the closure. */
static bool closure_shows(void *data, const char *name)
{
	struct sv_fs *fs = data;
	bool shown;

	g_rw_lock_reader_lock(&fs->closure_lock);
	shown = sv_closure_contains(fs->closure, name);
	g_rw_lock_reader_unlock(&fs->closure_lock);
	return shown;
}

/*
 * Makes the kernel forget entries at and below top-level ones that left
 * the view, and their attributes, pages and listings: requests through
 * them are refused already, and this spares the kernel asking.
 */
static void forget_entries(struct sv_fs *fs, GArray *entries)
{
	for (guint i = 0; i < entries->len; i++) {
		const struct sv_inode_entry *e = &g_array_index(entries, struct sv_inode_entry, i);

		/* -ENOENT: the kernel had not cached it, or forgot it meanwhile. */
		fuse_lowlevel_notify_inval_entry(fs->se, e->parent_id, e->name, strlen(e->name));
		fuse_lowlevel_notify_inval_inode(fs->se, e->id, 0, 0);
	}
}

static int report_missing(struct sv_fs *fs, struct sv_closure *closure, char **error)
{
	g_autoptr(GPtrArray) missing = sv_closure_missing(closure, fs->root_fd);

	if (missing->len == 0)
		return 0;
	if (fs->opts->closure_strict) {
		*error = g_strdup_printf("closure %s: %u entries are not in SOURCE, e.g. '%s'",
					 fs->opts->closure_path, missing->len,
					 (char *)missing->pdata[0]);
		return -1;
	}
	g_warning("closure %s: %u entries are not in SOURCE, e.g. '%s'",
		  fs->opts->closure_path, missing->len, (char *)missing->pdata[0]);
	return 0;
}

void sv_fs_forget_top_level(struct sv_fs *fs, GPtrArray *names)
{
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];

		/* -ENOENT: the kernel had not cached it. */
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, name, strlen(name));
	}
	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
}

void sv_fs_recheck_top_level(struct sv_fs *fs, GPtrArray *names)
{
	g_autoptr(GArray) gone = NULL;

	if (names->len == 0)
		return;
	gone = sv_inode_table_recheck(fs->inodes, names);
	forget_entries(fs, gone);
}

int sv_fs_load_closure(struct sv_fs *fs, char **error)
{
	struct sv_closure *fresh, *old;
	g_autoptr(GArray) revoked = NULL;
	g_autoptr(GPtrArray) removed = NULL;
	g_autoptr(GPtrArray) added = NULL;

	if (!fs->opts->closure_path)
		return 0;
	fresh = sv_closure_load(fs->opts->closure_path, fs->opts->store_dir, error);
	if (!fresh || report_missing(fs, fresh, error) < 0) {
		sv_closure_free(fresh);
		return -1;
	}
	g_rw_lock_writer_lock(&fs->closure_lock);
	old = fs->closure;
	fs->closure = fresh;
	g_rw_lock_writer_unlock(&fs->closure_lock);
	if (!old) {
		sv_inode_table_set_filter(fs->inodes, closure_shows, fs);
		g_debug("closure %s: %u entries", fs->opts->closure_path, sv_closure_size(fresh));
		return 0;
	}
	revoked = sv_inode_table_refilter(fs->inodes);
	removed = sv_closure_difference(old, fresh);
	added = sv_closure_difference(fresh, old);
	if (fs->se) {
		forget_entries(fs, revoked);
		sv_fs_forget_top_level(fs, removed);
	}
	g_message("closure %s reloaded: %u entries, %u added, %u removed",
		  fs->opts->closure_path, sv_closure_size(fresh), added->len, removed->len);
	sv_closure_free(old);
	return 0;
}
