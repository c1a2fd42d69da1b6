/* Calendar arithmetic for device clocks (pure). */
#include "fw_device.h"

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
