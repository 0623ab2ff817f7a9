/* A thread that reads SOURCE's directories ahead of a walk, see prefetch.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "prefetch.h"

/* The entries that ready listings may hold in all (about 190 bytes each). */
#define MAX_READY_ENTRIES 16384
/* Directories waiting to be read; beyond this the last in walk order are dropped. */
#define MAX_PENDING 4096
/* Levels read below where the walker missed: each holds a directory open. */
#define MAX_DEPTH 32
/* How long a walker waits for a directory the thread is reading. */
#define MAX_WAIT (200 * G_TIME_SPAN_MILLISECOND)

/* An open directory, shared by what waits to be read in it. */
struct parent {
	gatomicrefcount refs;
	DIR *dir;
};

struct pending {
	struct parent *parent;
	char *name;		/* a subdirectory to read, or NULL: parent's */
	off_t offset;		/* own entries after this one */
	ino_t ino;		/* the directory to be read */
	unsigned int depth;
};

struct sv_prefetch {
	GThread *thread;
	GMutex lock;
	GCond wake;			/* work, room or the end */
	GCond read_done;		/* a directory read */
	bool stopping;
	GQueue pending;			/* of struct pending, the next first */
	struct pending *reading;	/* popped from pending and being read */
	GHashTable *ready;		/* (dev, ino) -> its first listing ready */
	unsigned int ready_count, ready_entries;
	unsigned int generation;	/* changes when the walker misses */
	unsigned long count;
};

static void listing_free(struct sv_listing *listing)
{
	g_free(listing->entries);
	g_string_chunk_free(listing->names);
	g_free(listing);
}

void sv_listing_unref(struct sv_listing *listing)
{
	if (listing && g_atomic_ref_count_dec(&listing->refs))
		listing_free(listing);
}

static guint listing_hash(gconstpointer key)
{
	const struct sv_listing *listing = key;

	return (guint)(listing->ino ^ (listing->ino >> 32) ^ listing->dev);
}

static gboolean listing_equal(gconstpointer a, gconstpointer b)
{
	const struct sv_listing *x = a, *y = b;

	return x->dev == y->dev && x->ino == y->ino;
}

static struct parent *parent_new(DIR *dir)
{
	struct parent *parent = g_new(struct parent, 1);

	g_atomic_ref_count_init(&parent->refs);
	parent->dir = dir;
	return parent;
}

static struct parent *parent_ref(struct parent *parent)
{
	g_atomic_ref_count_inc(&parent->refs);
	return parent;
}

static void parent_unref(struct parent *parent)
{
	if (!g_atomic_ref_count_dec(&parent->refs))
		return;
	closedir(parent->dir);
	g_free(parent);
}

static void pending_free(struct pending *pending)
{
	parent_unref(pending->parent);
	g_free(pending->name);
	g_free(pending);
}

static void subdir_clear(gpointer data)
{
	g_free(((struct sv_subdir *)data)->name);
}

GArray *sv_subdirs_new(void)
{
	GArray *subdirs = g_array_new(FALSE, FALSE, sizeof(struct sv_subdir));

	g_array_set_clear_func(subdirs, subdir_clear);
	return subdirs;
}

void sv_subdirs_add(GArray *subdirs, const char *name, ino_t ino)
{
	struct sv_subdir sub = { g_strdup(name), ino };

	g_array_append_val(subdirs, sub);
}

static bool ready_full(struct sv_prefetch *pf)
{
	return pf->ready_count >= SV_PREFETCH_MAX_READY || pf->ready_entries >= MAX_READY_ENTRIES;
}

/* The lock is held by each of the functions below that take pf. */

static void add_ready(struct sv_prefetch *pf, struct sv_listing *listing)
{
	struct sv_listing *first = g_hash_table_lookup(pf->ready, listing);

	if (!first) {
		g_hash_table_add(pf->ready, listing);
	} else {
		while (first->next)
			first = first->next;
		first->next = listing;
	}
	pf->ready_count++;
	pf->ready_entries += listing->count;
	pf->count++;
}

