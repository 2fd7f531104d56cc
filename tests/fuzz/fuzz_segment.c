/*
 * fuzz_segment.c - libFuzzer target: zcstat reading a hostile segment.
 *
 * The input is a segment file image.  It goes through exactly what zcstat
 * does with a file it found: validation (segread_view_mem), then building and
 * printing both report formats and the Prometheus exposition.  zcstat.c is compiled into this target
 * with its main renamed, so the fuzzed code is the shipped code.
 * Run by `make fuzz` (bounded by FUZZ_SECONDS); seeds are made from real
 * segments at run time.
 */
#define main zcstat_main
#include "../../tools/zcstat/zcstat.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	/* An exact-size heap copy: any read past the image is an ASan error. */
	uint8_t *img = malloc(size ? size : 1);
	memcpy(img, data, size);
	struct segview v;
	char err[256];
	if (segread_view_mem(img, size, &v, err, sizeof(err)) == 0) {
		snprintf(v.path, sizeof(v.path), "/nonexistent/fuzz.zcs");
		struct seglist l = { &v, 1, 1 };
		report(devnull, &l, 0);
		report(devnull, &l, 1);
		struct zcprom_proc *p = prom_procs(&l);
		zcprom_write(devnull, p, l.n, NULL, 1);
		free(p);
	}
	free(img);
	return 0;
}
