#include "report_print.h"

#include <stdio.h>

void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);
        } else if (*p < 0x20) {
            printf("\\u%04x", *p);
        } else {
            putchar(*p);
        }
    }
    putchar('"');
}

void print_confusion_json(int k, const char *const *names, const int64_t *confusion)
{
    printf(",\"classes\":[");
    for (int a = 0; a < k; a++) {
        printf(a ? "," : "");
        print_json_string(names[a] ? names[a] : "");
    }
    printf("],\"confusion\":[");
    for (int a = 0; a < k; a++) {
        printf(a ? ",[" : "[");
        for (int b = 0; b < k; b++) {
            printf(b ? ",%lld" : "%lld", (long long)confusion[a * k + b]);
        }
        printf("]");
    }
    printf("]");
}

void print_confusion_table(const char *what, int k, const char *const *names,
                           const int64_t *confusion)
{
    printf("confusion matrix (%s; rows true, columns predicted):\n", what);
    for (int a = 0; a < k; a++) {
        printf("  %-14.14s", names[a] ? names[a] : "");
        for (int b = 0; b < k; b++) {
            printf(" %4lld", (long long)confusion[a * k + b]);
        }
        printf("\n");
    }
}

void print_eval_report(const char *ckpt, const char *split, const char *unit,
                       const char *const *names, const EvalResult *r, int json)
{
    int k = r->classes;
    if (json) {
        printf("{\"event\":\"eval\",\"checkpoint\":");
        print_json_string(ckpt);
        printf(",\"split\":\"%s\",\"count\":%lld,\"loss\":%.6f,\"accuracy\":%.6f", split,
               (long long)r->count, r->loss, r->accuracy);
        if (names) {
            print_confusion_json(k, names, r->confusion);
        }
        printf("}\n");
        return;
    }
    printf("%s: %s split, %lld %s: loss %.4f  accuracy %.4f\n", ckpt, split,
           (long long)r->count, unit, r->loss, r->accuracy);
    if (!names) {
        return;
    }
    printf("per-class accuracy:\n");
    for (int a = 0; a < k; a++) {
        int64_t row = 0;
        for (int b = 0; b < k; b++) {
            row += r->confusion[(size_t)a * k + b];
        }
        printf("  %-14.14s %.4f (%lld)\n", names[a] ? names[a] : "",
               row ? (double)r->confusion[(size_t)a * k + a] / (double)row : 0.0,
               (long long)row);
    }
    print_confusion_table(split, k, names, r->confusion);
}
