/*
 * report.c - swimsim's output files; the model is in report.h.
 *
 * JSON goes through jansson (never printf); the CSV holds numbers only; the
 * plots go through svg.c, which escapes every label.  Percentiles are by
 * nearest rank, so every figure is a latency that was measured.
 */
#include "report.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "svg.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t report_percentile(uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    return v[(rank > n ? n : rank) - 1];
}

/* dir/name into buf; ERR_INVAL when it does not fit. */
static int path_of(char *buf, size_t cap, const char *dir, const char *name)
{
    int len = snprintf(buf, cap, "%s/%s", dir, name);
    return len < 0 || (size_t)len >= cap ? ERR_INVAL : 0;
}

static int fail(char *err, size_t cap, int rc, const char *path)
{
    snprintf(err, cap, "cannot write %s: %s", path,
             rc == ERR_IO && errno != 0 ? strerror(errno) : err_strerror(rc));
    return rc;
}

/* Create dir/name for writing (its path left in path); NULL with the
 * error in err. */
static FILE *create_in(const char *dir, const char *name, char *path, char *err, size_t cap)
{
    int rc = path_of(path, PATH_MAX, dir, name);
    if (rc != 0) {
        fail(err, cap, rc, dir);
        return NULL;
    }
    errno = 0;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fail(err, cap, ERR_IO, path);
    return f;
}

/* Close f: ERR_IO (said in err) when anything written to it failed. */
static int close_out(FILE *f, const char *path, char *err, size_t cap)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return fail(err, cap, ERR_IO, path);
    return 0;
}

static json_t *ms_or_null(uint64_t ms)
{
    return ms == UINT64_MAX ? json_null() : json_integer((json_int_t)ms);
}

static json_t *strings_json(const struct report_strings *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < s->n; i++)
        json_array_append_new(a, json_string(s->v[i]));
    return a;
}

static json_t *config_json(const struct swim_config *c)
{
    json_t *o = json_object();
    const char *key;
    for (size_t i = 0; o != NULL && (key = swim_config_key(i)) != NULL; i++) {
        uint32_t v = 0;
        (void)swim_config_get(c, key, &v);
        json_object_set_new(o, key, json_integer(v));
    }
    return o;
}

static int write_summary(const char *dir, const struct report_run *r, char *err, size_t cap)
{
    char path[PATH_MAX];
    int rc = path_of(path, sizeof(path), dir, "summary.json");
    if (rc != 0)
        return fail(err, cap, rc, dir);
    uint64_t *sorted = NULL;
    if (r->n_detect > 0) {
        sorted = malloc(r->n_detect * sizeof(*sorted));
        if (sorted == NULL)
            return fail(err, cap, ERR_NOMEM, path);
        memcpy(sorted, r->detect_ms, r->n_detect * sizeof(*sorted));
    }
    uint64_t median = report_percentile(sorted, r->n_detect, 50);
    uint64_t p99 = report_percentile(sorted, r->n_detect, 99);
    uint64_t max = r->n_detect > 0 ? sorted[r->n_detect - 1] : 0;
    free(sorted);

    json_t *o = json_object();
    json_object_set_new(o, "nodes", json_integer(r->nodes));
    json_object_set_new(o, "periods", json_integer(r->periods));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(o, "profile", json_string(r->profile));
    json_object_set_new(o, "loss_pct", json_integer(r->loss_pct));
    json_object_set_new(o, "latency", json_string(r->latency != NULL ? r->latency : "uniform"));
    json_object_set_new(o, "protocol", config_json(&r->cfg));
    json_object_set_new(o, "kill", strings_json(&r->kills));
    json_object_set_new(o, "partition", strings_json(&r->partitions));
    json_object_set_new(o, "slow", strings_json(&r->slow));
    json_object_set_new(o, "duration_ms", json_integer((json_int_t)r->duration_ms));
    json_object_set_new(o, "converged_ms", ms_or_null(r->converged_ms));
    json_object_set_new(o, "detections", json_integer((json_int_t)r->n_detect));
    json_object_set_new(o, "detect_ms_median",
                        r->n_detect ? json_integer((json_int_t)median) : json_null());
    json_object_set_new(o, "detect_ms_p99",
                        r->n_detect ? json_integer((json_int_t)p99) : json_null());
    json_object_set_new(o, "detect_ms_max",
                        r->n_detect ? json_integer((json_int_t)max) : json_null());
    json_object_set_new(o, "undetected", json_integer((json_int_t)r->undetected));
    json_object_set_new(o, "false_failures", json_integer((json_int_t)r->false_failures));
    json_object_set_new(o, "suspicions", json_integer((json_int_t)r->suspicions));
    json_object_set_new(o, "coord_rel_error_median",
                        r->has_coord_error ? json_real(r->coord_error_median) : json_null());
    json_object_set_new(o, "coord_rel_error_p90",
                        r->has_coord_error ? json_real(r->coord_error_p90) : json_null());
    json_object_set_new(o, "bytes_per_node_per_s", json_real(r->bytes_per_node_per_s));
    json_object_set_new(o, "bytes_per_node_per_s_all", json_real(r->bytes_per_node_per_s_all));
    json_object_set_new(o, "wall_s", json_real(r->wall_s));
    json_object_set_new(o, "max_rss_kib", json_integer(r->max_rss_kib));
    json_object_set_new(o, "events", json_integer((json_int_t)r->events));
    errno = 0;
    rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) == 0 ? 0 : ERR_IO;
    json_decref(o);
    return rc == 0 ? 0 : fail(err, cap, rc, path);
}

