/*
 * cli_format.c - what swimctl prints from swimd's replies (see cli.h and
 * cli_int.h): the members table (sorted by name, filtered) or its JSON, the
 * info lines or their JSON, tags as "k=v,..." text, and watch's event rows.
 * Every field may be missing from a reply: a missing string prints as "-".
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"
#include "tags.h"

/* The `watch` table: SEQ TIME TYPE NAME ADDR STATUS, then TAGS. */
#define CLI_WATCH_ROW "%-8lld %-12s %-15s %-16s %-21s %-8s %s"
#define CLI_WATCH_HEAD "%-8s %-12s %-15s %-16s %-21s %-8s %s\n"

static int cli_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *cli_tags_text(json_t *tags)
{
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
            total += strlen(key) + 2 + (json_is_string(v) ? json_string_length(v) : 0);
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
        const char *val = json_string_value(json_object_get(tags, keys[i]));
        off += (size_t)snprintf(s + off, total - off, "%s%s=%s", i > 0 ? "," : "", keys[i],
                                val != NULL ? val : "");
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

void cli_print_members(FILE *out, json_t *members, const struct cli_filter *f, int as_json)
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
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < k; i++) {
            json_t *tags = json_object_get(rows[i], "tags");
            json_array_append_new(
                arr,
                json_pack("{s:O?,s:O?,s:O?,s:O?,s:o}", "name", json_object_get(rows[i], "name"),
                          "addr", json_object_get(rows[i], "addr"), "status",
                          json_object_get(rows[i], "status"), "incarnation",
                          json_object_get(rows[i], "incarnation"), "tags",
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
    static const char *const heads[3] = {"NAME", "ADDRESS", "STATUS"};
    static const char *const fields[3] = {"name", "addr", "status"};
    size_t w[3];
    for (int c = 0; c < 3; c++) {
        w[c] = strlen(heads[c]);
        for (size_t i = 0; i < k; i++) {
            const char *v = json_string_value(json_object_get(rows[i], fields[c]));
            size_t l = v != NULL ? strlen(v) : 1;
            if (l > w[c])
                w[c] = l;
        }
    }
    fprintf(out, "%-*s  %-*s  %-*s  TAGS\n", (int)w[0], heads[0], (int)w[1], heads[1], (int)w[2],
            heads[2]);
    for (size_t i = 0; i < k; i++) {
        const char *v[3];
        for (int c = 0; c < 3; c++) {
            v[c] = json_string_value(json_object_get(rows[i], fields[c]));
            if (v[c] == NULL)
                v[c] = "-";
        }
        char *tags = cli_tags_text(json_object_get(rows[i], "tags"));
        if (tags != NULL && tags[0] != '\0')
            fprintf(out, "%-*s  %-*s  %-*s  %s\n", (int)w[0], v[0], (int)w[1], v[1], (int)w[2],
                    v[2], tags);
        else
            fprintf(out, "%-*s  %-*s  %s\n", (int)w[0], v[0], (int)w[1], v[1], v[2]);
        free(tags);
    }
    free(rows);
}

long long cli_int(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

void cli_print_info(FILE *out, json_t *info, int as_json)
{
    if (as_json) {
        json_t *copy = json_deep_copy(info);
        json_object_del(copy, "ok");
        char *s = json_dumps(copy, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (s != NULL)
            fprintf(out, "%s\n", s);
        free(s);
        json_decref(copy);
        return;
    }
    json_t *self = json_object_get(info, "self");
    json_t *counts = json_object_get(info, "counts");
    char *tags = cli_tags_text(json_object_get(self, "tags"));
    const char *s_name = json_string_value(json_object_get(self, "name"));
    const char *s_addr = json_string_value(json_object_get(self, "addr"));
    const char *s_status = json_string_value(json_object_get(self, "status"));
    const char *label = json_string_value(json_object_get(info, "label"));
    const char *profile = json_string_value(json_object_get(info, "profile"));
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
    fprintf(out, "malformed:        %lld\n", cli_int(info, "malformed"));
    fprintf(out, "health:           %lld\n", cli_int(info, "health"));
    fprintf(out, "name_conflicts:   %lld\n", cli_int(info, "name_conflicts"));
    fprintf(out, "encrypted:        %s\n",
            json_is_true(json_object_get(info, "encrypted")) ? "yes" : "no");
    fprintf(out, "label:            %s\n", label != NULL && label[0] != '\0' ? label : "-");
    fprintf(out, "profile:          %s\n", profile != NULL ? profile : "-");
    free(tags);
}

void cli_print_event_head(FILE *out)
{
    fprintf(out, CLI_WATCH_HEAD, "SEQ", "TIME", "TYPE", "NAME", "ADDR", "STATUS", "TAGS");
}

void cli_print_event(FILE *out, json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (type == NULL)
        return;
    long long seq = cli_int(ev, "seq");
    time_t secs = (time_t)(cli_int(ev, "time") / 1000);
    struct tm tm;
    char when[32] = "-";
    if (localtime_r(&secs, &tm) != NULL)
        snprintf(when, sizeof(when), "%02d:%02d:%02d.%03lld", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 cli_int(ev, "time") % 1000);
    const char *name = json_string_value(json_object_get(ev, "name"));
    if (strcmp(type, "user") == 0) {
        const char *origin = json_string_value(json_object_get(ev, "origin"));
        const char *payload = json_string_value(json_object_get(ev, "payload"));
        if (payload == NULL)
            payload = json_string_value(json_object_get(ev, "payload_hex"));
        fprintf(out, CLI_WATCH_ROW, seq, when, type, origin != NULL ? origin : "-", "-", "-", "");
        fprintf(out, "event=%s payload=%s\n", name != NULL ? name : "-",
                payload != NULL ? payload : "");
    } else {
        const char *addr = json_string_value(json_object_get(ev, "addr"));
        const char *status = json_string_value(json_object_get(ev, "status"));
        char *tags = cli_tags_text(json_object_get(ev, "tags"));
        fprintf(out, CLI_WATCH_ROW, seq, when, type, name != NULL ? name : "-",
                addr != NULL && addr[0] != '\0' ? addr : "-", status != NULL ? status : "-",
                tags != NULL && tags[0] != '\0' ? tags : "-");
        fputc('\n', out);
        free(tags);
    }
}
