#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mkman.py - the manual pages, made from the texts they describe.

  mkman.py verbs BINARY TEMPLATE OUT              mailroom(8)
  mkman.py config BINARY CONFIG_MD TEMPLATE OUT   mailroom.conf(5)

mailroom(8): the template's prose, with @OPTIONS@ replaced by the options
block of `BINARY --help` and @VERBS@ by one subsection per verb that
`BINARY --help` lists: its line there, then the whole of `BINARY VERB --help`.
A verb added to the binary is in the page at the next build; a verb whose
--help fails stops the build.

mailroom.conf(5): @CONFIG@ is docs/config.md turned into roff: its prose,
one section per `## [section]`, each `| key | default | meaning |` table row
a tagged paragraph; `code` in bold, links as their text.

Both: @VERSION@ (from `BINARY --version`) and @DATE@
(SOURCE_DATE_EPOCH when set, as reproducible builds ask, else the newest of
the input files). Every "-" of a command line, option or `code` is written
\\- so that it stays a minus sign; prose hyphens stay hyphens.
"""
import datetime
import os
import re
import subprocess
import sys
import tempfile

GLYPHS = {"\u00a7": "\\(sc", "\u2013": "\\(en", "\u2014": "\\(em", "\u2019": "\\(cq",
          "\u2018": "\\(oq", "\u201c": "\\(lq", "\u201d": "\\(rq", "\u2264": "\\(<=",
          "\u2265": "\\(>=", "\u2192": "\\(->", "\u00d7": "\\(mu"}

OPTION = re.compile(r"(?<![\w-])(--[A-Za-z][\w-]*|-[A-Za-z](?![\w-]))")


def esc(text, code=False):
    """Plain text in roff: backslashes, quotes that roff would curl, and
    characters outside ASCII; with code, every hyphen as a minus."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-" and code:
            out.append("\\-")
        elif ch == "'":
            out.append("\\(aq")
        elif ch == "`":
            out.append("\\(ga")
        elif ch == "^":
            out.append("\\(ha")
        elif ch == "~":
            out.append("\\(ti")
        elif ord(ch) > 127:
            out.append(GLYPHS.get(ch, "\\[u%04X]" % ord(ch)))
        else:
            out.append(ch)
    return "".join(out)


def line_safe(line):
    """A text line that roff must not take for a request."""
    return "\\&" + line if line.startswith((".", "'")) else line


def bold(s):
    return "\\fB" + s + "\\fR"


def italic(s):
    return "\\fI" + s + "\\fR"


# --- mailroom(8) ------------------------------------------------------------------

