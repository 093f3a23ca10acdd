# Field splitting shared by the parsers (MIT licence): "+X:a,b" and "+X: a,"b"" alike.


def body(line, prefix):
    # The text after prefix ("+CEREG:") with the optional space after the colon removed;
    # None when the line does not start with prefix.
    if not line.startswith(prefix):
        return None
    return line[len(prefix) :].lstrip(" ")


def split(text):
    # Comma-separated fields, quotes stripped, a comma inside quotes kept.
    # 'a,"b,c",,d' -> ["a", "b,c", "", "d"]
    out = []
    cur = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
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
