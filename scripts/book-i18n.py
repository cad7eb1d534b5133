#!/usr/bin/env python3
"""The Python half of scripts/book: the parts of the book's translation workflow that gettext's own
tools do not do. Run by scripts/book, not by hand; each subcommand says what it does below.

  filter-pot SRC_DIR TITLE DATE < RAW > POT  the message template, without code-block text
  title PO TITLE                             the translation of the book's title, or TITLE
  status POT PO MERGED [--report]            counts, staleness and per-chapter progress
  admonitions [supports RENDERER]            an mdBook preprocessor run after gettext (see below)
  compare EN_DIR XX_DIR                      pages that differ after an untranslated round trip
  anchors BOOK_DIR                           links to a #fragment that no element has
  lint SRC_DIR                               English words in HTML blocks, which no message holds

Only the standard library: the machine's python3 is enough.
"""
import html
import json
import os
import re
import sys
import urllib.parse

# --- PO files -------------------------------------------------------------------------------------

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def po_unquote(lines):
    """The text of a PO string given as its quoted lines (`"abc\\n"` …)."""
    text = "".join(line.strip()[1:-1] for line in lines)
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


class Entry:
    def __init__(self):
        self.raw = []  # the entry's lines, as in the file
        self.refs = []  # "src/ch01-pid.md:12" or "src/ch01-pid.md"
        self.flags = set()
        self.msgid = None
        self.msgstr = None
        self.obsolete = False

    @property
    def is_header(self):
        return self.msgid == ""

    @property
    def translated(self):
        return bool(self.msgstr) and "fuzzy" not in self.flags

    def files(self):
        seen = []
        for ref in self.refs:
            f = ref.rsplit(":", 1)[0] if re.search(r":\d+$", ref) else ref
            if f not in seen:
                seen.append(f)
        return seen


def parse_po(text):
    """The entries of a PO or POT file, in order (obsolete `#~` ones flagged, not dropped)."""
    entries = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        if not block.strip():
            continue
        e = Entry()
        e.raw = block.split("\n")
        field, parts = None, {"msgid": [], "msgstr": []}
        for line in e.raw:
            if line.startswith("#~"):
                e.obsolete = True
                line = line[2:].lstrip()
                if line.startswith("|"):
                    continue
            if line.startswith("#:"):
                e.refs += line[2:].split()
            elif line.startswith("#,"):
                e.flags |= {f.strip() for f in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith("msgid "):
                field = "msgid"
                parts[field].append(line[6:])
            elif line.startswith("msgstr "):
                field = "msgstr"
                parts[field].append(line[7:])
            elif line.startswith('"') and field:
                parts[field].append(line)
        if parts["msgid"]:
            e.msgid = po_unquote(parts["msgid"])
            e.msgstr = po_unquote(parts["msgstr"])
            entries.append(e)
    return entries


def read_po(path):
    with open(path, encoding="utf-8") as f:
        return parse_po(f.read())


def live(entries):
    return [e for e in entries if not e.obsolete and not e.is_header]


def short(msgid, width=100):
    one = " ".join(msgid.split())
    return one if len(one) <= width else one[: width - 1] + "…"


# --- filter-pot -----------------------------------------------------------------------------------

FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})(.*)$")


def code_lines(path):
    """The line numbers (1-based) of a Markdown file that are inside fenced code blocks, fences
    included. Fences inside block quotes and list items count too."""
    inside, opener, lines = False, "", set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = FENCE.match(line.rstrip("\n"))
            if not inside and m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                inside, opener = True, m.group(1)
                lines.add(n)
            elif inside:
                lines.add(n)
                if m and m.group(1)[0] == opener[0] and len(m.group(1)) >= len(opener) \
                        and not m.group(2).strip():
                    inside = False
    return lines


