/*
 * zone.h owns the Europe/Stockholm offset from the system's zoneinfo
 * ($TZDIR, default /usr/share/zoneinfo; see zone.c). The file is read once,
 * at the first call.
 */
#pragma once

#include <stdint.h>

/* Seconds east of UTC in Stockholm at the instant t (Unix seconds). */
int zone_offset_s(int64_t t);
/* NULL when the zone file was read; else why not (then tzdata's rule of today stands in). */
const char *zone_error(void);
/* The zone file read (or tried). */
const char *zone_path(void);
