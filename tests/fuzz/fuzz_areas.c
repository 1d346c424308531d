/* fuzz_areas.c - the area parser (rides/areas.c): as a string (path and query values)
 * and as a JSON body value. What is accepted is a known area, written canonically. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../rides/areas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), canon[16];
    memcpy(s, data, size);
    s[size] = '\0';
    int n = -1;
    if (area_from_str(s, &n) == 0) {
        snprintf(canon, sizeof canon, "%d", n);
        if (n < AREA_MIN || n > AREA_MAX || !area_name(n) || strcmp(canon, s) != 0)
            abort();
    }
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (v) {
        n = -1;
        if (area_from_json(v, &n) == 0 && (n < AREA_MIN || n > AREA_MAX || !area_name(n) ||
                                           !(json_is_integer(v) || json_is_string(v))))
            abort();
        json_decref(v);
    }
    free(s);
    return 0;
}
