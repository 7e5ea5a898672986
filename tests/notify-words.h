/*
 * notify-words.h: the check the notifier's text tests share, that a text
 * people read holds no internal name (a snake_case key, a dotted event type,
 * a rule id such as IB4-OVERDUE).
 */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>

static inline bool words_only(const char *s)
{
        regex_t re;
        bool ok;
        regcomp(&re, "[a-z]_[a-z]|[a-z]\\.[a-z]|[A-Z0-9]+-[A-Z]{3,}", REG_EXTENDED | REG_NOSUB);
        ok = regexec(&re, s, 0, NULL, 0) != 0;
        regfree(&re);
        if (!ok)
                fprintf(stderr, "internal name in: %s\n", s);
        return ok;
}
