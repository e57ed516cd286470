/*
 * text.h - what text from outside may contain, and how it leaves.
 *
 * Model: every string that comes from outside swimd (a peer, a request, a
 * flag, a file) is checked where it enters and escaped where it leaves.
 *
 *   names        the core's rule, swim_name_valid() (swim.h): printable,
 *                visible UTF-8 without whitespace; one rule for the wire,
 *                --name, control requests and snapshots.
 *   other text   (tag keys and values, user event names) text_valid():
 *                valid UTF-8 with no control character (C0, DEL, C1).
 *   payloads     opaque bytes (user event data): never checked, always
 *                escaped or hex-encoded on the way out.
 *
 * Exits that are not JSON (the log, swimctl's tables, a handler's stdin
 * line and environment) pass every such string through text_escape(), which
 * copies printable UTF-8 as it is and writes every other byte as \xNN (and
 * a backslash as \\), so no input can start a new line, move the terminal's
 * cursor or change its colours.  JSON exits are escaped by jansson; text
 * that is not valid UTF-8 cannot go into JSON and is hex-encoded there.
 *
 * Pure, except text_width(), which reads the C library's character widths.
 */
#ifndef AGENT_TEXT_H
#define AGENT_TEXT_H

#include <stddef.h>

/* Bytes text_escape() writes at most for one input byte ("\xNN"). */
#define TEXT_ESCAPE_RATIO 4

/* 1 when p[0..len) is valid UTF-8 (control characters allowed), else 0:
 * what a JSON string can carry. */
int text_utf8(const char *p, size_t len);
/* 1 when p[0..len) is valid UTF-8 without a control character, else 0. */
int text_valid(const char *p, size_t len);

/*
 * Copy p[0..len) into out (cap bytes, NUL-terminated; cap >= 1) with every
 * control character, invalid byte and backslash escaped (see the model).
 * What does not fit is cut, never inside an escape or a UTF-8 sequence.
 * Returns the length written (without the NUL).  out and p must not overlap.
 */
size_t text_escape(char *out, size_t cap, const char *p, size_t len);

/*
 * Columns the NUL-terminated string s takes on a terminal when printed as
 * it is (an escaped string, for aligning tables): wide characters count 2,
 * combining marks and controls 0, a byte that is not UTF-8 1.
 */
size_t text_width(const char *s);

#endif /* AGENT_TEXT_H */
