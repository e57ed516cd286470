/*
 * log.h - swimd's event log: one line per event on a stream (stderr).
 *
 * Model: a struct log is a small handle holding a threshold level and the
 * stream to write to; there is no global logger, the runtime owns one and
 * passes it where needed.  Every line reads
 *
 *   2024-05-01T12:00:00.123Z info  member-join name=n2 addr=127.0.0.1:7947
 *
 * (UTC wall-clock time with milliseconds, the level padded to five columns,
 * then the message) and is written with a single fputs so concurrent writers
 * to the same stream do not interleave within a line.  The message is
 * escaped as text.h says (a control character or a byte that is not UTF-8
 * as \xNN, a backslash as \\), so one call is one line whatever a peer
 * put in a name or a payload.
 *
 * Two formats (log_set_format):
 *   text  the line above;
 *   json  one compact JSON object per line with the same fields,
 *         {"time":"2024-05-01T12:00:00.123Z","level":"info","message":"..."}
 *         (the message is one string: the log API has no other fields;
 *         JSON escapes it, and a byte that is not UTF-8 becomes '?').
 * When the stream is systemd's journal (the JOURNAL_STREAM variable names
 * the stream's device and inode, see systemd.exec(5)) the journal stamps
 * each line itself, so the time is left out (text: no time column; json: no
 * "time" member) and every line starts with its syslog priority, "<3>" error,
 * "<4>" warn, "<6>" info, "<7>" debug, which journald turns into the entry's
 * PRIORITY (sd-daemon(3)).
 *
 * A NULL logger is valid and writes nothing (handy in tests).
 *
 * A struct log_limit rate-limits one noisy kind of line (decrypt failures):
 * at most `burst` lines per `window_ms`; the first line allowed after a quiet
 * period reports how many were suppressed.
 */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

#include <stdint.h>
#include <stdio.h>

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

enum log_format {
    LOG_FORMAT_TEXT = 0,
    LOG_FORMAT_JSON = 1,
};

struct log;

/* A logger writing to `stream` (not owned) lines at or above `level`, in
 * text format; whether the stream is the journal is decided here, once
 * (log_stream_is_journal).  NULL when out of memory. */
struct log *log_new(FILE *stream, enum log_level level);
/* Free the logger (not the stream); NULL is fine. */
void log_delete(struct log *lg);

/* Change / read the threshold (SIGHUP reload); never fails. */
void log_set_level(struct log *lg, enum log_level level);
enum log_level log_get_level(const struct log *lg);
/* Change the format (set once at start by swimd); never fails. */
void log_set_format(struct log *lg, enum log_format format);
/* True when this logger writes for the journal (no time, "<N>" prefixes). */
int log_is_journal(const struct log *lg);
/* True when JOURNAL_STREAM ("DEV:INODE", decimal) names `stream`'s file. */
int log_stream_is_journal(FILE *stream);

/* True when a line at `level` would be written (to skip costly formatting). */
int log_enabled(const struct log *lg, enum log_level level);

/* Write one line; a message longer than LOG_LINE_MAX is cut.  Never fails
 * visibly: a line that cannot be written is lost. */
void log_msg(struct log *lg, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "error", "warn", "info", "debug" -> level; 0 or ERR_INVAL. */
int log_level_parse(const char *text, enum log_level *out);
/* The name of a level ("?" when out of range); a static string. */
const char *log_level_name(enum log_level level);
/* "text", "json" -> format; 0 or ERR_INVAL. */
int log_format_parse(const char *text, enum log_format *out);
/* The name of a format ("?" when out of range); a static string. */
const char *log_format_name(enum log_format format);

struct log_limit {
    uint32_t window_ms;
    uint32_t burst;
    uint64_t window_start;
    uint32_t used;
    uint64_t suppressed;
};

/* Set up a limiter in place, allowing `burst` lines per `window_ms`; it
 * holds no resources, so there is nothing to destroy. */
void log_limit_create(struct log_limit *lim, uint32_t window_ms, uint32_t burst);
/* May a line be written at `now_ms` (monotonic)?  Returns 1 and sets
 * *suppressed to the count dropped since the last allowed line, or returns 0
 * and counts the drop. */
int log_limit_allow(struct log_limit *lim, uint64_t now_ms, uint64_t *suppressed);

#endif /* AGENT_LOG_H */