/* Rows of whole simulated seconds, from the samples. */
static int write_timeseries(const char *dir, const struct report_run *r, char *err, size_t cap)
{
    char path[PATH_MAX];
    FILE *f = create_in(dir, "timeseries.csv", path, err, cap);
    if (f == NULL)
        return ERR_IO;
    fputs("second,running,full_view_fraction,suspicions,failures,bytes,bytes_per_node\n", f);
    uint64_t susp = 0, fails = 0, bytes = 0;
    for (size_t i = 0; i < r->n_samples; i++) {
        const struct obs_sample *s = &r->samples[i];
        susp += s->suspicions;
        fails += s->failures;
        bytes += s->bytes;
        if (s->at == 0 || s->at % 1000 != 0)
            continue;
        fprintf(f, "%llu,%d,%.4f,%llu,%llu,%llu,%.1f\n", (unsigned long long)(s->at / 1000),
                s->running, s->running ? (double)s->full / s->running : 0.0,
                (unsigned long long)susp, (unsigned long long)fails, (unsigned long long)bytes,
                s->running ? (double)bytes / s->running : 0.0);
        susp = fails = bytes = 0;
    }
    return close_out(f, path, err, cap);
}

static int plot(const char *dir, const char *name, const struct svg_chart *c,
                const struct svg_series *s, size_t ns, char *err, size_t cap)
{
    char path[PATH_MAX];
    int rc = path_of(path, sizeof(path), dir, name);
    if (rc != 0)
        return fail(err, cap, rc, dir);
    errno = 0;
    rc = svg_write(path, c, s, ns);
    return rc == 0 ? 0 : fail(err, cap, rc, path);
}

