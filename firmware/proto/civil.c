/* Calendar arithmetic for device clocks (pure). */
#include "fw_device.h"

#include <stdbool.h>
#include <stdio.h>

long long fw_civil_seconds(int year, int month, int day, int hour, int minute, int second)
{
    /* Days from 1970-01-01 in the proleptic Gregorian calendar (eras of 400 years). */
    long long y = year - (month <= 2);
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long long days = era * 146097 + doe - 719468;
    return days * 86400 + hour * 3600LL + minute * 60LL + second;
}

const char *fw_civil_check(int year, int month, int day, int hour, int minute, int second,
                           char *buf, size_t len)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12)
        snprintf(buf, len, "month %d", month);
    else if (day < 1 || day > (month == 2 && leap ? 29 : days[month - 1]))
        snprintf(buf, len, "day %d of month %d in %d", day, month, year);
    else if (hour < 0 || hour > 23)
        snprintf(buf, len, "hour %d", hour);
    else if (minute < 0 || minute > 59)
        snprintf(buf, len, "minute %d", minute);
    else if (second < 0 || second > 59)
        snprintf(buf, len, "second %d", second);
    else
        return NULL;
    return buf;
}
