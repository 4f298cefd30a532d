/* thaw predict --arch A --weights W --image P [--image P2 | P2 ...]
 *              [--top K] [--size S]
 * thaw predict CKPT --text "..." [--file F|-] [--top K] [--json]
 *   (a text checkpoint: cmd_predict_text.h)
 * Eval-mode classification of photos: per image, the file name, then K lines
 * "  0.8123  tabby" (softmax probability, class name). Class names come from
 * $THAW_ASSETS/imagenet_classes.txt, else the source tree's assets/ (compiled
 * in as THAW_ASSETS_DIR), when the head has 1000 classes; otherwise "class N".
 *
 * Preprocessing, as the checkpoints were trained and as the goldens do it:
 *  - efficientnet_lite*: the TF EfficientNet-Lite eval pipeline as
 *    tests/golden/gen_efficientnet.py writes it with Pillow: shorter side to
 *    round(S / 0.875) (bicubic, Pillow's antialiased resampling, reproduced
 *    here bit for bit), centre crop S (offset floor((w - S) / 2)), then
 *    (x - 127) / 128. S defaults to 224 / 240 / 260 for lite0 / 1 / 2.
 *  - resnet*: torchvision's ImageNet eval transform: Resize(round(S / 0.875))
 *    (256 for S = 224), CenterCrop(S), ImageNet mean/std (engine/data/
 *    transforms). S defaults to 224.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_error.h"
#include "cmd_predict_text.h"
#include "pil_resize.h"
#include "commands.h"
#include "engine/data/image.h"
#include "engine/data/transforms.h"
#include "engine/io/weights.h"
#include "engine/models/model.h"
#include "engine/run/text_checkpoint_model.h"

#ifndef THAW_ASSETS_DIR
#define THAW_ASSETS_DIR "assets"
#endif

#define PREDICT_USAGE "thaw predict --arch {%s} --weights W.pth|W.safetensors " \
                      "--image P [--image P2 | P2 ...] [--top K] [--size S]; " \
                      "thaw predict TEXT_CKPT --text T [--text T2] [--file F|-] [--top K] [--json]"
#define CLASS_FILE "imagenet_classes.txt"
#define IMAGENET_CLASSES 1000

static void print_error_line(const char *msg)
{
    cli_error_line("predict", msg);
}

static const char *predict_usage(void)
{
    static char usage[768];
    snprintf(usage, sizeof usage, PREDICT_USAGE, model_arch_list());
    return usage;
}

static int usage_error(const char *msg, const char *what)
{
    return cli_usage_error("predict", predict_usage(), msg, what);
}

static int is_lite(const ArchInfo *arch)
{
    return strncmp(arch->name, "efficientnet_lite", 17) == 0;
}

static int native_size(const ArchInfo *arch)
{
    static const int lite[] = {224, 240, 260};
    if (is_lite(arch) && arch->depth >= 0 && arch->depth <= 2) {
        return lite[arch->depth];
    }
    return 224;
}

/* EfficientNet-Lite eval preprocessing (see the top of this file). */
static int preprocess_lite(const ThawImage *img, int size, float *dst,
                           ThawError *err)
{
    ThawImage rgb = {0}, resized = {0};
    const ThawImage *src = img;
    int rc = 0;
    if (img->c == 1) {
        rc = thaw_grey_to_rgb(img, &rgb, err);
        src = &rgb;
    }
    int short_side = img->w < img->h ? img->w : img->h;
    double scale = nearbyint(size / 0.875) / short_side;
    double rw = nearbyint(img->w * scale), rh = nearbyint(img->h * scale);
    if (rc == 0 && (rw < size || rh < size || rw > INT_MAX / 8 || rh > INT_MAX / 8)) {
        rc = thaw_fail(err, THAW_ERR_ARG, "cannot resize %dx%d for a %d crop",
                       img->w, img->h, size);
    }
    if (rc == 0) {
        rc = pil_resize_bicubic(src, (int)rh, (int)rw, &resized, err);
    }
    if (rc == 0) {
        int left = (resized.w - size) / 2, top = (resized.h - size) / 2;
        size_t plane = (size_t)size * size;
        for (int y = 0; y < size; y++) {
            const uint8_t *row = resized.px + ((size_t)(y + top) * resized.w + left) * 3;
            for (int x = 0; x < size; x++) {
                for (int ch = 0; ch < 3; ch++) {
                    dst[ch * plane + (size_t)y * size + x] =
                        ((float)row[x * 3 + ch] - 127.0f) / 128.0f;
                }
            }
        }
    }
    thaw_image_free(&resized);
    thaw_image_free(&rgb);
    return rc;
}

