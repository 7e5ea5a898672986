/*
 * ctl-report.c owns bevakactl's indicator report: from one `indicators`
 * reply (with its monthly series) it writes a single HTML file a unit lead
 * can send on. Everything is inline (CSS, SVG charts drawn here), nothing is
 * fetched, and the page is laid out for A4 in print. Numbers are printed as
 * numerator / denominator beside the value, never as a bare percentage, and
 * each carries data attributes so that a test reading the DOM can check the
 * page against the JSON it came from. Only case ids appear, never a person.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include "ctl-report.h"

#define KEY_COUNT 6

/* The headline figures, in the order the summary shows them. */
static const char *const key_ids[KEY_COUNT] = {
        "lt.share", "fia.not_started", "ib4.current_plan", "children.mapped_30d",
        "continuity.changes_per_case_year", "child_impact.missing",
};

static const struct {
        const char *prefix, *heading;
} groups[] = {
        { "lt.", "Long-term cases" },       { "fia.", "Deep assessment (FIA)" },
        { "ib4.", "Change plans (IB4)" },   { "children.", "Children" },
        { "sip.", "Coordinated plans (SIP)" }, { "continuity.", "Continuity" },
        { "child_impact.", "Child-impact analyses" }, { "caseload.", "Caseload" },
};

static void esc(FILE *o, const char *s)
{
        for (; s && *s; s++) {
                switch (*s) {
                case '<': fputs("&lt;", o); break;
                case '>': fputs("&gt;", o); break;
                case '&': fputs("&amp;", o); break;
                case '"': fputs("&quot;", o); break;
                default: fputc(*s, o);
                }
        }
}

