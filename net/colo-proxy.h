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

#include "qemu/notify.h"

#define TYPE_COLO_PROXY "colo-proxy"

/*
 * The COLO framework's side.  A colo-proxy protects (holds and compares
 * the guest's output) while COLO runs: from colo_proxy_start() (or the
 * first checkpoint event) to failover.  One without notify-dev asks for a
 * checkpoint by notifying the notifiers registered here; it does so in
 * the main loop, under the BQL, so register and unregister with the BQL
 * held.  The framework reports COLO_EVENT_* (checkpoint completed,
 * failover) with colo_proxy_notify_event(), with the BQL held: the
 * proxies handle it on the calling thread (the COLO thread), the BQL
 * keeping the main loop, which owns their state otherwise, out.
 */
void colo_proxy_register_notifier(Notifier *notify);
void colo_proxy_unregister_notifier(Notifier *notify);
void colo_proxy_notify_event(int event, Error **errp);
/*
 * COLO starts (the primary's COLO thread before it runs the VM, the
 * secondary's likewise), with the BQL held: the two VMs are the same, as
 * after a checkpoint, and every colo-proxy protects from now on.  Fails,
 * changing nothing, if one cannot: its link to the peer is not up.
 */
void colo_proxy_start(Error **errp);

#endif /* QEMU_NET_COLO_PROXY_H */
