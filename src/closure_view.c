/* The closure in force in a running view; see closure_view.h. */
#include "config.h"

#include "closure_view.h"
#include "notify.h"

bool sv_closure_view_shows(struct sv_fs *fs, const struct sv_inode *parent, const char *name)
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

int sv_closure_view_load(struct sv_fs *fs, char **error)
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
		sv_notify_forget_entries(fs, revoked);
		sv_notify_forget_top_level(fs, removed);
	}
	g_message("closure %s reloaded: %u entries, %u added, %u removed",
		  fs->opts->closure_path, sv_closure_size(fresh), added->len, removed->len);
	sv_closure_free(old);
	return 0;
}
