"""Split patterns and splitting: the named patterns, where a stream may be cut, BERT's pre-tokenizer,
and patterns in Hugging Face's regex dialect.

A pattern is one of the names in PATTERNS, any regex string, or a compiled `regex` pattern.
"""
import functools
import re as _re_std
import unicodedata

from fasttok import _pretok
from fasttok.errors import FasttokError, ModelFileError, PatternTimeoutError
from fasttok.normalize import WHITESPACE, is_punctuation

# The published patterns, character for character: GPT-2's from OpenAI's encoder.py, GPT-4's
# (cl100k_base) from tiktoken. "whitespace" is HF tokenizers' Whitespace pre-tokenizer.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
WHITESPACE_PATTERN = r"""\w+|[^\w\s]+"""

PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN, "whitespace": WHITESPACE_PATTERN}
_SCANNED = {GPT2_PATTERN, GPT4_PATTERN}  # the core scanner splits these; others need the regex module

_NAME_LIKE = _re_std.compile(r"[A-Za-z][A-Za-z0-9_\-]*")


def pattern_source(pattern):
    """Return the regex source string for a pattern name, regex string or compiled regex; None for None.

    >>> pattern_source("gpt2") == GPT2_PATTERN
    True
    """
    if pattern is None:
        return None
    if isinstance(pattern, str):
        if pattern in PATTERNS:
            return PATTERNS[pattern]
        if _NAME_LIKE.fullmatch(pattern):
            # A bare word is almost surely a misspelt name, not a regex that matches that word.
            raise ValueError(f"unknown pattern name {pattern!r}; known names: {', '.join(PATTERNS)} "
                             f"(to split on a literal word, pass regex.compile({pattern!r}))")
        source = pattern
    elif hasattr(pattern, "pattern"):
        source = pattern.pattern
    else:
        raise TypeError(f"pattern must be a name, a regex string or a compiled regex, not {type(pattern).__name__}")
    if source not in _SCANNED:
        _check_expanded_size(source)
        regex = _regex_module()
        try:
            regex.compile(source)
        except regex.error as e:
            raise ValueError(f"invalid pattern regex {source!r}: {e}") from None
    return source


# Compiling is not bounded by the matching time bound, and the regex module expands counted repeats
# when it compiles: a{1000000} takes 0.5 s, (?:a{65535}){65535} or a{4294967294} longer than anyone
# waits. So a pattern whose counted repeats, multiplied through their nesting and added up, exceed
# this is refused before it is compiled.
MAX_EXPANDED_SIZE = 1_000_000


def _check_expanded_size(source):
    size = _expanded_size(source)
    if size > MAX_EXPANDED_SIZE:
        raise ValueError(f"pattern {source[:80]!r} repeats too much: its counted repeats ({{m,n}}) expand to "
                         f"about {size} atoms, more than {MAX_EXPANDED_SIZE} (compiling it would take too long)")


def _expanded_size(source):
    r"""About how many atoms `source` has once every {m,n} repeat is written out (* + ? count once).

    >>> _expanded_size(r"\p{N}{1,3}+|(?:ab){10}"), _expanded_size("(?:a{1000}){1000}")
    (23, 1000000)
    """
    frames = [0]      # summed size of each open group
    last = 0          # size of the last atom (what a quantifier repeats)
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c == "\\":
            i = _ESCAPE.match(source, i).end()
            last = 1
        elif c == "[":
            i = _class_end(source, i)
            last = 1
        elif c == "(":
            m = _GROUP.match(source, i)
            i, last = m.end(), 0
            if m["backref"]:
                last = 1
            elif not (m["comment"] or m["end"] == ")"):  # not a comment nor inline flags: a group opens
                frames.append(0)
                continue
        elif c == ")" and len(frames) > 1:
            last = max(frames.pop(), 1)
            i += 1
        elif c in "*+?{" and (m := _QUANTIFIER.match(source, i)):
            bounds = [int(b) for b in _re_std.findall(r"\d+", m.group())] or [1]
            frames[-1] += last * (max(bounds) - 1)
            i, last = m.end(), 0
            continue
        else:
            last = 0 if c == "|" else 1
            i += 1
        frames[-1] += last
    return sum(frames)


