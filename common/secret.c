/* secret.c - a setting read from <NAME>_FILE or from <NAME> (secret.h). */
#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "xalloc.h"

#define SECRET_MAX 4096

/* The file's first SECRET_MAX bytes, trailing whitespace cut; NULL when unreadable. */
static char *read_secret(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = xcalloc(1, SECRET_MAX + 1);
    size_t n = fread(buf, 1, SECRET_MAX, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
        buf[--n] = '\0';
    return buf;
}

const char *secret_str(const char *name, const char *def)
{
    char *file_var = xasprintf("%s_FILE", name);
    const char *path = config_str(file_var, NULL);
    free(file_var);
    if (!path)
        return config_str(name, def);
    char *v = read_secret(path); /* kept for the process's lifetime, as getenv's strings are */
    if (!v) {
        log_error("config: %s_FILE=\"%s\" cannot be read", name, path);
        exit(2);
    }
    return *v ? v : def;
}

const char *secret_admin_token(void)
{
    const char *token = secret_str("ADMIN_TOKEN", "");
    if (!*token && config_long("ADMIN_TOKEN_REQUIRED", 0, 0, 1)) {
        log_error("config: ADMIN_TOKEN_REQUIRED=1 but neither ADMIN_TOKEN nor ADMIN_TOKEN_FILE gives a token");
        exit(2);
    }
    return token;
}