def filter_pot(src_dir, title, created):
    """Reads the template mdbook-xgettext wrote (with line numbers) on stdin and writes it back
    without the messages that come only from fenced code blocks (commands, their comments and
    quoted arguments, program output: the Korean edition shows them as they are) or that have no
    word outside code spans and link targets (nothing to translate), with references
    to files only (no line numbers: a paragraph added above one does not touch its entry), and with
    the book's title from book.toml as a message of its own."""
    entries = parse_po(sys.stdin.read())
    cache = {}

    def in_code(ref):
        m = re.match(r"^src/(.+):(\d+)$", ref)
        if not m:
            return False
        path = os.path.join(src_dir, m.group(1))
        if path not in cache:
            cache[path] = code_lines(path) if os.path.exists(path) else set()
        return int(m.group(2)) in cache[path]

    def words(msgid):
        """Whether a message has words to translate outside code spans, link targets and tags:
        a table cell such as `01_pid`, [01](ch01-pid.md) or 126, 127 has none."""
        text = re.sub(r"`[^`]*`", "", msgid)
        text = re.sub(r"\]\([^)]*\)", "]", text)
        text = re.sub(r"<[^>]*>", "", text)
        return any(c.isalpha() for c in text)

    out, dropped, wordless = [], 0, 0
    for e in entries:
        if e.is_header:
            # POT-Creation-Date is the time of the English pages' last commit, not of this run:
            # msgmerge copies it into ko.po's header, and two translators' branches would always
            # conflict on that line. (mdbook-gettext needs the field to be there.)
            out.append("\n".join(
                f'"POT-Creation-Date: {created}\\n"' if line.startswith('"POT-Creation-Date:') else line
                for line in e.raw))
            out.append(
                "#. The book's title (book.toml: [book] title), for the edition's page titles and "
                "menu bar\n#: book.toml\nmsgid " + json.dumps(title, ensure_ascii=False)
                + '\nmsgstr ""'
            )
            continue
        if e.refs and all(in_code(r) for r in e.refs):
            dropped += 1
            continue
        if not words(e.msgid):
            wordless += 1
            continue
        lines = [line for line in e.raw if not line.startswith("#:")]
        files = e.files()
        if files:
            # Keep the comments first, then the references, then the rest, as xgettext does.
            at = next(i for i, line in enumerate(lines) if not line.startswith("#."))
            lines[at:at] = ["#: " + " ".join(files)]
        out.append("\n".join(lines))
    sys.stdout.write("\n\n".join(out) + "\n")
    kept = len(out) - 2  # less the header and the title
    print(f"{kept + 1} messages (the title and {kept} from the book); left out: {dropped} from "
          f"code blocks, {wordless} with no word outside code (`01_pid`, 126)", file=sys.stderr)


# --- lint: words that gettext cannot see --------------------------------------------------------

HTML_TEXT = re.compile(r"^[ \t]*<(summary|p|div|span|li|td|th|dt|dd|caption|figcaption|h[1-6])\b[^>]*>(.*)$")


def lint(src_dir):
    """Lines of the English pages whose words no message holds: a line that starts with an HTML
    block tag is copied as it is, so `<summary>Solution</summary>` would stay English in every
    edition. Write the words as Markdown between blank lines instead."""
    found = []
    for name in sorted(os.listdir(src_dir)):
        if not name.endswith(".md"):
            continue
        path = os.path.join(src_dir, name)
        code = code_lines(path)
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = HTML_TEXT.match(line)
                if n in code or not m or "{{#" in line:
                    continue
                if re.search(r"[A-Za-z]", re.sub(r"<[^>]*>", "", m.group(2))):
                    found.append(f"src/{name}:{n}: {line.strip()}")
    for line in found:
        print("  " + line, file=sys.stderr)
    if found:
        print("  words in an HTML block are never translated: put them on a line of their own, with "
              "a blank line before and after (<summary>, blank line, Solution, blank line, </summary>)",
              file=sys.stderr)
    return 1 if found else 0


# --- title ----------------------------------------------------------------------------------------

def title(po, english):
    for e in read_po(po):
        if not e.obsolete and e.msgid == english and e.translated:
            print(e.msgstr)
            return
    print(english)


