/*
 * snapshot.h - --snapshot FILE: what a node knew, so a restart can rejoin.
 *
 * Model.  A snapshot (struct snap) holds this node's name, its last
 * generation and incarnation, and the members it knew (name, address text,
 * status).  On disk it is one JSON document:
 *
 *   {"version": 1, "name": "n1", "generation": 1714557600123,
 *    "incarnation": 3,
 *    "members": [{"name": "n2", "addr": "10.0.0.2:7946", "status": "alive"}, ...]}
 *
 * snap_write() replaces the file atomically: the document goes to a
 * temporary file in the same directory (mode 0600), which is fsync'd and
 * renamed over FILE, then the directory is fsync'd; a crash leaves the old
 * file or the new one, never a mix (at worst a stray FILE.tmp.XXXXXX).
 * snap_load() checks everything (size, JSON, version, every field, every
 * name by the name rule, every address numeric with a port, no duplicate
 * member, self not listed) and refuses the whole file on the first problem
 * with one human line: the caller logs it as a warning and starts as if
 * there were no snapshot.
 *
 * Only a regular file is read or replaced: snap_load() opens without
 * blocking and without following a link, and snap_write() leaves anything
 * else at the path (a FIFO, a device, a socket, a link) untouched and
 * fails.  A generation is at most SNAP_GENERATION_MAX, so it is exact in
 * JSON and the file written is always one snap_load() accepts.
 *
 * Writing policy.  Membership can change many times a second; the file
 * should not.  struct snap_writer is a small value the event loop keeps: it
 * marks the snapshot dirty on each change and asks when a write is due, at
 * most one write per interval; the loop owns the timer.
 *
 * Nothing here keeps global state; snap_write() and snap_load() do blocking
 * file I/O (small files, on the loop, as Serf does).  Errors are 0 or a
 * negative ERR_* code from err.h.
 */
#ifndef AGENT_SNAPSHOT_H
#define AGENT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "swim.h"

/* The on-disk format; a file with any other version is refused. */
#define SNAP_FORMAT_VERSION 1
/* Largest snapshot file read: ~150 bytes a member, so 64 MB is far beyond
 * any real cluster and still bounds what a corrupt file can make us load. */
#define SNAP_FILE_MAX (64u * 1024u * 1024u)
/* Most members in one snapshot (same reasoning). */
#define SNAP_MEMBERS_MAX 262144
/* Default write interval: at most one write a second, Serf's order too. */
#define SNAP_INTERVAL_DEFAULT_MS 1000
/* Longest error line handed back. */
#define SNAP_ERR_MAX 256
/* Largest generation: JSON integers are signed 64-bit (the core keeps
 * generations at or below it too). */
#define SNAP_GENERATION_MAX ((uint64_t)INT64_MAX)

/* One member, a plain value. */
struct snap_member {
    char name[SWIM_NAME_MAX + 1];
    char addr[ADDR_TEXT_MAX];
    enum swim_status status;
};

struct snap;

/* An empty snapshot (no name, generation 0).  NULL when out of memory. */
struct snap *snap_new(void);
void snap_delete(struct snap *s);

/* Set this node's record.  0 or ERR_INVAL (name not valid by
 * swim_name_valid(), or generation above SNAP_GENERATION_MAX). */
int snap_set_self(struct snap *s, const char *name, uint64_t generation, uint32_t incarnation);
/* Add a member.  0, ERR_INVAL (bad name, address or status), ERR_NOMEM,
 * ERR_LIMIT (more than SNAP_MEMBERS_MAX).  Duplicates are refused only by
 * snap_write()/snap_load(), which check the whole set. */
int snap_add(struct snap *s, const char *name, const char *addr, enum swim_status status);

const char *snap_name(const struct snap *s);
uint64_t snap_generation(const struct snap *s);
uint32_t snap_incarnation(const struct snap *s);
size_t snap_count(const struct snap *s);
/* The i-th member in the order added or loaded; NULL past the end. */
const struct snap_member *snap_member_at(const struct snap *s, size_t i);

/* The document as a malloc'd NUL-terminated string (owned by the caller), or
 * NULL when out of memory or when the snapshot is invalid (duplicates). */
char *snap_dump(const struct snap *s);
/* Parse a document (len bytes, need not be NUL-terminated).  *out is a new
 * snapshot on success.  Errors, with one line in err: ERR_TRUNC (empty or
 * cut short), ERR_MALFORMED (not JSON, or a bad or unknown field),
 * ERR_VERSION (another format version), ERR_TOOBIG, ERR_NOMEM. */
int snap_parse(const char *text, size_t len, struct snap **out, char *err, size_t errlen);

/* Write atomically (see the model).  0, ERR_INVAL (snapshot invalid), ERR_IO
 * (errno kept; err names the step), ERR_NOMEM. */
int snap_write(const struct snap *s, const char *path, char *err, size_t errlen);
/* Read and parse.  Errors: ERR_NOTFOUND (no file: a first start, not a
 * warning), ERR_IO (cannot read), ERR_TOOBIG (over SNAP_FILE_MAX), and those
 * of snap_parse(); err is filled for each. */
int snap_load(const char *path, struct snap **out, char *err, size_t errlen);

/* ---- the writer policy (a plain value owned by the loop) ---- */

struct snap_writer {
    uint32_t interval_ms;
    int dirty;
    int written; /* a write was attempted at last_ms */
    uint64_t last_ms;
};

/* Clean, never written; interval 0 means SNAP_INTERVAL_DEFAULT_MS. */
void snap_writer_init(struct snap_writer *w, uint32_t interval_ms);
/* Something the snapshot records has changed. */
void snap_writer_mark(struct snap_writer *w);
/*
 * Should the loop write now (monotonic now_ms)?  1: yes, write and then call
 * snap_writer_done().  0: no; *wait_ms is how long until a write is allowed
 * (arm the timer for that), or 0 when there is nothing to write.
 */
int snap_writer_due(const struct snap_writer *w, uint64_t now_ms, uint64_t *wait_ms);
/* A write was attempted at now_ms: on success the writer is clean; on
 * failure it stays dirty and the next try waits a full interval. */
void snap_writer_done(struct snap_writer *w, uint64_t now_ms, int ok);

#endif /* AGENT_SNAPSHOT_H */