static const char *str(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

static double num(const json_t *o, const char *key)
{
        return json_number_value(json_object_get(o, key));
}

static bool is_kind(const json_t *ind, const char *kind)
{
        return strcmp(str(ind, "kind"), kind) == 0;
}

/* The value a figure shows: a share in per cent, a median in days, a rate as it is; NAN if none. */
static double shown(const json_t *ind, double n, double d)
{
        if (d <= 0)
                return NAN;
        if (is_kind(ind, "median"))
                return n;
        return is_kind(ind, "share") ? 100.0 * n / d : n / d;
}

static void fmt_shown(const json_t *ind, double v, char *buf, size_t len)
{
        if (isnan(v))
                snprintf(buf, len, "–");
        else if (is_kind(ind, "share"))
                snprintf(buf, len, "%.1f %%", v);
        else if (is_kind(ind, "median"))
                snprintf(buf, len, "%.0f d", v);
        else
                snprintf(buf, len, "%.2f", v);
}

static void fmt_num(double v, char *buf, size_t len)
{
        if (v == floor(v))
                snprintf(buf, len, "%.0f", v);
        else
                snprintf(buf, len, "%.2f", v);
}

static const json_t *find(const json_t *list, const char *id)
{
        size_t i;
        const json_t *ind;
        json_array_foreach(list, i, ind)
                if (strcmp(str(ind, "id"), id) == 0)
                        return ind;
        return NULL;
}

/* The figure's cell: value, and numerator / denominator with the data attributes the DOM check reads. */
static void figure(FILE *o, const json_t *ind)
{
        char v[32], n[32], d[32];
        fmt_shown(ind, shown(ind, num(ind, "numerator"), num(ind, "denominator")), v, sizeof(v));
        fmt_num(num(ind, "numerator"), n, sizeof(n));
        fmt_num(num(ind, "denominator"), d, sizeof(d));
        fprintf(o, "<span class=\"fig\" data-id=\"");
        esc(o, str(ind, "id"));
        fprintf(o, "\" data-num=\"%s\" data-den=\"%s\"><b>%s</b> <small>%s / %s</small></span>", n, d, v, n, d);
}

/* ---- charts --------------------------------------------------------------------------------- */

static int series_values(const json_t *ind, double *vals, int max)
{
        const json_t *series = json_object_get(ind, "series"), *m;
        size_t i;
        int n = 0;
        json_array_foreach(series, i, m) {
                if (n == max)
                        break;
                vals[n++] = shown(ind, num(m, "numerator"), num(m, "denominator"));
        }
        return n;
}

static void range(const double *v, int n, double *lo, double *hi)
{
        *lo = 0;
        *hi = 0;
        for (int i = 0; i < n; i++)
                if (!isnan(v[i]) && v[i] > *hi)
                        *hi = v[i];
        if (*hi <= 0)
                *hi = 1;
}

/* A line over the months; gaps where a month had no denominator. */
static void polyline(FILE *o, const double *v, int n, double x0, double w, double y0, double h, double hi,
                     const char *cls)
{
        bool open = false;
        for (int i = 0; i < n; i++) {
                double x = x0 + (n > 1 ? w * i / (n - 1) : w / 2), y = y0 + h - h * (isnan(v[i]) ? 0 : v[i]) / hi;
                if (isnan(v[i])) {
                        if (open)
                                fputs("\"/>", o);
                        open = false;
                        continue;
                }
                if (open)
                        fprintf(o, " %.1f,%.1f", x, y);
                else
                        fprintf(o, "<polyline class=\"%s\" points=\"%.1f,%.1f", cls, x, y);
                open = true;
        }
        if (open)
                fputs("\"/>", o);
}

static void sparkline(FILE *o, const json_t *ind)
{
        double v[120], lo, hi;
        int n = series_values(ind, v, 120);
        range(v, n, &lo, &hi);
        fputs("<svg class=\"spark\" viewBox=\"0 0 120 24\" width=\"120\" height=\"24\" role=\"img\">", o);
        polyline(o, v, n, 2, 116, 2, 20, hi, "line");
        /* a month alone between months without a denominator is a dot (a line needs two) */
        for (int i = 0; i < n; i++)
                if (!isnan(v[i]) && (i == 0 || isnan(v[i - 1])) && (i == n - 1 || isnan(v[i + 1])))
                        fprintf(o, "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\"/>",
                                2 + (n > 1 ? 116.0 * i / (n - 1) : 58), 2 + 20 - 20 * v[i] / hi);
        fputs("</svg>", o);
}

/* A trend chart: the monthly values, the y scale's top, each month's numerator/denominator as a title. */
static void trend(FILE *o, const json_t *ind)
{
        const json_t *series = json_object_get(ind, "series"), *m;
        double v[120], lo, hi;
        int n = series_values(ind, v, 120);
        char top[32], val[32];
        size_t i;

        range(v, n, &lo, &hi);
        fmt_shown(ind, hi, top, sizeof(top));
        fprintf(o, "<figure class=\"trend\" data-id=\"");
        esc(o, str(ind, "id"));
        fprintf(o, "\"><figcaption>");
        esc(o, str(ind, "title"));
        fprintf(o, "</figcaption><svg viewBox=\"0 0 320 140\" width=\"100%%\" role=\"img\">"
                   "<line class=\"axis\" x1=\"40\" y1=\"110\" x2=\"312\" y2=\"110\"/>"
                   "<line class=\"axis\" x1=\"40\" y1=\"10\" x2=\"40\" y2=\"110\"/>"
                   "<text class=\"tick\" x=\"36\" y=\"14\" text-anchor=\"end\">%s</text>"
                   "<text class=\"tick\" x=\"36\" y=\"110\" text-anchor=\"end\">0</text>", top);
        polyline(o, v, n, 44, 264, 10, 100, hi, "line");
        json_array_foreach(series, i, m) {
                double x = 44 + (n > 1 ? 264.0 * (double)i / (n - 1) : 132);
                if (!isnan(v[i])) {
                        fmt_shown(ind, v[i], val, sizeof(val));
                        fprintf(o, "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\"><title>%s: %s (%.0f / %.0f)"
                                   "</title></circle>", x, 10 + 100 - 100 * v[i] / hi, str(m, "month"), val,
                                num(m, "numerator"), num(m, "denominator"));
                }
                if (i == 0 || (int)i == n - 1 || (n > 6 && i % 3 == 0))
                        fprintf(o, "<text class=\"tick\" x=\"%.1f\" y=\"124\" text-anchor=\"middle\">%s</text>", x,
                                str(m, "month") + 2);
        }
        fputs("</svg></figure>\n", o);
}

/* ---- sections -------------------------------------------------------------------------------- */

static void head(FILE *o, const json_t *rep)
{
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Quality indicators ", o);
        esc(o, json_is_string(json_object_get(rep, "unit")) ? str(rep, "unit") : "all units");
        fputs("</title>\n<style>\n"
              "@page { size: A4; margin: 14mm 12mm; }\n"
              "* { box-sizing: border-box; }\n"
              "body { font: 10pt/1.35 \"DejaVu Sans\", \"Liberation Sans\", Arial, sans-serif; color: #1d2430;"
              " margin: 0 auto; max-width: 186mm; padding: 8mm 0; }\n"
              "h1 { font-size: 17pt; margin: 0 0 2mm; } h2 { font-size: 12pt; margin: 7mm 0 2mm;"
              " border-bottom: 1.5px solid #2b5c8a; padding-bottom: 1mm; color: #2b5c8a; }\n"
              "h3 { font-size: 10pt; margin: 4mm 0 1mm; color: #444; }\n"
              ".meta { color: #555; margin: 0 0 4mm; }\n"
              ".cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 3mm; }\n"
              ".card { border: 1px solid #c9d3de; border-radius: 2mm; padding: 2.5mm 3mm; break-inside: avoid; }\n"
              ".card .t { font-size: 8.5pt; color: #444; min-height: 2.4em; } .card b { font-size: 15pt; }\n"
              ".trends { display: grid; grid-template-columns: 1fr 1fr; gap: 2mm 5mm; }\n"
              "figure { margin: 0; break-inside: avoid; } figcaption { font-size: 9pt; color: #333; }\n"
              "table { border-collapse: collapse; width: 100%; font-size: 9pt; }\n"
              "th, td { text-align: left; padding: 1mm 1.5mm; border-bottom: 1px solid #e1e6ec; vertical-align: middle; }\n"
              "th { background: #eef2f6; font-weight: 600; } td.n, th.n { text-align: right; white-space: nowrap; }\n"
              "tr { break-inside: avoid; } section { break-inside: auto; }\n"
              ".fig small { color: #666; } .fig b { font-weight: 600; }\n"
              "svg .line { fill: none; stroke: #2b5c8a; stroke-width: 1.6; } svg .dot { fill: #2b5c8a; }\n"
              "svg .axis { stroke: #9aa5b1; stroke-width: 1; } svg .tick { font-size: 8px; fill: #555; }\n"
              "svg .bar { fill: #7aa6cf; } svg .barlabel { font-size: 8px; fill: #1d2430; }\n"
              "#rules table { font-size: 8pt; } #rules .fig small { display: block; }\n"
              "#rules th, #rules td { padding: 0.8mm 1mm; }\n"
              "footer { margin-top: 8mm; color: #777; font-size: 8pt; }\n"
              "@media print { body { padding: 0; } h2, h3 { break-after: avoid; } }\n"
              "</style></head>\n<body>\n", o);
}

static void summary(FILE *o, const json_t *rep)
{
        const json_t *list = json_object_get(rep, "indicators");

        fputs("<h1>Quality indicators: ", o);
        esc(o, json_is_string(json_object_get(rep, "unit")) ? str(rep, "unit") : "all units");
        fputs("</h1>\n<p class=\"meta\">Period <span id=\"period\">", o);
        esc(o, str(rep, "from"));
        fputs(" – ", o);
        esc(o, str(rep, "to"));
        fputs("</span>. Each figure is a numerator over a denominator (shown small); definitions in "
              "docs/indicators.md.</p>\n<section id=\"summary\"><div class=\"cards\">\n", o);
        for (int k = 0; k < KEY_COUNT; k++) {
                const json_t *ind = find(list, key_ids[k]);
                if (!ind)
                        continue;
                fputs("<div class=\"card\"><div class=\"t\">", o);
                esc(o, str(ind, "title"));
                fputs("</div>", o);
                figure(o, ind);
                sparkline(o, ind);
                fputs("</div>\n", o);
        }
        fputs("</div></section>\n<section id=\"trends\"><h2>Monthly trend</h2><div class=\"trends\">\n", o);
        for (int k = 0; k < KEY_COUNT; k++)
                if (find(list, key_ids[k]))
                        trend(o, find(list, key_ids[k]));
        fputs("</div></section>\n", o);
}

static void fixed_table(FILE *o, const json_t *list)
{
        fputs("<section id=\"indicators\"><h2>All indicators</h2>\n", o);
        for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
                size_t i;
                const json_t *ind;
                fprintf(o, "<h3>%s</h3><table><tr><th>Indicator</th><th>Id</th><th class=\"n\">Value"
                           "</th><th>Trend</th></tr>\n", groups[g].heading);
                json_array_foreach(list, i, ind) {
                        if (strncmp(str(ind, "id"), groups[g].prefix, strlen(groups[g].prefix)) != 0)
                                continue;
                        fputs("<tr><td>", o);
                        esc(o, str(ind, "title"));
                        fputs("</td><td><code>", o);
                        esc(o, str(ind, "id"));
                        fputs("</code></td><td class=\"n\">", o);
                        figure(o, ind);
                        fputs("</td><td>", o);
                        sparkline(o, ind);
                        fputs("</td></tr>\n", o);
                }
                fputs("</table>\n", o);
        }
        fputs("</section>\n", o);
}

