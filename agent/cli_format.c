/*
 * cli_format.c - what swimctl prints from swimd's replies (see cli.h and
 * cli_int.h): the members table (sorted by name, filtered) or its JSON, the
 * info lines or their JSON, tags as "k=v,..." text, and watch's event rows.
 * Every field may be missing from a reply: a missing string prints as "-".
 *
 * Every string from swimd is escaped before it is printed (text_escape(),
 * text.h), since names, tags and payloads come from peers: a control
 * character or a byte that is not UTF-8 shows as \xNN and cannot move the
 * cursor, recolour the terminal or start a line.  Columns are aligned by
 * display width (text_width()), not by bytes, so wide and combining
 * characters keep the table straight.  --json output is JSON, escaped by
 * jansson.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"
#include "keyring.h"
#include "tags.h"
#include "text.h"

/* The `watch` table's columns: SEQ TIME TYPE NAME ADDR STATUS, then TAGS. */
static const int cli_watch_widths[] = {8, 12, 15, 16, 21, 8};
#define CLI_WATCH_COLUMNS (sizeof(cli_watch_widths) / sizeof(cli_watch_widths[0]))

/* s escaped for a terminal (malloc'd; "-" for NULL); NULL when out of
 * memory. */
static char *cli_safe(const char *s)
{
    if (s == NULL)
        s = "-";
    size_t len = strlen(s), cap = len * TEXT_ESCAPE_RATIO + 1;
    char *out = malloc(cap);
    if (out != NULL)
        text_escape(out, cap, s, len);
    return out;
}

/* Print cell (already escaped) and pad it to `width` columns; then `sep`. */
static void cli_cell(FILE *out, const char *cell, size_t width, const char *sep)
{
    size_t w = text_width(cell);
    fprintf(out, "%s%*s%s", cell, (int)(width > w ? width - w : 0), "", sep);
}

static int cli_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *cli_tags_text(json_t *tags)
{
    /* Keys and values escaped (at most TEXT_ESCAPE_RATIO bytes per byte). */
    size_t n = json_is_object(tags) ? json_object_size(tags) : 0;
    const char **keys = calloc(n + 1, sizeof(*keys));
    if (keys == NULL)
        return NULL;
    size_t k = 0, total = 1;
    const char *key;
    json_t *v;
    if (n > 0) {
        json_object_foreach(tags, key, v)
        {
            keys[k++] = key;
            total += (strlen(key) + 2 + (json_is_string(v) ? json_string_length(v) : 0)) *
                     TEXT_ESCAPE_RATIO;
        }
    }
    qsort(keys, k, sizeof(*keys), cli_cmp_str);
    char *s = malloc(total);
    if (s == NULL) {
        free(keys);
        return NULL;
    }
    size_t off = 0;
    for (size_t i = 0; i < k; i++) {
        json_t *val = json_object_get(tags, keys[i]);
        if (i > 0)
            s[off++] = ',';
        off += text_escape(s + off, total - off, keys[i], strlen(keys[i]));
        s[off++] = '=';
        if (json_is_string(val))
            off +=
                text_escape(s + off, total - off, json_string_value(val), json_string_length(val));
    }
    s[off] = '\0';
    free(keys);
    return s;
}

static int cli_member_matches(json_t *m, const struct cli_filter *f)
{
    if (f == NULL)
        return 1;
    const char *st = json_string_value(json_object_get(m, "status"));
    if (f->status != NULL && (st == NULL || strcmp(st, f->status) != 0))
        return 0;
    json_t *tags = json_object_get(m, "tags");
    for (size_t i = 0; i < f->ntags; i++) {
        const char *eq = strchr(f->tags[i], '=');
        if (eq == NULL)
            return 0;
        char key[TAGS_KEY_MAX + 1];
        size_t klen = (size_t)(eq - f->tags[i]);
        if (klen > TAGS_KEY_MAX)
            return 0;
        memcpy(key, f->tags[i], klen);
        key[klen] = '\0';
        const char *val = json_string_value(json_object_get(tags, key));
        if (val == NULL || strcmp(val, eq + 1) != 0)
            return 0;
    }
    return 1;
}

