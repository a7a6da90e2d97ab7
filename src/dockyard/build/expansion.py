"""Variable substitution and word splitting in Dockerfile instructions, as Docker does it.

``expand(word, env)`` processes one word: single quotes are literal, double quotes allow
``$`` and escape only ``"``, ``$`` and the escape character, the escape character outside
quotes makes the next character literal, and ``$VAR``, ``${VAR}``, ``${VAR:-word}``,
``${VAR-word}``, ``${VAR:+word}``, ``${VAR+word}``, ``${VAR:?msg}``, ``${VAR?msg}``
substitute (an unset variable is empty). ``expand_words(text, env)`` also splits into
words at unquoted whitespace, including whitespace that came from an unquoted
substitution (EXPOSE, VOLUME, COPY sources). Quotes and escapes are removed.
"""

from __future__ import annotations

from collections.abc import Mapping

from dockyard.errors import InvalidArgument

DEFAULT_ESCAPE = "\\"


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        # words: (text, splittable) pieces; unquoted substitutions split at whitespace
        self.words: list[str] = []
        self.current: list[str] = []
        self.in_word = False

    # -- scanning ----------------------------------------------------------------------

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1 if ch else 0
        return ch

    # -- word collection ---------------------------------------------------------------

    def _end_word(self) -> None:
        if self.in_word:
            self.words.append("".join(self.current))
        self.current = []
        self.in_word = False

    def _add(self, text: str, split: bool) -> None:
        if not split:
            self.current.append(text)
            self.in_word = True
            return
        for ch in text:
            if ch.isspace():
                self._end_word()
            else:
                self.current.append(ch)
                self.in_word = True

    # -- the grammar -------------------------------------------------------------------

    def process(self, stop: str = "") -> str:
        """Up to ``stop`` (consumed) or the end; the processed text."""
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                if stop:
                    raise InvalidArgument(f"syntax error: missing '{stop}' in {self.text!r}")
                return "".join(out)
            if stop and ch == stop:
                self.next()
                return "".join(out)
            if ch == "'":
                piece = self._single_quoted()
                self._add(piece, split=False)
            elif ch == '"':
                piece = self._double_quoted()
                self._add(piece, split=False)
            elif ch == "$":
                piece = self._dollar()
                self._add(piece, split=True)
            else:
                self.next()
                if ch == self.escape:
                    ch = self.next()
                    if not ch:
                        break
                    self._add(ch, split=False)
                else:
                    self._add(ch, split=True)
                piece = ch
            out.append(piece)
        return "".join(out)

    def _single_quoted(self) -> str:
        self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            raise InvalidArgument(
                f"unexpected end of statement while looking for matching single-quote "
                f"in {self.text!r}"
            )
        piece = self.text[self.pos : end]
        self.pos = end + 1
        return piece

    def _double_quoted(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise InvalidArgument(
                    f"unexpected end of statement while looking for matching double-quote "
                    f"in {self.text!r}"
                )
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            self.next()
            if ch == self.escape:
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def _name(self) -> str:
        start = self.pos
        if self.peek().isdigit():  # positional parameters are one digit
            self.next()
            return self.text[start : self.pos]
        while (ch := self.peek()) and (ch.isalnum() or ch == "_"):
            self.next()
        return self.text[start : self.pos]

    def _dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self._name()
            return self.env.get(name, "") if name else "$"
        self.next()
        if self.peek() in ("", "{", "}", ":"):
            raise InvalidArgument(f"bad substitution in {self.text!r}")
        name = self._name()
        if not name:
            raise InvalidArgument(f"bad substitution in {self.text!r}")
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        modifier = self.next() if colon else ch
        if modifier not in ("-", "+", "?"):
            raise InvalidArgument(
                f"unsupported modifier ({modifier}) in substitution {self.text!r}"
                if colon or modifier
                else f"syntax error: missing '}}' in {self.text!r}"
            )
        # the word is processed on its own: it must not add to the words collected so far
        sub = _Lexer(self.text, self.env, self.escape)
        sub.pos = self.pos
        word = sub.process("}")
        self.pos = sub.pos
        value = self.env.get(name)
        present = value is not None and (value != "" or not colon)
        if modifier == "-":
            return value if present and value is not None else word
        if modifier == "+":
            return word if present else ""
        if not present:
            raise InvalidArgument(f"{name}: {word or 'is not allowed to be unset'}")
        return value or ""


def expand(word: str, env: Mapping[str, str], escape: str = DEFAULT_ESCAPE) -> str:
    """One word with its substitutions made and its quotes and escapes removed."""
    return _Lexer(word, env, escape).process()


def expand_words(text: str, env: Mapping[str, str], escape: str = DEFAULT_ESCAPE) -> list[str]:
    """The words of ``text`` after substitution (see the module doc)."""
    lexer = _Lexer(text, env, escape)
    lexer.process()
    lexer._end_word()
    return lexer.words
