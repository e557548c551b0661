/*
 * COLO network proxy: stubs for builds without it
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy.h"

void colo_proxy_register_notifier(Notifier *notify)
{
}

void colo_proxy_unregister_notifier(Notifier *notify)
{
}

void colo_proxy_notify_event(int event, Error **errp)
{
}

void colo_proxy_start(Error **errp)
{
}