static int cli_cmp_member(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

/* The RTT cell: rtt_ms (a number) as "40.0ms", "-" while unknown
 * (malloc'd; NULL when out of memory). */
static char *cli_rtt_text(json_t *rtt_ms)
{
    char buf[32];
    if (json_is_number(rtt_ms))
        snprintf(buf, sizeof(buf), "%.1fms", json_number_value(rtt_ms));
    return strdup(json_is_number(rtt_ms) ? buf : "-");
}

void cli_print_members(FILE *out, json_t *members, const struct cli_filter *f, int how)
{
    size_t n = json_is_array(members) ? json_array_size(members) : 0;
    json_t **rows = calloc(n + 1, sizeof(*rows));
    if (rows == NULL)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(members, i);
        if (json_is_object(m) && cli_member_matches(m, f))
            rows[k++] = m;
    }
    qsort(rows, k, sizeof(*rows), cli_cmp_member);
    if (how & CLI_MEMBERS_JSON) {
        json_t *arr = json_array();
        for (size_t i = 0; i < k; i++) {
            json_t *tags = json_object_get(rows[i], "tags");
            json_array_append_new(
                arr, json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:o}", "name",
                               json_object_get(rows[i], "name"), "addr",
                               json_object_get(rows[i], "addr"), "status",
                               json_object_get(rows[i], "status"), "incarnation",
                               json_object_get(rows[i], "incarnation"), "rtt_ms",
                               json_object_get(rows[i], "rtt_ms"), "coord",
                               json_object_get(rows[i], "coord"), "tags",
                               json_is_object(tags) ? json_incref(tags) : json_object()));
        }
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL)
            fprintf(out, "%s\n", s);
        free(s);
        json_decref(arr);
        free(rows);
        return;
    }
    /* Columns NAME ADDRESS STATUS [RTT], then TAGS (unpadded, last). */
    static const char *const heads[4] = {"NAME", "ADDRESS", "STATUS", "RTT"};
    static const char *const fields[3] = {"name", "addr", "status"};
    size_t nc = (how & CLI_MEMBERS_RTT) ? 4 : 3, per = nc + 1;
    char **cells = calloc(k * per + 1, sizeof(*cells)); /* the columns, then tags, per row */
    size_t w[4];
    for (size_t col = 0; col < nc; col++)
        w[col] = strlen(heads[col]);
    for (size_t i = 0; cells != NULL && i < k; i++) {
        char **row = &cells[per * i];
        for (size_t col = 0; col < nc; col++) {
            row[col] = col < 3 ? cli_safe(json_string_value(json_object_get(rows[i], fields[col])))
                               : cli_rtt_text(json_object_get(rows[i], "rtt_ms"));
            size_t l = row[col] != NULL ? text_width(row[col]) : 0;
            if (l > w[col])
                w[col] = l;
        }
        row[nc] = cli_tags_text(json_object_get(rows[i], "tags"));
    }
    for (size_t col = 0; col < nc; col++)
        cli_cell(out, heads[col], w[col], "  ");
    fprintf(out, "TAGS\n");
    for (size_t i = 0; cells != NULL && i < k; i++) {
        char **row = &cells[per * i];
        size_t col = 0;
        while (col < nc && row[col] != NULL)
            col++;
        if (col < nc)
            continue; /* out of memory: the row is left out */
        for (col = 0; col + 1 < nc; col++)
            cli_cell(out, row[col], w[col], "  ");
        if (row[nc] != NULL && row[nc][0] != '\0') {
            cli_cell(out, row[nc - 1], w[nc - 1], "  ");
            fprintf(out, "%s\n", row[nc]);
        } else {
            fprintf(out, "%s\n", row[nc - 1]);
        }
    }
    for (size_t i = 0; cells != NULL && i < per * k; i++)
        free(cells[i]);
    free(cells);
    free(rows);
}

