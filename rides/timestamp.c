/* timestamp.c - strict parsing and formatting of ride times. No sscanf: it would accept
 * signs, blanks and short fields, which the contract rejects. */
#include "timestamp.h"

#include <string.h>

int timestamp_is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int timestamp_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return month == 2 && timestamp_is_leap(year) ? 29 : days[month - 1];
}

/* Reads exactly n decimal digits at s; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int valid(const struct ride_time *t)
{
    return t->year >= 1 && t->year <= 9999 && t->month >= 1 && t->month <= 12 && t->day >= 1 &&
           t->day <= timestamp_days_in_month(t->year, t->month) && t->hour >= 0 && t->hour <= 23 &&
           t->min >= 0 && t->min <= 59 && t->sec >= 0 && t->sec <= 59;
}

/* A field layout: where each of the six numbers sits and the separators between them. */
struct layout {
    int off[6], width[6]; /* year, month, day, hour, min, sec */
    const char *seps;     /* the exact non-digit positions, as "pos:char" pairs */
};

static int parse(const char *s, const struct layout *l, struct ride_time *t)
{
    if (strlen(s) != TS_LEN)
        return -1;
    for (const char *p = l->seps; *p; p += 2)
        if (s[(int)(p[0] - 'a')] != p[1])
            return -1;
    int v[6];
    for (int i = 0; i < 6; i++)
        if ((v[i] = digits(s + l->off[i], l->width[i])) < 0)
            return -1;
    *t = (struct ride_time){v[0], v[1], v[2], v[3], v[4], v[5]};
    return valid(t) ? 0 : -1;
}

/* Separator positions are encoded as 'a' + index. */
static const struct layout api_layout = {
    /* DD-MM-YYYY:SS-MM-HH  (0..18) */
    {6, 3, 0, 17, 14, 11}, {4, 2, 2, 2, 2, 2}, "c-f-k:n-q-",
};
static const struct layout db_layout = {
    /* YYYY-MM-DD HH:MM:SS */
    {0, 5, 8, 11, 14, 17}, {4, 2, 2, 2, 2, 2}, "e-h-k n:q:",
};

int timestamp_parse_api(const char *s, struct ride_time *t)
{
    return parse(s, &api_layout, t);
}

int timestamp_parse_db(const char *s, struct ride_time *t)
{
    return parse(s, &db_layout, t);
}

/* Writes v as exactly width digits (v is in range for a valid time). */
static void put(char *p, int v, int width)
{
    unsigned u = v < 0 ? 0u : (unsigned)v;
    for (int i = width - 1; i >= 0; i--, u /= 10)
        p[i] = (char)('0' + u % 10);
}

static void format(const struct ride_time *t, const struct layout *l, char out[TS_LEN + 1])
{
    int v[6] = {t->year, t->month, t->day, t->hour, t->min, t->sec};
    for (const char *p = l->seps; *p; p += 2)
        out[(int)(p[0] - 'a')] = p[1];
    for (int i = 0; i < 6; i++)
        put(out + l->off[i], v[i], l->width[i]);
    out[TS_LEN] = '\0';
}

void timestamp_format_api(const struct ride_time *t, char out[TS_LEN + 1])
{
    format(t, &api_layout, out);
}

void timestamp_format_db(const struct ride_time *t, char out[TS_LEN + 1])
{
    format(t, &db_layout, out);
}

int timestamp_db_to_api(const char *db, char out[TS_LEN + 1])
{
    struct ride_time t;
    if (timestamp_parse_db(db, &t) != 0)
        return -1;
    timestamp_format_api(&t, out);
    return 0;
}

void timestamp_db_of(time_t when, char out[TS_LEN + 1])
{
    struct tm tm;
    gmtime_r(&when, &tm);
    struct ride_time t = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                          tm.tm_sec > 59 ? 59 : tm.tm_sec};
    timestamp_format_db(&t, out);
}
