/*
 * tp_internal.h - what the bridge's C files share and Python never sees: the callbacks that
 * tp_queue.c gives the library and tp_api.c hands to it.
 */
#ifndef TP_INTERNAL_H
#define TP_INTERNAL_H

#include <stdint.h>

/*
 * The TIMCommCallback of every call made through a wrapper: queues a TP_KIND_CALL item whose
 * token is user_data (the wrapper's token), with copies of code, desc and json.  Runs on the
 * library's logic thread; takes the queue's mutex briefly and may write to the eventfd.
 */
void tp_on_complete(int32_t code, const char* desc, const char* json, const void* user_data);

/* The event callbacks (tp_set_event_callbacks): each queues an item of its kind with token 0
 * and a copy of the event's JSON ("" for the kick, which has none); user_data is ignored. */
void tp_on_self_info(const char* json, const void* user_data);
void tp_on_user_status(const char* json, const void* user_data);
void tp_on_user_info(const char* json, const void* user_data);
void tp_on_kicked_offline(const void* user_data);

#endif