def _class_end(source, i):
    """The index after the character class that starts at source[i] (escapes and [:name:] skipped)."""
    j = i + 1 + source.startswith("^", i + 1)
    j += source.startswith("]", j)
    while j < len(source) and source[j] != "]":
        if source[j] == "\\":
            j += 2
        elif (m := _POSIX.match(source, j)) is not None:
            j = m.end()
        else:
            j += 1
    return j + 1


def _regex_module():
    try:
        import regex
    except ImportError:
        raise ImportError("patterns other than 'gpt2' and 'gpt4' run through the `regex` module: "
                          "pip install regex (or fasttok[regex])") from None
    return regex


def pattern_name(source):
    """The name of a pattern source if it is one of PATTERNS, else the source itself."""
    for name, src in PATTERNS.items():
        if src == source:
            return name
    return source


_compiled = {}


def compile_pattern(source):
    if source not in _compiled:
        _compiled[source] = _regex_module().compile(source)
    return _compiled[source]


# A custom regex (any pattern but the named ones, which cannot backtrack) is stopped when one call
# takes longer than this: a pattern that backtracks catastrophically (`(a|aa)+$` takes over 90 s on
# 41 characters) raises PatternTimeoutError instead of hanging. The bound grows with the text, so it
# is a floor on speed (100,000 characters a second), far below what real split patterns reach
# (1-90 MB/s, docs/pretok.md), even on a loaded machine. The regex module checks the clock as it
# goes, which makes matching about 3x slower (10.8 -> 3.7 MB/s for GPT-2's pattern run as a custom
# regex on the CPython docs text); TIMEOUT_SECONDS = None turns the bound off for patterns you trust.
TIMEOUT_SECONDS = 1.0
TIMEOUT_SECONDS_PER_CHAR = 1e-5


def _regex_splitter(source):
    """text -> the whole matches of `source`, in order, within the time bound (custom patterns)."""
    compiled = compile_pattern(source)
    # findall returns a pattern's groups when it has any ("(ab)+" finds "ab" in "abab"), which would
    # silently drop text: with groups, take each match whole, as HF's Split and tiktoken do.
    find = compiled.findall if compiled.groups == 0 else _whole_matches(compiled)
    if source in PATTERNS.values():
        # concurrent=True lets the regex module release the GIL, so encode_batch threads overlap.
        return functools.partial(find, concurrent=True)

    def split_text(text):
        if TIMEOUT_SECONDS is None:
            return find(text, concurrent=True)
        timeout = TIMEOUT_SECONDS + TIMEOUT_SECONDS_PER_CHAR * len(text)
        try:
            return find(text, concurrent=True, timeout=timeout)
        except TimeoutError:
            raise PatternTimeoutError(
                f"the split pattern {source!r} took more than {timeout:.2f} s on a text of {len(text)} "
                "characters and was stopped: it backtracks catastrophically on this text") from None
    return split_text


def _whole_matches(compiled):
    def find(text, **options):
        return [m.group() for m in compiled.finditer(text, **options)]
    return find


def splitter(source):
    """A function text -> pieces for a pattern source (see `split`)."""
    if source is None:
        return lambda text: [text] if text else []
    if source in _SCANNED:
        return functools.partial(_pretok.split, pattern=pattern_name(source))
    return _regex_splitter(source)


def split(text, pattern):
    r"""Cut `text` into pre-tokens: the whole matches of the pattern; with pattern None the whole text is
    one piece. A pattern other than gpt2/gpt4 stops with PatternTimeoutError if it runs too long.

    >>> split("Hello world's end", "gpt2")
    ['Hello', ' world', "'s", ' end']
    >>> split("abab cd", r"(ab)+|\s+|\w+")
    ['abab', ' ', 'cd']
    """
    return splitter(pattern_source(pattern))(text)


