/* Opens a weights file in any supported format by looking at its first
 * bytes: safetensors (u64 header length then '{'), a PyTorch zip checkpoint
 * ("PK\x03\x04") or a legacy PyTorch pickle stream (0x80). Callers get the
 * same SafeTensors handle either way. */
#ifndef THAW_WEIGHTS_H
#define THAW_WEIGHTS_H

#include "safetensors.h"

int weights_open(SafeTensors **out, const char *path, ThawError *err);

#endif
