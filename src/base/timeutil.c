/* Time helpers (see timeutil.h). */
#include "base/timeutil.h"
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int64_t offset;

int64_t now_unix(void) { return (int64_t)time(NULL) + atomic_load(&offset); }
void clock_set_offset(int64_t o) { atomic_store(&offset, o); }
int64_t clock_offset(void) { return atomic_load(&offset); }

void iso_utc(int64_t t, char out[21]) {
    time_t tt = (time_t)t; struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t iso_parse(const char *s) {
    int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return -1;
    const char *p = s + n;
    if (*p == 'T' || *p == ' ') {
        int k = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &k) != 3) return -1;
        p += 1 + k;
        if (*p == '.') { p++; while (*p >= '0' && *p <= '9') p++; }
    }
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    if (*p == 'Z' || *p == 0) return t;
    if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1) return -1;
        int64_t off = oh * 3600 + om * 60;
        return *p == '+' ? t - off : t + off;
    }
    return -1;
}

int unix_to_cn_days(int64_t t) {
    int64_t s = t + 8 * 3600;
    return (int)(s >= 0 ? s / 86400 : (s - 86399) / 86400);
}
