/*
 * Output of the ocidir tool: a small streaming JSON writer (every string
 * escaped, UTF-8 passed through, invalid UTF-8 replaced by U+FFFD) and a
 * progress bar on stderr.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef OCIDIR_CLI_OUTPUT_H
#define OCIDIR_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ocidir.h"

/* ---- JSON ---------------------------------------------------------------
 * Values written in a container are separated and indented by the writer;
 * inside an object, each value is preceded by json_key().  The document ends
 * with json_end(), which writes the final newline. */

#define JSON_MAX_DEPTH 32

typedef struct {
    FILE *f;
    int depth;
    bool has_items[JSON_MAX_DEPTH]; /* per open container: something written yet */
    bool after_key;                 /* the next value completes a "key": pair */
} json_t;

void json_begin(json_t *j, FILE *f);
void json_end(json_t *j);
void json_object_begin(json_t *j);
void json_object_end(json_t *j);
void json_array_begin(json_t *j);
void json_array_end(json_t *j);
void json_key(json_t *j, const char *key);
void json_string(json_t *j, const char *s); /* NULL writes null */
void json_u64(json_t *j, uint64_t v);
void json_bool(json_t *j, bool v);
void json_null(json_t *j);
/* A NULL-terminated string vector as an array (NULL writes null). */
void json_strv(json_t *j, char *const *v);
/* Alternating keys and values ("k1", "v1", ..., NULL) as an object. */
void json_kv_object(json_t *j, char *const *kv);

/* Write `s` as a JSON string literal, quotes included. */
void json_write_string(FILE *f, const char *s);

/* ---- Progress bar --------------------------------------------------------
 * Drawn on stderr with '\r', at most ten times a second, only when it is
 * enabled (stderr is a terminal and --quiet was not given); progress_end()
 * draws the last state and the final newline. */

typedef struct {
    bool enabled;
    bool drawn;
    const char *label;
    uint64_t done, total;
    uint64_t last_draw_ns;
} progress_t;

void progress_init(progress_t *p, const char *label, bool enabled);
void progress_update(progress_t *p, uint64_t done, uint64_t total);
/* An ocidir_progress_fn whose `user` is a progress_t. */
int progress_callback(uint64_t done, uint64_t total, void *user);
void progress_end(progress_t *p);

/* ---- Transfer reports ----------------------------------------------------
 * What a clone or a copy did with each blob, counted from its report. */

typedef struct {
    uint64_t copied, linked, reflinked; /* findings of each kind */
    uint64_t blobs, bytes;              /* ocidir_report_totals() */
} transfer_counts_t;

/* Count the COPIED, LINKED and REFLINKED findings of `rep` and its totals. */
void transfer_counts(const ocidir_report_t *rep, transfer_counts_t *c);
/* Write `c` as one JSON object {"copied","linked","reflinked","blobs","bytes"}
 * to stdout. */
void transfer_counts_json(const transfer_counts_t *c);

#endif /* OCIDIR_CLI_OUTPUT_H */
