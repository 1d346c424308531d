/* jbuf.h - the first names of the JSON text writer. It is the common buffer's now
 * (common/sbuf.h: sbuf_json_str, sbuf_int, sbuf_lit), so that the project has one growable
 * buffer; these names remain for rides_jbuf_test, and new code calls sbuf_* directly. */
#ifndef RS_RIDES_JBUF_H
#define RS_RIDES_JBUF_H

#include "sbuf.h"

#define jbuf sbuf /* struct jbuf is struct sbuf: data, NUL-terminated, and len */
#define jbuf_init sbuf_init_cap
#define jbuf_free sbuf_deinit
#define jbuf_raw sbuf_append
#define jbuf_lit sbuf_lit
#define jbuf_str sbuf_json_str
#define jbuf_int sbuf_int

#endif
