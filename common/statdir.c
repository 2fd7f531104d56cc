/*
 * statdir.c - see statdir.h.
 */
#include "statdir.h"
#include "zfmt.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

int statdir_default(char *buf, size_t cap, const char *xdg, unsigned uid)
{
	struct stat st;
	size_t n;
	if (!stat("/dev/shm", &st) && S_ISDIR(st.st_mode))
		n = zfmtf(buf, cap, "/dev/shm/zcshim-%u", uid);
	else if (xdg && xdg[0] == '/')
		n = zfmtf(buf, cap, "%s/zcshim", xdg);
	else
		return -ENOENT;
	return n + 1 >= cap ? -ENAMETOOLONG : (int)n;
}

int statdir_find(char *buf, size_t cap, const char *override, const char *xdg)
{
	if (override && *override) {
		size_t n = zfmtf(buf, cap, "%s", override);
		return n + 1 >= cap ? -ENAMETOOLONG : (int)n;
	}
	return statdir_default(buf, cap, xdg, (unsigned)geteuid());
}

int statdir_check(const char *dir, unsigned uid, int create)
{
	struct stat st;
	if (create && mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != uid || (st.st_mode & 0777) != 0700)
		return -EPERM;
	return 0;
}

