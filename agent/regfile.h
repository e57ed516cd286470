/*
 * regfile.h - reading a small file that must be a regular file.
 *
 * Model: swimd reads a few files an operator names (--config, --keyring,
 * --snapshot).  Each is opened without blocking, so a FIFO or a device
 * never hangs start-up, optionally without following a symbolic link, and
 * refused unless it is a regular file of at most a bound the caller gives;
 * then read whole into the caller's buffer.  Two steps, so the caller
 * chooses the buffer (the keyring reads into guarded memory).
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

#endif /* AGENT_REGFILE_H */
