# One uplink of pending queue records and what answers it, for every application (meter, smoke):
# the frame carries the device's boot epoch; a reply counts only when it is authentic AND bound to
# this very frame (nbkit.proto.frame.check_reply): an ACK clears the records it names, an EPOCH
# answer moves the device to the epoch the collector asks for. A replayed old ack, an ack for
# another device or a forged one clears nothing.
from nbkit.proto import frame


def send(app, pending, wait_ms):
    # app: has link, queue, cfg, key, epoch (nbkit.store.epoch), log. -> True when an ack
    # cleared records of this frame.
    link, queue, key, epoch, log = app.link, app.queue, app.key, app.epoch, app.log
    records = frame.records_from_pending(pending)
    data, n = frame.encode_data(app.cfg["device_id"], key, records, epoch=epoch.value)
    link.send(data, last=n == len(pending), expect_reply=True)  # RAI 0x400 on the last
    log("uplink", records[0][0], n, len(data))
    acked = False
    for reply in link.receive(wait_ms):
        try:
            kind, a, b = frame.check_reply(reply, key, data)
        except frame.FrameError as exc:  # forged, another device's, another uplink's: ignored
            log("ack refused", exc.reason)
            continue
        if kind == frame.EPOCH:
            if epoch.move_to(a):
                log("epoch", a, "(the collector holds our sequence numbers: new epoch)")
            continue
        queue.ack_range(a, b)
        log("ack", a, b)
        acked = True
    return acked
