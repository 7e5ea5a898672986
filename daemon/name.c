/*
 * name.c owns the name grammar of name.h. It is deliberately ASCII and
 * short: a name is cut into topics ("rem/<unit>/<caseworker>/") where a '/'
 * would reach another person's topic, and into log fields and paths where
 * anything beyond these characters would need quoting.
 */
#include "name.h"

static bool name_char(char ch, bool first)
{
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
                return true;
        return !first && (ch == '.' || ch == '_' || ch == '-');
}

bool name_ok(const char *s)
{
        int n = 0;

        if (!s)
                return false;
        for (; s[n]; n++)
                if (n >= NAME_CHARS_MAX || !name_char(s[n], n == 0))
                        return false;
        return n > 0;
}
