/* config.h - settings from environment variables, with documented defaults. */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

/* The variable's value, or def when unset or empty. Never NULL unless def is. */
const char *config_str(const char *name, const char *def);
/* An integer in [min, max]; an unparsable or out-of-range value logs and exits(2). */
long config_long(const char *name, long def, long min, long max);

#endif
