/*
 * rt_signal: termination signals for services.
 *
 * main() calls rt_signal_block() before starting any thread, so SIGTERM,
 * SIGINT and SIGHUP are delivered only to the thread that waits for them
 * with rt_signal_wait(). SIGPIPE is ignored.
 */
#ifndef RT_SIGNAL_H
#define RT_SIGNAL_H

/* Blocks SIGTERM/SIGINT/SIGHUP in the calling thread (inherited by threads
 * created afterwards) and ignores SIGPIPE. Returns 0 on success. */
int rt_signal_block(void);

/* Waits for a termination signal; returns its number. */
int rt_signal_wait(void);

#endif
