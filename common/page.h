/*
 * page.h - the page size TCP zero-copy receive maps by, one home for the
 * library and the tools.  4 KiB: the kernels this runs on (x86-64, and
 * arm64 with 4 KiB pages); the kernel maps only whole pages of it.
 */
#ifndef ZCSHIM_PAGE_H
#define ZCSHIM_PAGE_H

#define PAGE 4096u

#endif
