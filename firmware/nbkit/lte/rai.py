# Release Assistance Indication for Huawei UDP sends (AT+NSOSTF=<sock>,<ip>,<port>,<flag>,...).
# The last uplink of a cycle tells the network to release the RRC connection so the modem reaches
# PSM in a second or two instead of after the network's ~20 s inactivity timer.
FLAG_NONE = 0
FLAG_EXCEPTION = 0x100  # high-priority "exception" data
FLAG_RELEASE = 0x200  # release right after this uplink (no reply expected)
FLAG_RELEASE_AFTER_REPLY = 0x400  # release after the next downlink (the ack)


# The NSOSTF flag for one uplink: only the last of a cycle carries a release indication.
def nsostf_flag(last_of_cycle, expect_reply):
    if not last_of_cycle:
        return FLAG_NONE
    return FLAG_RELEASE_AFTER_REPLY if expect_reply else FLAG_RELEASE


# The flag as written in the command: "0x200", "0x400", "0".
def flag_text(flag):
    return "0x%X" % flag if flag else "0"
