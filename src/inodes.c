/* The inode table and its fd cache; see inodes.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>

#include "inodes.h"
#include "source.h"

struct sv_inode_table {
	GMutex lock;
	GHashTable *by_dev_ino;		/* sv_inode * -> itself */
	/* Inodes whose (st_dev, st_ino) a newer name took over; alive until forgotten. */
	GHashTable *superseded;
	/*
	 * Node id -> inode, every inode but the root.  A lock of its own, as
	 * every request looks its inode up here.
	 */
	GRWLock ids_lock;
	GHashTable *by_id;
	uint64_t next_id;		/* under lock */
	/* What sv_inode_table_find() gives for an id it does not hold. */
	struct sv_inode unknown;
	bool (*shown)(void *data, const char *name);
	void *shown_data;
	GHashTable *tops;		/* the top-level inodes, a set */
	struct sv_inode root;
	/* Least recently used cached directory fd at lru_tail. */
	struct sv_inode *lru_head, *lru_tail;
	unsigned int dir_fds;
	unsigned int max_dir_fds;
};

guint sv_dev_ino_hash(dev_t dev, ino_t ino)
{
	guint64 i = ino, d = dev;

	return (guint)(i ^ (i >> 32) ^ (d * 0x9e3779b97f4a7c15ULL >> 32));
}

static guint dev_ino_hash(gconstpointer key)
{
	const struct sv_inode *inode = key;

	return sv_dev_ino_hash(inode->dev, inode->ino);
}

static gboolean dev_ino_equal(gconstpointer a, gconstpointer b)
{
	const struct sv_inode *x = a, *y = b;

	return x->ino == y->ino && x->dev == y->dev;
}

static void fill_from_stat(struct sv_inode *inode, const struct stat *st)
{
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->mode = st->st_mode;
	inode->uid = st->st_uid;
	inode->gid = st->st_gid;
}

struct sv_inode_table *sv_inode_table_new(int root_fd, unsigned int max_dir_fds)
{
	struct sv_inode_table *table = g_new0(struct sv_inode_table, 1);
	struct stat st;

	if (fstat(root_fd, &st) < 0) {
		g_free(table);
		return NULL;
	}
	g_mutex_init(&table->lock);
	table->by_dev_ino = g_hash_table_new(dev_ino_hash, dev_ino_equal);
	table->superseded = g_hash_table_new(NULL, NULL);
	table->tops = g_hash_table_new(NULL, NULL);
	g_rw_lock_init(&table->ids_lock);
	table->by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
	table->next_id = FUSE_ROOT_ID + 1;
	table->unknown.fd = -1;
	table->unknown.top = &table->unknown;
	table->unknown.refused = SV_INODE_GONE;
	table->root.id = FUSE_ROOT_ID;
	table->max_dir_fds = max_dir_fds;
	fill_from_stat(&table->root, &st);
	/* The root is never forgotten and its fd never evicted. */
	table->root.refs = 1;
	table->root.fd = root_fd;
	g_hash_table_add(table->by_dev_ino, &table->root);
	return table;
}

static void free_inode(struct sv_inode *inode)
{
	g_free(inode->name);
	g_free(inode);
}

static void free_all(struct sv_inode_table *table, GHashTable *inodes)
{
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, inodes);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		struct sv_inode *inode = key;

		if (inode->fd >= 0)
			close(inode->fd);
		if (inode != &table->root)
			free_inode(inode);
	}
	g_hash_table_destroy(inodes);
}

void sv_inode_table_free(struct sv_inode_table *table)
{
	if (!table)
		return;
	free_all(table, table->by_dev_ino);
	free_all(table, table->superseded);
	g_hash_table_destroy(table->by_id);
	g_hash_table_destroy(table->tops);
	g_rw_lock_clear(&table->ids_lock);
	g_mutex_clear(&table->lock);
	g_free(table);
}

struct sv_inode *sv_inode_table_root(struct sv_inode_table *table)
{
	return &table->root;
}

struct sv_inode *sv_inode_table_find(struct sv_inode_table *table, uint64_t id)
{
	struct sv_inode *inode;

	if (id == FUSE_ROOT_ID)
		return &table->root;
	g_rw_lock_reader_lock(&table->ids_lock);
	inode = g_hash_table_lookup(table->by_id, &id);
	g_rw_lock_reader_unlock(&table->ids_lock);
	return inode ? inode : &table->unknown;
}

void sv_inode_table_set_filter(struct sv_inode_table *table,
			       bool (*shown)(void *data, const char *name), void *data)
{
	table->shown = shown;
	table->shown_data = data;
}

