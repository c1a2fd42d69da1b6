/* The printer transports on real file descriptors: a file, a usblp node stand-in, /dev/full (a
 * write error mid-job), the simulated printer (PNG out, paper out, unplugged), and the serial
 * transport on a pseudo-terminal (a scripted tty), paced by a busy line read through a
 * link-time fake of libgpiod (defined below: it replaces the library's functions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <gpiod.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fw_printer.h"

/* ---- the libgpiod fake ---- */

static struct {
    int busy_polls; /* how many reads answer "busy" before the line goes low */
    int polls;      /* reads so far */
    int requested, released, closed;
} gpio;
static int fake_chip, fake_line;

struct gpiod_chip *gpiod_chip_open_lookup(const char *descr)
{
    if (strcmp(descr, "fakechip") != 0) {
        errno = ENOENT;
        return NULL;
    }
    return (struct gpiod_chip *)&fake_chip;
}

struct gpiod_line *gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset)
{
    (void)chip;
    if (offset != 17) {
        errno = EINVAL;
        return NULL;
    }
    return (struct gpiod_line *)&fake_line;
}

int gpiod_line_request_input(struct gpiod_line *line, const char *consumer)
{
    (void)line;
    (void)consumer;
    gpio.requested++;
    return 0;
}

int gpiod_line_get_value(struct gpiod_line *line)
{
    (void)line;
    gpio.polls++;
    if (gpio.busy_polls > 0) {
        gpio.busy_polls--;
        return 1;
    }
    return 0;
}

/* The seam (firmware/gpio/line_v1.c) asks through the general request. */
int gpiod_line_request(struct gpiod_line *line, const struct gpiod_line_request_config *config,
                       int default_val)
{
    (void)default_val;
    if (config->request_type != GPIOD_LINE_REQUEST_DIRECTION_INPUT || config->flags) {
        errno = EINVAL;
        return -1;
    }
    return gpiod_line_request_input(line, config->consumer);
}

void gpiod_line_release(struct gpiod_line *line)
{
    (void)line;
    gpio.released++;
}

void gpiod_chip_close(struct gpiod_chip *chip)
{
    (void)chip;
    gpio.closed++;
}

/* ---- helpers ---- */

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mokit-printer-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static const uint8_t job[] = "\x1b@\x1b\x61\x01Hello mokit\n\x1b\x64\x03";
#define JOB_LEN (sizeof job - 1)

/* ---- file, lp ---- */

static void file_transport(void **state)
{
    (void)state;
    const struct fw_profile *p = fw_profile_find("escpos-58");
    struct fw_printer *pr;
    char err[300], path[128];
    enum fw_printer_state s;
    assert_int_equal(fw_printer_open("file:out.bin", dir, p, &pr, err, sizeof err), FW_OK);
    assert_int_equal(fw_printer_status(pr, &s, err, sizeof err), FW_OK);
    assert_int_equal(s, FW_PRINTER_UNKNOWN);
    assert_int_equal(fw_printer_send(pr, "a", job, JOB_LEN, false, err, sizeof err), FW_OK);
    /* A second job after an interrupted one: resynchronisation bytes first. */
    assert_int_equal(fw_printer_send(pr, "b", job, JOB_LEN, true, err, sizeof err), FW_OK);
    fw_printer_close(pr);
    uint8_t got[4096];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    size_t n = slurp(path, got, sizeof got);
    assert_int_equal(n, JOB_LEN + 48 * 24 + 2 + JOB_LEN);
    assert_memory_equal(got, job, JOB_LEN);
    for (size_t i = 0; i < 48 * 24; i++)
        assert_int_equal(got[JOB_LEN + i], 0);
    assert_memory_equal(got + JOB_LEN + 48 * 24, "\x1b@", 2);
    assert_memory_equal(got + JOB_LEN + 48 * 24 + 2, job, JOB_LEN);
    /* Empty jobs and missing directories are errors. */
    assert_int_equal(fw_printer_open("file:out.bin", dir, p, &pr, err, sizeof err), FW_OK);
    assert_int_equal(fw_printer_send(pr, "c", job, 0, false, err, sizeof err), FW_EINVAL);
    fw_printer_close(pr);
    assert_int_equal(fw_printer_open("file:no/such/dir/out.bin", dir, p, &pr, err, sizeof err),
                     FW_ENODEV);
    assert_null(pr);
}

