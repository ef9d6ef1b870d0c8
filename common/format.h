/*
 * format.h: how jmstatd and jmctl write bytes for people, one rule for both
 * (alert messages and logs, jmctl's tables): binary units with three
 * significant digits, "512 B", "1.50 KiB", "12.3 MiB", "104 GiB"; under
 * 1024 bytes, whole bytes ("1023 B"). A value that would round to 1000 or
 * more of a unit is written in the next one ("1.00 MiB", never "1024 KiB").
 */
#ifndef JM_FORMAT_H
#define JM_FORMAT_H

#include <stddef.h>

/* bytes into buf ("12.3 MiB"); a negative or non-finite value is 0 B. */
const char *jm_fmt_bytes(char *buf, size_t size, double bytes);

/* v (>= 0) with three significant digits, then unit: "1.23k", "12.3 MiB". */
const char *jm_fmt_three_digits(char *buf, size_t size, double v, const char *unit);

#endif
