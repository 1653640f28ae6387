/*
 * benchutil - what the benchmark programs (bench_blob, bench_index,
 * bench_layer) share: timing, statistics, a work directory removed at exit,
 * fatal errors, running child commands, and a description of the machine.
 *
 * Include it after defining _GNU_SOURCE (for PATH_MAX and friends).  Call
 * bench_init() first thing in main().  Every function that can fail is fatal:
 * it prints "PROGRAM: message" on stderr, removes the work directory and
 * exits 1, so callers need not check.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef OCIDIR_BENCHUTIL_H
#define OCIDIR_BENCHUTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* ---- set-up, errors, interruption ---- */

/* Remember the program name (used as the prefix of every message) and catch
 * SIGINT and SIGTERM, so that bench_check_interrupted() can stop cleanly. */
void bench_init(const char *prog);

/* Print "PROGRAM: <formatted>" on stderr, clean up, exit 1. */
__attribute__((format(printf, 1, 2), noreturn)) void bench_die(const char *fmt, ...);

/* "PROGRAM: WHAT: <ocidir_strerror(rc)> (rc): MSG", clean up, exit 1. */
__attribute__((noreturn)) void bench_die_lib_msg(const char *what, int rc, const char *msg);

/* bench_die_lib_msg() with ocidir_last_error() as the message. */
__attribute__((noreturn)) void bench_die_lib(const char *what, int rc);

/* After SIGINT or SIGTERM: "PROGRAM: interrupted", clean up, exit 130. */
void bench_check_interrupted(void);

/* ---- the work directory ---- */

/* Make a fresh directory DIR/NAME.XXXXXX (mkdtemp) and return its path; it is
 * removed, with everything in it, by bench_cleanup() and on every fatal exit. */
const char *bench_make_workdir(const char *dir, const char *name);

/* Remove the work directory, if any (idempotent). */
void bench_cleanup(void);

/* Fatal unless DIR's filesystem has FACTOR x SIZE + 64 MiB free. */
void bench_require_space(const char *dir, unsigned factor, uint64_t size);

/* snprintf into a PATH_MAX buffer; a path that does not fit is fatal. */
__attribute__((format(printf, 2, 3))) void bench_mkpath(char buf[PATH_MAX], const char *fmt, ...);

/* The absolute path of this program (/proc/self/exe) in BUF, or NULL. */
const char *bench_self_path(char buf[PATH_MAX]);

/* ---- numbers ---- */

/* CLOCK_MONOTONIC, in seconds. */
double bench_now(void);

/* The median and the minimum of N >= 1 values (V is left as it is). */
double bench_median(const double *v, int n);
double bench_minimum(const double *v, int n);

/* A byte count with an optional binary K, M or G suffix.  Fatal ("bad size:
 * S") if malformed; fatal if below MIN (>= 1), with " (HINT)" added when HINT
 * is not NULL. */
uint64_t bench_parse_size(const char *s, uint64_t min, const char *hint);

/* A decimal count in 1..MAX, the argument of OPTION; fatal ("OPTION takes
 * 1..MAX") otherwise. */
long bench_parse_count(const char *s, const char *option, long max);

/* One step of xorshift64*: pseudo-random, the same sequence for a seed. */
uint64_t bench_xorshift64s(uint64_t *state);

/* ---- files and processes ---- */

/* malloc(), fatal "out of memory" when it fails. */
void *bench_xmalloc(size_t size);

/* Create PATH, which must not exist, for writing (mode 0644); returns the
 * descriptor.  Fatal "create PATH: ..." when it fails. */
int bench_create(const char *path);

/* write() all of BUF (retrying on EINTR); fatal "write WHAT: ..." on error. */
void bench_write_all(int fd, const void *buf, size_t len, const char *what);

/* Run ARGV (looked up in PATH) with stdout to OUT_PATH (created/truncated;
 * NULL: /dev/null) and stderr to ERR_PATH (NULL: inherited).  Returns its
 * exit status (-1 when killed by a signal); *SECS (if not NULL) gets the wall
 * time from spawn to reaping, *MAXRSS_KIB (if not NULL) the child's peak RSS
 * as wait4() reports it.  Failing to start it is fatal. */
int bench_run(char *const argv[], const char *out_path, const char *err_path, double *secs,
              long *maxrss_kib);

/* Fork a child that zeroes RES (SIZE bytes), calls FN(ARG, RES) and sends RES
 * back through a pipe; the parent waits for it and fills RES.  Returns 0, or
 * -1 when the child exited non-zero, died or sent nothing whole (FN may
 * _exit(1) on failure).  Stdout is flushed first. */
int bench_in_child(void (*fn)(const void *arg, void *res), const void *arg, void *res, size_t size);

/* bench_in_child(), ending the program with "the child running WHAT died"
 * when it returns -1. */
void bench_in_child_or_die(void (*fn)(const void *arg, void *res), const void *arg, void *res, size_t size,
                           const char *what);

/* This process's peak RSS so far (getrusage RUSAGE_SELF), in KiB: what a
 * bench_in_child() child reports as its own. */
long bench_self_maxrss_kib(void);

/* ---- the machine ---- */

/* "PREFIXlibocidir V, hash backend B, gzip decoder G[, path resolution by R]\n". */
void bench_print_library(const char *prefix, int with_resolver);

/* bench_print_library(PREFIX, WITH_RESOLVER), then
 * "machine: N CPUs (nproc), MODEL; kernel RELEASE ARCH\n"
 * "date: DATE; load average at start A B C\n" */
void bench_print_header(const char *prefix, int with_resolver);

/* "load average at end A B C\n" (the first three fields of /proc/loadavg, or
 * "unknown"): other work on the machine skews the figures, so the tables say
 * how busy it was. */
void bench_print_load_at_end(void);

/* Fill h with a ustar header of `name` (at most 99 bytes), type ('0' file,
 * '5' directory), mode and size; uid, gid and mtime 0; checksum set. */
void bench_tar_header(char h[512], const char *name, char type, unsigned mode, uint64_t size);

#endif