# ------------------------------------------------------------------------------------------------
# Patterns read from files
#
# A split pattern stored in a model file (a native file's "pattern", a tokenizer.json Split regex) is
# code chosen by whoever wrote the file, and a backtracking engine runs it. fasttok.load therefore
# accepts, from a file, only patterns that cannot backtrack catastrophically: the named patterns
# (in their own or in HF's spelling; gpt2 and gpt4 run in the core's linear scanner, "whitespace" is
# two linear runs) and literal strings (HF's Split with a String pattern). Any other regex is refused
# unless the caller says it trusts the file (fasttok.load(path, trust_pattern=True), `fasttok encode
# --trust-pattern`); even then it runs under the time bound above.
# ------------------------------------------------------------------------------------------------

_ESCAPED_CHAR = _re_std.compile(r"\\(.)", _re_std.S)


def is_safe_pattern(source):
    """Whether a pattern source is one a file may choose: None, a named pattern, or a literal string.

    >>> is_safe_pattern("gpt4"), is_safe_pattern(GPT2_PATTERN), is_safe_pattern(_re_std.escape("a.b"))
    (True, True, True)
    >>> is_safe_pattern("(a|aa)+$")
    False
    """
    if source is None:
        return True
    if not isinstance(source, str):
        return False
    if source in PATTERNS or source in PATTERNS.values():
        return True
    # A literal: exactly what re.escape writes for the text it stands for, so it has no operator.
    return _re_std.escape(_ESCAPED_CHAR.sub(r"\1", source)) == source


def check_stored_pattern(source, *, trust_pattern):
    """`source` unchanged if a file may choose it (is_safe_pattern, or the caller trusts the file), else
    ModelFileError saying how to opt in. Call it before the pattern is compiled: compiling a regex
    can be slow too."""
    if trust_pattern or is_safe_pattern(source):
        return source
    raise ModelFileError(
        f"the file's split pattern {source!r} is a custom regex: fasttok only runs {', '.join(PATTERNS)} "
        "and literal strings from a file, because a regex can backtrack catastrophically. If you trust "
        "the file, load it with fasttok.load(path, trust_pattern=True) (command line: --trust-pattern); "
        f"each text is then still stopped with PatternTimeoutError after {TIMEOUT_SECONDS:g} s + "
        f"{TIMEOUT_SECONDS_PER_CHAR * 1e6:g} µs per character")


def _safe_cut(data, named):
    r"""The last offset in `data` where a block may end, or -1.

    A lone newline between two printable ASCII characters is safe: no named or whitespace-style
    pattern lets a newline lead into a non-space, and a one-character whitespace run is the same
    piece whether or not text follows it (a longer run is not: `\s+(?!\S)` leaves its last character
    to the next piece only when a non-space follows). For the named patterns, a space between two
    ASCII letters is also safe, which keeps files without newlines in bounded blocks.
    """
    i = len(data) - 1
    while True:
        i = data.rfind(b"\n", 1, i)
        if i < 1:
            break
        if 0x21 <= data[i + 1] <= 0x7E and 0x21 <= data[i - 1] <= 0x7E:
            return i + 1
    last = -1
    if named:
        for m in _LETTER_SPACE_LETTER.finditer(data):
            last = m.start() + 1
    return last


_LETTER_SPACE_LETTER = _re_std.compile(rb"[A-Za-z] (?=[A-Za-z])")


def safe_cut(source):
    """The block-cut rule for a pattern source: where no pre-token can straddle the cut."""
    return functools.partial(_safe_cut, named=source in PATTERNS.values())


def bert_pre_tokenize(text: str) -> list[str]:
    """BERT's basic pre-tokenizer: split on whitespace, each punctuation character its own word.

    >>> bert_pre_tokenize("don't stop--now")
    ['don', "'", 't', 'stop', '-', '-', 'now']
    """
    words, current = [], []
    for ch in text:
        if ch in WHITESPACE or is_punctuation(ch):
            if current:
                words.append("".join(current))
                current = []
            if ch not in WHITESPACE:
                words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