static void remove_ready(struct sv_prefetch *pf, struct sv_listing *listing)
{
	struct sv_listing *first = g_hash_table_lookup(pf->ready, listing), **link;

	for (link = &first; *link && *link != listing; link = &(*link)->next)
		;
	if (!*link)
		return;
	*link = listing->next;
	listing->next = NULL;
	g_hash_table_remove(pf->ready, listing);
	if (first)
		g_hash_table_add(pf->ready, first);
	pf->ready_count--;
	pf->ready_entries -= listing->count;
	sv_listing_unref(listing);
	g_cond_signal(&pf->wake);
}

static void drop_ready(struct sv_prefetch *pf)
{
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, pf->ready);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		struct sv_listing *listing = key;

		while (listing) {
			struct sv_listing *next = listing->next;

			sv_listing_unref(listing);
			listing = next;
		}
	}
	g_hash_table_remove_all(pf->ready);
	pf->ready_count = pf->ready_entries = 0;
	g_cond_signal(&pf->wake);
}

static void push(struct sv_prefetch *pf, struct parent *parent, char *name, off_t offset,
		 ino_t ino, unsigned int depth)
{
	struct pending *pending = g_new(struct pending, 1);

	pending->parent = parent_ref(parent);
	pending->name = name;
	pending->offset = offset;
	pending->ino = ino;
	pending->depth = depth;
	g_queue_push_head(&pf->pending, pending);
}

/*
 * Puts what is left of directory ino, open in parent, first in line: its
 * subdirectories in their order, then its entries after resume_offset
 * unless resume is false.  Takes subdirs over.
 */
static void push_directory(struct sv_prefetch *pf, struct parent *parent, ino_t ino,
			   bool resume, off_t resume_offset, GArray *subdirs, unsigned int depth)
{
	if (resume)
		push(pf, parent, NULL, resume_offset, ino, depth);
	for (guint i = subdirs->len; depth < MAX_DEPTH && i-- > 0;) {
		struct sv_subdir *sub = &g_array_index(subdirs, struct sv_subdir, i);

		push(pf, parent, g_steal_pointer(&sub->name), 0, sub->ino, depth + 1);
	}
	g_array_unref(subdirs);
	while (g_queue_get_length(&pf->pending) > MAX_PENDING)
		pending_free(g_queue_pop_tail(&pf->pending));
}

/*
 * Reads up to SV_PREFETCH_MAX_ENTRIES entries of dir, whose next entry
 * follows offset, as the view's listing will: each entry and its lstat.
 * Sets *subdirs to the subdirectories among them.  NULL if the directory
 * could not be read.
 */
static struct sv_listing *read_listing(DIR *dir, off_t offset, GArray **subdirs)
{
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(struct sv_listing_entry));
	struct sv_listing *listing;
	struct dirent *d;
	struct stat st;
	int fd = dirfd(dir);

	if (fstat(fd, &st) < 0)
		return NULL;
	listing = g_new0(struct sv_listing, 1);
	g_atomic_ref_count_init(&listing->refs);
	listing->dev = st.st_dev;
	listing->ino = st.st_ino;
	listing->mtime = st.st_mtim;
	listing->ctime = st.st_ctim;
	listing->offset = offset;
	listing->names = g_string_chunk_new(4096);
	*subdirs = sv_subdirs_new();
	while (entries->len < SV_PREFETCH_MAX_ENTRIES) {
		struct sv_listing_entry entry = { 0 };

		errno = 0;
		d = readdir(dir);
		if (!d) {
			listing->complete = errno == 0;
			break;
		}
		entry.name = g_string_chunk_insert(listing->names, d->d_name);
		entry.next_offset = d->d_off;
		entry.ino = d->d_ino;
		entry.type = d->d_type;
		if (!sv_policy_is_dot_or_dotdot(d->d_name)) {
			entry.vanished = fstatat(fd, d->d_name, &entry.st, AT_SYMLINK_NOFOLLOW) < 0;
			if (!entry.vanished && S_ISDIR(entry.st.st_mode))
				sv_subdirs_add(*subdirs, d->d_name, entry.st.st_ino);
		}
		g_array_append_val(entries, entry);
	}
	listing->count = entries->len;
	listing->entries = (struct sv_listing_entry *)(void *)g_array_free(g_steal_pointer(&entries), FALSE);
	if (listing->count == 0 && !listing->complete) {
		sv_listing_unref(listing);
		g_array_unref(*subdirs);
		return NULL;
	}
	return listing;
}

