/* Printing benchmarks (make bench), for the reference ticket of the printing goals: queue
 * number, a 30-character Vietnamese name, station, QR of a 12-character code.
 *  1. bytes on the wire and wire time at 19200 baud on the CSN-A2 profile (8N1: 10 bits a
 *     byte), against the same ticket fully rasterised (every row of the paper as GS v 0);
 *     goal <= 1.5 s;
 *  2. layout to bytes for one ticket: median and p99 over many runs; goal <= 5 ms median.
 * usage: bench_print [RUNS]   prints a table and one JSON line */
#include "../../app/print/layout.h"
#include "../reference_ticket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 2000;
    struct fw_font *names, *font_a;
    if (fw_font_open(FW_FONT_DEFAULT, &names) != FW_OK ||
        fw_font_open(FW_FONT_MONO, &font_a) != FW_OK) {
        fprintf(stderr, "bench_print: fonts missing (fonts-dejavu-core)\n");
        return 2;
    }
    const struct fw_profile *p = fw_profile_find("csn-a2");
    struct fw_buf b;
    fw_buf_init(&b);
    if (layout_ticket(&reference_ticket, p, names, &b) != FW_OK)
        return 2;

    /* The same ticket fully rasterised: the paper the simulator prints, sent row by row. */
    struct fw_bitmap paper;
    char err[160];
    if (fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err) != FW_OK) {
        fprintf(stderr, "bench_print: %s\n", err);
        return 2;
    }
    struct fw_buf full;
    fw_buf_init(&full);
    fw_escpos_init(&full);
    fw_escpos_raster(&full, &paper);
    double bits_per_byte = 10.0, baud = p->baud;
    double wire = (double)b.len * bits_per_byte / baud;
    double wire_full = (double)full.len * bits_per_byte / baud;

    double *t = malloc(sizeof *t * (size_t)runs);
    for (int i = 0; i < runs; i++) {
        struct fw_buf x;
        fw_buf_init(&x);
        double t0 = now();
        layout_ticket(&reference_ticket, p, names, &x);
        t[i] = (now() - t0) * 1e3;
        fw_buf_free(&x);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    double p50 = t[runs / 2], p99 = t[runs * 99 / 100];

    printf("printing: reference ticket on %s (%d baud, 8N1)\n", p->name, p->baud);
    printf("  bytes on the wire        %6zu   wire time %.2f s   (goal <= 1.5 s) %s\n", b.len, wire,
           wire <= 1.5 ? "ok" : "MISSED");
    printf("  fully rasterised         %6zu   wire time %.2f s   (paper %d x %d dots)\n", full.len,
           wire_full, paper.width, paper.height);
    printf("  ratio layout / raster    %.3f\n", wire / wire_full);
    printf("  layout time (%d runs)  p50 %.3f ms  p99 %.3f ms   (goal p50 <= 5 ms) %s\n", runs, p50,
           p99, p50 <= 5 ? "ok" : "MISSED");
    printf("{\"ticket_bytes\":%zu,\"wire_s\":%.3f,\"raster_bytes\":%zu,\"raster_wire_s\":%.3f,"
           "\"ratio\":%.4f,\"layout_p50_ms\":%.4f,\"layout_p99_ms\":%.4f}\n",
           b.len, wire, full.len, wire_full, wire / wire_full, p50, p99);
    free(t);
    fw_bitmap_free(&paper);
    fw_buf_free(&full);
    fw_buf_free(&b);
    fw_font_close(names);
    fw_font_close(font_a);
    return wire <= 1.5 && p50 <= 5 ? 0 : 1;
}
