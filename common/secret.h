/* secret.h - settings that may come from a file instead of the environment, as Docker
 * secrets are delivered (/run/secrets/<name>); docs/DEPLOY.md "Secrets". */
#ifndef RS_SECRET_H
#define RS_SECRET_H

/* <name>_FILE set: that file's content, trailing newlines and spaces cut (a file that
 * cannot be read logs and exits 2, as a bad setting does); else <name> (config_str); else
 * def. The string lives as long as the process. */
const char *secret_str(const char *name, const char *def);
/* ADMIN_TOKEN from ADMIN_TOKEN_FILE or ADMIN_TOKEN, "" when neither is set. With
 * ADMIN_TOKEN_REQUIRED=1 (the swarm stack) no token logs and exits 2. */
const char *secret_admin_token(void);

#endif
