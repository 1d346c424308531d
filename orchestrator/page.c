/* page.c - the assembler copies dashboard.html into .rodata (.incbin, path relative to the
 * repository root, where make runs), followed by a NUL; the Makefile makes this object
 * depend on the page. */
#include "page.h"

#include <string.h>

__asm__(".section .rodata\n"
        ".global rs_page_dashboard\n"
        ".type rs_page_dashboard, @object\n"
        "rs_page_dashboard:\n"
        ".incbin \"orchestrator/dashboard.html\"\n"
        ".byte 0\n"
        ".previous\n");

extern const char rs_page_dashboard[];

const char *page_dashboard(size_t *len)
{
    *len = strlen(rs_page_dashboard);
    return rs_page_dashboard;
}
