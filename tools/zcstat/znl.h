/*
 * znl.h - the network facts zcstat doctor needs, read over netlink.
 *
 * rtnetlink answers which interface and route reach a peer and that
 * interface's MTU, GSO size and kind; ethtool's generic-netlink family
 * answers what a NIC does with received data (header/data split, GRO,
 * LRO, rings).  Built on libmnl (the library ethtool, nftables and
 * conntrack-tools use): it builds messages, checks sequence numbers and
 * port ids, walks and validates attributes, so this file holds only the
 * questions.  Every function returns 0 or -errno; nothing is changed.
 */
#ifndef ZCSHIM_ZNL_H
#define ZCSHIM_ZNL_H

#include <netinet/in.h>
#include <stdint.h>

struct znl_route {
	int ifindex;
	int local;              /* RTN_LOCAL: the peer is this host */
	uint32_t mtu;           /* route MTU metric, 0 if none */
	uint32_t advmss;        /* route advmss metric, 0 if none */
	int has_gateway;
};

struct znl_link {
	char name[32];
	char kind[32];          /* IFLA_INFO_KIND ("veth", ...), "" for a NIC */
	char driver[32];        /* /sys/class/net/NAME/device/driver, "" if none */
	uint32_t mtu;
	uint32_t gso_max_size;  /* 0 if not reported */
	int loopback;
};

/* Each: -1 not reported (unknown), 0 off, 1 on. */
struct znl_eth {
	int features_known;     /* 0: ethtool netlink gave no features */
	int gro, gro_hw, lro, tso;
	int rings_known;
	int data_split;         /* tcp-data-split: -1 unknown, 0 off, 1 on */
	int64_t hds_thresh;     /* -1 not reported */
	int64_t rx_buf_len;     /* -1 not reported */
	int64_t rx, rx_max;     /* ring sizes, -1 not reported */
	int rings_err;          /* -errno of the rings request, 0 */
	int features_err;
};

/* The route to addr (AF_INET / AF_INET6, network order). */
int znl_route_get(int family, const void *addr, struct znl_route *out);
int znl_link_get(int ifindex, struct znl_link *out);
/* Features and rings of ifname; *out is filled as far as the device
 * answers (EOPNOTSUPP for one request is not a failure). */
int znl_eth_get(const char *ifname, struct znl_eth *out);

#endif