/* bevaka's own effect: one row per rule that raised anything in the period. */
static void rules_table(FILE *o, const json_t *list)
{
        static const char *const cols[] = { "raised", "resolved", "resolution_median_days", "open_late",
                                            "acknowledged", "snoozed", "dismissed" };
        size_t i;
        const json_t *ind;

        fputs("<section id=\"rules\"><h2>bevaka's reminders, per rule</h2><table><tr><th>Rule</th>"
              "<th class=\"n\">Raised / open case</th><th class=\"n\">Resolved</th><th class=\"n\">Median days"
              "</th><th class=\"n\">Open 30 d after due</th><th class=\"n\">Acknowledged</th><th class=\"n\">"
              "Snoozed</th><th class=\"n\">Dismissed</th></tr>\n", o);
        json_array_foreach(list, i, ind) {
                char rule[64], id[128];
                const char *s = str(ind, "id");
                if (strncmp(s, "rem.", 4) != 0 || !strstr(s, ".raised") || num(ind, "numerator") == 0)
                        continue;
                snprintf(rule, sizeof(rule), "%.*s", (int)(strstr(s, ".raised") - s - 4), s + 4);
                fputs("<tr><td>", o);
                esc(o, rule);
                fputs("</td>", o);
                for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
                        snprintf(id, sizeof(id), "rem.%s.%s", rule, cols[c]);
                        fputs("<td class=\"n\">", o);
                        if (find(list, id))
                                figure(o, find(list, id));
                        fputs("</td>", o);
                }
                fputs("</tr>\n", o);
        }
        fputs("</table></section>\n", o);
}

