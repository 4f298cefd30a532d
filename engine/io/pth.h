/* PyTorch checkpoints (torch.save of a state_dict) read natively: both the
 * legacy stream format (magic, protocol and sys_info pickles, the object
 * pickle, the storage-key list, then each storage as an int64 element count
 * and raw bytes) and the zip format of torch >= 1.6 (<name>/data.pkl and
 * <name>/data/<key>, stored uncompressed). A small pickle machine accepts
 * only what a state_dict needs: collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 and torch.{Float,Half,BFloat16,Double,
 * Long,Int,Short,Char,Bool,Byte}Storage. Views (storage offset, strides)
 * are copied out contiguously; the result is an in-memory safetensors image
 * opened with the ordinary reader, so callers see a SafeTensors handle whose
 * tensor order is the state_dict's. Every malformed input gives one error
 * line naming the file (and key) with THAW_ERR_FORMAT. */
#ifndef THAW_PTH_H
#define THAW_PTH_H

#include <stddef.h>

#include "safetensors.h"

int pth_open(SafeTensors **out, const char *path, ThawError *err);

/* The same conversion from a file image in memory (buf is only read and
 * may be freed after the call); name is what error messages call the file. */
int pth_open_memory(SafeTensors **out, const void *buf, size_t len,
                    const char *name, ThawError *err);

#endif
