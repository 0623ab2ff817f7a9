/* The open files of regular files, sharing one fd per file of SOURCE; see open_files.h. */
#include "config.h"

#include <errno.h>
#include <unistd.h>
#include <glib.h>

#include "open_files.h"

/* A file of SOURCE while any of its open files is open, under any of its names. */
struct open_file {
	dev_t dev;
	ino_t ino;
	int fd;			/* what its open files read, and their handle */
	unsigned int users;	/* its open files */
	int backing_id;		/* the backing file they are read by, or 0 */
};

struct sv_open_files {
	GMutex lock;
	GHashTable *by_dev_ino;	/* struct open_file * -> itself */
	struct sv_passthrough *pt;
};

static guint dev_ino_hash(gconstpointer key)
{
	const struct open_file *f = key;

	return sv_dev_ino_hash(f->dev, f->ino);
}

static gboolean dev_ino_equal(gconstpointer a, gconstpointer b)
{
	const struct open_file *x = a, *y = b;

	return x->ino == y->ino && x->dev == y->dev;
}

static void close_open_file(gpointer data)
{
	struct open_file *f = data;

	close(f->fd);
	g_free(f);
}

struct sv_open_files *sv_open_files_new(struct sv_passthrough *pt)
{
	struct sv_open_files *of = g_new0(struct sv_open_files, 1);

	g_mutex_init(&of->lock);
	/* Files still open when the daemon stops are closed with the table. */
	of->by_dev_ino = g_hash_table_new_full(dev_ino_hash, dev_ino_equal, close_open_file, NULL);
	of->pt = pt;
	return of;
}

void sv_open_files_free(struct sv_open_files *of)
{
	if (!of)
		return;
	g_hash_table_destroy(of->by_dev_ino);
	g_mutex_clear(&of->lock);
	g_free(of);
}

/* With the lock held. */
static struct open_file *find(struct sv_open_files *of, const struct sv_inode *inode)
{
	struct open_file key = { .dev = inode->dev, .ino = inode->ino };

	return g_hash_table_lookup(of->by_dev_ino, &key);
}

int sv_open_files_add(struct sv_open_files *of, struct sv_inode *inode, int fd,
		      bool want_passthrough, int *backing_id)
{
	struct open_file *f;
	int id;

	g_mutex_lock(&of->lock);
	f = find(of, inode);
	if (f) {
		close(fd);
	} else {
		f = g_new0(struct open_file, 1);
		f->dev = inode->dev;
		f->ino = inode->ino;
		f->fd = fd;
		id = want_passthrough ? sv_passthrough_register(of->pt, fd) : 0;
		f->backing_id = id > 0 ? id : 0;
		g_hash_table_add(of->by_dev_ino, f);
	}
	f->users++;
	fd = f->fd;
	*backing_id = f->backing_id;
	g_mutex_unlock(&of->lock);
	return fd;
}

void sv_open_files_release(struct sv_open_files *of, struct sv_inode *inode)
{
	struct open_file *f;

	g_mutex_lock(&of->lock);
	f = find(of, inode);
	g_assert(f && f->users > 0);
	if (--f->users == 0) {
		if (f->backing_id > 0)
			sv_passthrough_unregister(of->pt, f->backing_id);
		g_hash_table_remove(of->by_dev_ino, f);
	}
	g_mutex_unlock(&of->lock);
}

bool sv_open_files_by_passthrough(struct sv_open_files *of, const struct sv_inode *inode)
{
	struct open_file *f;
	bool by_passthrough;

	g_mutex_lock(&of->lock);
	f = find(of, inode);
	by_passthrough = f && f->backing_id > 0;
	g_mutex_unlock(&of->lock);
	return by_passthrough;
}

int sv_open_files_stat(struct sv_open_files *of, struct sv_inode *inode, struct stat *st)
{
	struct open_file *f;
	int ret = -ENOENT;

	g_mutex_lock(&of->lock);
	f = find(of, inode);
	if (f)
		ret = fstat(f->fd, st) < 0 ? -errno : 0;
	g_mutex_unlock(&of->lock);
	return ret;
}