static int preprocess(const ArchInfo *arch, const char *path, int size,
                      float *dst, ThawError *err)
{
    ThawImage img = {0};
    int rc = thaw_image_load(path, &img, err);
    if (rc != 0) {
        return rc;
    }
    if (is_lite(arch)) {
        rc = preprocess_lite(&img, size, dst, err);
    } else {
        ThawTransform t = thaw_transform_eval((int)nearbyint(size / 0.875), size);
        rc = thaw_transform_apply(&t, &img, 0, dst, err);
    }
    thaw_image_free(&img);
    if (rc != 0 && !strstr(err->msg, path)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        thaw_fail(err, rc, "%s: %s", path, msg);
    }
    return rc;
}

/* Reads exactly `n` non-empty lines into names[] (one malloc'd block). */
static int load_class_names(char ***names_out, int n, ThawError *err)
{
    const char *dir = getenv("THAW_ASSETS");
    char path[4096];
    snprintf(path, sizeof path, "%s/" CLASS_FILE,
             dir && *dir ? dir : THAW_ASSETS_DIR);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "cannot read class names %s "
                         "(set THAW_ASSETS to the folder holding " CLASS_FILE ")",
                         path);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return thaw_fail(err, THAW_ERR_NOMEM, "out of memory reading %s", path);
            }
            buf = nb;
        }
        memcpy(buf + len, chunk, got);
        len += got;
    }
    fclose(f);
    char **names = malloc((size_t)n * sizeof(char *));
    if (!names) {
        free(buf);
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory reading %s", path);
    }
    int count = 0;
    char *p = buf;
    while (p && p < buf + len) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        char *end = nl ? nl : buf + len;
        if (end > p && end[-1] == '\r') {
            end--;
        }
        *end = '\0';
        if (count < n) {
            names[count] = p;
        }
        count++;
        p = nl ? nl + 1 : NULL;
    }
    if (count != n) {
        free(names);
        free(buf);
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: %d class names, expected %d",
                         path, count, n);
    }
    *names_out = names; /* names[0] is the start of buf */
    return 0;
}

static int print_top(const float *logits, int classes, int top, char **names,
                     ThawError *err)
{
    double mx = logits[0], sum = 0.0;
    for (int i = 1; i < classes; i++) {
        mx = logits[i] > mx ? logits[i] : mx;
    }
    for (int i = 0; i < classes; i++) {
        sum += exp(logits[i] - mx);
    }
    /* Selection of the top K: highest probability, lower index on ties. */
    unsigned char *used = calloc((size_t)classes, 1);
    if (!used) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory");
    }
    for (int j = 0; j < top; j++) {
        int best = -1;
        for (int i = 0; i < classes; i++) {
            if (!used[i] && (best < 0 || logits[i] > logits[best])) {
                best = i;
            }
        }
        used[best] = 1;
        double prob = exp(logits[best] - mx) / sum;
        if (names) {
            printf("  %.4f  %s\n", prob, names[best]);
        } else {
            printf("  %.4f  class %d\n", prob, best);
        }
    }
    free(used);
    return 0;
}

static int run(const char *arch_name, const char *weights, char **images,
               int n_images, int top, int size, ThawError *err)
{
    const ArchInfo *arch = model_find_arch(arch_name);
    if (!arch) {
        return thaw_fail(err, THAW_ERR_ARG, "unknown --arch '%s' (known: %s)",
                         arch_name, model_arch_list());
    }
    if (size == 0) {
        size = native_size(arch);
    } else if (size < arch->min_input) {
        return thaw_fail(err, THAW_ERR_ARG, "--size %d is below %s's minimum %d",
                         size, arch->name, arch->min_input);
    }
    if (checkpoint_task(weights) == CHECKPOINT_TEXT) {
        return thaw_fail(err, THAW_ERR_ARG, "%s: a text classification checkpoint, not image "
                         "weights (classify texts with: thaw predict %s --text ...)", weights,
                         weights);
    }
    int classes = 0;
    SafeTensors *st = NULL;
    int rc = weights_open(&st, weights, err);
    if (rc == 0) {
        rc = model_classes_in_file(st, arch, &classes, err);
        st_close(st);
    }
    if (rc != 0) {
        return rc;
    }
    char **names = NULL;
    if (classes == IMAGENET_CLASSES) {
        rc = load_class_names(&names, classes, err);
        if (rc != 0) {
            return rc;
        }
    }
    size_t per = (size_t)3 * size * size;
    float *x = malloc(per * (size_t)n_images * sizeof(float));
    if (!x) {
        rc = thaw_fail(err, THAW_ERR_NOMEM, "out of memory for %d images", n_images);
    }
    /* Decode everything first: a bad image fails before any output. */
    for (int i = 0; rc == 0 && i < n_images; i++) {
        rc = preprocess(arch, images[i], size, x + per * (size_t)i, err);
    }
    Model model;
    int have_model = 0;
    if (rc == 0) {
        rc = model_create(&model, arch_name, classes, 0, err);
        have_model = rc == 0;
    }
    if (rc == 0) {
        rc = model_load_safetensors(&model, weights, err);
    }
    GraphMode mode = {0};
    if (rc == 0) {
        rc = model_plan(&model, 1, size, size, &mode, err);
    }
    for (int i = 0; rc == 0 && i < n_images; i++) {
        model_forward(&model, x + per * (size_t)i);
        printf("%s\n", images[i]);
        rc = print_top(model_logits(&model), classes,
                       top < classes ? top : classes, names, err);
    }
    if (have_model) {
        model_free(&model);
    }
    free(x);
    if (names) {
        free(names[0]);
        free(names);
    }
    return rc;
}

