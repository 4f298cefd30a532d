/* placeholder so the views library has a source until the first view lands */
typedef int thaw_views_placeholder;
