/*
 * znl.c - rtnetlink and ethtool-netlink questions for zcstat doctor (see
 * znl.h).  Every request asks for an ACK, so one exchange ends at the
 * kernel's ACK or error and never waits for a message that is not coming.
 */
#define _GNU_SOURCE
#include "znl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Newer than Debian 12's headers (Linux 6.13): the attribute numbers are
 * ABI, so they are safe to name here. */
#define ZNL_RINGS_HDS_THRESH 17

/* ---- one exchange ---------------------------------------------------- */

/* Sends nlh on a new socket of proto and runs cb over every reply until
 * the ACK.  0 or -errno (the kernel's error for the request). */
static int talk(int proto, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct mnl_socket *nl = mnl_socket_open(proto);
	if (!nl)
		return -errno;
	int r = -EIO;
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!buf || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = buf ? -errno : -ENOMEM;
		goto out;
	}
	unsigned portid = mnl_socket_get_portid(nl), seq = (unsigned)time(NULL);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		int c = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (c < 0) {
			r = -errno;
			break;
		}
		if (c == MNL_CB_STOP) {
			r = 0;
			break;
		}
	}
out:
	free(buf);
	mnl_socket_close(nl);
	return r;
}

struct attrs {
	const struct nlattr **tb;
	unsigned max;
};

static int keep_attr(const struct nlattr *a, void *data)
{
	struct attrs *t = data;
	int type = mnl_attr_get_type(a);
	if (mnl_attr_type_valid(a, (uint16_t)t->max) > 0)
		t->tb[type] = a;
	return MNL_CB_OK;
}

static void parse_nested(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
	struct attrs t = { tb, max };
	mnl_attr_parse_nested(nest, keep_attr, &t);
}

static uint32_t u32_or(const struct nlattr *a, uint32_t dflt)
{
	return a && mnl_attr_validate(a, MNL_TYPE_U32) == 0 ? mnl_attr_get_u32(a) : dflt;
}

/* ---- rtnetlink: route and link --------------------------------------- */

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct znl_route *out = data;
	const struct nlattr *tb[RTA_MAX + 1] = { 0 }, *mx[RTAX_MAX + 1] = { 0 };
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct attrs t = { tb, RTA_MAX };
	mnl_attr_parse(nlh, sizeof(*rtm), keep_attr, &t);
	out->local = rtm->rtm_type == RTN_LOCAL;
	out->ifindex = (int)u32_or(tb[RTA_OIF], 0);
	out->has_gateway = tb[RTA_GATEWAY] != NULL;
	if (tb[RTA_METRICS]) {
		parse_nested(tb[RTA_METRICS], mx, RTAX_MAX);
		out->mtu = u32_or(mx[RTAX_MTU], 0);
		out->advmss = u32_or(mx[RTAX_ADVMSS], 0);
	}
	return MNL_CB_OK;
}

int znl_route_get(int family, const void *addr, struct znl_route *out)
{
	char buf[512];
	memset(out, 0, sizeof(*out));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	size_t alen = family == AF_INET6 ? 16 : 4;
	rtm->rtm_family = (unsigned char)family;
	rtm->rtm_dst_len = (unsigned char)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, addr);
	return talk(NETLINK_ROUTE, nlh, route_cb, out);
}

static void driver_of(const char *ifname, char *out, size_t cap)
{
	char path[PATH_MAX], target[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver", ifname);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	out[0] = 0;
	if (n > 0) {
		target[n] = 0;
		const char *base = strrchr(target, '/');
		snprintf(out, cap, "%.*s", (int)cap - 1, base ? base + 1 : target);
	}
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct znl_link *out = data;
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 }, *li[IFLA_INFO_MAX + 1] = { 0 };
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct attrs t = { tb, IFLA_MAX };
	mnl_attr_parse(nlh, sizeof(*ifm), keep_attr, &t);
	out->loopback = !!(ifm->ifi_flags & IFF_LOOPBACK);
	out->mtu = u32_or(tb[IFLA_MTU], 0);
	out->gso_max_size = u32_or(tb[IFLA_GSO_MAX_SIZE], 0);
	if (tb[IFLA_IFNAME] && mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_STRING) == 0)
		snprintf(out->name, sizeof(out->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_LINKINFO]) {
		parse_nested(tb[IFLA_LINKINFO], li, IFLA_INFO_MAX);
		if (li[IFLA_INFO_KIND] && mnl_attr_validate(li[IFLA_INFO_KIND], MNL_TYPE_STRING) == 0)
			snprintf(out->kind, sizeof(out->kind), "%s", mnl_attr_get_str(li[IFLA_INFO_KIND]));
	}
	return MNL_CB_OK;
}

int znl_link_get(int ifindex, struct znl_link *out)
{
	char buf[512];
	memset(out, 0, sizeof(*out));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	int r = talk(NETLINK_ROUTE, nlh, link_cb, out);
	if (!r)
		driver_of(out->name, out->driver, sizeof(out->driver));
	return r;
}

/* ---- ethtool netlink ------------------------------------------------- */

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { 0 };
	struct attrs t = { tb, CTRL_ATTR_MAX };
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), keep_attr, &t);
	if (tb[CTRL_ATTR_FAMILY_ID] && mnl_attr_validate(tb[CTRL_ATTR_FAMILY_ID], MNL_TYPE_U16) == 0)
		*(uint16_t *)data = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	return MNL_CB_OK;
}