# ------------------------------------------------------------------------------------------------
# Patterns in Hugging Face's regex dialect
#
# HF tokenizers runs a tokenizer.json Split pattern through Oniguruma (Ruby syntax), which reads some
# of the `regex` module's constructs differently. Each difference below is checked against HF itself
# in tests/fasttok/test_hf_pattern.py:
#
#   here (`regex` module)          Oniguruma                        written for Oniguruma as
#   X{m,n}+  possessive interval   (X{m,n})+, a repeated interval   (?>X{m,n})
#   X{n}?    exactly n (lazy)      (X{n})?, optional                X{n}
#   \w       UTS #18 word          drops ZWNJ and ZWJ; outside a    the explicit class _WORD
#                                  class adds ²³¹¼½¾
#   \b \B    on that \w            on its own \w                    look-arounds on _WORD
#   ^ $ \Z   string anchors        line anchors                     \A  (?=\n?\z)  \z
#   (?s)     dot matches newline   spelt (?m)                       (?m)
#   [ &&     literal in a class    nested class, intersection       \[  \&\&
#   \g<n>    back-reference        subroutine call                  \k<n>
#   \N{..} \uXXXX \UXXXXXXXX       not understood                   \x{...}
#
# hf_pattern() writes a `regex` source for Oniguruma; pattern_from_hf() reads an Oniguruma source as
# HF means it (and, since HF splits on whole matches, with capturing groups made non-capturing, so
# that findall returns whole matches too). Both refuse, naming it, what they cannot carry over.
# ------------------------------------------------------------------------------------------------

# The `regex` module's \w (UTS #18), and Oniguruma's \w inside a class and outside one (where it and \b
# also take the Latin-1 digits ²³¹ and fractions ¼½¾), as class bodies that both engines read alike.
_WORD = r"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}"
_ONIG_CLASS_WORD = r"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}"
_ONIG_WORD = _ONIG_CLASS_WORD + r"\xb2\xb3\xb9\xbc-\xbe"

_ESCAPE = _re_std.compile(r"""\\(?:[pP]\{[^}]*\}|[pP][A-Za-z]|N\{[^}]*\}|x\{[0-9A-Fa-f]+\}|x[0-9A-Fa-f]{2}
                              |u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[kg]<[^>]*>|[0-9]+|.)""", _re_std.S | _re_std.X)
_QUANTIFIER = _re_std.compile(r"(?:[*+?]|\{(?:(\d+)|\d+,\d*|,\d+)\})([?+]?)")
_GROUP = _re_std.compile(r"""\((?:\?(?:(?P<flags>[A-Za-z]*(?:-[A-Za-z]+)?)(?P<end>[:)])
                                      |(?P<comment>\#[^)]*\))|(?P<backref>P=\w+\))|(?P<lookaround><[=!]|[=!>])
                                      |(?P<named>P?<\w+>|'\w+')))?""", _re_std.X)
_POSIX = _re_std.compile(r"\[:\^?[A-Za-z]+:\]")


class _Dialect:
    """What one direction of the translation rewrites; a None replacement means: refuse."""

    def __init__(self, *, target, error, escapes, prefixes, class_escapes, class_literals, flags,
                 anchors, possessive, exact_lazy, capture):
        self.target, self.error = target, error
        self.escapes = escapes                # escape -> replacement, outside a class
        self.prefixes = prefixes              # escape prefix (back-references) -> replacement prefix
        self.class_escapes = class_escapes    # escape -> replacement, inside a class
        self.class_literals = class_literals  # text inside a class -> replacement
        self.flags = flags                    # inline flag letter -> letter in the target
        self.anchors = anchors                # "^" / "$" -> replacement
        self.possessive = possessive          # X{m,n}+ in the target, from (X, "{m,n}")
        self.exact_lazy = exact_lazy          # X{n}? in the target, from (X, "{n}")
        self.capture = capture                # what a capturing group opens with (None: unchanged)

    def refuse(self, what):
        raise self.error(f"{what} cannot be written for {self.target}")


