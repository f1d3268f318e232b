/* Logging: one line per event on stderr, UTC time, level, request id.
 * Never pass passwords, tokens or full ID numbers here. */
#ifndef VETS_BASE_LOG_H
#define VETS_BASE_LOG_H
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
void log_set_level(enum log_level l);
void log_msg(enum log_level l, const char *rid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define log_info(rid, ...)  log_msg(LOG_INFO, rid, __VA_ARGS__)
#define log_warn(rid, ...)  log_msg(LOG_WARN, rid, __VA_ARGS__)
#define log_error(rid, ...) log_msg(LOG_ERROR, rid, __VA_ARGS__)
#endif
