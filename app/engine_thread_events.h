/* The engine thread's translation of engine structs into bus events: a
 * TrainEvent (borrowed strings and arrays, valid only during the callback)
 * becomes a BusEvent owning copies; a TrainSnapshot becomes a BusSnapshot.
 * Private to engine_thread.c. */
#ifndef THAW_APP_ENGINE_THREAD_EVENTS_H
#define THAW_APP_ENGINE_THREAD_EVENTS_H

#include "app/bus.h"
#include "engine/run/train_control.h"
#include "engine/run/train_job.h"

/* Posts a copy of ev (out of memory: the copy is dropped, counted by the bus). */
void engine_thread_post_train_event(Bus *bus, const TrainEvent *ev);

/* Takes a snapshot of the job and posts it; returns the snapshot's epoch,
 * or -1 (with err) when the job could not give one. */
int engine_thread_post_snapshot(Bus *bus, TrainCtl *ctl, ThawError *err);

#endif
