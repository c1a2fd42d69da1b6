/* CSV cells as app/export/csv.h writes them, byte for byte: the BOM, CRLF, RFC 4180 quoting,
 * the formula guard on text (and never on numbers), number formatting, and a write error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../app/domain/obs.h"
#include "../../app/export/csv.h"

/* A writer into memory; done() returns the bytes written (the caller frees). */
struct mem {
    char *buf;
    size_t len;
    FILE *f;
    struct csv c;
};

static void start(struct mem *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
    csv_begin(&m->c, m->f);
}

static void done_is(struct mem *m, const char *want, size_t n)
{
    assert_false(csv_error(&m->c));
    assert_int_equal(fclose(m->f), 0);
    assert_int_equal(m->len, n);
    assert_memory_equal(m->buf, want, n);
    free(m->buf);
}
#define DONE_IS(m, lit) done_is((m), (lit), sizeof(lit) - 1)

static void bom_and_crlf(void **state)
{
    (void)state;
    struct mem m;
    start(&m);
    DONE_IS(&m, "\xEF\xBB\xBF"); /* an empty file is the BOM alone */
    start(&m);
    csv_text(&m.c, "Họ và tên");
    csv_text(&m.c, "Tuổi");
    csv_end_row(&m.c);
    csv_text(&m.c, "Nguyễn Thị Hương");
    csv_int(&m.c, 58);
    csv_end_row(&m.c);
    DONE_IS(&m, "\xEF\xBB\xBFHọ và tên,Tuổi\r\nNguyễn Thị Hương,58\r\n");
}

static void quoting(void **state)
{
    (void)state;
    struct mem m;
    start(&m);
    csv_text(&m.c, "a,b");
    csv_text(&m.c, "say \"hi\"");
    csv_text(&m.c, "two\nlines");
    csv_text(&m.c, "cr\rhere");
    csv_text(&m.c, "plain");
    csv_text(&m.c, "\"");
    csv_end_row(&m.c);
    DONE_IS(&m, "\xEF\xBB\xBF\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rhere\",plain,"
                "\"\"\"\"\r\n");
}

static void empty_cells(void **state)
{
    (void)state;
    struct mem m;
    start(&m);
    csv_text(&m.c, NULL);
    csv_text(&m.c, "");
    csv_empty(&m.c);
    csv_number(&m.c, NAN, -1);
    csv_number(&m.c, INFINITY, 1);
    csv_end_row(&m.c);
    csv_empty(&m.c);
    csv_end_row(&m.c);
    DONE_IS(&m, "\xEF\xBB\xBF,,,,\r\n\r\n");
}

static void formula_guard(void **state)
{
    (void)state;
    struct mem m;
    start(&m);
    csv_text(&m.c, "=1+2");
    csv_text(&m.c, "+84 912");
    csv_text(&m.c, "-5 kg");
    csv_text(&m.c, "@SUM(A1)");
    csv_text(&m.c, "\tx");
    csv_text(&m.c, "=HYPERLINK(\"http://x\",\"a,b\")"); /* guarded and quoted */
    csv_text(&m.c, "a=b");                              /* only the first character counts */
    csv_text(&m.c, "'=quoted"); /* guarded, so that unguarding gives it back */
    csv_text(&m.c, "'plain");
    csv_end_row(&m.c);
    DONE_IS(&m, "\xEF\xBB\xBF'=1+2,'+84 912,'-5 kg,'@SUM(A1),'\tx,"
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"a,b\"\")\",a=b,''=quoted,'plain\r\n");
    assert_true(csv_formula_like("=x"));
    assert_true(csv_formula_like("\rx"));
    assert_true(csv_formula_like("''-x"));
    assert_false(csv_formula_like("'x"));
    assert_false(csv_formula_like("x"));
    assert_false(csv_formula_like(""));
    assert_false(csv_formula_like(NULL));
}

static void numbers_stay_numbers(void **state)
{
    (void)state;
    struct mem m;
    start(&m);
    csv_number(&m.c, -3, -1); /* a number is never guarded */
    csv_int(&m.c, -42);
    csv_number(&m.c, 152, -1);
    csv_number(&m.c, 11.2, -1);
    csv_number(&m.c, 36.7, -1);
    csv_number(&m.c, 0.1 + 0.2, -1); /* 15 significant digits: no ...0000004 */
    csv_number(&m.c, 24.94, 1);
    csv_number(&m.c, 150.25, 1);
    csv_number(&m.c, -0.04, 1); /* rounds to zero: no "-0" */
    csv_number(&m.c, 1e6, -1);
    csv_end_row(&m.c);
    DONE_IS(&m, "\xEF\xBB\xBF-3,-42,152,11.2,36.7,0.3,24.9,150.3,0,1000000\r\n");
}

static void write_error_is_kept(void **state)
{
    (void)state;
    char small[8];
    FILE *f = fmemopen(small, sizeof small, "w");
    assert_non_null(f);
    setvbuf(f, NULL, _IONBF, 0);
    struct csv c;
    csv_begin(&c, f);
    csv_text(&c, "more than eight bytes");
    csv_end_row(&c);
    assert_true(csv_error(&c));
    fclose(f);
}

static void kinds_fit(void **state)
{
    (void)state;
    /* export_csv.c keeps the latest reading of each kind in arrays of 8. */
    assert_true(obs_kinds_count <= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bom_and_crlf),
        cmocka_unit_test(quoting),
        cmocka_unit_test(empty_cells),
        cmocka_unit_test(formula_guard),
        cmocka_unit_test(numbers_stay_numbers),
        cmocka_unit_test(write_error_is_kept),
        cmocka_unit_test(kinds_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
