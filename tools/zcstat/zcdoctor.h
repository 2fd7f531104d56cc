/*
 * zcdoctor.h - zcstat doctor (zcdoctor.c), called by zcstat's main.
 */
#ifndef ZCSHIM_ZCDOCTOR_H
#define ZCSHIM_ZCDOCTOR_H

/* argv[0] is "doctor". */
int doctor_main(int argc, char **argv);

#endif