static void clear_entry(gpointer data)
{
	g_free(((struct sv_inode_entry *)data)->name);
}

/* Calls fn on every inode but the root; with the lock held. */
static void for_each_inode(struct sv_inode_table *table,
			   void (*fn)(struct sv_inode_table *table, struct sv_inode *inode,
				      void *data),
			   void *data)
{
	GHashTable *sets[] = { table->by_dev_ino, table->superseded };

	for (guint i = 0; i < G_N_ELEMENTS(sets); i++) {
		GHashTableIter iter;
		gpointer key;

		g_hash_table_iter_init(&iter, sets[i]);
		while (g_hash_table_iter_next(&iter, &key, NULL))
			if (key != &table->root)
				fn(table, key, data);
	}
}

enum verdict { LEAVE, ALLOW, REFUSE };

/* Which top-level inodes get a bit of refused set or cleared, and which newly set. */
struct refusal {
	uint32_t bit;
	enum verdict (*judge)(struct sv_inode_table *table, struct sv_inode *inode, void *data);
	void *data;
	GHashTable *newly;
};

static void refuse_top(struct sv_inode_table *table, struct sv_inode *inode, void *data)
{
	struct refusal *refusal = data;
	enum verdict verdict;
	uint32_t was;

	verdict = refusal->judge(table, inode, refusal->data);
	if (verdict == ALLOW)
		__atomic_fetch_and(&inode->refused, ~refusal->bit, __ATOMIC_RELEASE);
	if (verdict != REFUSE)
		return;
	was = __atomic_fetch_or(&inode->refused, refusal->bit, __ATOMIC_RELEASE);
	if (!(was & refusal->bit))
		g_hash_table_add(refusal->newly, inode);
}

struct below {
	GHashTable *tops;
	GArray *entries;
};

static void add_if_below(struct sv_inode_table *table, struct sv_inode *inode, void *data)
{
	struct below *below = data;
	struct sv_inode_entry entry;

	if (!g_hash_table_contains(below->tops, inode->top))
		return;
	entry.parent_id = inode->parent->id;
	entry.id = inode->id;
	entry.name = g_strdup(inode->name);
	g_array_append_val(below->entries, entry);
}

/*
 * Sets or clears refusal's bit on the top-level inodes, and returns the
 * entries at and below those it was newly set on.
 */
static GArray *refuse_tops(struct sv_inode_table *table, struct refusal *refusal)
{
	g_autoptr(GHashTable) newly = g_hash_table_new(NULL, NULL);
	struct below below = { .tops = newly };

	below.entries = g_array_new(FALSE, FALSE, sizeof(struct sv_inode_entry));
	g_array_set_clear_func(below.entries, clear_entry);
	GHashTableIter iter;
	gpointer top;

	refusal->newly = newly;
	g_mutex_lock(&table->lock);
	g_hash_table_iter_init(&iter, table->tops);
	while (g_hash_table_iter_next(&iter, &top, NULL))
		refuse_top(table, top, refusal);
	if (g_hash_table_size(newly) > 0)
		for_each_inode(table, add_if_below, &below);
	g_mutex_unlock(&table->lock);
	return below.entries;
}

static enum verdict filter(struct sv_inode_table *table, struct sv_inode *inode, void *data)
{
	return table->shown(table->shown_data, inode->name) ? ALLOW : REFUSE;
}

GArray *sv_inode_table_refilter(struct sv_inode_table *table)
{
	struct refusal refusal = { .bit = SV_INODE_HIDDEN, .judge = filter };

	if (!table->shown)
		return g_array_new(FALSE, FALSE, sizeof(struct sv_inode_entry));
	return refuse_tops(table, &refusal);
}

/* Where names of SOURCE's top level now lead: name -> struct stat, none if absent. */
static enum verdict still_there(struct sv_inode_table *table, struct sv_inode *inode, void *data)
{
	const struct stat *st;
	gpointer value;

	if (!g_hash_table_lookup_extended(data, inode->name, NULL, &value))
		return LEAVE;
	st = value;
	return st && st->st_dev == inode->dev && st->st_ino == inode->ino ? ALLOW : REFUSE;
}