static void behind_table(FILE *o, const json_t *behind)
{
        size_t i;
        const json_t *b;

        fputs("<section id=\"behind\"><h2>Cases most behind</h2><p class=\"meta\">Open reminders past their due "
              "date, by case (case ids only).</p><table><tr><th>Case</th><th class=\"n\">Overdue reminders</th>"
              "<th>Oldest due</th></tr>\n", o);
        json_array_foreach(behind, i, b) {
                fputs("<tr class=\"behind\"><td>", o);
                esc(o, str(b, "case"));
                fprintf(o, "</td><td class=\"n\">%.0f</td><td>", num(b, "overdue"));
                esc(o, str(b, "oldest_due"));
                fputs("</td></tr>\n", o);
        }
        if (!json_array_size(behind))
                fputs("<tr><td colspan=\"3\">No open reminder is past its due date.</td></tr>\n", o);
        fputs("</table></section>\n", o);
}

static void caseload(FILE *o, const json_t *load)
{
        double max = 1;
        size_t i, n = json_array_size(load);
        const json_t *c;

        json_array_foreach(load, i, c)
                max = fmax(max, fmax(num(c, "open_cases"), num(c, "open_reminders")));
        fputs("<section id=\"caseload\"><h2>Caseload per caseworker</h2><table><tr><th>Caseworker</th>"
              "<th class=\"n\">Open cases</th><th class=\"n\">Open reminders</th><th></th></tr>\n", o);
        json_array_foreach(load, i, c) {
                fputs("<tr class=\"caseload\"><td>", o);
                esc(o, str(c, "caseworker"));
                fprintf(o, "</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f</td><td><svg viewBox=\"0 0 200 12\" "
                           "width=\"200\" height=\"12\" role=\"img\"><rect class=\"bar\" x=\"0\" y=\"1\" width=\"%.1f\" "
                           "height=\"10\"/></svg></td></tr>\n", num(c, "open_cases"), num(c, "open_reminders"),
                        200.0 * num(c, "open_cases") / max);
        }
        if (!n)
                fputs("<tr><td colspan=\"4\">No open cases.</td></tr>\n", o);
        fputs("</table></section>\n", o);
}

int ctl_report_write(FILE *out, const json_t *rep, const char *generated)
{
        const json_t *list = json_object_get(rep, "indicators");

        head(out, rep);
        summary(out, rep);
        fixed_table(out, list);
        rules_table(out, list);
        behind_table(out, json_object_get(rep, "behind"));
        caseload(out, json_object_get(rep, "caseload"));
        fputs("<footer>bevaka quality report, generated ", out);
        esc(out, generated);
        fputs(". Figures as known at the end of each period; reminders' figures by due date.</footer>\n"
              "</body></html>\n", out);
        return ferror(out) ? -EIO : 0;
}
