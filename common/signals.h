/* signals.h - the one way services wait for SIGTERM/SIGINT. */
#ifndef RS_SIGNALS_H
#define RS_SIGNALS_H

/* Blocks SIGTERM, SIGINT and SIGPIPE in the calling thread and every thread it starts
 * afterwards; call it first thing in main. */
void signals_block(void);
/* Sleeps until SIGTERM or SIGINT arrives; returns the signal number. */
int signals_wait(void);

#endif
