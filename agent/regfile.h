/*
 * regfile.h - reading, and replacing whole, a small regular file.
 *
 * Model: swimd reads a few files an operator names (--config, --keyring,
 * --snapshot).  Each is opened without blocking, so a FIFO or a device
 * never hangs start-up, optionally without following a symbolic link, and
 * refused unless it is a regular file of at most a bound the caller gives;
 * then read whole into the caller's buffer.  Two steps, so the caller
 * chooses the buffer (the keyring reads into guarded memory).
 *
 * Two of them swimd also writes (the snapshot, the keyring after `keys`):
 * always whole and atomically, so a crash leaves the old file or the new
 * one, never a mix: a temporary file beside it (mode 0600), written,
 * fsync'd, renamed over the path, then the directory fsync'd.
 *
 * Blocking file I/O on small files; no state.  Errors are 0 or a negative
 * ERR_* code from err.h, with errno kept where the system said why.
 */
#ifndef AGENT_REGFILE_H
#define AGENT_REGFILE_H

#include <stddef.h>

/* regfile_open() flag: refuse a symbolic link (errno ELOOP). */
#define REGFILE_NOFOLLOW 1

/*
 * Open path for reading.  0 with *fd and *size set; ERR_NOTFOUND (no such
 * file), ERR_IO (cannot open it: errno kept, ELOOP for a link with
 * REGFILE_NOFOLLOW), ERR_INVAL (not a regular file), ERR_TOOBIG (larger
 * than max bytes).  Nothing stays open on failure.
 */
int regfile_open(const char *path, size_t max, int flags, int *fd, size_t *size);
/* Read up to size bytes from fd into buf and close fd; *got says how many
 * (fewer when the file shrank meanwhile).  0 or ERR_IO (errno kept). */
int regfile_read_close(int fd, void *buf, size_t size, size_t *got);

/*
 * Replace path with len bytes of buf, atomically (see the model); the new
 * file has mode 0600.  Anything at path that is not a regular file (a
 * symbolic link, a device, a FIFO, a directory) is someone else's and left
 * alone: ERR_INVAL.  Else 0, or ERR_INVAL (path empty or too long), or
 * ERR_IO with errno kept and *step naming what failed ("create a temporary
 * file", "write", "fsync", "close", "rename", "fsync the directory");
 * before the rename, path is untouched and the temporary file removed.
 */
int regfile_replace(const char *path, const void *buf, size_t len, const char **step);

#endif /* AGENT_REGFILE_H */
