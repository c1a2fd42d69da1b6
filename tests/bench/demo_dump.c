/* Prints demo residents as tab-separated lines for the benchmark scripts:
 *   name  sex  birth  ethnicity  village  phone
 * usage: demo_dump SEED COUNT YYYY-MM-DD */
#include "../../app/demo/demo.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    struct date today;
    if (argc != 4 || date_parse(argv[3], &today) != 0 || today.month == 0) {
        fprintf(stderr, "usage: demo_dump SEED COUNT YYYY-MM-DD\n");
        return 2;
    }
    unsigned long long seed = strtoull(argv[1], NULL, 10);
    long count = strtol(argv[2], NULL, 10);
    if (count < 0 || count > 10000000) {
        fprintf(stderr, "demo_dump: COUNT must be 0..10000000\n");
        return 2;
    }
    struct demo_rng r;
    demo_rng_seed(&r, seed);
    for (long i = 0; i < count; i++) {
        struct demo_person p;
        char birth[11];
        demo_person_make(&r, &today, &p);
        date_format(&p.birth, birth);
        printf("%s\t%s\t%s\t%s\t%s\t%s\n", p.name, p.sex == SEX_MALE ? "male" : "female", birth,
               p.ethnicity, p.village, p.phone);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
