# One JSON state file of the application (meter.state, smoke.state): what must outlast a deep
# sleep. Written whole to <path>.tmp and renamed over <path> (atomic on littlefs), so a power
# cut leaves the old state or the new one, never half of one.
import json
import os


def load(path, version):
    # -> the saved dict, or None: no file yet, a torn or non-JSON file, another firmware's layout
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("v") != version:
        return None
    return state


def save(path, version, state):
    state["v"] = version
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.rename(tmp, path)
