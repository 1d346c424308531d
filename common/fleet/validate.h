/* validate.h - the checks on usernames and password hashes (API.md), shared by the users
 * service and the rides service (which refuses a join by a name no user can have). */
#ifndef RS_FLEET_VALIDATE_H
#define RS_FLEET_VALIDATE_H

#include <stddef.h>

#define USERNAME_MAX 64   /* bytes of UTF-8 */
#define PASSWORD_LEN 40   /* hex digits of a SHA-1 */

/* NULL when s is a valid username, else a sentence saying why not. Valid: 1..64 bytes,
 * no '/', no control character (C0 U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F). The
 * caller guarantees s is NUL-terminated UTF-8 (jansson only yields valid UTF-8). */
const char *validate_username(const char *s);

/* 1 when s is exactly 40 hex digits (either case), else 0. */
int validate_password(const char *s);

/* Copies a valid password lower-cased into out (41 bytes). */
void validate_password_lower(const char *s, char out[PASSWORD_LEN + 1]);

#endif
