/*
 * sdnotify.c - see sdnotify.h.  The address is built the way libsystemd's
 * sd_notify() builds it: a filesystem path is sent with its NUL, an
 * abstract name ('@' replaced by NUL) without one, since every byte of an
 * abstract name counts.
 */
#include "sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

/* Half the watchdog timeout between pings: one late wakeup is not fatal. */
#define SDN_WATCHDOG_DIVISOR 2

/* A decimal number with nothing around it; 0 or ERR_INVAL. */
static int sdn_parse_u64(const char *text, unsigned long long *out)
{
    if (text == NULL || *text < '0' || *text > '9')
        return ERR_INVAL;
    char *end;
    errno = 0;
    *out = strtoull(text, &end, 10);
    return errno == 0 && *end == '\0' ? 0 : ERR_INVAL;
}

/* The watchdog timeout meant for this process, in microseconds, or 0. */
static uint64_t sdn_watchdog_usec(void)
{
    unsigned long long usec, pid;
    if (sdn_parse_u64(getenv("WATCHDOG_USEC"), &usec) != 0 || usec == 0)
        return 0;
    const char *pid_text = getenv("WATCHDOG_PID");
    if (pid_text != NULL && (sdn_parse_u64(pid_text, &pid) != 0 || pid != (uint64_t)getpid()))
        return 0; /* meant for another process (we were forked or exec'd) */
    return usec;
}

int sdn_create(struct sdn *n, int unset_env)
{
    memset(n, 0, sizeof(*n));
    const char *path = getenv("NOTIFY_SOCKET");
    size_t len = path != NULL ? strlen(path) : 0;
    int rc = 0;
    if (len > 0) {
        n->addr.sun_family = AF_UNIX;
        if ((path[0] != '/' && path[0] != '@') || len >= sizeof(n->addr.sun_path)) {
            rc = ERR_INVAL;
        } else {
            memcpy(n->addr.sun_path, path, len);
            if (path[0] == '@')
                n->addr.sun_path[0] = '\0';
            n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                      (path[0] == '/' ? 1 : 0));
            n->enabled = 1;
            n->watchdog_usec = sdn_watchdog_usec();
        }
    }
    if (unset_env) {
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
    }
    return rc;
}

int sdn_send(const struct sdn *n, const char *state)
{
    if (!n->enabled)
        return 0;
    size_t len = strlen(state);
    if (len > SDN_MESSAGE_MAX)
        return ERR_TOOBIG;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ERR_SYS;
    ssize_t sent =
        sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addr_len);
    int saved = errno;
    close(fd);
    errno = saved;
    return sent == (ssize_t)len ? 0 : ERR_SYS;
}

int sdn_ready(const struct sdn *n)
{
    return sdn_send(n, "READY=1");
}

int sdn_stopping(const struct sdn *n)
{
    return sdn_send(n, "STOPPING=1");
}

int sdn_status(const struct sdn *n, const char *fmt, ...)
{
    if (!n->enabled)
        return 0;
    static const char key[] = "STATUS=";
    char msg[SDN_MESSAGE_MAX + 1];
    memcpy(msg, key, sizeof(key));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg + sizeof(key) - 1, sizeof(msg) - (sizeof(key) - 1), fmt, ap);
    va_end(ap);
    if (m < 0)
        return ERR_INVAL;
    for (char *p = msg + sizeof(key) - 1; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return sdn_send(n, msg);
}

uint64_t sdn_watchdog_interval_ms(const struct sdn *n)
{
    if (!n->enabled || n->watchdog_usec == 0)
        return 0;
    uint64_t ms = n->watchdog_usec / 1000 / SDN_WATCHDOG_DIVISOR;
    return ms > 0 ? ms : 1;
}

int sdn_watchdog_ping(const struct sdn *n)
{
    if (sdn_watchdog_interval_ms(n) == 0)
        return 0;
    return sdn_send(n, "WATCHDOG=1");
}
