/* The single translation unit that compiles stb_image (Debian libstb-dev).
 * Built with relaxed warnings (see CMakeLists.txt); only JPEG, PNG and BMP.
 * stb_image keeps its failure reason in a global unless
 * STBI_THREAD_LOCAL is available (C11 _Thread_local, which C17 has), so
 * decoding on several loader threads is safe. */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO_WRITE
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#include "image.h"

uint8_t *thaw_stb_load(const char *path, int *w, int *h, int *file_channels,
                       int want, const char **reason)
{
    uint8_t *p = stbi_load(path, w, h, file_channels, want);
    if (!p && reason)
        *reason = stbi_failure_reason();
    return p;
}

int thaw_stb_info(const char *path, int *w, int *h, int *file_channels,
                  const char **reason)
{
    int ok = stbi_info(path, w, h, file_channels);
    if (!ok && reason)
        *reason = stbi_failure_reason();
    return ok;
}

void thaw_stb_free(void *p) { stbi_image_free(p); }
