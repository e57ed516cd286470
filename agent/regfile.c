/*
 * regfile.c - see regfile.h.
 */
#include "regfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

int regfile_open(const char *path, size_t max, int flags, int *fd, size_t *size)
{
    int oflags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
    if (flags & REGFILE_NOFOLLOW)
        oflags |= O_NOFOLLOW;
    int f = open(path, oflags);
    struct stat st;
    if (f < 0)
        return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
    int rc = 0;
    if (fstat(f, &st) != 0)
        rc = ERR_IO;
    else if (!S_ISREG(st.st_mode))
        rc = ERR_INVAL;
    else if ((unsigned long long)st.st_size > (unsigned long long)max)
        rc = ERR_TOOBIG;
    if (rc != 0) {
        int e = errno;
        close(f);
        errno = e;
        return rc;
    }
    *fd = f;
    *size = (size_t)st.st_size;
    return 0;
}

int regfile_read_close(int fd, void *buf, size_t size, size_t *got)
{
    char *p = buf;
    int rc = 0;
    *got = 0;
    /* Each pass reads something, or ends at the end of the file or on an
     * error; at most size bytes in all. */
    while (*got < size) {
        ssize_t n = read(fd, p + *got, size - *got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = ERR_IO;
        if (n <= 0)
            break;
        *got += (size_t)n;
    }
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int regfile_write_all(int fd, const char *buf, size_t len)
{
    size_t off = 0;
    /* Each pass writes at least one byte or fails. */
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ERR_IO;
        off += (size_t)n;
    }
    return 0;
}

int regfile_replace(const char *path, const void *buf, size_t len, const char **step)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    *step = "name a temporary file";
    if (path == NULL || path[0] == '\0' ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
        return ERR_INVAL;
    struct stat st;
    *step = "replace what is not a regular file";
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return ERR_INVAL; /* as root, a path of /dev/null must not be destroyed */
    *step = "create a temporary file";
    int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0)
        return ERR_IO;
    *step = "write";
    if (regfile_write_all(fd, buf, len) != 0)
        goto out_unlink;
    *step = "fsync";
    if (fsync(fd) != 0)
        goto out_unlink;
    *step = "close";
    int crc = close(fd);
    fd = -1;
    if (crc != 0)
        goto out_unlink;
    *step = "rename";
    if (rename(tmp, path) != 0)
        goto out_unlink;
    /* The rename is durable once the directory is. */
    snprintf(dir, sizeof(dir), "%s", path);
    *step = "fsync the directory";
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return ERR_IO;
    int frc = fsync(dfd);
    int e = errno;
    close(dfd);
    errno = e;
    return frc == 0 ? 0 : ERR_IO;
out_unlink : {
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
}
    return ERR_IO;
}