# --- status and report ----------------------------------------------------------------------------

MARKER = re.compile(r"^\\\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\\\]")


def status(pot_path, po_path, merged_path, report):
    """Exit 0 when PO holds exactly the template's messages, each translated and none fuzzy; else
    print what is wrong and exit 1. With --report, print the per-chapter table and exit 0."""
    pot = live(read_po(pot_path))
    po = live(read_po(po_path))
    merged = live(read_po(merged_path))
    pot_ids = {e.msgid for e in pot}
    po_ids = {e.msgid for e in po}
    missing = [e for e in pot if e.msgid not in po_ids]
    gone = [e for e in po if e.msgid not in pot_ids]
    fuzzy = [e for e in merged if "fuzzy" in e.flags]
    untranslated = [e for e in merged if not e.msgstr and "fuzzy" not in e.flags]
    done = [e for e in merged if e.translated]
    lost_marker = [e for e in done if MARKER.match(e.msgid) and not re.match(
        r"^\\?\[!" + MARKER.match(e.msgid).group(1) + r"\\?\]", e.msgstr)]

    if report:
        rows = {}
        for e in merged:
            for f in e.files():
                r = rows.setdefault(f, [0, 0, 0])
                r[0 if e.translated else 1 if "fuzzy" in e.flags else 2] += 1
        print(f"{'file':<28} {'messages':>8} {'translated':>10} {'fuzzy':>6} {'untranslated':>12}  done")
        for f in rows:  # in the book's order: the template follows SUMMARY.md
            t, z, u = rows[f]
            n = t + z + u
            print(f"{f:<28} {n:>8} {t:>10} {z:>6} {u:>12}  {100 * t // n:>3}%")
        n = len(merged)
        print(f"{'all (each message once)':<28} {n:>8} {len(done):>10} {len(fuzzy):>6} "
              f"{len(untranslated):>12}  {100 * len(done) // max(n, 1):>3}%")
        if missing or gone:
            print(f"ko.po is behind the English: {len(missing)} new messages, {len(gone)} gone "
                  "(the table counts the English as it is now; scripts/book update brings ko.po up to date)")
        return 0

    problems = []

    def show(label, items, hint):
        if not items:
            return
        problems.append(label)
        print(f"  {label}: {len(items)} ({hint}); the first:", file=sys.stderr)
        for e in items[:5]:
            print(f"    {', '.join(e.files()) or '?'}: {short(e.msgid)}", file=sys.stderr)

    print(f"translation check: {len(merged)} messages in the English book; "
          f"{len(done)} translated, {len(fuzzy)} fuzzy, {len(untranslated)} untranslated",
          file=sys.stderr)
    show("messages of the English missing from ko.po", missing,
         "new or changed English: run scripts/book update, then translate them")
    show("messages in ko.po that the English no longer has", gone,
         "run scripts/book update, which keeps their translations for the fuzzy matches")
    show("fuzzy", fuzzy, "the English changed: check the translation, then remove the fuzzy flag")
    show("untranslated", untranslated, "translate them")
    show("translations that lost their admonition marker", lost_marker,
         "keep the \\[!NOTE\\]-style marker at the start of the translation")
    if problems:
        print("  per chapter: scripts/book check --report; how to: book/src/translating.md",
              file=sys.stderr)
        return 1
    return 0


# --- admonitions: an mdBook preprocessor ----------------------------------------------------------

