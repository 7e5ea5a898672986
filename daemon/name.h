/*
 * name.h owns the one grammar of every name that becomes part of a topic, a
 * key-list identity, a path or a log field (protocol §6 "Names"): units,
 * caseworkers, user ids, actors and feed sources. The feed's codec
 * (event.c), the key list (config-keys.c), the configuration's sources
 * (config.c) and the API's topics (acl.c) all ask name_ok(), so a name one
 * of them takes is a name every other one takes. A leaf: no dependencies.
 */
#pragma once

#include <stdbool.h>

#define NAME_CHARS_MAX 64
#define NAME_GRAMMAR "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"

/* Whether s matches NAME_GRAMMAR: nothing else (no '/', no '@', no space, nothing beyond ASCII). */
bool name_ok(const char *s);
