/* page.h - the dashboard page (orchestrator/dashboard.html), embedded in the binary at
 * build time, so that it needs no file, no CDN and no download at run time. */
#ifndef RS_PAGE_H
#define RS_PAGE_H

#include <stddef.h>

/* The page's bytes (NUL-terminated) and their length. */
const char *page_dashboard(size_t *len);

#endif
