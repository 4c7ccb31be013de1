# SPDX-License-Identifier: MIT
"""test_man.py - the manual pages agree with what they describe.

mailroom.conf(5) and docs/config.md against `mailroom config show` (built-in
defaults, run in an empty folder): every key shown, set or "; KEY is not set",
is in a table of config.md and in the page, and every key documented exists.
Where the default column is one literal `value`, config show prints that
value, with these exceptions:
  [server] hostname   the machine's host name (documented as such, not a literal);
  [server] data_dir   shown absolute: it must end in /VALUE;
  [tls] cert, key     relative to data_dir, shown absolute: they end in /VALUE.
A default cell that says "not set" or "none" must be a key config show prints as
not set, and a key printed as not set must not have a literal default. A
literal naming another key (`[server] hostname`) is a reference, not a value.

mailroom(8) against the binary: the verbs of `mailroom --help` are the page's
VERBS subsections, in order; every `mailroom VERB --help` exits 0 and its text
(without "usage: ") is in the page as rendered by groff, whitespace aside; so
are the verb lines and options of `mailroom --help`. Every option and action a
src/cli/cli_*.c file parses is named in its verbs' --help.

The release number is the same in src/util/version.h, CMakeLists.txt's
project(), debian/changelog's top entry, `mailroom --version` and the
build_info metric's source.

Both pages format without a warning: `groff -man -ww -z -t` and, as lintian
runs it, `man --warnings -E UTF-8 -l -Tutf8 -Z`; lexgrog finds their whatis
line; they are ASCII (groff escapes for the rest) and every "-" before an
option name is a minus sign (\-).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, SRC, run_tests  # noqa: E402

BUILD = os.environ.get("MAILROOM_TOOLS", "build")
PAGE8 = os.path.join(BUILD, "man", "mailroom.8")
PAGE5 = os.path.join(BUILD, "man", "mailroom.conf.5")
CONFIG_MD = os.path.join(SRC, "docs", "config.md")

ENDS_WITH = {("server", "data_dir"), ("tls", "cert"), ("tls", "key")}
NOT_LITERAL = {("server", "hostname")}


def mr(*args):
    with tempfile.TemporaryDirectory() as d:  # no ./mailroom.conf here
        return subprocess.run([os.path.abspath(BIN)] + list(args), cwd=d,
                              capture_output=True, timeout=30)


# --- keys ------------------------------------------------------------------------------

def show_keys():
    """(section, key) -> value, or None for "; key is not set"."""
    p = mr("config", "show")
    assert p.returncode == 0, p.stderr
    keys, sec = {}, None
    for line in p.stdout.decode().splitlines():
        if m := re.fullmatch(r"\[([\w-]+)\]", line):
            sec = m.group(1)
        elif m := re.fullmatch(r"; (\w+) is not set", line):
            keys[(sec, m.group(1))] = None
        elif m := re.fullmatch(r"(\w+) = ?(.*)", line):
            keys[(sec, m.group(1))] = m.group(2)
        else:
            assert line == "", "config show: %r" % line
    return keys


def doc_keys():
    """(section, key) -> default cell of config.md's tables."""
    keys, sec = {}, None
    with open(CONFIG_MD, encoding="utf-8") as f:
        for line in f:
            if m := re.match(r"## \[([\w-]+)\]", line):
                sec = m.group(1)
            elif line.startswith("## "):
                sec = None
            elif sec and (m := re.match(r"\| `(\w+)` \| (.*?) \|", line)):
                assert (sec, m.group(1)) not in keys, "config.md: [%s] %s twice" % (
                    sec, m.group(1))
                keys[(sec, m.group(1))] = m.group(2).replace("\\|", "|")
    return keys


def unroff(s):
    return re.sub(r"\\f[BIRP]", "", s).replace("\\-", "-").replace("\\&", "").strip()


def page5_keys():
    """(section, key) of the tagged paragraphs under each [section] heading."""
    keys, sec = set(), None
    with open(PAGE5) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if m := re.fullmatch(r'\.SH "?\[([\w\\-]+)\]"?', line):
            sec = unroff(m.group(1))
        elif line.startswith(".SH"):
            sec = None
        elif sec and line == ".TP":
            keys.add((sec, unroff(lines[i + 1])))
    return keys


