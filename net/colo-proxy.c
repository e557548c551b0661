/*
 * COLO network proxy: one netfilter per host that mirrors, compares and
 * releases the traffic of a COLO primary/secondary pair.
 *
 * It replaces the chain upstream COLO builds from filter-mirror, two
 * filter-redirectors, colo-compare and filter-rewriter (see
 * docs/colo-proxy.txt): one object per host, attached to the netdev that
 * carries the guest's traffic, talking to its peer over one link given by
 * the "addr" property.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/iov.h"
#include "qemu/sockets.h"
#include "qapi/error.h"
#include "qapi/qapi-types-qom.h"
#include "qapi/qapi-visit-sockets.h"
#include "qom/object.h"
#include "net/filter.h"
#include "net/net.h"
#include "net/colo-proxy.h"
#include "trace.h"

OBJECT_DECLARE_SIMPLE_TYPE(ColoProxyState, COLO_PROXY)

struct ColoProxyState {
    NetFilterState parent_obj;

    /* properties */
    bool mode_set;
    ColoProxyMode mode;
    char *addr;

    /* set up by colo_proxy_setup() */
    SocketAddress *link_addr;
};

/*
 * Parse the link address: "unix:PATH" or a path containing '/' is a unix
 * socket, anything else must be "HOST:PORT" (IPv6 as "[HOST]:PORT") with a
 * numeric port.  The primary connects to HOST, so it needs one; the
 * secondary may leave it empty to listen on every address.
 */
static SocketAddress *colo_proxy_parse_addr(const char *str,
                                            ColoProxyMode mode,
                                            Error **errp)
{
    g_autoptr(SocketAddress) addr = g_new0(SocketAddress, 1);
    unsigned int port;

    if (g_str_has_prefix(str, "unix:") || strchr(str, '/')) {
        const char *path = g_str_has_prefix(str, "unix:") ? str + 5 : str;

        if (!*path) {
            error_setg(errp, "property 'addr' has an empty socket path");
            return NULL;
        }
        addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        addr->u.q_unix.path = g_strdup(path);
        return g_steal_pointer(&addr);
    }

    addr->type = SOCKET_ADDRESS_TYPE_INET;
    if (strchr(str, ',') || inet_parse(&addr->u.inet, str, NULL) < 0) {
        error_setg(errp, "property 'addr' must be HOST:PORT or a unix "
                   "socket path, not '%s'", str);
        return NULL;
    }
    if (qemu_strtoui(addr->u.inet.port, NULL, 10, &port) < 0 ||
        port == 0 || port > 65535) {
        error_setg(errp, "property 'addr' port '%s' is not a number "
                   "from 1 to 65535", addr->u.inet.port);
        return NULL;
    }
    if (mode == COLO_PROXY_MODE_PRIMARY && !*addr->u.inet.host) {
        error_setg(errp, "property 'addr' needs a host in primary mode, "
                   "the address of the secondary to connect to");
        return NULL;
    }
    return g_steal_pointer(&addr);
}

/* One colo-proxy per netdev: two would each hold and release its frames. */
static bool colo_proxy_check_unique(NetFilterState *nf, Error **errp)
{
    NetFilterState *other;

    QTAILQ_FOREACH(other, &nf->netdev->filters, next) {
        if (other != nf && object_dynamic_cast(OBJECT(other),
                                               TYPE_COLO_PROXY)) {
            error_setg(errp, "netdev '%s' already has "
                       "colo-proxy '%s'", nf->netdev_id,
                       object_get_canonical_path_component(OBJECT(other)));
            return false;
        }
    }
    return true;
}

static void colo_proxy_setup(NetFilterState *nf, Error **errp)
{
    ColoProxyState *s = COLO_PROXY(nf);

    if (!s->mode_set) {
        error_setg(errp, "property 'mode' is required "
                   "(primary or secondary)");
        return;
    }
    if (nf->direction != NET_FILTER_DIRECTION_ALL) {
        error_setg(errp, "property 'queue' must be 'all': "
                   "the proxy needs the traffic in both directions");
        return;
    }
    if (!s->addr) {
        error_setg(errp, "property 'addr' is required "
                   "(HOST:PORT or a unix socket path)");
        return;
    }
    s->link_addr = colo_proxy_parse_addr(s->addr, s->mode, errp);
    if (!s->link_addr) {
        return;
    }
    if (!colo_proxy_check_unique(nf, errp)) {
        return;
    }
    trace_colo_proxy_setup(nf->netdev_id, ColoProxyMode_str(s->mode),
                           s->addr);
}

static void colo_proxy_cleanup(NetFilterState *nf)
{
    ColoProxyState *s = COLO_PROXY(nf);

    trace_colo_proxy_cleanup(nf->netdev_id);
    qapi_free_SocketAddress(s->link_addr);
    s->link_addr = NULL;
}

static ssize_t colo_proxy_receive_iov(NetFilterState *nf,
                                      NetClientState *sender,
                                      unsigned flags,
                                      const struct iovec *iov,
                                      int iovcnt,
                                      NetPacketSent *sent_cb)
{
    trace_colo_proxy_receive_iov(nf->netdev_id, sender == nf->netdev,
                                 iov_size(iov, iovcnt));
    /* Until the link is up every frame passes unchanged. */
    return 0;
}

static int colo_proxy_get_mode(Object *obj, Error **errp)
{
    return COLO_PROXY(obj)->mode;
}

static void colo_proxy_set_mode(Object *obj, int value, Error **errp)
{
    ColoProxyState *s = COLO_PROXY(obj);

    s->mode = value;
    s->mode_set = true;
}

static char *colo_proxy_get_addr(Object *obj, Error **errp)
{
    return g_strdup(COLO_PROXY(obj)->addr);
}

static void colo_proxy_set_addr(Object *obj, const char *value, Error **errp)
{
    ColoProxyState *s = COLO_PROXY(obj);

    g_free(s->addr);
    s->addr = g_strdup(value);
}

static void colo_proxy_finalize(Object *obj)
{
    g_free(COLO_PROXY(obj)->addr);
}

static void colo_proxy_class_init(ObjectClass *oc, void *data)
{
    NetFilterClass *nfc = NETFILTER_CLASS(oc);

    object_class_property_add_enum(oc, "mode", "ColoProxyMode",
                                   &ColoProxyMode_lookup,
                                   colo_proxy_get_mode, colo_proxy_set_mode);
    object_class_property_set_description(oc, "mode",
        "role of this host in the COLO pair: primary or secondary");
    object_class_property_add_str(oc, "addr", colo_proxy_get_addr,
                                  colo_proxy_set_addr);
    object_class_property_set_description(oc, "addr",
        "link to the peer: HOST:PORT or a unix socket path; the secondary "
        "listens there, the primary connects");

    nfc->setup = colo_proxy_setup;
    nfc->cleanup = colo_proxy_cleanup;
    nfc->receive_iov = colo_proxy_receive_iov;
}

static const TypeInfo colo_proxy_types[] = {
    {
        .name = TYPE_COLO_PROXY,
        .parent = TYPE_NETFILTER,
        .class_init = colo_proxy_class_init,
        .instance_size = sizeof(ColoProxyState),
        .instance_finalize = colo_proxy_finalize,
    },
};

DEFINE_TYPES(colo_proxy_types)
