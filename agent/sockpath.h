/*
 * sockpath.h - owning the path of a Unix stream socket: one owner per path,
 * and an owner removes only what it made.
 *
 * Model: the owner of PATH holds an exclusive flock(2) on PATH.lock
 * (SOCKPATH_LOCK_SUFFIX) for as long as it serves.  Claiming takes that lock
 * (so two servers never both believe they own PATH), refuses a path where
 * something other than a socket stands or where a server (one that predates
 * the lock file) still answers, and only then removes a stale socket.  The
 * socket bound is remembered by device and inode, and on release PATH and
 * PATH.lock are removed only while they are still the files this owner
 * made: a later server's socket at the same path is never touched.
 */
#ifndef AGENT_SOCKPATH_H
#define AGENT_SOCKPATH_H

#include <sys/types.h>
#include <sys/un.h>

/* The lock file beside the socket: PATH followed by this. */
#define SOCKPATH_LOCK_SUFFIX ".lock"

/* One claimed path; a plain value (no allocation). */
struct sockpath {
    int lock_fd; /* PATH.lock, flock'ed while claimed; -1 when not */
    dev_t dev;   /* the socket file bound: removed only if still there */
    ino_t ino;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + sizeof(SOCKPATH_LOCK_SUFFIX)];
};

/*
 * Claim path for a server: take PATH.lock, check that no other server
 * answers there, and remove a stale socket.  0; ERR_INVAL (empty or too
 * long for sun_path); ERR_EXISTS (another swimd holds the lock, a server
 * answers, or a non-socket file is in the way); ERR_SYS (errno kept).  On
 * error nothing is left claimed.
 */
int sockpath_claim(struct sockpath *sp, const char *path);
/*
 * Bind a non-blocking, close-on-exec stream socket at the claimed path,
 * chmod it to mode before listening (so the umask's mode of that instant is
 * never usable), and listen.  The listening fd, or -1 with errno kept
 * (whatever was made is removed).
 */
int sockpath_listen(struct sockpath *sp, unsigned mode, int backlog);
/* Give the path up: remove the socket and the lock file if they are still
 * the ones this owner made, and drop the lock.  Safe to repeat. */
void sockpath_release(struct sockpath *sp);

#endif /* AGENT_SOCKPATH_H */