def admonitions(argv):
    """mdbook-gettext 0.4.0 parses Markdown without GitHub's admonitions, so it writes
    `> [!NOTE]` + newline + `> text` back as `> \\[!NOTE\\] text`, which mdBook shows as a plain quote
    starting with "[!NOTE]" (google/mdbook-i18n-helpers issue 326, fixed upstream by PR 307 after
    0.4.0). Run after gettext, this puts the marker back on a line of its own. Drop it once a
    released mdbook-i18n-helpers has the fix (scripts/book check's round trip tells)."""
    if argv[:1] == ["supports"]:
        return 0
    ctx, book = json.load(sys.stdin)
    # It also starts the quote with an empty line (" > "), which would hide the marker: drop it.
    marker = re.compile(r"^(?:(?:[ \t]*>)+[ \t]*\n)*((?:[ \t]*>)+[ \t]?)"
                        r"\\\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\\\][ \t]*", re.M)

    def fix(items):
        for item in items:
            chapter = item.get("Chapter") if isinstance(item, dict) else None
            if chapter:
                chapter["content"] = marker.sub(lambda m: f"{m.group(1)}[!{m.group(2)}]\n{m.group(1)}",
                                                chapter["content"])
                fix(chapter.get("sub_items", []))

    if (ctx.get("config", {}).get("book", {}).get("language") or "en") != "en":
        fix(book.get("items", book.get("sections", [])))
    json.dump(book, sys.stdout)
    return 0


# --- compare: the untranslated round trip ---------------------------------------------------------

def normalize_page(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r'<html lang="[^"]*"', "<html", text)
    text = re.sub(r"(searchindex|toc)-[0-9a-f]+\.js", r"\1.js", text)
    text = re.sub(r"\s+", " ", text)
    return re.sub(r">\s*<", ">\n<", text).split("\n")


def compare(en_dir, xx_dir):
    """Pages whose HTML differs (beyond whitespace and the lang attribute) between the English
    build and a build through gettext with no translation at all: what the translation machinery
    itself would change."""
    import difflib

    bad = 0
    for name in sorted(os.listdir(en_dir)):
        if not name.endswith(".html") or name == "print.html":
            continue
        a = normalize_page(os.path.join(en_dir, name))
        b = normalize_page(os.path.join(xx_dir, name))
        if a != b:
            bad += 1
            print(f"  {name} changes on its way through gettext:", file=sys.stderr)
            diff = [l for l in difflib.unified_diff(a, b, lineterm="", n=0)
                    if l[:1] in "+-" and l[:3] not in ("+++", "---")]
            for line in diff[:6]:
                print("    " + short(line, 160), file=sys.stderr)
    return 1 if bad else 0


# --- anchors --------------------------------------------------------------------------------------

def anchors(book_dir):
    """Links inside the book to page.html#fragment (or #fragment) where the page has no element with
    that id. A translated heading gets an id made from its translation: keep the English one with
    `{#english-id}` at the end of the translated heading."""
    ids, links = {}, []
    for name in sorted(os.listdir(book_dir)):
        if not name.endswith(".html") or name in ("print.html", "toc.html"):
            continue
        with open(os.path.join(book_dir, name), encoding="utf-8") as f:
            text = f.read()
        main = re.search(r"<main>(.*)</main>", text, re.S)
        ids[name] = {html.unescape(i) for i in re.findall(r'\sid="([^"]+)"', text)}
        for href in re.findall(r'href="([^"]*#[^"]*)"', main.group(1) if main else ""):
            href = html.unescape(href)
            page, frag = href.split("#", 1)
            if re.match(r"^[a-z]+:", page) or "/" in page:
                continue
            links.append((name, page or name, urllib.parse.unquote(frag)))
    broken = [(n, p, f) for n, p, f in links if p in ids and f not in ids[p]]
    for n, p, f in broken[:10]:
        print(f"  {n}: a link to {p}#{f}, which {p} does not have", file=sys.stderr)
    if broken:
        print(f"  {len(broken)} broken links to a part of a page in {book_dir}", file=sys.stderr)
    return 1 if broken else 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "filter-pot":
        return filter_pot(*args) or 0
    if cmd == "lint":
        return lint(*args)
    if cmd == "title":
        return title(*args) or 0
    if cmd == "status":
        return status(*args[:3], report="--report" in args[3:])
    if cmd == "admonitions":
        return admonitions(args)
    if cmd == "compare":
        return compare(*args)
    if cmd == "anchors":
        return anchors(*args)
    print(f"book-i18n.py: unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
