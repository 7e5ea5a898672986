/*
 * ctl-report.h: bevakactl's indicator report, one self-contained HTML file
 * written from the daemon's `indicators` reply (docs/indicators.md).
 */
#pragma once

#include <jansson.h>
#include <stdio.h>

/*
 * Writes the report for rep (an `indicators` reply with series) to out:
 * inline CSS and SVG, no external resource, laid out for A4. Every figure
 * carries data-id / data-num / data-den attributes, so a test can check the
 * rendered page against the JSON. generated: the date shown in the footer.
 * 0 or -EIO.
 */
int ctl_report_write(FILE *out, const json_t *rep, const char *generated);
