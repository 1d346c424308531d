/* jsonx.h - small jansson helpers shared by every service. */
#ifndef RS_JSONX_H
#define RS_JSONX_H

#include <jansson.h>
#include <stddef.h>

/* Parses buf; NULL on error, with a one-sentence reason in err. */
json_t *jsonx_parse(const char *buf, size_t len, char *err, size_t errlen);
/* Compact encoding; the caller frees the string. */
char *jsonx_dump(const json_t *v);
/* obj[key] as a string: 0 ok, -1 missing, -2 wrong type. */
int jsonx_get_str(const json_t *obj, const char *key, const char **out);
/* obj[key] as an integer: 0 ok, -1 missing, -2 wrong type. */
int jsonx_get_int(const json_t *obj, const char *key, json_int_t *out);

/* A JSON array of the strings of a NULL-terminated list (NULL: empty). */
json_t *jsonx_str_array(const char *const *list);
/* {"k": "v", ...} from a NULL-terminated list of "k=v" strings (Docker's labels); an entry
 * without '=' gets an empty value. */
json_t *jsonx_kv_object(const char *const *list);

#endif