static void write_error_mid_job(void **state)
{
    (void)state;
    /* /dev/full fails every write with ENOSPC: the job is not taken, and the error says how
     * far it got. */
    struct fw_printer *pr;
    char err[300];
    assert_int_equal(
        fw_printer_open("file:/dev/full", NULL, fw_profile_find("escpos-58"), &pr, err, sizeof err),
        FW_OK);
    assert_int_equal(fw_printer_send(pr, "a", job, JOB_LEN, false, err, sizeof err), FW_EIO);
    assert_non_null(strstr(err, "after 0 of 20 bytes"));
    assert_non_null(strstr(err, "No space left"));
    fw_printer_close(pr);
}

static void lp_transport(void **state)
{
    (void)state;
    const struct fw_profile *p = fw_profile_find("escpos-80");
    struct fw_printer *pr;
    char err[300], path[128];
    enum fw_printer_state s;
    /* Unplugged: the node is gone. */
    assert_int_equal(fw_printer_open("lp:/dev/usb/lp-mokit-none", NULL, p, &pr, err, sizeof err),
                     FW_ENODEV);
    assert_non_null(strstr(err, "No such file"));
    /* A plain file stands in for the node: no port status (ENOTTY), so unknown. */
    snprintf(path, sizeof path, "lp:%s/lp0", dir);
    char file[128];
    snprintf(file, sizeof file, "%s/lp0", dir);
    close(open(file, O_CREAT | O_WRONLY, 0600));
    assert_int_equal(fw_printer_open(path, NULL, p, &pr, err, sizeof err), FW_OK);
    assert_int_equal(fw_printer_status(pr, &s, err, sizeof err), FW_OK);
    assert_int_equal(s, FW_PRINTER_UNKNOWN);
    assert_int_equal(fw_printer_send(pr, "a", job, JOB_LEN, false, err, sizeof err), FW_OK);
    fw_printer_close(pr);
    uint8_t got[256];
    assert_int_equal(slurp(file, got, sizeof got), JOB_LEN);
    assert_memory_equal(got, job, JOB_LEN);
}

/* ---- sim ---- */