def run(binary, *args):
    # an empty working directory: no ./mailroom.conf changes what is printed
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([os.path.abspath(binary)] + list(args), cwd=d, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        sys.exit("mkman: %s %s: exit %d: %s" % (binary, " ".join(args), p.returncode,
                                               p.stderr.decode(errors="replace")))
    return p.stdout.decode()


def help_entries(lines):
    """Entries of a --help list ("  NAME ARGS   what it does" with indented
    continuation lines): (synopsis, description) pairs."""
    entries = []
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("  ") and not line.startswith("   "):
            parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
            entries.append([parts[0], parts[1] if len(parts) > 1 else ""])
        elif entries:
            entries[-1][1] = (entries[-1][1] + " " + line.strip()).strip()
    return entries


def main_help(text):
    """The verb entries and the option entries of `mailroom --help`."""
    lines = text.splitlines()
    try:
        opt_at = lines.index("options:")
    except ValueError:
        sys.exit("mkman: mailroom --help has no 'options:' block")
    first_blank = lines.index("")
    return help_entries(lines[first_blank:opt_at]), help_entries(lines[opt_at + 1:])


def usage_line(line):
    """One synopsis line: literal words in bold, METAVARS in italics."""
    out = []
    for tok in re.findall(r"--?[A-Za-z][\w-]*|[A-Za-z][\w.:@{}$-]*|\s+|.", line):
        if tok.isspace() or not tok[0].isalpha() and tok[0] != "-":
            out.append(esc(tok, code=True))
        elif tok[0] == "-" or not re.fullmatch(r"[A-Z][A-Z0-9_-]*", tok):
            out.append(bold(esc(tok, code=True)))
        else:
            out.append(italic(esc(tok, code=True)))
    return "".join(out)


def prose_line(line):
    """A line of text with its options in bold; every hyphen a minus, as
    in the terminal the text comes from."""
    out, at = [], 0
    for m in OPTION.finditer(line):
        out.append(esc(line[at:m.start()], code=True))
        out.append(bold(esc(m.group(0), code=True)))
        at = m.end()
    out.append(esc(line[at:], code=True))
    return line_safe("".join(out))


def verb_help(text):
    """`mailroom VERB --help` as roff: the usage block as synopsis lines,
    then paragraphs; indented lines (lists, tables) stay as they are."""
    lines = text.rstrip("\n").splitlines()
    out = [".PP", ".nf"]
    i = 0
    while i < len(lines) and lines[i].strip():
        line = lines[i]
        if i == 0:
            if not line.startswith("usage: "):
                sys.exit("mkman: a --help does not start with 'usage: ': %r" % line)
            line = line[len("usage: "):]
        else:
            line = line[len("usage: "):] if line.startswith(" " * 7) else line.lstrip()
        out.append(line_safe(usage_line(line)))
        i += 1
    out.append(".fi")
    mode = None  # None, "fill" or "verbatim"
    for line in lines[i:]:
        if not line.strip():
            if mode == "verbatim":
                out += [".fi", ".RE"]
            mode = None
            continue
        indented = line[0].isspace()
        if indented and mode != "verbatim":
            out += [".PP"] if mode is None else []
            out += [".RS 2", ".nf"]
            mode = "verbatim"
        elif not indented and mode != "fill":
            if mode == "verbatim":
                out += [".fi", ".RE"]
            else:
                out.append(".PP")
            mode = "fill"
        out.append(prose_line(line[2:] if indented and line.startswith("  ") else line))
    if mode == "verbatim":
        out += [".fi", ".RE"]
    return out


def page_verbs(binary):
    verbs, options = main_help(run(binary, "--help"))
    opts = []
    for tag, what in options:
        opts += [".TP", line_safe(usage_line(tag)), prose_line(what)]
    body = []
    for synopsis, what in verbs:
        verb = synopsis.split()[0]
        body += ['.SS "%s"' % esc(synopsis, code=True), prose_line(what)]
        body += verb_help(run(binary, verb, "--help"))
    return {"OPTIONS": "\n".join(opts), "VERBS": "\n".join(body)}


# --- mailroom.conf(5) ---------------------------------------------------------------

def inline(text):
    """Markdown inline text: `code` bold, **strong** bold, [text](url) text."""
    out = []
    for part in re.split(r"(`[^`]*`)", text):
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(bold(esc(part[1:-1], code=True)))
            continue
        part = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", part)
        pieces = re.split(r"(\*\*[^*]+\*\*)", part)
        for p in pieces:
            if p.startswith("**") and p.endswith("**") and len(p) > 4:
                out.append(bold(esc(p[2:-2])))
            else:
                out.append(esc(p))
    return "".join(out)


def table_cells(row):
    """The cells of a markdown table row; "\\|" is a "|" inside a cell."""
    cells = re.split(r"(?<!\\)\|", row.strip())
    return [c.strip().replace("\\|", "|") for c in cells[1:-1]]


def page_config(md_path):
    with open(md_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out = []
    para = []

    def flush():
        if para:
            # one line: a `code` span may go on over a line break
            out.extend([".PP", line_safe(inline(" ".join(para)))])
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# "):
            i += 1
            continue
        if line.startswith("## "):
            flush()
            title = line[3:].strip()
            out.append('.SH "%s"' % esc(title if title.startswith("[") else title.upper(),
                                        code=True))
        elif line.startswith("```"):
            flush()
            out += [".PP", ".RS 4", ".nf"]
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(line_safe(esc(lines[i], code=True)))
                i += 1
            out += [".fi", ".RE"]
        elif line.startswith("|"):
            flush()
            header = table_cells(line)
            i += 2  # the |---| line
            while i < len(lines) and lines[i].startswith("|"):
                cells = table_cells(lines[i])
                if len(cells) != len(header):
                    sys.exit("mkman: %s:%d: %d cells, the header has %d"
                             % (md_path, i + 1, len(cells), len(header)))
                out += [".TP", line_safe(inline(cells[0]))]
                for name, cell in zip(header[1:-1], cells[1:-1]):
                    stop = "" if cell.endswith(".") else "."
                    out += [line_safe("%s: %s%s" % (esc(name.capitalize()), inline(cell), stop)),
                            ".br"]
                out.append(line_safe(inline(cells[-1])))
                i += 1
            continue
        elif line.startswith("- "):
            flush()
            out += [".IP \\(bu 2", line_safe(inline(line[2:]))]
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return {"CONFIG": "\n".join(out)}


# --- both ---------------------------------------------------------------------------

def page_date(inputs):
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        epoch = max(os.stat(p).st_mtime for p in inputs)
    return datetime.datetime.fromtimestamp(int(float(epoch)),
                                           datetime.timezone.utc).strftime("%Y-%m-%d")


def fill(template, values, out_path):
    with open(template, encoding="utf-8") as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace("@%s@" % key, value)
    left = re.findall(r"@[A-Z]+@", text)
    if left:
        sys.exit("mkman: %s: nothing fills %s" % (template, ", ".join(sorted(set(left)))))
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.replace(tmp, out_path)


def main(argv):
    if not (len(argv) == 5 and argv[1] == "verbs" or len(argv) == 6 and argv[1] == "config"):
        sys.exit("usage:\n" + __doc__.split("\n\n")[1])
    binary, template, out = argv[2], argv[-2], argv[-1]
    if argv[1] == "verbs":
        values = page_verbs(binary)
        inputs = [template]
    else:
        values = page_config(argv[3])
        inputs = [template, argv[3]]
    values["VERSION"] = run(binary, "--version").split()[-1]
    values["DATE"] = page_date(inputs)
    fill(template, values, out)


if __name__ == "__main__":
    main(sys.argv)
