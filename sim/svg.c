/*
 * svg.c - SVG line charts; the model is in svg.h.
 *
 * Layout: a fixed 760 x 440 canvas, the plot area inset by margins that
 * leave room for tick labels, axis labels, the title and the legend (top
 * right, inside the plot).  Data coordinates map linearly (or through
 * log10 in x) onto the plot area; y grows upwards.
 */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "err.h"

#define SVG_W 760
#define SVG_H 440
#define SVG_LEFT 80
#define SVG_RIGHT 30
#define SVG_TOP 50
#define SVG_BOTTOM 60
/* About this many ticks per axis. */
#define SVG_TICKS 6

/* Colours of successive series (colour-blind safe, Okabe-Ito). */
static const char *const svg_colours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                          "#E69F00", "#56B4E9", "#000000"};

struct svg_axis {
    double lo, hi; /* data range (log10 of it for a log axis) */
    int log;
    int px0, px1; /* pixel ends */
};

static double svg_px(const struct svg_axis *a, double v)
{
    double t = a->log ? log10(v) : v;
    double f = a->hi > a->lo ? (t - a->lo) / (a->hi - a->lo) : 0.5;
    return a->px0 + f * (a->px1 - a->px0);
}

/* Text with &, <, >, " and ' escaped. */
static void svg_text(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A tick step of 1, 2 or 5 times a power of ten, near range / SVG_TICKS. */
static double svg_step(double range)
{
    double raw = range / SVG_TICKS;
    double p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* A tick label: whole numbers without decimals, others with up to 3
 * significant digits; thousands separated for readability. */
static void svg_label(char *buf, size_t cap, double v)
{
    if (fabs(v - round(v)) < 1e-9 && fabs(v) >= 1000) {
        long long n = llround(v);
        char digits[32];
        int len = snprintf(digits, sizeof(digits), "%lld", n < 0 ? -n : n);
        size_t o = 0;
        if (n < 0 && o + 1 < cap)
            buf[o++] = '-';
        for (int i = 0; i < len && o + 2 < cap; i++) {
            if (i > 0 && (len - i) % 3 == 0)
                buf[o++] = ',';
            buf[o++] = digits[i];
        }
        buf[o] = '\0';
    } else {
        snprintf(buf, cap, "%.3g", v);
    }
}

static void svg_ticks_y(FILE *f, const struct svg_axis *y, int x0, int x1)
{
    double step = svg_step(y->hi - y->lo);
    for (double v = ceil(y->lo / step) * step; v <= y->hi + step * 1e-9; v += step) {
        double py = svg_px(y, v);
        char label[32];
        svg_label(label, sizeof(label), fabs(v) < step * 1e-9 ? 0.0 : v);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x0, py,
                x1, py);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", x0 - 6, py + 4,
                label);
    }
}

static void svg_ticks_x(FILE *f, const struct svg_axis *x, int y0, int y1)
{
    char label[32];
    if (x->log) {
        for (double e = floor(x->lo); e <= ceil(x->hi); e += 1.0) {
            for (int m = 1; m < 10; m++) {
                double v = (double)m * pow(10.0, e);
                if (log10(v) < x->lo - 1e-9 || log10(v) > x->hi + 1e-9)
                    continue;
                double px = svg_px(x, v);
                fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>\n",
                        px, y0, px, y1, m == 1 ? "#ccc" : "#eee");
                if (m == 1 || m == 3) {
                    svg_label(label, sizeof(label), v);
                    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px,
                            y0 + 18, label);
                }
            }
        }
        return;
    }
    double step = svg_step(x->hi - x->lo);
    for (double v = ceil(x->lo / step) * step; v <= x->hi + step * 1e-9; v += step) {
        double px = svg_px(x, v);
        svg_label(label, sizeof(label), fabs(v) < step * 1e-9 ? 0.0 : v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", px, y0,
                px, y1);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px, y0 + 18,
                label);
    }
}