long long cli_int(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/* A reply as indented JSON with sorted keys, without its "ok". */
static void cli_print_reply_json(FILE *out, json_t *reply)
{
    json_t *copy = json_deep_copy(reply);
    json_object_del(copy, "ok");
    char *s = json_dumps(copy, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s != NULL)
        fprintf(out, "%s\n", s);
    free(s);
    json_decref(copy);
}

/* A coordinate (seconds in the reply) in milliseconds on one line; "-"
 * when the reply has none. */
static void cli_print_coord(FILE *out, json_t *coord)
{
    json_t *vec = json_object_get(coord, "vec");
    if (!json_is_array(vec)) {
        fprintf(out, "-\n");
        return;
    }
    fprintf(out, "error=%.3f height=%.3fms adjustment=%.3fms vec=(",
            json_number_value(json_object_get(coord, "error_estimate")),
            1e3 * json_number_value(json_object_get(coord, "height")),
            1e3 * json_number_value(json_object_get(coord, "adjustment")));
    for (size_t i = 0; i < json_array_size(vec); i++)
        fprintf(out, "%s%.3f", i > 0 ? " " : "", 1e3 * json_number_value(json_array_get(vec, i)));
    fprintf(out, ")ms\n");
}

void cli_print_rtt(FILE *out, json_t *reply, int as_json)
{
    if (as_json) {
        cli_print_reply_json(out, reply);
        return;
    }
    char *a = cli_safe(json_string_value(json_object_get(reply, "a")));
    char *b = cli_safe(json_string_value(json_object_get(reply, "b")));
    fprintf(out, "Estimated %s <-> %s rtt: %.3f ms (using coordinates)\n", a != NULL ? a : "-",
            b != NULL ? b : "-", json_number_value(json_object_get(reply, "rtt_ms")));
    free(a);
    free(b);
}

void cli_print_info(FILE *out, json_t *info, int as_json)
{
    if (as_json) {
        cli_print_reply_json(out, info);
        return;
    }
    json_t *self = json_object_get(info, "self");
    json_t *counts = json_object_get(info, "counts");
    char *tags = cli_tags_text(json_object_get(self, "tags"));
    char *s_name = cli_safe(json_string_value(json_object_get(self, "name")));
    char *s_addr = cli_safe(json_string_value(json_object_get(self, "addr")));
    char *s_status = cli_safe(json_string_value(json_object_get(self, "status")));
    const char *lbl = json_string_value(json_object_get(info, "label"));
    char *label = cli_safe(lbl != NULL && lbl[0] != '\0' ? lbl : NULL);
    char *profile = cli_safe(json_string_value(json_object_get(info, "profile")));
    fprintf(out, "name:             %s\n", s_name != NULL ? s_name : "-");
    fprintf(out, "address:          %s\n", s_addr != NULL ? s_addr : "-");
    fprintf(out, "status:           %s\n", s_status != NULL ? s_status : "-");
    fprintf(out, "incarnation:      %lld\n", cli_int(info, "incarnation"));
    fprintf(out, "generation:       %lld\n", cli_int(self, "generation"));
    fprintf(out, "tags:             %s\n", tags != NULL && tags[0] != '\0' ? tags : "-");
    fprintf(out, "members:          alive=%lld suspect=%lld failed=%lld left=%lld\n",
            cli_int(counts, "alive"), cli_int(counts, "suspect"), cli_int(counts, "failed"),
            cli_int(counts, "left"));
    fprintf(out, "packets:          in=%lld out=%lld\n", cli_int(info, "packets_in"),
            cli_int(info, "packets_out"));
    fprintf(out, "bytes:            in=%lld out=%lld\n", cli_int(info, "bytes_in"),
            cli_int(info, "bytes_out"));
    fprintf(out, "decrypt_failures: %lld\n", cli_int(info, "decrypt_failures"));
    fprintf(out, "replays_refused:  %lld\n", cli_int(info, "replays_refused"));
    fprintf(out, "max_members:      %lld (refused=%lld)\n", cli_int(info, "max_members"),
            cli_int(info, "members_refused"));
    fprintf(out, "malformed:        %lld\n", cli_int(info, "malformed"));
    fprintf(out, "health:           %lld\n", cli_int(info, "health"));
    fprintf(out, "name_conflicts:   %lld\n", cli_int(info, "name_conflicts"));
    fprintf(out, "encrypted:        %s\n",
            json_is_true(json_object_get(info, "encrypted")) ? "yes" : "no");
    fprintf(out, "label:            %s\n", label != NULL ? label : "-");
    fprintf(out, "profile:          %s\n", profile != NULL ? profile : "-");
    fprintf(out, "coordinate:       ");
    cli_print_coord(out, json_object_get(info, "coord"));
    free(tags);
    free(s_name);
    free(s_addr);
    free(s_status);
    free(label);
    free(profile);
}

/* One row of the watch table: the cells (escaped) padded to their columns,
 * then the last one. */
static void cli_print_row(FILE *out, const char *const cells[CLI_WATCH_COLUMNS + 1])
{
    for (size_t i = 0; i < CLI_WATCH_COLUMNS; i++)
        cli_cell(out, cells[i] != NULL ? cells[i] : "-", (size_t)cli_watch_widths[i], " ");
    fprintf(out, "%s", cells[CLI_WATCH_COLUMNS] != NULL ? cells[CLI_WATCH_COLUMNS] : "-");
}

void cli_print_event_head(FILE *out)
{
    const char *const heads[] = {"SEQ", "TIME", "TYPE", "NAME", "ADDR", "STATUS", "TAGS"};
    cli_print_row(out, heads);
    fputc('\n', out);
}

void cli_print_event(FILE *out, json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (type == NULL)
        return;
    char seq[24];
    snprintf(seq, sizeof(seq), "%lld", cli_int(ev, "seq"));
    time_t secs = (time_t)(cli_int(ev, "time") / 1000);
    struct tm tm;
    char when[32] = "-";
    if (localtime_r(&secs, &tm) != NULL)
        snprintf(when, sizeof(when), "%02d:%02d:%02d.%03lld", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 cli_int(ev, "time") % 1000);
    char *safe_type = cli_safe(type);
    char *name = cli_safe(json_string_value(json_object_get(ev, "name")));
    int query = strcmp(type, "query") == 0;
    if (query || strcmp(type, "user") == 0) {
        const char *p = json_string_value(json_object_get(ev, "payload"));
        if (p == NULL)
            p = json_string_value(json_object_get(ev, "payload_hex"));
        char *origin = cli_safe(json_string_value(json_object_get(ev, "origin")));
        char *payload = cli_safe(p != NULL ? p : "");
        const char *const cells[] = {seq, when, safe_type, origin, "-", "-", ""};
        cli_print_row(out, cells);
        fprintf(out, "%s=%s payload=%s\n", query ? "query" : "event", name != NULL ? name : "-",
                payload != NULL ? payload : "");
        free(origin);
        free(payload);
    } else {
        const char *a = json_string_value(json_object_get(ev, "addr"));
        char *addr = cli_safe(a != NULL && a[0] != '\0' ? a : NULL);
        char *status = cli_safe(json_string_value(json_object_get(ev, "status")));
        char *tags = cli_tags_text(json_object_get(ev, "tags"));
        const char *const cells[] = {
            seq, when, safe_type, name, addr, status, tags != NULL && tags[0] != '\0' ? tags : "-"};
        cli_print_row(out, cells);
        fputc('\n', out);
        free(addr);
        free(status);
        free(tags);
    }
    free(safe_type);
    free(name);
}

void cli_print_json_line(FILE *out, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s != NULL)
        fprintf(out, "%s\n", s);
    free(s);
}

