/* The reference ticket of the printing goals (tests and benchmarks): queue number, a
 * 30-character Vietnamese name, a station, the QR of a 12-character code. */
#pragma once

#include "../app/print/layout.h"

static const struct ticket reference_ticket = {
    .queue_number = 17,
    .code = "K7Q2MX4P9RTS",
    .name = "Nguyễn Thị Hương Giang Lan Anh",
    .station = "Khám nội",
    .campaign = "DEMO-TAVAN",
    .when = "22/11/2026 08:20",
};
