#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITEMS 8
#define LOG_INTERVAL 5.0
#define DRAW_INTERVAL 0.1

struct item {
    char name[96];
    size_t done, total;
    uint64_t bytes_done, bytes_total;
    int used;
};

struct cli_progress {
    const char *verb;
    int quiet, tty;
    double started, last_draw, last_log;
    uint64_t bytes_done, bytes_total;
    size_t files_done, files_total;
    struct item items[MAX_ITEMS];
    int drawn;          /* lines currently on screen */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_format_bytes(char *out, size_t size, double bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(out, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

cli_progress *cli_progress_new(const char *verb, int quiet)
{
    cli_progress *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    const char *term = getenv("TERM");
    p->verb = verb;
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0);
    p->started = p->last_log = now_s();
    return p;
}

void cli_progress_free(cli_progress *p)
{
    free(p);
}

static void clear(cli_progress *p)
{
    for (int i = 0; i < p->drawn; i++)
        fputs("\033[1A\033[2K", stderr);
    p->drawn = 0;
}

static void summary_text(cli_progress *p, char *out, size_t size)
{
    char done[32], total[32], rate[32];
    double elapsed = now_s() - p->started;
    double bps = elapsed > 0.2 ? (double)p->bytes_done / elapsed : 0.0;
    cli_format_bytes(done, sizeof(done), (double)p->bytes_done);
    cli_format_bytes(total, sizeof(total), (double)p->bytes_total);
    cli_format_bytes(rate, sizeof(rate), bps);
    char eta[32] = "--";
    if (bps > 0 && p->bytes_total > p->bytes_done) {
        long s = (long)((double)(p->bytes_total - p->bytes_done) / bps);
        snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
    }
    snprintf(out, size, "%zu/%zu files, %s/%s, %s/s, ETA %s", p->files_done, p->files_total,
             done, total, rate, eta);
}

static void draw(cli_progress *p)
{
    char text[256];
    clear(p);
    summary_text(p, text, sizeof(text));
    int width = 30;
    int filled = p->bytes_total ? (int)((double)p->bytes_done * width / (double)p->bytes_total) : 0;
    if (filled > width)
        filled = width;
    fputc('[', stderr);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '-', stderr);
    fprintf(stderr, "] %s\n", text);
    p->drawn = 1;
    for (int i = 0; i < MAX_ITEMS; i++) {
        struct item *it = &p->items[i];
        if (!it->used)
            continue;
        char b[32];
        cli_format_bytes(b, sizeof(b), (double)it->bytes_done);
        fprintf(stderr, "  %-60.60s %zu/%zu files, %s\n", it->name, it->done, it->total, b);
        p->drawn++;
    }
    fflush(stderr);
    p->last_draw = now_s();
}

static void tick(cli_progress *p, int force)
{
    if (p->quiet)
        return;
    double t = now_s();
    if (p->tty) {
        if (force || t - p->last_draw >= DRAW_INTERVAL)
            draw(p);
    } else if (t - p->last_log >= LOG_INTERVAL) {
        char text[256];
        summary_text(p, text, sizeof(text));
        fprintf(stderr, "igtcloud: %s %s\n", p->verb, text);
        p->last_log = t;
    }
}

void cli_progress_update(cli_progress *p, uint64_t bytes_done, uint64_t bytes_total,
                         size_t files_done, size_t files_total)
{
    if (!p)
        return;
    p->bytes_done = bytes_done;
    p->bytes_total = bytes_total;
    p->files_done = files_done;
    p->files_total = files_total;
    tick(p, 0);
}

void cli_progress_item(cli_progress *p, const char *name, size_t files_done, size_t files_total,
                       uint64_t bytes_done, uint64_t bytes_total, int finished)
{
    if (!p)
        return;
    struct item *slot = NULL, *free_slot = NULL;
    for (int i = 0; i < MAX_ITEMS; i++) {
        if (p->items[i].used && strncmp(p->items[i].name, name, sizeof(p->items[i].name) - 1) == 0)
            slot = &p->items[i];
        else if (!p->items[i].used && !free_slot)
            free_slot = &p->items[i];
    }
    if (finished) {
        if (slot)
            slot->used = 0;
        return;
    }
    if (!slot)
        slot = free_slot;
    if (!slot)
        return;   /* more active items than lines: the overall bar still counts them */
    snprintf(slot->name, sizeof(slot->name), "%s", name);
    slot->done = files_done;
    slot->total = files_total;
    slot->bytes_done = bytes_done;
    slot->bytes_total = bytes_total;
    slot->used = 1;
}

void cli_progress_line(cli_progress *p, const char *fmt, ...)
{
    va_list ap;
    if (p && p->tty && p->drawn)
        clear(p);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (p && p->tty && !p->quiet)
        draw(p);
}

void cli_progress_finish(cli_progress *p)
{
    if (p && p->tty)
        clear(p);
    if (p)
        fflush(stderr);
}
