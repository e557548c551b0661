/*
 * COLO network proxy: one netfilter per host that mirrors, compares and
 * releases the traffic of a COLO primary/secondary pair.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_H
#define QEMU_NET_COLO_PROXY_H

#define TYPE_COLO_PROXY "colo-proxy"

#endif /* QEMU_NET_COLO_PROXY_H */