/* The three plots of a run. */
static int write_plots(const char *dir, const struct report_run *r, char *err, size_t cap)
{
    size_t n = r->n_samples > 0 ? r->n_samples : 1;
    double *x = calloc(n, sizeof(*x)), *y = calloc(n, sizeof(*y));
    double *bx = calloc(n, sizeof(*bx)), *by = calloc(n, sizeof(*by));
    uint64_t *lat = calloc(r->n_detect + 1, sizeof(*lat));
    double *dx = calloc(r->n_detect + 1, sizeof(*dx)), *dy = calloc(r->n_detect + 1, sizeof(*dy));
    int rc = ERR_NOMEM;
    if (x == NULL || y == NULL || bx == NULL || by == NULL || lat == NULL || dx == NULL ||
        dy == NULL) {
        fail(err, cap, rc, dir);
        goto out;
    }
    size_t nb = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < r->n_samples; i++) {
        const struct obs_sample *s = &r->samples[i];
        x[i] = (double)s->at / 1000.0;
        y[i] = s->running ? (double)s->full / s->running : 0.0;
        bytes += s->bytes;
        if (s->at > 0 && s->at % 1000 == 0) {
            bx[nb] = (double)s->at / 1000.0;
            by[nb++] = s->running ? (double)bytes / s->running : 0.0;
            bytes = 0;
        }
    }
    char title[160];
    snprintf(title, sizeof(title), "Convergence: %d nodes joining at once (%s, seed %llu)",
             r->nodes, r->profile, (unsigned long long)r->seed);
    struct svg_chart c = {.title = title,
                          .x_label = "virtual time (s)",
                          .y_label = "fraction of nodes seeing every live node alive",
                          .fix_y = 1,
                          .y_min = 0,
                          .y_max = 1};
    struct svg_series s = {.x = x, .y = y, .n = r->n_samples};
    if ((rc = plot(dir, "convergence.svg", &c, &s, 1, err, cap)) != 0)
        goto out;

    if (r->n_detect > 0) /* detect_ms may be NULL then */
        memcpy(lat, r->detect_ms, r->n_detect * sizeof(*lat));
    (void)report_percentile(lat, r->n_detect, 50); /* sorts */
    for (size_t i = 0; i < r->n_detect; i++) {
        dx[i] = (double)lat[i];
        dy[i] = (double)(i + 1) / (double)r->n_detect;
    }
    snprintf(title, sizeof(title), "Crash detection: %zu detections, %d nodes", r->n_detect,
             r->nodes);
    c = (struct svg_chart){.title = title,
                           .x_label = "crash to FAILED at an observer (ms)",
                           .y_label = "fraction of detections",
                           .fix_y = 1,
                           .y_min = 0,
                           .y_max = 1};
    s = (struct svg_series){.x = dx, .y = dy, .n = r->n_detect, .step = 1};
    if ((rc = plot(dir, "detection.svg", &c, &s, 1, err, cap)) != 0)
        goto out;

    snprintf(title, sizeof(title), "Traffic: bytes sent per node per second, %d nodes", r->nodes);
    c = (struct svg_chart){.title = title,
                           .x_label = "virtual time (s)",
                           .y_label = "bytes / node / s",
                           .y_from_zero = 1};
    s = (struct svg_series){.x = bx, .y = by, .n = nb};
    rc = plot(dir, "bytes.svg", &c, &s, 1, err, cap);
out:
    free(x);
    free(y);
    free(bx);
    free(by);
    free(lat);
    free(dx);
    free(dy);
    return rc;
}

int report_write_run(const char *dir, const struct report_run *r, char *err, size_t cap)
{
    int rc = write_summary(dir, r, err, cap);
    if (rc == 0)
        rc = write_timeseries(dir, r, err, cap);
    if (rc == 0)
        rc = write_plots(dir, r, err, cap);
    return rc;
}