GArray *sv_inode_table_recheck(struct sv_inode_table *table, GPtrArray *names)
{
	g_autoptr(GHashTable) found = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	struct refusal refusal = { .bit = SV_INODE_GONE, .judge = still_there, .data = found };

	/* Asked before the lock is taken, which every request needs. */
	for (guint i = 0; i < names->len; i++) {
		struct stat *st = g_new(struct stat, 1);

		if (fstatat(table->root.fd, names->pdata[i], st, AT_SYMLINK_NOFOLLOW) < 0)
			g_clear_pointer(&st, g_free);
		g_hash_table_replace(found, names->pdata[i], st);
	}
	return refuse_tops(table, &refusal);
}

struct sv_inode *sv_inode_table_lookup(struct sv_inode_table *table,
				       struct sv_inode *parent, const char *name,
				       const struct stat *st)
{
	struct sv_inode key = { .dev = st->st_dev, .ino = st->st_ino };
	struct sv_inode *inode;

	g_mutex_lock(&table->lock);
	inode = g_hash_table_lookup(table->by_dev_ino, &key);
	/*
	 * Each name gets its own inode, which reaches the file by that name:
	 * the number may belong to a hard link, or to a path that garbage
	 * collection removed and whose number SOURCE gave to a new file.
	 */
	if (inode && inode != &table->root &&
	    (inode->parent != parent || strcmp(inode->name, name) != 0 ||
	     (inode->mode & S_IFMT) != (st->st_mode & S_IFMT))) {
		g_hash_table_remove(table->by_dev_ino, inode);
		g_hash_table_add(table->superseded, inode);
		inode = NULL;
	}
	if (!inode) {
		inode = g_new0(struct sv_inode, 1);
		fill_from_stat(inode, st);
		inode->fd = -1;
		inode->name = g_strdup(name);
		inode->parent = parent;
		inode->top = parent == &table->root ? inode : parent->top;
		if (inode->top == inode) {
			g_hash_table_add(table->tops, inode);
			/* A reload that changed the filter walked the table before this one was in it. */
			if (table->shown && !table->shown(table->shown_data, name))
				inode->refused = SV_INODE_HIDDEN;
		}
		parent->refs++;
		g_hash_table_add(table->by_dev_ino, inode);
		inode->id = table->next_id++;
		g_rw_lock_writer_lock(&table->ids_lock);
		g_hash_table_insert(table->by_id, &inode->id, inode);
		g_rw_lock_writer_unlock(&table->ids_lock);
	}
	inode->refs++;
	g_mutex_unlock(&table->lock);
	return inode;
}

void sv_inode_refresh(struct sv_inode *inode, const struct stat *st)
{
	mode_t mode = (inode->mode & S_IFMT) | (st->st_mode & ~(mode_t)S_IFMT);

	__atomic_store_n(&inode->mode, mode, __ATOMIC_RELAXED);
	__atomic_store_n(&inode->uid, st->st_uid, __ATOMIC_RELAXED);
	__atomic_store_n(&inode->gid, st->st_gid, __ATOMIC_RELAXED);
}

static void lru_unlink(struct sv_inode_table *table, struct sv_inode *inode)
{
	if (inode->lru_prev)
		inode->lru_prev->lru_next = inode->lru_next;
	else
		table->lru_head = inode->lru_next;
	if (inode->lru_next)
		inode->lru_next->lru_prev = inode->lru_prev;
	else
		table->lru_tail = inode->lru_prev;
	inode->lru_prev = inode->lru_next = NULL;
}

static void lru_push_front(struct sv_inode_table *table, struct sv_inode *inode)
{
	inode->lru_prev = NULL;
	inode->lru_next = table->lru_head;
	if (table->lru_head)
		table->lru_head->lru_prev = inode;
	table->lru_head = inode;
	if (!table->lru_tail)
		table->lru_tail = inode;
}

static void drop_cached_fd(struct sv_inode_table *table, struct sv_inode *inode)
{
	lru_unlink(table, inode);
	close(inode->fd);
	inode->fd = -1;
	table->dir_fds--;
}

/* Closes unused cached fds, oldest first, until at most keep remain. */
static void evict_dir_fds(struct sv_inode_table *table, unsigned int keep)
{
	struct sv_inode *inode = table->lru_tail;

	while (inode && table->dir_fds > keep) {
		struct sv_inode *prev = inode->lru_prev;

		if (inode->fd_users == 0)
			drop_cached_fd(table, inode);
		inode = prev;
	}
}

