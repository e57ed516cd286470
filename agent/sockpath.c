/*
 * sockpath.c - see sockpath.h for the model.
 */
#include "sockpath.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

/* Attempts at the lock when its file is replaced under us (a previous owner
 * removing it as we open it): a few, then the path counts as taken. */
#define SOCKPATH_LOCK_TRIES 3

/* Is someone listening at path?  1 yes, 0 no (stale), -1 not a socket. */
static int sockpath_live(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1; /* cannot tell: do not remove it */
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    int rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    int e = errno;
    close(fd);
    if (rc == 0)
        return 1;
    return e == ECONNREFUSED ? 0 : 1;
}

/* 1 when path is (still) the file with st's device and inode. */
static int sockpath_same_file(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;
    return lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/* Remove path only if it is still the file we made. */
static void sockpath_unlink_own(const char *path, dev_t dev, ino_t ino)
{
    if (sockpath_same_file(path, dev, ino))
        unlink(path);
}

/* Open and lock sp->lock_path.  0, ERR_EXISTS (another holds it), or
 * ERR_SYS (errno kept). */
static int sockpath_lock(struct sockpath *sp)
{
    for (int i = 0; i < SOCKPATH_LOCK_TRIES; i++) {
        int fd = open(sp->lock_path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        struct stat st;
        if (fd < 0)
            return ERR_SYS;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            errno = e;
            return e == EWOULDBLOCK ? ERR_EXISTS : ERR_SYS;
        }
        /* Locked; but if its last owner unlinked it meanwhile, the lock
         * guards nothing: try the file now at the path. */
        if (fstat(fd, &st) == 0 && sockpath_same_file(sp->lock_path, st.st_dev, st.st_ino)) {
            sp->lock_fd = fd;
            return 0;
        }
        close(fd);
    }
    return ERR_EXISTS;
}

/* Release the lock, removing its file first if it is still ours. */
static void sockpath_unlock(struct sockpath *sp)
{
    struct stat st;
    if (sp->lock_fd < 0)
        return;
    if (fstat(sp->lock_fd, &st) == 0)
        sockpath_unlink_own(sp->lock_path, st.st_dev, st.st_ino);
    close(sp->lock_fd);
    sp->lock_fd = -1;
}

int sockpath_listen(struct sockpath *sp, unsigned mode, int backlog)
{
    struct sockaddr_un sun;
    struct stat st;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, sp->path, strlen(sp->path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;
        close(fd); /* nothing made: nothing to remove */
        errno = e;
        return -1;
    }
    if (lstat(sp->path, &st) == 0) { /* what we made, and may remove */
        sp->dev = st.st_dev;
        sp->ino = st.st_ino;
    }
    /* chmod right after bind: until listen() nobody can connect, so the
     * umask-derived mode of that instant is never usable by others. */
    if (chmod(sp->path, mode) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        sockpath_unlink_own(sp->path, sp->dev, sp->ino);
        errno = e;
        return -1;
    }
    return fd;
}

int sockpath_claim(struct sockpath *sp, const char *path)
{
    size_t plen = strlen(path);
    memset(sp, 0, sizeof(*sp));
    sp->lock_fd = -1;
    if (plen == 0 || plen >= sizeof(sp->path))
        return ERR_INVAL;
    memcpy(sp->path, path, plen + 1);
    memcpy(sp->lock_path, path, plen);
    memcpy(sp->lock_path + plen, SOCKPATH_LOCK_SUFFIX, sizeof(SOCKPATH_LOCK_SUFFIX));
    int rc = sockpath_lock(sp);
    if (rc == 0 && sockpath_live(path) != 0)
        rc = ERR_EXISTS; /* a non-socket, or a server that predates the lock file */
    if (rc != 0) {
        sockpath_unlock(sp);
        return rc;
    }
    unlink(path); /* the stale socket of a dead server: the lock says it is ours now */
    return 0;
}

void sockpath_release(struct sockpath *sp)
{
    if (sp->dev != 0 || sp->ino != 0)
        sockpath_unlink_own(sp->path, sp->dev, sp->ino);
    sp->dev = 0;
    sp->ino = 0;
    sockpath_unlock(sp);
}
