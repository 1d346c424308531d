/* fuzz_timestamp.c - the ride time validators (rides/timestamp.c). Both forms must accept
 * exactly what they format: whatever parses formats back to the same 19 bytes, and the
 * parsed fields are a real date and time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../rides/timestamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s, int (*parse)(const char *, struct ride_time *),
                  void (*format)(const struct ride_time *, char *))
{
    struct ride_time t;
    char out[TS_LEN + 1];
    if (parse(s, &t) != 0)
        return;
    if (t.year < 1 || t.year > 9999 || t.month < 1 || t.month > 12 || t.day < 1 ||
        t.day > timestamp_days_in_month(t.year, t.month) || t.hour < 0 || t.hour > 23 || t.min < 0 ||
        t.min > 59 || t.sec < 0 || t.sec > 59)
        abort();
    format(&t, out);
    if (strcmp(out, s) != 0) /* accepted text is canonical: nothing else may parse */
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    check(s, timestamp_parse_api, timestamp_format_api);
    check(s, timestamp_parse_db, timestamp_format_db);
    char api[TS_LEN + 1];
    struct ride_time t;
    if (timestamp_db_to_api(s, api) == 0 && timestamp_parse_api(api, &t) != 0)
        abort();
    free(s);
    return 0;
}