/* A positive integer option value, or -1. */
static int parse_count(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v > 0 && v <= 4096 ? (int)v : -1;
}

int cmd_predict(int argc, char **argv)
{
    static const struct option options[] = {
        {"arch", required_argument, NULL, 'a'},
        {"weights", required_argument, NULL, 'w'},
        {"image", required_argument, NULL, 'i'},
        {"top", required_argument, NULL, 'k'},
        {"size", required_argument, NULL, 's'},
        {"text", required_argument, NULL, 't'},
        {"file", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *arch = NULL, *weights = NULL, *file = NULL;
    int top = 5, size = 0, json = 0, image_opts = 0;
    char **images = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(char *));
    char **texts = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(char *));
    int n_images = 0, n_texts = 0;
    if (!images || !texts) {
        free(images);
        free(texts);
        print_error_line("out of memory");
        return 1;
    }
    int c, rc = -1;
    opterr = 0;
    optind = 1;
    while (rc < 0 && (c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (c) {
        case 'a': arch = optarg; break;
        case 'w': weights = optarg; break;
        case 'i': images[n_images++] = optarg; image_opts++; break;
        case 't': texts[n_texts++] = optarg; break;
        case 'f': file = optarg; break;
        case 'j': json = 1; break;
        case 'k':
            top = parse_count(optarg);
            if (top < 0) {
                rc = usage_error("--top needs a count from 1 to 4096, got", optarg);
            }
            break;
        case 's':
            size = parse_count(optarg);
            if (size < 0) {
                rc = usage_error("--size needs a size from 1 to 4096, got", optarg);
            }
            break;
        case 'h':
            printf("usage: " PREDICT_USAGE "\n", model_arch_list());
            rc = 0;
            break;
        default:
            rc = cli_option_error("predict", predict_usage(), c, argv);
        }
    }
    if (rc < 0) {
        /* Operands after the options are more images. */
        while (optind < argc) {
            images[n_images++] = argv[optind++];
        }
        int text_mode = n_texts > 0 || file;
        if (!text_mode && !arch && !weights && n_images > 0 &&
            checkpoint_task(images[0]) == CHECKPOINT_TEXT) {
            rc = usage_error("give --text or --file to classify texts with the text "
                             "classification checkpoint", images[0]);
        } else if (text_mode && (arch || weights || image_opts || size)) {
            rc = usage_error("--text and --file take a text checkpoint and no --arch, --weights, "
                             "--image or --size", NULL);
        } else if (text_mode && n_images != 1) {
            rc = usage_error(n_images ? "one text checkpoint, not also" : "a text checkpoint "
                             "is required", n_images ? images[1] : NULL);
        } else if (text_mode) {
            rc = predict_text(images[0], texts, n_texts, file, top, json);
        } else if (json) {
            rc = usage_error("--json is for text checkpoints", NULL);
        }
    }
    if (rc < 0) {
        if (!arch || !weights || n_images == 0) {
            rc = usage_error("--arch, --weights and at least one --image are required",
                             NULL);
        }
    }
    if (rc < 0) {
        ThawError err = {0};
        rc = run(arch, weights, images, n_images, top, size, &err);
        if (rc != 0) {
            print_error_line(err.msg);
            rc = rc == THAW_ERR_NOMEM ? 1 : 2;
        }
    }
    free(images);
    free(texts);
    return rc;
}