static void sim_transport(void **state)
{
    (void)state;
    const struct fw_profile *p = fw_profile_find("escpos-58");
    struct fw_printer *pr;
    char err[300], path[160];
    enum fw_printer_state s;
    struct stat sb;
    assert_int_equal(fw_printer_open("sim:prints/t", dir, p, &pr, err, sizeof err), FW_OK);
    assert_int_equal(fw_printer_status(pr, &s, err, sizeof err), FW_OK);
    assert_int_equal(s, FW_PRINTER_READY);
    assert_int_equal(fw_printer_send(pr, "000001-test", job, JOB_LEN, false, err, sizeof err),
                     FW_OK);
    snprintf(path, sizeof path, "%s/prints/t/000001-test.png", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 100);
    /* The same job again is a second piece of paper, never an overwritten file. */
    assert_int_equal(fw_printer_send(pr, "000001-test", job, JOB_LEN, true, err, sizeof err),
                     FW_OK);
    snprintf(path, sizeof path, "%s/prints/t/000001-test-2.png", dir);
    assert_int_equal(stat(path, &sb), 0);
    /* Paper out: reported, and a job is refused (nothing printed). */
    snprintf(path, sizeof path, "%s/prints/t/PAPER-OUT", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    assert_int_equal(fw_printer_status(pr, &s, err, sizeof err), FW_OK);
    assert_int_equal(s, FW_PRINTER_PAPER_OUT);
    assert_int_equal(fw_printer_send(pr, "000002-test", job, JOB_LEN, false, err, sizeof err),
                     FW_EPAPER);
    unlink(path);
    /* Bytes our encoders never emit are a bug: refused with the offset, not guessed at. */
    assert_int_equal(fw_printer_send(pr, "000003-test", (const uint8_t *)"\x1b@\x1bZ", 4, false,
                                     err, sizeof err),
                     FW_EINVAL);
    assert_non_null(strstr(err, "rejected"));
    /* A label that could leave the directory is refused. */
    assert_int_equal(fw_printer_send(pr, "../x", job, JOB_LEN, false, err, sizeof err), FW_EINVAL);
    /* Unplugged. */
    snprintf(path, sizeof path, "%s/prints/t/OFFLINE", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    assert_int_equal(fw_printer_status(pr, &s, err, sizeof err), FW_ENODEV);
    assert_int_equal(fw_printer_send(pr, "000004-test", job, JOB_LEN, false, err, sizeof err),
                     FW_ENODEV);
    fw_printer_close(pr);
    assert_int_equal(fw_printer_open("sim:prints/t", dir, p, &pr, err, sizeof err), FW_ENODEV);
    unlink(path);
    snprintf(path, sizeof path, "%s/prints/t/000002-test.png", dir);
    assert_int_not_equal(stat(path, &sb), 0);
}

/* ---- serial on a pseudo-terminal ----
 * Single-threaded (threads and fork() hang under qemu-user, where the arm64 build's tests
 * run): the transport writes into the pty, the test reads the other side afterwards, and a
 * printer's status answer arrives from a SIGALRM handler while the transport waits for it. */

static volatile int answer_fd = -1;
static volatile int answer_byte;

static void send_answer(int sig)
{
    (void)sig;
    uint8_t b = (uint8_t)answer_byte;
    if (answer_fd >= 0 && write(answer_fd, &b, 1) != 1)
        answer_fd = -1;
}

/* Answers with byte (or nothing, -1) 100 ms from now: after the transport has sent its
 * query and while it waits up to 500 ms for the answer. */
static void answer_later(int master, int byte)
{
    struct sigaction sa = {.sa_handler = send_answer};
    sigaction(SIGALRM, &sa, NULL);
    answer_fd = byte >= 0 ? master : -1;
    answer_byte = byte;
    struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

/* What the printer received: everything waiting on the master side, up to cap bytes. */
static size_t tty_read(int master, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        struct pollfd pfd = {.fd = master, .events = POLLIN};
        if (poll(&pfd, 1, 200) <= 0)
            break;
        ssize_t r = read(master, buf + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    return n;
}

static int open_tty(int *master, char name[64])
{
    int slave;
    if (openpty(master, &slave, name, NULL, NULL) != 0)
        return -1;
    close(slave); /* the transport opens it by name */
    return 0;
}

static void serial_timing_model(void **state)
{
    (void)state;
    int master;
    char name[64], uri[128], err[300];
    uint8_t got[256];
    assert_int_equal(open_tty(&master, name), 0);
    snprintf(uri, sizeof uri, "serial:%s?baud=19200", name);
    struct fw_printer *pr;
    assert_int_equal(fw_printer_open(uri, NULL, fw_profile_find("csn-a2"), &pr, err, sizeof err),
                     FW_OK);
    /* The printer answers DLE EOT 4 with "paper end". */
    enum fw_printer_state s;
    answer_later(master, 0x72);
    assert_int_equal(fw_printer_status(pr, &s, err, sizeof err), FW_OK);
    assert_int_equal(s, FW_PRINTER_PAPER_OUT);
    assert_int_equal(tty_read(master, got, sizeof got), 3);
    assert_memory_equal(got, "\x10\x04\x04", 3);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(fw_printer_send(pr, "x", job, JOB_LEN, false, err, sizeof err), FW_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(tty_read(master, got, sizeof got), JOB_LEN);
    assert_memory_equal(got, job, JOB_LEN);
    fw_printer_close(pr);
    close(master);
    /* Paced: after the text line (24 rows x 30 ms + 6 x 2.1 ms) the printer is busy printing,
     * so ESC d 3 waits for it, less what its 256-byte buffer lets us send ahead (147 ms at
     * 19200 baud): at least 0.58 s. */
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (secs < 0.58)
        fail_msg("sent in %.3f s", secs);
    assert_true(secs < 5.0);
}

static void serial_no_answer(void **state)
{
    (void)state;
    int master;
    char name[64], uri[128], err[300];
    assert_int_equal(open_tty(&master, name), 0);
    snprintf(uri, sizeof uri, "serial:%s", name);
    struct fw_printer *pr;
    assert_int_equal(fw_printer_open(uri, NULL, fw_profile_find("csn-a2"), &pr, err, sizeof err),
                     FW_OK);
    /* The printer's TX is not wired (common: it is 5 V): no answer is "unknown", not an error.
     * Nor is a byte that is not a status answer (line noise). */
    enum fw_printer_state s = FW_PRINTER_READY;
    answer_later(master, -1);
    assert_int_equal(fw_printer_status(pr, &s, err, sizeof err), FW_OK);
    assert_int_equal(s, FW_PRINTER_UNKNOWN);
    s = FW_PRINTER_READY;
    answer_later(master, 'A');
    assert_int_equal(fw_printer_status(pr, &s, err, sizeof err), FW_OK);
    assert_int_equal(s, FW_PRINTER_UNKNOWN);
    /* A stale answer from before the query is dropped, the fresh one counts. */
    uint8_t stale = 0x72;
    assert_int_equal(write(master, &stale, 1), 1);
    usleep(20000);
    answer_later(master, 0x12);
    assert_int_equal(fw_printer_status(pr, &s, err, sizeof err), FW_OK);
    assert_int_equal(s, FW_PRINTER_READY);
    fw_printer_close(pr);
    close(master);
}

static void serial_busy_line(void **state)
{
    (void)state;
    /* 200 bytes: seven 32-byte chunks, each sent only when the busy line is low. */
    uint8_t big[200];
    memcpy(big, "\x1b@", 2);
    for (size_t i = 2; i < sizeof big - 1; i++)
        big[i] = (uint8_t)('A' + i % 26);
    big[sizeof big - 1] = '\n';
    int master;
    uint8_t got[256];
    char name[64], uri[128], err[300];
    assert_int_equal(open_tty(&master, name), 0);
    snprintf(uri, sizeof uri, "serial:%s?baud=19200&busy=fakechip:17", name);
    memset(&gpio, 0, sizeof gpio);
    gpio.busy_polls = 25; /* 25 x 2 ms busy */
    struct fw_printer *pr;
    assert_int_equal(fw_printer_open(uri, NULL, fw_profile_find("csn-a2"), &pr, err, sizeof err),
                     FW_OK);
    assert_int_equal(gpio.requested, 1);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(fw_printer_send(pr, "x", big, sizeof big, false, err, sizeof err), FW_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(tty_read(master, got, sizeof got), sizeof big);
    assert_memory_equal(got, big, sizeof big);
    fw_printer_close(pr);
    /* The line was read before every chunk and while it was busy: 25 busy reads, then one
     * low read per chunk (7). */
    assert_int_equal(gpio.polls, 25 + 7);
    assert_int_equal(gpio.released, 1);
    assert_int_equal(gpio.closed, 1);
    /* No such chip, no such line: the printer is not there. */
    char bad[160];
    snprintf(bad, sizeof bad, "serial:%s?busy=gpiochip9:17", name);
    assert_int_equal(fw_printer_open(bad, NULL, fw_profile_find("csn-a2"), &pr, err, sizeof err),
                     FW_ENODEV);
    assert_non_null(strstr(err, "gpiochip9"));
    snprintf(bad, sizeof bad, "serial:%s?busy=fakechip:3", name);
    assert_int_equal(fw_printer_open(bad, NULL, fw_profile_find("csn-a2"), &pr, err, sizeof err),
                     FW_ENODEV);
    close(master);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(secs >= 0.05);
}

static void serial_missing(void **state)
{
    (void)state;
    struct fw_printer *pr;
    char err[300];
    assert_int_equal(fw_printer_open("serial:/dev/ttyMOKITNONE", NULL, fw_profile_find("csn-a2"),
                                     &pr, err, sizeof err),
                     FW_ENODEV);
    /* A file is not a serial port. */
    char uri[200], file[128];
    snprintf(file, sizeof file, "%s/notatty", dir);
    close(open(file, O_CREAT | O_WRONLY, 0600));
    snprintf(uri, sizeof uri, "serial:%s", file);
    assert_int_equal(fw_printer_open(uri, NULL, fw_profile_find("csn-a2"), &pr, err, sizeof err),
                     FW_EIO);
    assert_non_null(strstr(err, "not a serial port"));
    snprintf(uri, sizeof uri, "serial:%s?baud=12345", file);
    assert_int_equal(fw_printer_open(uri, NULL, fw_profile_find("csn-a2"), &pr, err, sizeof err),
                     FW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_transport),      cmocka_unit_test(write_error_mid_job),
        cmocka_unit_test(lp_transport),        cmocka_unit_test(sim_transport),
        cmocka_unit_test(serial_timing_model), cmocka_unit_test(serial_no_answer),
        cmocka_unit_test(serial_busy_line),    cmocka_unit_test(serial_missing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
