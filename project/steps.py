#!/usr/bin/python3
"""New files as of an earlier commit of the series.

A commit's "Files:" header may name a file as PATH@N: the file as the
series' step N adds it, which a later commit completes (named there
without @).  at_step() computes that earlier version from the file this
repo holds, by taking out what the later steps add.  Each cut is checked:
a file that no longer has the text cut fails the export loudly.
"""


def _cut(text, start, end):
    """Remove from START (which the text holds once) up to, not including,
    the first END after it."""
    assert text.count(start) == 1, start
    a = text.index(start)
    b = text.index(end, a)
    return text[:a] + text[b:]


def _drop(text, part):
    assert text.count(part) == 1, part
    return text.replace(part, "")


def _colo_proxy_c(text, step):
    if step < 25:
        # the QMP commands and events (25)
        text = _cut(text, "/* ---- QMP ---- */\n",
                    "/* ---- properties ---- */\n")
        text = _drop(text, '#include "qapi/qapi-commands-net.h"\n')
        text = _drop(text, '#include "qapi/qapi-events-net.h"\n')
        text = _drop(text,
                     "    qapi_event_send_colo_proxy_checkpoint_request(id,\n"
                     "        (ColoProxyCheckpointReason)why, conn);\n")
        text = _drop(text,
                     "    qapi_event_send_colo_proxy_link(id, up, reason);\n")
    return text


STEPS = {
    "net/colo-proxy.c": _colo_proxy_c,
}


def at_step(path, step, text):
    return STEPS[path](text, step)
