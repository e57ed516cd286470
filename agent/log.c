/*
 * log.c - see log.h.  A line is built whole in a stack buffer (or, for json,
 * by jansson) and leaves through one fputs, so it is never split between
 * two writers.  A text line's message is escaped (text_escape()) before it
 * is written; a json line's is escaped by jansson.
 */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "err.h"
#include "text.h"

/* Longest message kept; longer ones are cut (a log line is not a dump). */
#define LOG_LINE_MAX 1024
/* The time stamp, "2024-05-01T12:00:00.123Z": 25 bytes, but sized for any
 * int in its fields so the compiler can prove it never truncates. */
#define LOG_STAMP_MAX 64
/* What goes before the message: "<7>" or the time stamp, then the level. */
#define LOG_PREFIX_MAX (LOG_STAMP_MAX + 16)
/* Bytes a UTF-8 sequence cut by LOG_LINE_MAX can leave at the end. */
#define LOG_UTF8_TAIL_MAX 3

struct log {
    FILE *stream;
    enum log_level level;
    enum log_format format;
    int journal; /* the stream is the journal: no time, "<N>" prefixes */
};

static const char *const log_names[] = {"error", "warn", "info", "debug"};
/* syslog(3) priorities of the levels: LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG (not from <syslog.h>, whose LOG_INFO / LOG_DEBUG clash). */
static const int log_priorities[] = {3, 4, 6, 7};
static const char *const log_format_names[] = {"text", "json"};

struct log *log_new(FILE *stream, enum log_level level)
{
    struct log *lg = calloc(1, sizeof(*lg));
    if (lg == NULL)
        return NULL;
    lg->stream = stream;
    lg->level = level;
    lg->format = LOG_FORMAT_TEXT;
    lg->journal = log_stream_is_journal(stream);
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

void log_set_format(struct log *lg, enum log_format format)
{
    lg->format = format;
}

int log_is_journal(const struct log *lg)
{
    return lg != NULL && lg->journal;
}

int log_stream_is_journal(FILE *stream)
{
    const char *js = getenv("JOURNAL_STREAM");
    if (js == NULL || stream == NULL)
        return 0;
    int fd = fileno(stream); /* -1 for memory streams */
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return 0;
    char *end;
    unsigned long long dev = strtoull(js, &end, 10);
    if (end == js || *end != ':')
        return 0;
    const char *ino_text = end + 1;
    unsigned long long ino = strtoull(ino_text, &end, 10);
    if (end == ino_text || *end != '\0')
        return 0;
    return dev == (unsigned long long)st.st_dev && ino == (unsigned long long)st.st_ino;
}

int log_enabled(const struct log *lg, enum log_level level)
{
    return lg != NULL && level <= lg->level;
}

/* A JSON string of msg.  Messages are mostly ASCII; bytes that are not
 * valid UTF-8 (a sequence cut at LOG_LINE_MAX, or raw bytes) are dropped
 * from the end, or else every byte above 0x7f becomes '?'.  NULL: no memory. */
static json_t *log_json_message(char *msg)
{
    json_t *s = json_string(msg);
    size_t len = strlen(msg);
    for (size_t cut = 1; s == NULL && cut <= LOG_UTF8_TAIL_MAX && cut <= len; cut++) {
        s = json_stringn(msg, len - cut);
    }
    if (s != NULL)
        return s;
    for (char *p = msg; *p != '\0'; p++)
        if ((unsigned char)*p > 0x7f)
            *p = '?';
    return json_string(msg);
}

/* One json line, "<N>" prefixed for the journal; written or lost. */
static void log_write_json(struct log *lg, enum log_level level, const char *stamp, char *msg)
{
    json_t *obj = json_object();
    json_t *m = log_json_message(msg);
    if (obj == NULL || m == NULL) {
        json_decref(obj);
        json_decref(m);
        return;
    }
    if (!lg->journal)
        json_object_set_new(obj, "time", json_string(stamp));
    json_object_set_new(obj, "level", json_string(log_level_name(level)));
    json_object_set_new(obj, "message", m);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (text == NULL)
        return;
    size_t n = strlen(text) + LOG_PREFIX_MAX;
    char *line = malloc(n);
    if (line != NULL) {
        if (lg->journal)
            snprintf(line, n, "<%d>%s\n", log_priorities[level], text);
        else
            snprintf(line, n, "%s\n", text);
        fputs(line, lg->stream);
        fflush(lg->stream);
    }
    free(line);
    free(text);
}

void log_msg(struct log *lg, enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(lg, level) || (size_t)level >= sizeof(log_names) / sizeof(log_names[0]))
        return;
    char msg[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    char stamp[LOG_STAMP_MAX] = "";
    if (!lg->journal) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    }
    if (lg->format == LOG_FORMAT_JSON) {
        log_write_json(lg, level, stamp, msg);
        return;
    }
    /* Names, tags and payloads reach the log from peers: one line each,
     * whatever they hold (text.h). */
    char safe[LOG_LINE_MAX];
    text_escape(safe, sizeof(safe), msg, strlen(msg));
    char line[LOG_PREFIX_MAX + LOG_LINE_MAX + 1];
    if (lg->journal)
        snprintf(line, sizeof(line), "<%d>%-5s %s\n", log_priorities[level], log_level_name(level),
                 safe);
    else
        snprintf(line, sizeof(line), "%s %-5s %s\n", stamp, log_level_name(level), safe);
    fputs(line, lg->stream);
    fflush(lg->stream);
}

/* The index of `text` in names[0..n), or ERR_INVAL. */
static int log_name_index(const char *const *names, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(text, names[i]) == 0)
            return (int)i;
    return ERR_INVAL;
}

int log_level_parse(const char *text, enum log_level *out)
{
    int i = log_name_index(log_names, sizeof(log_names) / sizeof(log_names[0]), text);
    if (i < 0)
        return i;
    *out = (enum log_level)i;
    return 0;
}

const char *log_level_name(enum log_level level)
{
    if ((size_t)level < sizeof(log_names) / sizeof(log_names[0]))
        return log_names[level];
    return "?";
}

int log_format_parse(const char *text, enum log_format *out)
{
    int i = log_name_index(log_format_names, sizeof(log_format_names) / sizeof(log_format_names[0]),
                           text);
    if (i < 0)
        return i;
    *out = (enum log_format)i;
    return 0;
}

const char *log_format_name(enum log_format format)
{
    if ((size_t)format < sizeof(log_format_names) / sizeof(log_format_names[0]))
        return log_format_names[format];
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
