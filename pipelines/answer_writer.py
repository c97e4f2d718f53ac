"""A model's reply turned into answer text, the same for whole and streamed replies.

- citation brackets are resolved against the packed passages (`resolve_citations`); a
  bracket citing nothing that was shown is removed from the text, one citing some real
  and some invented passages keeps only the real ones (rewritten as their markers);
- a reply starting with the not-found sentence becomes exactly `NOT_FOUND`, `found=False`,
  no citations (the rest of the reply is not shown).

A streamed answer (`AnswerStream`) yields exactly the text of its final `Answer`: text that
could still turn out to be the not-found sentence or an invented marker is held back until
it is decided.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator, Mapping

from pipelines.answer_models import NOT_FOUND, Answer, AnswerCitation, not_found
from pipelines.citations import Citation, resolve_citations

_NOT_FOUND_FORMS = (
    "not found in the documents",
    "文档中未找到",
    "在文档中未找到",
    "未在文档中找到",
)
_BRACKET = re.compile(r"\[\s*doc\s*:[^\[\]]{0,400}\]")
_PARTIAL = re.compile(r"\[\s*(?:d(?:o(?:c(?:\s*(?::[^\[\]]*)?)?)?)?)?\Z")
"""Text that may still grow into a citation bracket."""
_CITING = re.compile(r"\[\s*doc\s*:")
_MAX_BRACKET = 420


class AnswerStream:
    """Text deltas of an answer; `answer()` gives the resolved `Answer` once it is consumed.

    The concatenated deltas equal `answer().text`. Closing it early (or leaving a `with`
    block) closes the model's stream.
    """

    def __init__(self, deltas: Iterator[str], writer: AnswerWriter) -> None:
        self._deltas = deltas
        self._writer = writer
        self._done = False
        self._pieces: Generator[str, None, None] = self._run()

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def __enter__(self) -> AnswerStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading the model's reply."""
        self._pieces.close()
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()

    def answer(self) -> Answer:
        """The final answer. Reads whatever is left of the stream first."""
        for _ in self._pieces:
            pass
        if not self._done:
            raise RuntimeError("the answer stream was closed before it ended")
        return self._writer.answer()

    def _run(self) -> Generator[str, None, None]:
        for delta in self._deltas:
            visible = self._writer.feed(delta)
            if visible:
                yield visible
            if self._writer.settled_not_found:
                close = getattr(self._deltas, "close", None)
                if close is not None:
                    close()  # the rest is never shown: stop generating it
                break
        rest = self._writer.finish()
        self._done = True
        if rest:
            yield rest


def _normal(text: str) -> str:
    return " ".join(text.lower().replace("*", "").replace('"', "").split())


def _could_be_not_found(text: str) -> bool:
    head = _normal(text)
    return any(form.startswith(head) for form in _NOT_FOUND_FORMS)


def _is_not_found(text: str) -> bool:
    head = _normal(text)
    return any(head.startswith(form) for form in _NOT_FOUND_FORMS)


class AnswerWriter:
    """Turns reply text (whole, or deltas) into answer text: markers checked, not-found
    detected; `feed` returns what can be shown now, `finish` the rest."""

    def __init__(self, citations: Mapping[str, Citation]) -> None:
        self.citations = citations
        self.pending = ""  # undecided text: a possible marker or not-found sentence
        self.space = ""  # whitespace held until text follows (dropped before a removed marker)
        self.started = False  # the opening is decided: not the not-found sentence
        self.settled_not_found = False
        self.shown: list[str] = []
        self.cited: list[Citation] = []
        self.removed: list[str] = []

    def feed(self, delta: str) -> str:
        """What of `delta` (with what was held back) can be shown now."""
        if self.settled_not_found:
            return ""
        self.pending += delta
        if not self.started:
            opening = self.pending.lstrip()
            if _is_not_found(opening):
                return self._settle_not_found()
            if not opening or _could_be_not_found(opening):
                return ""
            self.started, self.pending = True, opening
        return self._flush(final=False)

    def finish(self) -> str:
        """Whatever was held back and is to be shown; the reply has ended."""
        if self.settled_not_found:
            return ""
        if not self.started:
            self.started, self.pending = True, self.pending.lstrip()
        out = self._flush(final=True)
        self.space = ""
        if not self.shown:  # an empty reply, or one made only of invented markers
            return self._settle_not_found()
        return out

    def answer(self) -> Answer:
        """The resolved answer (after `finish`)."""
        if self.settled_not_found:
            return not_found()
        citations = [
            AnswerCitation(
                marker=c.marker,
                document_id=c.document_id,
                page_start=c.page_start,
                page_end=c.page_end,
                chunk_numbers=list(c.chunk_numbers),
            )
            for c in self.cited
        ]
        return Answer(
            text="".join(self.shown),
            found=True,
            citations=citations,
            removed_markers=self.removed,
        )

    def _settle_not_found(self) -> str:
        self.settled_not_found, self.pending, self.space = True, "", ""
        self.cited.clear()
        return self._show(NOT_FOUND)

    def _flush(self, *, final: bool) -> str:
        out: list[str] = []
        while self.pending:
            start = self.pending.find("[")
            if start < 0:
                out.append(self._text(self.pending))
                self.pending = ""
                break
            out.append(self._text(self.pending[:start]))
            self.pending = self.pending[start:]
            bracket = _BRACKET.match(self.pending)
            if bracket is not None:
                out.append(self._marker(bracket.group(0)))
                self.pending = self.pending[bracket.end() :]
                continue
            if _PARTIAL.match(self.pending) and len(self.pending) < _MAX_BRACKET:
                if not final:
                    break  # may still become a marker: wait for more text
                if _CITING.match(self.pending):  # a marker cut off at the end: not a source
                    self.removed.append(self.pending)
                    self.pending = ""
                    break
            out.append(self._text(self.pending[0]))
            self.pending = self.pending[1:]
        return "".join(out)

    def _text(self, text: str) -> str:
        """Plain text: shown, except trailing whitespace (held until more text comes)."""
        body = text.rstrip()
        if not body:
            self.space += text
            return ""
        shown = self._show(self.space + body)
        self.space = text[len(body) :]
        return shown

    def _marker(self, bracket: str) -> str:
        found, unresolved = resolve_citations(bracket, self.citations)
        if unresolved:
            self.removed.append(bracket)
        if not found:
            self.space = ""  # "claim [doc:zz, p.9]." -> "claim."
            return ""
        self.cited.extend(c for c in found if c not in self.cited)
        return self._show(
            self.space + (" ".join(c.marker for c in found) if unresolved else bracket)
        )

    def _show(self, text: str) -> str:
        self.space = ""
        self.shown.append(text)
        return text