static DIR *open_subdir(struct parent *parent, const char *name)
{
	int fd = openat(dirfd(parent->dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir;

	if (fd < 0)
		return NULL;
	dir = fdopendir(fd);
	if (!dir)
		close(fd);
	return dir;
}

/* Reads the next pending directory. */
static void read_next(struct sv_prefetch *pf)
{
	struct pending *next = g_queue_pop_head(&pf->pending);
	unsigned int generation = pf->generation;
	struct sv_listing *listing = NULL;
	GArray *subdirs = NULL;
	DIR *dir;

	pf->reading = next;
	g_mutex_unlock(&pf->lock);
	if (next->name) {
		dir = open_subdir(next->parent, next->name);
	} else {
		dir = next->parent->dir;
		seekdir(dir, next->offset);
	}
	if (dir)
		listing = read_listing(dir, next->offset, &subdirs);
	g_mutex_lock(&pf->lock);
	pf->reading = NULL;
	g_cond_broadcast(&pf->read_done);
	/* What the walker passed while this was read is of no use. */
	if (listing && generation == pf->generation) {
		struct parent *parent = next->name ? parent_new(dir) : parent_ref(next->parent);

		/* An incomplete listing holds at least one entry. */
		off_t resume_offset = listing->complete ? 0 :
				      listing->entries[listing->count - 1].next_offset;

		add_ready(pf, listing);
		push_directory(pf, parent, next->ino, !listing->complete, resume_offset, subdirs,
			       next->depth);
		parent_unref(parent);
	} else if (listing) {
		sv_listing_unref(listing);
		g_array_unref(subdirs);
		if (next->name)
			closedir(dir);
	} else if (dir && next->name) {
		closedir(dir);
	}
	pending_free(next);
}

/* Under the lock: whether the thread has nothing it may read now. */
static bool nothing_to_read(struct sv_prefetch *pf)
{
	return g_queue_is_empty(&pf->pending) || ready_full(pf);
}

static gpointer run(gpointer data)
{
	struct sv_prefetch *pf = data;

	g_mutex_lock(&pf->lock);
	for (;;) {
		while (!pf->stopping && nothing_to_read(pf))
			g_cond_wait(&pf->wake, &pf->lock);
		if (pf->stopping)
			break;
		read_next(pf);
	}
	g_mutex_unlock(&pf->lock);
	return NULL;
}

struct sv_prefetch *sv_prefetch_new(char **error)
{
	struct sv_prefetch *pf = g_new0(struct sv_prefetch, 1);
	g_autoptr(GError) err = NULL;

	g_mutex_init(&pf->lock);
	g_cond_init(&pf->wake);
	g_cond_init(&pf->read_done);
	g_queue_init(&pf->pending);
	pf->ready = g_hash_table_new(listing_hash, listing_equal);
	/* One thread: the other CPU of a small host is the walker's. */
	pf->thread = g_thread_try_new("sv-prefetch", run, pf, &err);
	if (!pf->thread) {
		if (error)
			*error = g_strdup(err->message);
		sv_prefetch_free(pf);
		return NULL;
	}
	return pf;
}

static bool reading(struct sv_prefetch *pf, ino_t ino)
{
	return pf->reading && pf->reading->ino == ino;
}

/* The pending read of directory ino (only of its further entries if resumed), or NULL. */
static GList *find_pending(struct sv_prefetch *pf, ino_t ino, bool resumed)
{
	for (GList *link = pf->pending.head; link; link = link->next) {
		struct pending *pending = link->data;

		if (pending->ino == ino && (!resumed || !pending->name))
			return link;
	}
	return NULL;
}

/* Whether the thread has directory ino in hand: ready, being read or to be read on. */
static bool on_the_way(struct sv_prefetch *pf, dev_t dev, ino_t ino)
{
	struct sv_listing probe = { .dev = dev, .ino = ino };

	return g_hash_table_contains(pf->ready, &probe) || reading(pf, ino) ||
	       find_pending(pf, ino, true) != NULL;
}

/*
 * The walker is at directory ino, which was not on the way: drops what
 * lies behind it.  Returns the depth ino was to be read at, or MAX_DEPTH
 * if it was not waiting to be read.
 */
static unsigned int walker_at(struct sv_prefetch *pf, ino_t ino)
{
	struct pending *here, *passed;
	unsigned int depth;
	GList *link;

	pf->generation++;
	drop_ready(pf);
	link = find_pending(pf, ino, false);
	if (!link)
		return MAX_DEPTH;
	here = link->data;
	do {
		passed = g_queue_pop_head(&pf->pending);
		depth = passed->depth;
		pending_free(passed);
	} while (passed != here);
	return depth;
}

void sv_prefetch_missed(struct sv_prefetch *pf, dev_t dev, ino_t ino, DIR *dir, bool resume,
			off_t resume_offset, GArray *subdirs)
{
	struct parent *parent;
	unsigned int depth;

	g_mutex_lock(&pf->lock);
	/*
	 * Nothing to read from here (the end of a listing, say), or still on
	 * it if the walker went faster: the rest comes.
	 */
	if ((subdirs->len == 0 && !resume) || on_the_way(pf, dev, ino)) {
		g_mutex_unlock(&pf->lock);
		closedir(dir);
		g_array_unref(subdirs);
		return;
	}
	depth = walker_at(pf, ino);
	if (depth >= MAX_DEPTH) {
		g_queue_clear_full(&pf->pending, (GDestroyNotify)pending_free);
		depth = 0;
	}
	parent = parent_new(dir);
	push_directory(pf, parent, ino, resume, resume_offset, subdirs, depth);
	parent_unref(parent);
	g_cond_signal(&pf->wake);
	g_mutex_unlock(&pf->lock);
}

/* The ready listing of (dev, ino) that goes on after offset, and where. */
static struct sv_listing *find_ready(struct sv_prefetch *pf, dev_t dev, ino_t ino, off_t offset,
				     unsigned int *next)
{
	struct sv_listing probe = { .dev = dev, .ino = ino }, *listing;

	for (listing = g_hash_table_lookup(pf->ready, &probe); listing; listing = listing->next) {
		if (listing->offset == offset) {
			*next = 0;
			return listing;
		}
		for (unsigned int i = 0; i < listing->count; i++) {
			if (listing->entries[i].next_offset != offset)
				continue;
			if (i + 1 == listing->count && !listing->complete)
				break;
			*next = i + 1;
			return listing;
		}
	}
	return NULL;
}

struct sv_listing *sv_prefetch_find(struct sv_prefetch *pf, dev_t dev, ino_t ino, off_t offset,
				    unsigned int *next)
{
	gint64 deadline = g_get_monotonic_time() + MAX_WAIT;
	struct sv_listing *listing;

	g_mutex_lock(&pf->lock);
	/* Being read: sooner there than read again. */
	while (!(listing = find_ready(pf, dev, ino, offset, next)) && reading(pf, ino))
		if (!g_cond_wait_until(&pf->read_done, &pf->lock, deadline))
			break;
	if (listing)
		g_atomic_ref_count_inc(&listing->refs);
	g_mutex_unlock(&pf->lock);
	return listing;
}

void sv_prefetch_used(struct sv_prefetch *pf, struct sv_listing *listing)
{
	g_mutex_lock(&pf->lock);
	remove_ready(pf, listing);
	g_mutex_unlock(&pf->lock);
}

unsigned long sv_prefetch_count(struct sv_prefetch *pf)
{
	unsigned long count;

	if (!pf)
		return 0;
	g_mutex_lock(&pf->lock);
	count = pf->count;
	g_mutex_unlock(&pf->lock);
	return count;
}

bool sv_prefetch_idle(struct sv_prefetch *pf)
{
	bool idle;

	g_mutex_lock(&pf->lock);
	idle = !pf->reading && nothing_to_read(pf);
	g_mutex_unlock(&pf->lock);
	return idle;
}

void sv_prefetch_free(struct sv_prefetch *pf)
{
	if (!pf)
		return;
	if (pf->thread) {
		g_mutex_lock(&pf->lock);
		pf->stopping = true;
		g_cond_signal(&pf->wake);
		g_mutex_unlock(&pf->lock);
		g_thread_join(pf->thread);
	}
	g_queue_clear_full(&pf->pending, (GDestroyNotify)pending_free);
	drop_ready(pf);
	g_hash_table_destroy(pf->ready);
	g_cond_clear(&pf->read_done);
	g_cond_clear(&pf->wake);
	g_mutex_clear(&pf->lock);
	g_free(pf);
}