def test_every_key_is_documented_in_both():
    shown, doc, page = show_keys(), doc_keys(), page5_keys()
    assert len(shown) > 50, shown
    fmt = lambda ks: ", ".join("[%s] %s" % k for k in sorted(ks))  # noqa: E731
    assert not set(shown) - set(doc), "not in docs/config.md: " + fmt(set(shown) - set(doc))
    assert not set(doc) - set(shown), "documented, not in config show: " + fmt(
        set(doc) - set(shown))
    assert page == set(doc), "mailroom.conf.5 and config.md differ: " + fmt(
        page ^ set(doc))


def test_literal_defaults_are_the_defaults():
    shown, doc = show_keys(), doc_keys()
    checked = 0
    for key, cell in doc.items():
        value = shown[key]
        m = re.fullmatch(r"`([^`]*)`", cell)
        literal = m is not None and not m.group(1).startswith("[") and key not in NOT_LITERAL
        if value is None:
            assert not literal, "[%s] %s: documented default %s, config show: not set" % (
                key + (cell,))
            continue
        assert not re.match(r"(not set|none)\b", cell), (
            "[%s] %s: documented as %r, config show has %r" % (key + (cell, value)))
        if not literal:
            continue
        if key in ENDS_WITH:
            assert value.endswith("/" + m.group(1)), (key, value, cell)
        else:
            assert value == m.group(1), "[%s] %s: documented %r, config show %r" % (
                key + (m.group(1), value))
        checked += 1
    assert checked > 40, checked


# --- verbs -------------------------------------------------------------------------------

def main_help():
    p = mr("--help")
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def help_verbs(text):
    lines = text.splitlines()
    block = lines[lines.index(""):lines.index("options:")]
    return [ln.split()[0] for ln in block if re.match(r"  [a-z]", ln)]


def page8_verbs():
    with open(PAGE8) as f:
        text = f.read()
    verbs_at = text.index("\n.SH VERBS\n")
    section = text[verbs_at:text.index("\n.SH ", verbs_at + 1)]
    return [unroff(m.group(1)).split()[0]
            for m in re.finditer(r'^\.SS "?([^"\n]*)"?$', section, re.M)]


def normalize(text):
    text = text.replace("\u2010", "-").replace("\u2212", "-")
    return re.sub(r"\s+", " ", text).strip()


