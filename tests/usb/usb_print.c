/* Drives the USB transport once, for tests/usb/run.py under umockdev:
 *   usb_print URI PROFILE [JOB.bin] [--resync]
 * Prints "status STATE" (or "status-error CODE MESSAGE"), then, with a job, "sent N" or
 * "send-error CODE MESSAGE". Exit 0 when everything asked for worked, 1 otherwise, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_printer.h"

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5)
        return 2;
    const struct fw_profile *p = fw_profile_find(argv[2]);
    if (!p)
        return 2;
    char err[300] = "";
    struct fw_printer *pr;
    int rc = fw_printer_open(argv[1], NULL, p, &pr, err, sizeof err);
    if (rc != FW_OK) {
        printf("open-error %d %s\n", rc, err);
        return 1;
    }
    enum fw_printer_state s;
    rc = fw_printer_status(pr, &s, err, sizeof err);
    if (rc != FW_OK)
        printf("status-error %d %s\n", rc, err);
    else
        printf("status %s\n", fw_printer_state_name(s));
    int status = rc == FW_OK ? 0 : 1;
    if (argc >= 4) {
        FILE *f = fopen(argv[3], "rb");
        static unsigned char job[1 << 20];
        size_t n = f ? fread(job, 1, sizeof job, f) : 0;
        if (f)
            fclose(f);
        rc = fw_printer_send(pr, "job", job, n, argc == 5 && !strcmp(argv[4], "--resync"), err,
                             sizeof err);
        if (rc == FW_OK) {
            printf("sent %zu\n", n);
        } else {
            printf("send-error %d %s\n", rc, err);
            status = 1;
        }
    }
    fw_printer_close(pr);
    return status;
}
