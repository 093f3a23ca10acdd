# Field splitting shared by the parsers (MIT licence): "+X:a,b" and "+X: a,"b"" alike.


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
