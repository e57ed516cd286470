/*
 * svg.h - line charts as SVG files, for swimsim's plots.
 *
 * Model: a chart is a title, two labelled axes (linear, or logarithmic in
 * x), and one or more series of (x, y) points drawn as a polyline (or a
 * staircase, for a cumulative distribution), with a marker at each point
 * when asked.  The file is plain SVG 1.1 text that any browser opens: no
 * script, no external style; every text from the caller is escaped.  Axis
 * ranges come from the data unless the caller fixes them; ticks fall on
 * 1, 2 and 5 times a power of ten.
 *
 * Errors: svg_write returns 0, ERR_INVAL (no series, a log axis with a
 * value <= 0) or ERR_IO (the file could not be written; errno is kept).
 */
#ifndef SWIMD_SIM_SVG_H
#define SWIMD_SIM_SVG_H

#include <stddef.h>

struct svg_series {
    const char *label; /* legend text; NULL: none */
    const double *x, *y;
    size_t n;
    int step;    /* draw as a staircase (a CDF) */
    int markers; /* a dot at every point */
};

struct svg_chart {
    const char *title;
    const char *x_label, *y_label;
    int log_x;           /* logarithmic x axis (every x > 0) */
    int fix_y;           /* use y_min..y_max instead of the data's range */
    double y_min, y_max; /* with fix_y */
    int y_from_zero;     /* without fix_y: the y axis starts at 0 */
};

/* Write the chart to path (replacing it). */
int svg_write(const char *path, const struct svg_chart *c, const struct svg_series *s, size_t ns);

#endif /* SWIMD_SIM_SVG_H */