/* ---- keys ---- */

void cli_print_keys(FILE *out, json_t *reply, int as_json)
{
    if (as_json) { /* one line, as swimd sent it without the exchange's "ok" */
        json_t *copy = json_deep_copy(reply);
        json_object_del(copy, "ok");
        cli_print_json_line(out, copy);
        json_decref(copy);
        return;
    }
    json_t *keys = json_object_get(reply, "keys"), *primary = json_object_get(reply, "primary");
    const char *op = json_string_value(json_object_get(reply, "op"));
    long long nodes = cli_int(reply, "nodes"), ok = cli_int(reply, "succeeded");
    json_t *failed = json_object_get(reply, "failed"), *f;
    const char *k;
    json_t *v;
    size_t i;
    char holders[48], prim[48];
    if (json_is_object(keys) && json_object_size(keys) > 0) {
        fprintf(out, "%-*s  %-9s  %s\n", KEYRING_B64_MAX - 1, "KEY", "NODES", "PRIMARY");
        json_object_foreach(keys, k, v)
        {
            char *key = cli_safe(k);
            snprintf(holders, sizeof(holders), "%lld/%lld", (long long)json_integer_value(v),
                     nodes);
            snprintf(prim, sizeof(prim), "%lld/%lld",
                     (long long)json_integer_value(json_object_get(primary, k)), nodes);
            cli_cell(out, key != NULL ? key : "?", KEYRING_B64_MAX - 1, "  ");
            cli_cell(out, holders, 9, "  ");
            fprintf(out, "%s\n", prim);
            free(key);
        }
    }
    fprintf(out, "keys %s: %lld of %lld node(s) ok, %lld failed\n", op != NULL ? op : "?", ok,
            nodes, nodes - ok);
    json_array_foreach(failed, i, f)
    {
        char *name = cli_safe(json_string_value(json_object_get(f, "node")));
        char *error = cli_safe(json_string_value(json_object_get(f, "error")));
        fprintf(out, "  failed %s: %s\n", name != NULL ? name : "?", error != NULL ? error : "?");
        free(name);
        free(error);
    }
}
