/*
 * hot.h - the globals every connection touches, gathered in a few cache
 * lines.
 *
 * Between two system calls the kernel's work (a handshake, the data
 * copied through the cache) evicts the shim's lines, and each one touched
 * again costs a miss, each page more (docs/benchmarks.md, run M: 64 extra
 * lines a 1 MiB connection cost 0.7% on one page, 2.7% on 64 pages).
 * Left to the compiler, the connection path's dozen small globals lay on
 * eleven lines over three pages of .data and .bss; marked here they share
 * three lines of one section (bench/conn-lines.py counts them).
 *
 * HOT: read by every hook, written rarely (start-up, configuration).
 * HOT_CONN: written about once a connection (counts, the last slot).
 * Kept apart so that a thread opening connections does not take the line
 * every other thread's hooks read.  A variable written on every read
 * belongs in neither.  Small scalars and pointers only: a cold or large
 * variable here costs every connection a line.
 */
#ifndef ZCSHIM_HOT_H
#define ZCSHIM_HOT_H

#define HOT __attribute__((section(".data.zcshim_hot")))
#define HOT_CONN __attribute__((section(".data.zcshim_conn")))

#endif
