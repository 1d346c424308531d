/* timestamp.h - ride times: the API form "DD-MM-YYYY:SS-MM-HH" and the stored form
 * "YYYY-MM-DD HH:MM:SS" (UTC; sorts as time), both strictly validated. */
#ifndef RS_RIDES_TIMESTAMP_H
#define RS_RIDES_TIMESTAMP_H

#include <time.h>

#define TS_LEN 19 /* both forms are 19 characters */

struct ride_time {
    int year;  /* 1..9999 */
    int month; /* 1..12 */
    int day;   /* 1..days in the month (leap years per the Gregorian calendar) */
    int hour;  /* 0..23 */
    int min;   /* 0..59 */
    int sec;   /* 0..59 (no leap seconds) */
};

/* "DD-MM-YYYY:SS-MM-HH": every field zero-padded to its width, nothing before or after.
 * 0 ok, -1 malformed or not a real date and time. */
int timestamp_parse_api(const char *s, struct ride_time *t);
/* "YYYY-MM-DD HH:MM:SS", same rules. */
int timestamp_parse_db(const char *s, struct ride_time *t);

void timestamp_format_api(const struct ride_time *t, char out[TS_LEN + 1]);
void timestamp_format_db(const struct ride_time *t, char out[TS_LEN + 1]);

/* The API form of a stored-form string; 0 ok, -1 if db is malformed. */
int timestamp_db_to_api(const char *db, char out[TS_LEN + 1]);

/* The stored form of the UTC time when (pass time(NULL) for now). */
void timestamp_db_of(time_t when, char out[TS_LEN + 1]);

int timestamp_is_leap(int year);
int timestamp_days_in_month(int year, int month);

#endif
