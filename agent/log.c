/*
 * log.c - see log.h.  Formatting goes into a stack buffer and leaves through
 * one fputs, so a line is never split between two writers.
 */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

/* Longest line written; longer messages are cut (a log line is not a dump). */
#define LOG_LINE_MAX 1024

struct log {
    FILE *stream;
    enum log_level level;
};

static const char *const log_names[] = {"error", "warn", "info", "debug"};

struct log *log_new(FILE *stream, enum log_level level)
{
    struct log *lg = calloc(1, sizeof(*lg));
    if (lg == NULL)
        return NULL;
    lg->stream = stream;
    lg->level = level;
    return lg;
}

void log_delete(struct log *lg)
{
    free(lg);
}

void log_set_level(struct log *lg, enum log_level level)
{
    lg->level = level;
}

enum log_level log_get_level(const struct log *lg)
{
    return lg->level;
}

int log_enabled(const struct log *lg, enum log_level level)
{
    return lg != NULL && level <= lg->level;
}

void log_msg(struct log *lg, enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(lg, level))
        return;
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_level_name(level));
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = strlen(line);
    line[len] = '\n';
    line[len + 1] = '\0';
    fputs(line, lg->stream);
    fflush(lg->stream);
}

int log_level_parse(const char *text, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (strcmp(text, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return ERR_INVAL;
}

const char *log_level_name(enum log_level level)
{
    if ((size_t)level < sizeof(log_names) / sizeof(log_names[0]))
        return log_names[level];
    return "?";
}

void log_limit_create(struct log_limit *lim, uint32_t window_ms, uint32_t burst)
{
    memset(lim, 0, sizeof(*lim));
    lim->window_ms = window_ms;
    lim->burst = burst;
}

int log_limit_allow(struct log_limit *lim, uint64_t now_ms, uint64_t *suppressed)
{
    if (lim->used == 0 || now_ms - lim->window_start >= lim->window_ms) {
        lim->window_start = now_ms;
        lim->used = 0;
    }
    if (lim->used >= lim->burst) {
        lim->suppressed++;
        return 0;
    }
    lim->used++;
    *suppressed = lim->suppressed;
    lim->suppressed = 0;
    return 1;
}