/* Called with the lock held; frees inode and any parents it kept alive. */
static void unref_locked(struct sv_inode_table *table, struct sv_inode *inode,
			 uint64_t count)
{
	while (inode && inode != &table->root) {
		struct sv_inode *parent = inode->parent;

		g_assert(inode->refs >= count);
		inode->refs -= count;
		if (inode->refs > 0)
			return;
		/* Not by key if superseded: the key is the newer inode's too. */
		if (!g_hash_table_remove(table->superseded, inode))
			g_hash_table_remove(table->by_dev_ino, inode);
		g_rw_lock_writer_lock(&table->ids_lock);
		g_hash_table_remove(table->by_id, &inode->id);
		g_rw_lock_writer_unlock(&table->ids_lock);
		if (inode->top == inode)
			g_hash_table_remove(table->tops, inode);
		if (inode->fd >= 0)
			drop_cached_fd(table, inode);
		free_inode(inode);
		inode = parent;
		count = 1;
	}
}

void sv_inode_table_forget(struct sv_inode_table *table, struct sv_inode *inode,
			   uint64_t nlookup)
{
	if (inode == &table->unknown)
		return;
	g_mutex_lock(&table->lock);
	unref_locked(table, inode, nlookup);
	g_mutex_unlock(&table->lock);
}

