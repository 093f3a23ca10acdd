# Split an information-response or URC line into its fields:
#   +NAME: a,"b",,c  ->  ["a", "b", "", "c"]
# Accepts "+NAME:" with or without a space, quoted or unquoted fields, and surrounding whitespace.
# Raises ValueError when the line does not start with the expected prefix.

_MAX_FIELDS = 16  # bounded: a response of these commands never has more


def split_fields(line, prefix):
    if isinstance(line, (bytes, bytearray)):
        line = line.decode()
    line = line.strip()
    if not line.startswith(prefix):
        raise ValueError("expected a %s line, got %r" % (prefix, line[:40]))
    body = line[len(prefix) :].strip()
    if not body:
        return []
    parts = body.split(",")
    if len(parts) > _MAX_FIELDS:
        raise ValueError("%s line has too many fields (%d)" % (prefix, len(parts)))
    out = []
    for raw in parts:
        field = raw.strip()
        if len(field) >= 2 and field[0] == '"' and field[-1] == '"':
            field = field[1:-1]
        out.append(field)
    return out


def int_field(fields, index, what):
    if index < len(fields):
        text = fields[index]
        if text and (text.isdigit() or (text[0] == "-" and text[1:].isdigit())):
            return int(text)
    raise ValueError("%s: missing or non-numeric field %d in %r" % (what, index, fields))


def opt_field(fields, index):
    # the field as a string, or None when absent or empty
    if index < len(fields) and fields[index]:
        return fields[index]
    return None
