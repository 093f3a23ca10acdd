# Field splitting shared by the parsers (MIT licence): "+X:a,b" and "+X: a,"b"" alike.
#   lenient (URC and reply parsers that return None on a bad line): body(), split(), num(), text()
#   strict (parsers that raise ValueError): split_fields(), int_field(); text() for optional ones

try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


_MAX_FIELDS = const(16)  # split_fields bound: a response of these commands never has more


def body(line, prefix):
    # The text after prefix ("+CEREG:") with the optional space after the colon removed;
    # None when the line does not start with prefix.
    if not line.startswith(prefix):
        return None
    return line[len(prefix) :].lstrip(" ")


def split(text):
    # Comma-separated fields, quotes stripped, a comma inside quotes kept.
    # 'a,"b,c",,d' -> ["a", "b,c", "", "d"]. Slices only: no per-character allocation.
    if '"' not in text:
        return [f.strip() for f in text.split(",")]
    out = []
    start = 0
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append(text[start:i].replace('"', "").strip())
            start = i + 1
    out.append(text[start:].replace('"', "").strip())
    return out


def num(fields, i, base=10):
    # fields[i] as an int; None when missing, empty or not a number.
    if i >= len(fields) or not fields[i]:
        return None
    try:
        return int(fields[i], base)
    except ValueError:
        return None


def text(fields, i):
    # fields[i] as a string; None when missing or empty.
    if i >= len(fields) or not fields[i]:
        return None
    return fields[i]


def split_fields(line, prefix):
    # "+NAME: a,"b",,c" -> ["a", "b", "", "c"]; bytes or str, surrounding whitespace ignored.
    # ValueError when the line does not start with prefix or has more than _MAX_FIELDS fields.
    if isinstance(line, (bytes, bytearray)):
        line = line.decode()
    rest = body(line.strip(), prefix)
    if rest is None:
        raise ValueError("expected a %s line, got %r" % (prefix, line[:40]))
    rest = rest.strip()
    if not rest:
        return []
    if rest.count(",") >= _MAX_FIELDS:
        raise ValueError("%s line has too many fields (%d)" % (prefix, rest.count(",") + 1))
    return split(rest)


def int_field(fields, index, what):
    # fields[index] as an int (decimal digits, optional "-"); ValueError naming what otherwise.
    if index < len(fields):
        digits = fields[index]
        if digits and (digits.isdigit() or (digits[0] == "-" and digits[1:].isdigit())):
            return int(digits)
    raise ValueError("%s: missing or non-numeric field %d in %r" % (what, index, fields))