static int open_dir_child(int parent_fd, const char *name, struct stat *st)
{
	int fd = openat(parent_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Directories get O_PATH fds to resolve names from, regular files read fds
 * (opened so that a fifo put in the file's place cannot block).
 */
static int open_child(int parent_fd, const struct sv_inode *dir)
{
	struct stat st;
	int fd;

	if (S_ISDIR(dir->mode))
		fd = open_dir_child(parent_fd, dir->name, &st);
	else
		fd = sv_source_open_file(parent_fd, dir->name,
					 O_RDONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC, &st);
	if (fd < 0)
		return fd;
	/* The name now leads elsewhere: this inode is gone from SOURCE. */
	if (st.st_dev != dir->dev || st.st_ino != dir->ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/*
 * With the lock held.  A use of the fd holds the inode too: a request may
 * use it after its reply, when the kernel may already have forgotten it.
 */
static void take_fd_use(struct sv_inode_table *table, struct sv_inode *inode)
{
	inode->fd_users++;
	if (inode != &table->root)
		inode->refs++;
}

/*
 * Takes a use of inode's cached fd, if it has one; called with the lock
 * held.  Returns the fd or -1.
 */
static int take_cached_fd(struct sv_inode_table *table, struct sv_inode *inode)
{
	if (inode->fd < 0)
		return -1;
	take_fd_use(table, inode);
	if (inode != &table->root) {
		lru_unlink(table, inode);
		lru_push_front(table, inode);
	}
	return inode->fd;
}

/* Caches fd (opened by this thread) as inode's and takes a use of it. */
static int cache_fd(struct sv_inode_table *table, struct sv_inode *inode, int fd)
{
	g_mutex_lock(&table->lock);
	if (inode->fd >= 0) {
		/* Another thread cached it meanwhile. */
		close(fd);
	} else {
		inode->fd = fd;
		table->dir_fds++;
		lru_push_front(table, inode);
	}
	take_fd_use(table, inode);
	evict_dir_fds(table, table->max_dir_fds);
	fd = inode->fd;
	g_mutex_unlock(&table->lock);
	return fd;
}

static int open_child_retrying(struct sv_inode_table *table, int parent_fd,
			       const struct sv_inode *inode)
{
	int fd = open_child(parent_fd, inode);

	if (fd == -EMFILE || fd == -ENFILE) {
		/* Give back what the cache holds and try once more. */
		g_mutex_lock(&table->lock);
		evict_dir_fds(table, 0);
		g_mutex_unlock(&table->lock);
		fd = open_child(parent_fd, inode);
	}
	return fd;
}

/*
 * How long a cached fd is trusted to be where its names lead, before they
 * are followed again: a directory moved out of SOURCE while its fd is
 * cached is refused within that time.  Following a path costs a system
 * call per level, which SOURCE decides: one that took longer is trusted
 * PATH_TRUST_FACTOR times as long as it took, so that a deep chain costs
 * a bounded share of the daemon's time.
 */
#define PATH_TRUST_MS 1000
#define PATH_TRUST_FACTOR 100

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Whether the names from the root down to chain->pdata[0] (its ancestors
 * after it, the top-level entry last) still lead to those inodes, one name
 * at a time and never through a symlink: 0 or -ESTALE.
 */
static int check_path(struct sv_inode_table *table, GPtrArray *chain)
{
	int fd = table->root.fd, err = 0;

	for (guint i = chain->len; i-- > 0 && err == 0;) {
		const struct sv_inode *step = chain->pdata[i];
		struct stat st;
		int next = -1;

		if (i == 0)
			err = fstatat(fd, step->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -ESTALE : 0;
		else if ((next = open_dir_child(fd, step->name, &st)) < 0)
			err = -ESTALE;
		if (err == 0 && (st.st_dev != step->dev || st.st_ino != step->ino))
			err = -ESTALE;
		if (fd != table->root.fd)
			close(fd);
		fd = next;
	}
	if (fd >= 0 && fd != table->root.fd)
		close(fd);
	return err;
}

/*
 * inode's fd, with a use taken.  Without one cached, the nearest ancestor
 * that has one is found and the names below it opened one at a time, in a
 * loop: SOURCE decides how deep a chain is, so nothing here recurses.
 */
static int get_fd(struct sv_inode_table *table, struct sv_inode *inode)
{
	g_autoptr(GPtrArray) below = g_ptr_array_new();
	g_autoptr(GPtrArray) chain = NULL;
	int64_t now = now_ms(), trusted = now + PATH_TRUST_MS;
	struct sv_inode *held, *up;
	int fd;

	g_mutex_lock(&table->lock);
	/* The root always has its fd: the walk ends there at the latest. */
	for (held = inode; (fd = take_cached_fd(table, held)) < 0; held = held->parent)
		g_ptr_array_add(below, held);
	if (held != &table->root) {
		trusted = __atomic_load_n(&held->path_trusted, __ATOMIC_RELAXED);
		if (now > trusted) {
			chain = g_ptr_array_new();
			for (up = held; up != &table->root; up = up->parent)
				g_ptr_array_add(chain, up);
		}
	}
	g_mutex_unlock(&table->lock);

	/* A cached fd still reaches what was moved away: follow its names again. */
	if (chain) {
		int err = check_path(table, chain);
		int64_t done = now_ms();

		if (err < 0) {
			sv_inode_put_dirfd(table, held);
			return err;
		}
		trusted = done + MAX(PATH_TRUST_MS, PATH_TRUST_FACTOR * (done - now));
		__atomic_store_n(&held->path_trusted, trusted, __ATOMIC_RELAXED);
	}
	for (guint i = below->len; i-- > 0;) {
		struct sv_inode *child = below->pdata[i];
		int child_fd = open_child_retrying(table, fd, child);

		sv_inode_put_dirfd(table, held);
		if (child_fd < 0)
			return child_fd;
		fd = cache_fd(table, child, child_fd);
		/* Reached by name from held: as sure as held is. */
		__atomic_store_n(&child->path_trusted, trusted, __ATOMIC_RELAXED);
		held = child;
	}
	return fd;
}

int sv_inode_get_dirfd(struct sv_inode_table *table, struct sv_inode *dir)
{
	int refused = sv_inode_refused(dir);

	if (refused < 0)
		return refused;
	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	return get_fd(table, dir);
}

int sv_inode_get_readfd(struct sv_inode_table *table, struct sv_inode *file)
{
	int refused = sv_inode_refused(file);

	if (refused < 0)
		return refused;
	if (!S_ISREG(file->mode))
		return S_ISDIR(file->mode) ? -EISDIR : -EINVAL;
	return get_fd(table, file);
}

void sv_inode_put_dirfd(struct sv_inode_table *table, struct sv_inode *dir)
{
	g_mutex_lock(&table->lock);
	g_assert(dir->fd_users > 0);
	dir->fd_users--;
	unref_locked(table, dir, 1);
	g_mutex_unlock(&table->lock);
}

struct children {
	const struct sv_inode *parent;
	GPtrArray *names;
};

static void add_if_child(struct sv_inode_table *table, struct sv_inode *inode, void *data)
{
	struct children *children = data;

	if (inode->parent == children->parent)
		g_ptr_array_add(children->names, g_strdup(inode->name));
}

GPtrArray *sv_inode_table_child_names(struct sv_inode_table *table,
				      const struct sv_inode *parent)
{
	struct children children = {
		.parent = parent, .names = g_ptr_array_new_with_free_func(g_free),
	};

	g_mutex_lock(&table->lock);
	for_each_inode(table, add_if_child, &children);
	g_mutex_unlock(&table->lock);
	return children.names;
}

void sv_inode_table_counts(struct sv_inode_table *table, unsigned int *inodes,
			   unsigned int *dir_fds)
{
	g_mutex_lock(&table->lock);
	*inodes = g_hash_table_size(table->by_dev_ino) + g_hash_table_size(table->superseded);
	*dir_fds = table->dir_fds;
	g_mutex_unlock(&table->lock);
}
