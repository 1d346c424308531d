/* validate.c - username and SHA-1 password checks of the users service. */
#include "validate.h"

#include <string.h>

const char *validate_username(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "username must not be empty";
    if (n > USERNAME_MAX)
        return "username must be at most 64 bytes long";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/')
            return "username must not contain '/'";
        if (c < 0x20 || c == 0x7f)
            return "username must not contain control characters";
        /* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F. */
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            return "username must not contain control characters";
    }
    return NULL;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int validate_password(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (i >= PASSWORD_LEN || !is_hex(s[i]))
            return 0;
    return i == PASSWORD_LEN;
}

void validate_password_lower(const char *s, char out[PASSWORD_LEN + 1])
{
    for (size_t i = 0; i < PASSWORD_LEN; i++)
        out[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
    out[PASSWORD_LEN] = '\0';
}
