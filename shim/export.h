/*
 * export.h - marks a definition as one of the library's exported hooks
 * (everything else is hidden: -fvisibility=hidden, libzcshim.map).
 */
#ifndef ZCSHIM_EXPORT_H
#define ZCSHIM_EXPORT_H

#define EXPORT __attribute__((visibility("default")))

#endif
