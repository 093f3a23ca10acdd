# collector: the server side: UDP/TCP/MQTT/CoAP intakes, verify, dedup, SQLite, ack
# (`nbkit collect`, collect.py), `nbkit readings` and the loopback MQTT broker (broker.py).
"""The collector: receives device uplinks over UDP, verifies, deduplicates, stores, acks.

Decisions (read before changing):

* **Order of checks**: size (``oversized``) → structure (``truncated``, ``bad_version``,
  ``bad_type``, ``malformed``) → key lookup (``unknown_device``) → tag (``forged``) → storage.
  Each refusal is counted by that reason and logged; the server keeps running. Refused frames
  get no reply (a reply to an unauthenticated frame would only help an attacker).
* **Duplicates and replays**: the dedup set is the ``readings`` table itself, keyed
  ``(device, seq)`` and never pruned by the collector, so no sliding window is needed: every
  sequence number ever stored is remembered. A frame whose records are all stored already is
  counted ``duplicate`` and **re-acked** (the device's previous ack may have been lost; without
  a new ack its queue would never clear) but nothing is stored twice. A replayed frame is
  exactly such a duplicate: it changes nothing and earns an ack for records already gone from
  the device. A frame mixing stored and new records stores the new ones (``accepted``).
* **Reused sequence numbers**: a record whose (device, seq) is stored with *different* content
  means the device lost its queue state (e.g. reformatted flash) and counts from 0 again. It is
  counted ``seq_reused``, logged, not stored and **not acked** (an ack would make the device
  delete readings the collector never kept). A new key does not help, since dedup is by
  (device, seq): re-provision such a device under a new device id (docs/keys.md).
* **Acks** name exactly the records of the frame (first seq, count), authenticated with the
  device key: records in two frames in flight are cleared independently.
"""