static int write_sweep_table(const char *dir, const struct report_sweep_row *rows, size_t n,
                             const struct report_run *first, char *err, size_t cap)
{
    char path[PATH_MAX];
    FILE *f = create_in(dir, "sweep.csv", path, err, cap);
    if (f == NULL)
        return ERR_IO;
    fputs("nodes,converged_ms,bytes_per_node_per_s,bytes_per_node_per_s_all,false_failures,"
          "wall_s,max_rss_kib\n",
          f);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct report_sweep_row *w = &rows[i];
        if (w->converged_ms == UINT64_MAX)
            fprintf(f, "%d,,", w->nodes);
        else
            fprintf(f, "%d,%llu,", w->nodes, (unsigned long long)w->converged_ms);
        fprintf(f, "%.1f,%.1f,%llu,%.2f,%ld\n", w->bytes_per_node_per_s,
                w->bytes_per_node_per_s_all, (unsigned long long)w->false_failures, w->wall_s,
                w->max_rss_kib);
        json_t *o = json_object();
        json_object_set_new(o, "nodes", json_integer(w->nodes));
        json_object_set_new(o, "converged_ms", ms_or_null(w->converged_ms));
        json_object_set_new(o, "bytes_per_node_per_s", json_real(w->bytes_per_node_per_s));
        json_object_set_new(o, "bytes_per_node_per_s_all", json_real(w->bytes_per_node_per_s_all));
        json_object_set_new(o, "false_failures", json_integer((json_int_t)w->false_failures));
        json_object_set_new(o, "wall_s", json_real(w->wall_s));
        json_object_set_new(o, "max_rss_kib", json_integer(w->max_rss_kib));
        json_array_append_new(arr, o);
    }
    int rc = close_out(f, path, err, cap);
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    json_t *root = json_object();
    json_object_set_new(root, "periods", json_integer(first->periods));
    json_object_set_new(root, "seed", json_integer((json_int_t)first->seed));
    json_object_set_new(root, "profile", json_string(first->profile));
    json_object_set_new(root, "loss_pct", json_integer(first->loss_pct));
    json_object_set_new(root, "protocol", config_json(&first->cfg));
    json_object_set_new(root, "runs", arr);
    if ((rc = path_of(path, sizeof(path), dir, "sweep.json")) == 0) {
        errno = 0;
        rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) == 0 ? 0 : ERR_IO;
    }
    json_decref(root);
    return rc == 0 ? 0 : fail(err, cap, rc, path);
}

int report_write_sweep(const char *dir, const struct report_sweep_row *rows, size_t n,
                       const struct report_run *first, char *err, size_t cap)
{
    int rc = write_sweep_table(dir, rows, n, first, err, cap);
    if (rc != 0)
        return rc;
    double *x = calloc(n + 1, sizeof(*x)), *y = calloc(n + 1, sizeof(*y));
    double *cx = calloc(n + 1, sizeof(*cx)), *cy = calloc(n + 1, sizeof(*cy));
    if (x == NULL || y == NULL || cx == NULL || cy == NULL) {
        rc = fail(err, cap, ERR_NOMEM, dir);
        goto out;
    }
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = rows[i].nodes;
        y[i] = rows[i].bytes_per_node_per_s;
        if (rows[i].converged_ms != UINT64_MAX) {
            cx[nc] = rows[i].nodes;
            cy[nc++] = (double)rows[i].converged_ms / 1000.0;
        }
    }
    char title[160];
    snprintf(title, sizeof(title), "Gossip cost per node once converged (%s, %u periods)",
             first->profile, first->periods);
    struct svg_chart c = {.title = title,
                          .x_label = "nodes",
                          .y_label = "bytes sent / node / s",
                          .log_x = 1,
                          .y_from_zero = 1};
    struct svg_series s = {.x = x, .y = y, .n = n, .markers = 1};
    if ((rc = plot(dir, "bytes_vs_nodes.svg", &c, &s, 1, err, cap)) != 0)
        goto out;
    snprintf(title, sizeof(title), "Convergence: every node joining at once (%s)", first->profile);
    c = (struct svg_chart){.title = title,
                           .x_label = "nodes",
                           .y_label = "until all see all alive (virtual s)",
                           .log_x = 1,
                           .y_from_zero = 1};
    s = (struct svg_series){.x = cx, .y = cy, .n = nc, .markers = 1};
    rc = plot(dir, "convergence_vs_nodes.svg", &c, &s, 1, err, cap);
out:
    free(x);
    free(y);
    free(cx);
    free(cy);
    return rc;
}
