# Compact authenticated meter frames (one UDP datagram each): DATA device -> collector,
# ACK / EPOCH collector -> device, bound to the boot epoch and (replies) to the uplink.
# Formats: firmware/nbkit/proto/frame.py.
from typing import Final

VERSION: Final[int]
DATA: Final[int]
ACK: Final[int]
EPOCH: Final[int]
TAG_SIZE: Final[int]
MAX_FRAME: Final[int]
MAX_RECORDS: Final[int]
MIN_DATA: Final[int]
MIN_ACK: Final[int]
MIN_EPOCH: Final[int]
RECORD_SIZE: Final[int]
TRUNCATED: Final[str]
OVERSIZED: Final[str]
BAD_VERSION: Final[str]
BAD_TYPE: Final[str]
MALFORMED: Final[str]
FORGED: Final[str]
WRONG_DEVICE: Final[str]
UNBOUND: Final[str]

# (seq, t, code, value): queue sequence number, seconds since 1970 UTC, reading code, value
_Record = tuple[int, int, int, int]

class FrameError(ValueError):
    reason: str  # one of TRUNCATED ... WRONG_DEVICE
    def __init__(self, reason: str, message: str) -> None: ...

def varint_size(n: int) -> int: ...
def pack_record(t: int, code: int, value: int) -> bytes: ...
def unpack_record(data: bytes) -> tuple[int, int, int]: ...
def records_from_pending(pending: list[tuple[int, bytes]]) -> list[_Record]: ...
def encode_data(
    device_id: int, key: bytes, records: list[_Record], max_size: int = ..., epoch: int = ...
) -> tuple[bytes, int]: ...
def encode_ack(
    device_id: int,
    key: bytes,
    first: int,
    count: int,
    *,
    epoch: int = ...,
    uplink: bytes = ...,
) -> bytes: ...
def ack_for(data: bytes, key: bytes) -> bytes: ...
def encode_epoch(device_id: int, key: bytes, epoch: int, uplink: bytes) -> bytes: ...
# -> (type, device_id, epoch, body): body is the records of DATA, (first, count, uplink tag) of
# ACK, the uplink tag of EPOCH
def parse(
    frame: bytes,
) -> tuple[int, int, int, list[_Record] | tuple[int, int, bytes] | bytes]: ...
def verify(frame: bytes, key: bytes) -> bool: ...
def decode_data(frame: bytes, key: bytes) -> tuple[int, list[_Record]]: ...
def decode_ack(frame: bytes, key: bytes, device_id: int) -> tuple[int, int]: ...
# -> (ACK, first, last) or (EPOCH, lowest epoch to use, None); FrameError otherwise
def check_reply(reply: bytes, key: bytes, sent: bytes) -> tuple[int, int, int | None]: ...