def _translate(source, d):
    """`source` rewritten construct by construct as `d` says."""
    out = []            # the translated pieces
    opens = []          # index in `out` of each open group
    atom = None         # index in `out` where the last atom (what a quantifier applies to) starts
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c == "\\":
            text = _ESCAPE.match(source, i).group()
            atom = len(out)
            out.append(_rewrite_escape(text, d, d.escapes))
            i += len(text)
        elif c == "[":
            atom = len(out)
            text, i = _translate_class(source, i, d)
            out.append(text)
        elif c == "(":
            m = _GROUP.match(source, i)
            i = m.end()
            text = m.group()
            if text == "(" and source.startswith("(?", m.start()):
                d.refuse(f"the group {source[m.start():m.start() + 4]!r}...")
            if m["comment"]:
                continue
            if m["backref"]:
                atom = len(out)
                out.append(_rewrite_escape(f"\\g<{text[4:-1]}>", d, {}))
                continue
            if m["flags"] is not None:
                text = "(?" + _rewrite_flags(m["flags"], d) + m["end"]
                if m["end"] == ")":  # flags for the whole pattern
                    if m.start():
                        raise d.error(f"inline flags {m.group()!r} only carry over at the start of the "
                                      "pattern; use a scoped group (?flags:...)")
                    out.append("" if text == "(?)" else text)
                    atom = None
                    continue
            elif not m["lookaround"]:
                text = d.capture or text.replace("(?P<", "(?<", 1)
            opens.append(len(out))
            out.append(text)
            atom = None
        elif c == ")":
            out.append(c)
            atom = opens.pop() if opens else None
            i += 1
        elif c in "*+?{" and (m := _QUANTIFIER.match(source, i)):
            interval, modifier = m.group()[:len(m.group()) - len(m[2])], m[2]
            if atom is not None and interval.startswith("{") and modifier == "+":
                out[atom:] = [d.possessive("".join(out[atom:]), interval)]
            elif atom is not None and m[1] is not None and modifier == "?":
                out[atom:] = [d.exact_lazy("".join(out[atom:]), interval)]
            else:
                out.append(m.group())
            atom = None
            i = m.end()
        elif c in "^$":
            out.append(d.anchors[c])
            atom = None
            i += 1
        else:
            atom = None if c == "|" else len(out)
            out.append(c)
            i += 1
    return "".join(out)


def _rewrite_escape(text, d, table):
    if text in table:
        return table[text] if table[text] is not None else d.refuse(f"the escape {text!r}")
    for prefix, replacement in d.prefixes.items():
        if text.startswith(prefix):
            return replacement + text[len(prefix):] if replacement is not None else d.refuse(f"the escape {text!r}")
    if text.startswith("\\N{"):
        try:
            return _code_point(ord(unicodedata.lookup(text[3:-1])), d)
        except KeyError:
            raise d.error(f"unknown character name in {text!r}") from None
    if text[1] in "uU" and len(text) > 2:
        return _code_point(int(text[2:], 16), d)
    if text.startswith("\\x{"):
        return _code_point(int(text[3:-1], 16), d)
    return text


def _code_point(cp, d):
    return f"\\x{{{cp:X}}}" if d is _TO_ONIG else f"\\U{cp:08X}"


def _translate_class(source, i, d):
    """The class that starts at source[i] (its '['), rewritten; and the index after its ']'."""
    j = i + 1
    parts = ["["]
    if source.startswith("^", j):
        parts.append("^")
        j += 1
    first = True
    while j < len(source):
        c = source[j]
        if c == "]" and not first:
            parts.append("]")
            return "".join(parts), j + 1
        first = False
        if c == "\\":
            text = _ESCAPE.match(source, j).group()
            parts.append(_rewrite_escape(text, d, d.class_escapes))
            j += len(text)
        elif c == "[" and (m := _POSIX.match(source, j)):
            parts.append(m.group())
            j = m.end()
        elif (lit := next((t for t in d.class_literals if source.startswith(t, j)), None)) is not None:
            if d.class_literals[lit] is None:
                d.refuse(f"{lit!r} inside a character class (a nested class or an intersection)")
            parts.append(d.class_literals[lit])
            j += len(lit)
        else:
            parts.append(c)
            j += 1
    raise d.error(f"unterminated character class in {source!r}")