static struct nlmsghdr *genl_put(char *buf, uint16_t type, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static int ethtool_family(uint16_t *id)
{
	char buf[256];
	struct nlmsghdr *nlh = genl_put(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, ETHTOOL_GENL_NAME);
	*id = 0;
	int r = talk(NETLINK_GENERIC, nlh, family_cb, id);
	return r ? r : *id ? 0 : -ENOENT;
}

static struct nlmsghdr *eth_request(char *buf, uint16_t family, uint8_t cmd, uint16_t header_attr,
				    const char *ifname)
{
	struct nlmsghdr *nlh = genl_put(buf, family, cmd, ETHTOOL_GENL_VERSION);
	struct nlattr *h = mnl_attr_nest_start(nlh, header_attr);
	mnl_attr_put_strz(nlh, ETHTOOL_A_HEADER_DEV_NAME, ifname);
	mnl_attr_nest_end(nlh, h);
	return nlh;
}

/* One bit of a verbose bitset listing only the bits that are set (the
 * kernel sends ETHTOOL_A_FEATURES_ACTIVE so): its name switches a fact. */
static void feature_bit(const struct nlattr *bit, struct znl_eth *out)
{
	const struct nlattr *tb[ETHTOOL_A_BITSET_BIT_MAX + 1] = { 0 };
	parse_nested(bit, tb, ETHTOOL_A_BITSET_BIT_MAX);
	if (!tb[ETHTOOL_A_BITSET_BIT_NAME] || mnl_attr_validate(tb[ETHTOOL_A_BITSET_BIT_NAME], MNL_TYPE_STRING))
		return;
	const char *n = mnl_attr_get_str(tb[ETHTOOL_A_BITSET_BIT_NAME]);
	int *f = !strcmp(n, "rx-gro") ? &out->gro : !strcmp(n, "rx-gro-hw") ? &out->gro_hw
		: !strcmp(n, "rx-lro") ? &out->lro : !strcmp(n, "tx-tcp-segmentation") ? &out->tso : NULL;
	if (f)
		*f = 1;
}

static int features_cb(const struct nlmsghdr *nlh, void *data)
{
	struct znl_eth *out = data;
	const struct nlattr *tb[ETHTOOL_A_FEATURES_MAX + 1] = { 0 }, *bs[ETHTOOL_A_BITSET_MAX + 1] = { 0 };
	struct attrs t = { tb, ETHTOOL_A_FEATURES_MAX };
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), keep_attr, &t);
	if (!tb[ETHTOOL_A_FEATURES_ACTIVE])
		return MNL_CB_OK;
	parse_nested(tb[ETHTOOL_A_FEATURES_ACTIVE], bs, ETHTOOL_A_BITSET_MAX);
	if (!bs[ETHTOOL_A_BITSET_BITS])
		return MNL_CB_OK;
	out->features_known = 1;
	out->gro = out->gro_hw = out->lro = out->tso = 0;
	const struct nlattr *bit;
	mnl_attr_for_each_nested(bit, bs[ETHTOOL_A_BITSET_BITS])
		if (mnl_attr_get_type(bit) == ETHTOOL_A_BITSET_BITS_BIT)
			feature_bit(bit, out);
	return MNL_CB_OK;
}

static int64_t opt_u32(const struct nlattr *a)
{
	return a && mnl_attr_validate(a, MNL_TYPE_U32) == 0 ? (int64_t)mnl_attr_get_u32(a) : -1;
}

static int rings_cb(const struct nlmsghdr *nlh, void *data)
{
	struct znl_eth *out = data;
	enum { MAX = ZNL_RINGS_HDS_THRESH };
	const struct nlattr *tb[MAX + 1] = { 0 };
	struct attrs t = { tb, MAX };
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), keep_attr, &t);
	out->rings_known = 1;
	out->rx = opt_u32(tb[ETHTOOL_A_RINGS_RX]);
	out->rx_max = opt_u32(tb[ETHTOOL_A_RINGS_RX_MAX]);
	out->rx_buf_len = opt_u32(tb[ETHTOOL_A_RINGS_RX_BUF_LEN]);
	out->hds_thresh = opt_u32(tb[ZNL_RINGS_HDS_THRESH]);
	const struct nlattr *ds = tb[ETHTOOL_A_RINGS_TCP_DATA_SPLIT];
	if (ds && mnl_attr_validate(ds, MNL_TYPE_U8) == 0) {
		uint8_t v = mnl_attr_get_u8(ds);	/* ETHTOOL_TCP_DATA_SPLIT_* */
		out->data_split = v == 2 ? 1 : v == 1 ? 0 : -1;
	}
	return MNL_CB_OK;
}

int znl_eth_get(const char *ifname, struct znl_eth *out)
{
	*out = (struct znl_eth){ .gro = -1, .gro_hw = -1, .lro = -1, .tso = -1, .data_split = -1,
				 .hds_thresh = -1, .rx_buf_len = -1, .rx = -1, .rx_max = -1 };
	uint16_t fam;
	int r = ethtool_family(&fam);
	if (r)
		return out->features_err = out->rings_err = r;
	char buf[512];
	out->features_err = talk(NETLINK_GENERIC, eth_request(buf, fam, ETHTOOL_MSG_FEATURES_GET,
							      ETHTOOL_A_FEATURES_HEADER, ifname), features_cb, out);
	out->rings_err = talk(NETLINK_GENERIC, eth_request(buf, fam, ETHTOOL_MSG_RINGS_GET,
							   ETHTOOL_A_RINGS_HEADER, ifname), rings_cb, out);
	return 0;
}
