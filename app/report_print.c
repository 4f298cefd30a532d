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