def _rewrite_flags(flags, d):
    on, _, off = flags.partition("-")
    out = []
    for part in (on, off):
        for f in part:
            if f not in d.flags:
                d.refuse(f"the inline flag {f!r} (in {flags!r})")
        out.append("".join(d.flags[f] for f in part))
    return out[0] + ("-" + out[1] if out[1] else "")


def _look_arounds(word, negated):
    ahead, not_ahead = f"(?=[{word}])", f"(?![{word}])"
    if negated:
        ahead, not_ahead = not_ahead, ahead
    return f"(?:(?<=[{word}]){not_ahead}|(?<![{word}]){ahead})"


_TO_ONIG = _Dialect(
    target="Oniguruma (HF tokenizers)", error=FasttokError,
    escapes={r"\w": f"[{_WORD}]", r"\W": f"[^{_WORD}]", r"\Z": r"\z",
             r"\b": _look_arounds(_WORD, False), r"\B": _look_arounds(_WORD, True)},
    prefixes={"\\g<": "\\k<"},
    class_escapes={r"\w": _WORD, r"\W": f"[^{_WORD}]"},
    class_literals={"[": r"\[", "&&": r"\&\&"},
    flags={"i": "i", "s": "m"},  # our (?m) only changes ^ and $; not carried over
    anchors={"^": r"\A", "$": r"(?=\n?\z)"},
    possessive=lambda atom, interval: f"(?>{atom}{interval})",
    exact_lazy=lambda atom, interval: f"{atom}{interval}",
    capture=None,
)
_FROM_ONIG = _Dialect(
    target="the regex module", error=ModelFileError,
    escapes={r"\w": f"[{_ONIG_WORD}]", r"\W": f"[^{_ONIG_WORD}]", r"\Z": r"(?=\n?\Z)", r"\z": r"\Z",
             r"\h": "[0-9A-Fa-f]", r"\H": "[^0-9A-Fa-f]",
             r"\b": _look_arounds(_ONIG_WORD, False), r"\B": _look_arounds(_ONIG_WORD, True),
             r"\O": None, r"\y": None, r"\Y": None, r"\N": None, r"\X": None, r"\K": None},
    # Capturing groups become non-capturing (findall returns whole matches), so references refuse.
    prefixes={"\\g<": None, "\\k<": None, **{f"\\{k}": None for k in range(1, 10)}},
    class_escapes={r"\w": _ONIG_CLASS_WORD, r"\h": "0-9A-Fa-f", r"\W": None, r"\H": None},
    class_literals={"[": None, "&&": None},
    flags={"i": "i", "m": "s"},
    anchors={"^": r"(?m:^)", "$": r"(?m:$)"},
    possessive=lambda atom, interval: f"(?:{atom}{interval})+",
    exact_lazy=lambda atom, interval: f"(?:{atom}{interval})?",
    capture="(?:",
)


def hf_pattern(source):
    r"""The pattern source written so that HF tokenizers (Oniguruma) finds the same matches.

    >>> print(hf_pattern(r"\p{N}{1,3}+| ?\p{L}+"))
    (?>\p{N}{1,3})| ?\p{L}+
    """
    return _translate(source, _TO_ONIG)


def pattern_from_hf(onig_source):
    """A tokenizer.json Split regex as a pattern source here: a named pattern's own source when
    it is that pattern as hf_pattern writes it, else the Oniguruma regex rewritten for `regex`."""
    for source in PATTERNS.values():
        if onig_source == hf_pattern(source):
            return source
    return _translate(onig_source, _FROM_ONIG)
