/*
 * regfile.c - see regfile.h.
 */
#include "regfile.h"

#include <errno.h>
#include <fcntl.h>
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
