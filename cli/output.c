/*
 * Output of the ocidir tool: JSON writer and progress bar (see output.h).
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include "output.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

/* ---- JSON ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* bounds of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

void json_write_string(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        unsigned char c = *s;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            s++;
        } else if (c < 0x20) {
            switch (c) {
            case '\b': fputs("\\b", f); break;
            case '\f': fputs("\\f", f); break;
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            default: fprintf(f, "\\u%04x", c); break;
            }
            s++;
        } else {
            size_t n = utf8_len(s);
            if (n == 0) {
                fputs("\\ufffd", f); /* not UTF-8: the replacement character */
                s++;
            } else {
                fwrite(s, 1, n, f);
                s += n;
            }
        }
    }
    fputc('"', f);
}

void json_begin(json_t *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
}

void json_end(json_t *j)
{
    fputc('\n', j->f);
}

static void indent(json_t *j)
{
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
        fputs("  ", j->f);
}

/* Before a value: the separator and indentation its container needs. */
static void before_value(json_t *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0) {
        if (j->has_items[j->depth - 1])
            fputc(',', j->f);
        j->has_items[j->depth - 1] = true;
        indent(j);
    }
}

static void open_container(json_t *j, char c)
{
    before_value(j);
    fputc(c, j->f);
    if (j->depth < JSON_MAX_DEPTH)
        j->has_items[j->depth] = false;
    j->depth++;
}

static void close_container(json_t *j, char c)
{
    j->depth--;
    if (j->depth < JSON_MAX_DEPTH && j->has_items[j->depth])
        indent(j);
    fputc(c, j->f);
}

void json_object_begin(json_t *j) { open_container(j, '{'); }
void json_object_end(json_t *j) { close_container(j, '}'); }
void json_array_begin(json_t *j) { open_container(j, '['); }
void json_array_end(json_t *j) { close_container(j, ']'); }

void json_key(json_t *j, const char *key)
{
    before_value(j);
    json_write_string(j->f, key);
    fputs(": ", j->f);
    j->after_key = true;
}

void json_string(json_t *j, const char *s)
{
    if (!s) {
        json_null(j);
        return;
    }
    before_value(j);
    json_write_string(j->f, s);
}

void json_u64(json_t *j, uint64_t v)
{
    before_value(j);
    fprintf(j->f, "%" PRIu64, v);
}

void json_bool(json_t *j, bool v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void json_null(json_t *j)
{
    before_value(j);
    fputs("null", j->f);
}

void json_strv(json_t *j, char *const *v)
{
    if (!v) {
        json_null(j);
        return;
    }
    json_array_begin(j);
    for (; *v; v++)
        json_string(j, *v);
    json_array_end(j);
}

void json_kv_object(json_t *j, char *const *kv)
{
    json_object_begin(j);
    for (; kv && kv[0] && kv[1]; kv += 2) {
        json_key(j, kv[0]);
        json_string(j, kv[1]);
    }
    json_object_end(j);
}

/* ---- Progress bar ---------------------------------------------------------- */

#define PROGRESS_INTERVAL_NS 100000000ull /* at most ten redraws a second */
#define BAR_WIDTH 30

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "12.3 MiB" */
static void human_size(char *buf, size_t cap, uint64_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%" PRIu64 " B", n);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
}

static void draw(progress_t *p)
{
    uint64_t total = p->total < p->done ? p->done : p->total;
    unsigned pct = total ? (unsigned)(p->done * 100 / total) : 100;
    size_t fill = (size_t)pct * BAR_WIDTH / 100;
    char bar[BAR_WIDTH + 1], done_s[32], total_s[32];
    memset(bar, '#', fill);
    memset(bar + fill, '.', BAR_WIDTH - fill);
    bar[BAR_WIDTH] = '\0';
    human_size(done_s, sizeof done_s, p->done);
    human_size(total_s, sizeof total_s, total);
    /* \033[K clears what a longer previous line left behind. */
    fprintf(stderr, "\r%s [%s] %3u%% %s / %s\033[K", p->label, bar, pct, done_s, total_s);
    fflush(stderr);
    p->drawn = true;
    p->last_draw_ns = now_ns();
}

void progress_init(progress_t *p, const char *label, bool enabled)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->enabled = enabled;
}

void progress_update(progress_t *p, uint64_t done, uint64_t total)
{
    p->done = done;
    p->total = total;
    if (p->enabled && (!p->drawn || now_ns() - p->last_draw_ns >= PROGRESS_INTERVAL_NS))
        draw(p);
}

int progress_callback(uint64_t done, uint64_t total, void *user)
{
    progress_update((progress_t *)user, done, total);
    return 0;
}

void progress_end(progress_t *p)
{
    if (!p->enabled || (!p->drawn && p->done == 0 && p->total == 0))
        return;
    draw(p);
    fputc('\n', stderr);
    fflush(stderr);
    p->enabled = false;
}

/* ---- Transfer reports ---------------------------------------------------- */

void transfer_counts(const ocidir_report_t *rep, transfer_counts_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < ocidir_report_count(rep); i++) {
        ocidir_find_kind_t kind;
        if (ocidir_report_get(rep, i, &kind, NULL, NULL, NULL) != 0)
            continue;
        if (kind == OCIDIR_FIND_COPIED)
            c->copied++;
        else if (kind == OCIDIR_FIND_LINKED)
            c->linked++;
        else if (kind == OCIDIR_FIND_REFLINKED)
            c->reflinked++;
    }
    ocidir_report_totals(rep, &c->blobs, &c->bytes);
}

void transfer_counts_json(const transfer_counts_t *c)
{
    json_t j;
    json_begin(&j, stdout);
    json_object_begin(&j);
    json_key(&j, "copied");
    json_u64(&j, c->copied);
    json_key(&j, "linked");
    json_u64(&j, c->linked);
    json_key(&j, "reflinked");
    json_u64(&j, c->reflinked);
    json_key(&j, "blobs");
    json_u64(&j, c->blobs);
    json_key(&j, "bytes");
    json_u64(&j, c->bytes);
    json_object_end(&j);
    json_end(&j);
}
