/* The keys the help overlay lists (the app's key table should match). */
#ifndef THAW_VIEWS_HELP_VIEW_H
#define THAW_VIEWS_HELP_VIEW_H

typedef struct {
    const char *key;
    const char *what;
} WbHelpKey;

extern const WbHelpKey wb_help_keys[];
extern const int wb_help_key_count;

#endif