def rendered(page):
    # one very long line: nothing is wrapped or hyphenated
    p = subprocess.run(["groff", "-man", "-t", "-Tutf8", "-rLL=20000n", "-P-cbou", page],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return normalize(p.stdout.decode())


def test_verb_list_agrees():
    verbs = help_verbs(main_help())
    assert "serve" in verbs and "config" in verbs and len(verbs) > 10, verbs
    assert page8_verbs() == verbs, (page8_verbs(), verbs)


def test_every_verb_help_is_in_the_page():
    page = rendered(PAGE8)
    text = main_help()
    for line in text.splitlines()[1:]:
        if line.strip() and line != "options:":
            assert normalize(line) in page, "mailroom --help line not in mailroom.8: %r" % line
    for verb in help_verbs(text):
        p = mr(verb, "--help")
        assert p.returncode == 0, (verb, p.returncode, p.stderr)
        out = p.stdout.decode()
        assert out.startswith("usage: mailroom "), (verb, out[:80])
        want = normalize(out[len("usage: "):])
        if want not in page:
            # the first words that differ, for the failure message
            words = want.split(" ")
            n = 1
            while n < len(words) and " ".join(words[:n + 1]) in page:
                n += 1
            raise AssertionError("mailroom %s --help is not in mailroom.8 from %r" % (
                verb, " ".join(words[max(0, n - 5):n + 5])))


def test_every_option_and_action_is_in_the_help():
    cli = os.path.join(SRC, "src", "cli")
    with open(os.path.join(SRC, "src", "store", "store_limits.c")) as f:
        src = f.read()
    limits = re.findall(r'"([a-z-]+)"', src[src.index("limit_names"):src.index("};", src.index(
        "limit_names"))])
    assert "quota-warn" in limits, limits
    helps = {}
    # the actions each verb's line in `mailroom --help` lists ("queue list|show|...")
    listed = {}
    for line in main_help().splitlines():
        if re.match(r"  [a-z]", line) and len(line.split()) > 1 and "|" in line.split()[1]:
            listed[line.split()[0]] = set(line.split()[1].split("|"))
    for name in sorted(os.listdir(cli)):
        if not name.startswith("cli_") or not name.endswith(".c"):
            continue
        with open(os.path.join(cli, name)) as f:
            src = f.read()
        verbs = re.findall(r'cli_parse\(\s*"([a-z]+)"', src)
        if not verbs:
            continue
        text = ""
        for v in verbs:
            helps.setdefault(v, mr(v, "--help").stdout.decode())
            text += helps[v]
        opts = re.findall(r'\.name = "([a-z-]+)"', src) + re.findall(
            r'\{"([a-z-]+)", (?:true|false)', src)
        if "store_limit_name" in src:
            opts += limits
        for o in opts:
            assert re.search(r"--%s\b(?!-)" % re.escape(o), text), (
                "%s: --%s is not in the --help of %s" % (name, o, ", ".join(verbs)))
        for a in re.findall(r'strcmp\((?:sub|what|pos\[0\]), "([a-z-]+)"\)', src):
            assert re.search(r"\b%s\b" % re.escape(a), text), (
                "%s: action %s is not in the --help of %s" % (name, a, ", ".join(verbs)))
            if len(verbs) == 1 and verbs[0] in listed:
                assert a in listed[verbs[0]], (
                    "%s: action %s is not on the line of %s in mailroom --help" % (
                        name, a, verbs[0]))


# --- formatting ------------------------------------------------------------------------------

def test_pages_format_without_warnings():
    for page in (PAGE8, PAGE5):
        p = subprocess.run(["groff", "-man", "-ww", "-z", "-t", page], capture_output=True,
                           timeout=60)
        assert p.returncode == 0 and p.stderr == b"", (page, p.stderr)
        if shutil.which("man"):
            env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
            p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page],
                               capture_output=True, timeout=60, env=env)
            assert p.returncode == 0 and p.stderr == b"", (page, p.stderr)
        if shutil.which("lexgrog"):  # the whatis line lintian reads from NAME
            p = subprocess.run(["lexgrog", page], capture_output=True, timeout=60)
            name = os.path.basename(page).rsplit(".", 1)[0]
            assert p.returncode == 0 and ': "%s - ' % name in p.stdout.decode(), p.stdout
        with open(page, "rb") as f:
            data = f.read()
        data.decode("ascii")  # every other character is a groff escape
        # a "-" of an option is a minus sign, never a hyphen
        text = b"\n".join(ln for ln in data.splitlines() if not ln.startswith(b'.\\"'))
        assert not re.search(rb"(?<![\\\w-])--?[a-z]", text), page


def test_config_page_says_what_config_md_says():
    page = rendered(PAGE5)
    with open(CONFIG_MD, encoding="utf-8") as f:
        for line in f:
            if m := re.match(r"\| `(\w+)` \| .*? \| (.*) \|$", line):
                meaning = re.sub(r"`|\[([^\]]+)\]\([^)]*\)", lambda x: x.group(1) or "",
                                 m.group(2)).replace("\\|", "|")
                assert normalize(meaning) in page, (m.group(1), meaning)


def test_version_agrees():
    def grab(path, pattern):
        with open(os.path.join(SRC, path)) as f:
            m = re.search(pattern, f.read(), re.M)
        assert m, "%s: no version matching %r" % (path, pattern)
        return m.group(1)
    header = grab("src/util/version.h", r'^#define MAILROOM_VERSION "([^"]+)"')
    cmake = grab("CMakeLists.txt", r"^project\(mailroom VERSION (\S+)")
    changelog = grab("debian/changelog", r"^mailroom \(([^)-]+)")
    binary = subprocess.run([BIN, "--version"], stdout=subprocess.PIPE,
                            check=True).stdout.decode().split()[-1]
    assert header == cmake == changelog == binary, (header, cmake, changelog, binary)


if __name__ == "__main__":
    for need in ("groff",):
        if shutil.which(need) is None:
            print("skipped: needs %s (groff-base, scripts/deps.sh test)" % need)
            sys.exit(77)
    run_tests(globals())
