/* The open files of regular files, sharing one fd per inode; see open_files.h. */
#include "config.h"

#include <errno.h>
#include <unistd.h>
#include <glib.h>

#include "open_files.h"

struct sv_open_files {
	GMutex lock;		/* every inode's open_fd, open_files and backing_id */
	struct sv_passthrough *pt;
};

struct sv_open_files *sv_open_files_new(struct sv_passthrough *pt)
{
	struct sv_open_files *of = g_new0(struct sv_open_files, 1);

	g_mutex_init(&of->lock);
	of->pt = pt;
	return of;
}

void sv_open_files_free(struct sv_open_files *of)
{
	if (!of)
		return;
	g_mutex_clear(&of->lock);
	g_free(of);
}

int sv_open_files_add(struct sv_open_files *of, struct sv_inode *inode, int fd,
		      bool want_passthrough, int *backing_id)
{
	int id;

	g_mutex_lock(&of->lock);
	if (inode->open_files > 0) {
		close(fd);
	} else {
		inode->open_fd = fd;
		id = want_passthrough ? sv_passthrough_register(of->pt, fd) : 0;
		inode->backing_id = id > 0 ? id : 0;
	}
	inode->open_files++;
	fd = inode->open_fd;
	*backing_id = inode->backing_id;
	g_mutex_unlock(&of->lock);
	return fd;
}

void sv_open_files_release(struct sv_open_files *of, struct sv_inode *inode)
{
	g_mutex_lock(&of->lock);
	g_assert(inode->open_files > 0);
	if (--inode->open_files == 0) {
		if (inode->backing_id > 0)
			sv_passthrough_unregister(of->pt, inode->backing_id);
		inode->backing_id = 0;
		close(inode->open_fd);
		inode->open_fd = -1;
	}
	g_mutex_unlock(&of->lock);
}

int sv_open_files_stat(struct sv_open_files *of, struct sv_inode *inode, struct stat *st)
{
	int ret = -ENOENT;

	g_mutex_lock(&of->lock);
	if (inode->open_files > 0)
		ret = fstat(inode->open_fd, st) < 0 ? -errno : 0;
	g_mutex_unlock(&of->lock);
	return ret;
}
