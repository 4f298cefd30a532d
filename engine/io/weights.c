#include "weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pth.h"

int weights_open(SafeTensors **out, const char *path, ThawError *err)
{
    if (!out || !path) {
        return thaw_fail(err, THAW_ERR_ARG, "weights_open: NULL argument");
    }
    *out = NULL;
    uint8_t head[9] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    }
    ssize_t got = read(fd, head, sizeof head);
    close(fd);
    /* A safetensors header starts with '{' right after its length; its
     * length's low byte may be 0x80, so that test comes first. */
    if (got == (ssize_t)sizeof head && head[8] == '{') {
        return st_open(out, path, err);
    }
    if ((got >= 4 && memcmp(head, "PK\x03\x04", 4) == 0) ||
        (got >= 1 && head[0] == 0x80)) {
        return pth_open(out, path, err);
    }
    return st_open(out, path, err);   /* its errors explain the rest */
}
