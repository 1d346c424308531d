/* jsonx.c - jansson helpers: parse with a readable reason, typed field access, lists. */
#include "jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

json_t *jsonx_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!v && err)
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
    return v;
}

char *jsonx_dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

int jsonx_get_str(const json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return -1;
    if (!json_is_string(v))
        return -2;
    *out = json_string_value(v);
    return 0;
}

int jsonx_get_int(const json_t *obj, const char *key, json_int_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return -1;
    if (!json_is_integer(v))
        return -2;
    *out = json_integer_value(v);
    return 0;
}

/* A JSON array of strings from a NULL-terminated list. */
json_t *jsonx_str_array(const char *const *list)
{
    json_t *a = json_array();
    for (; list && *list; list++)
        json_array_append_new(a, json_string(*list));
    return a;
}

/* {"k": "v", ...} from "k=v" strings; an entry without '=' gets an empty value. */
json_t *jsonx_kv_object(const char *const *list)
{
    json_t *o = json_object();
    for (; list && *list; list++) {
        const char *eq = strchr(*list, '=');
        char *key = eq ? xstrndup(*list, (size_t)(eq - *list)) : xstrdup(*list);
        json_object_set_new(o, key, json_string(eq ? eq + 1 : ""));
        free(key);
    }
    return o;
}
