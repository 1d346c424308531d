/* areas.h - the numbered localities a ride goes from and to (API.md: areas 1..198). */
#ifndef RS_RIDES_AREAS_H
#define RS_RIDES_AREAS_H

#include <jansson.h>

#define AREA_MIN 1
#define AREA_MAX 198

/* The locality's name, or NULL when n is not an area number. */
const char *area_name(int n);

/* An area number sent as a decimal string: 1 to 3 ASCII digits, no sign, no blanks, no
 * leading zero ("12" ok; "012", "+12", " 12", "12.0" rejected). 0 ok, -1 invalid. */
int area_from_str(const char *s, int *out);

/* An area number in a JSON body: an integer, or a string as in area_from_str. Reals
 * (12.0), booleans and null are rejected. 0 ok, -1 invalid. */
int area_from_json(const json_t *v, int *out);

#endif
