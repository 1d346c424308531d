/* fuzz_validate.c - the users service's username and SHA-1 checks (common/validate.c),
 * on raw bytes and on what jansson yields (valid UTF-8 only), each checked against the
 * rules of validate.h written out independently. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* validate.h's rules, restated: 1..64 bytes, no '/', no C0, DEL or C1 (C2 80..C2 9F). */
static int username_ok(const unsigned char *s, size_t n)
{
    if (n == 0 || n > USERNAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/' || s[i] < 0x20 || s[i] == 0x7f)
            return 0;
        if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            return 0;
    }
    return 1;
}

static int hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void check(const char *s)
{
    size_t n = strlen(s);
    if ((validate_username(s) == NULL) != username_ok((const unsigned char *)s, n))
        abort();
    int ok = n == PASSWORD_LEN;
    for (size_t i = 0; ok && i < n; i++)
        ok = hex((unsigned char)s[i]);
    if (validate_password(s) != ok)
        abort();
    if (ok) {
        char low[PASSWORD_LEN + 1];
        validate_password_lower(s, low);
        if (strlen(low) != PASSWORD_LEN || strcasecmp(low, s) != 0 || strpbrk(low, "ABCDEF"))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    check(s);
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (json_is_string(v))
        check(json_string_value(v));
    json_decref(v);
    free(s);
    return 0;
}