/* The data range of every series, widened to something drawable. */
static int svg_ranges(const struct svg_chart *c, const struct svg_series *s, size_t ns,
                      struct svg_axis *x, struct svg_axis *y)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < ns; i++) {
        for (size_t k = 0; k < s[i].n; k++) {
            if (c->log_x && !(s[i].x[k] > 0))
                return ERR_INVAL;
            xlo = fmin(xlo, s[i].x[k]);
            xhi = fmax(xhi, s[i].x[k]);
            ylo = fmin(ylo, s[i].y[k]);
            yhi = fmax(yhi, s[i].y[k]);
        }
    }
    if (!isfinite(xlo)) { /* no points at all: an empty frame */
        xlo = c->log_x ? 1 : 0;
        xhi = c->log_x ? 10 : 1;
        ylo = 0;
        yhi = 1;
    }
    if (c->fix_y) {
        ylo = c->y_min;
        yhi = c->y_max;
    } else if (c->y_from_zero && ylo > 0) {
        ylo = 0;
    }
    if (yhi <= ylo)
        yhi = ylo + 1;
    if (!c->fix_y)
        yhi += (yhi - ylo) * 0.05; /* headroom above the highest point */
    x->log = c->log_x;
    x->lo = c->log_x ? log10(xlo) : xlo;
    x->hi = c->log_x ? log10(xhi) : xhi;
    if (x->hi <= x->lo)
        x->hi = x->lo + 1;
    y->log = 0;
    y->lo = ylo;
    y->hi = yhi;
    return 0;
}

static void svg_series_draw(FILE *f, const struct svg_axis *x, const struct svg_axis *y,
                            const struct svg_series *s, const char *colour)
{
    if (s->n == 0)
        return;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
    for (size_t k = 0; k < s->n; k++) {
        double px = svg_px(x, s->x[k]), py = svg_px(y, s->y[k]);
        if (s->step && k > 0)
            fprintf(f, "%.1f,%.1f ", px, svg_px(y, s->y[k - 1]));
        fprintf(f, "%.1f,%.1f ", px, py);
    }
    fputs("\"/>\n", f);
    for (size_t k = 0; s->markers && k < s->n; k++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", svg_px(x, s->x[k]),
                svg_px(y, s->y[k]), colour);
}

int svg_write(const char *path, const struct svg_chart *c, const struct svg_series *s, size_t ns)
{
    struct svg_axis x, y;
    if (ns == 0 || s == NULL)
        return ERR_INVAL;
    int rc = svg_ranges(c, s, ns, &x, &y);
    if (rc != 0)
        return rc;
    x.px0 = SVG_LEFT;
    x.px1 = SVG_W - SVG_RIGHT;
    y.px0 = SVG_H - SVG_BOTTOM;
    y.px1 = SVG_TOP;

    FILE *f = fopen(path, "w");
    if (f == NULL)
        return ERR_IO;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    fprintf(f, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">", SVG_W / 2);
    svg_text(f, c->title);
    fputs("</text>\n", f);
    svg_ticks_y(f, &y, x.px0, x.px1);
    svg_ticks_x(f, &x, y.px0, y.px1);
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
            x.px0, y.px1, x.px1 - x.px0, y.px0 - y.px1);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (x.px0 + x.px1) / 2, SVG_H - 18);
    svg_text(f, c->x_label);
    fputs("</text>\n", f);
    fprintf(f, "<text transform=\"translate(20,%d) rotate(-90)\" text-anchor=\"middle\">",
            (y.px0 + y.px1) / 2);
    svg_text(f, c->y_label);
    fputs("</text>\n", f);
    size_t nc = sizeof(svg_colours) / sizeof(svg_colours[0]);
    for (size_t i = 0; i < ns; i++)
        svg_series_draw(f, &x, &y, &s[i], svg_colours[i % nc]);
    for (size_t i = 0, row = 0; i < ns; i++) {
        if (s[i].label == NULL)
            continue;
        int ly = y.px1 + 16 + 18 * (int)row++;
        fprintf(f,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n"
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                x.px1 - 40, ly - 4, x.px1 - 12, ly - 4, svg_colours[i % nc], x.px1 - 46, ly);
        svg_text(f, s[i].label);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        if (errno == 0)
            errno = EIO;
        return ERR_IO;
    }
    return 0;
}
