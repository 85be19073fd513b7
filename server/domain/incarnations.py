"""One incarnation of a session: the session from its creation to its deletion.

A session id can be reused at once after DeleteSession, and sequences restart
at 1, so a position (a sequence) means something only within one incarnation.
Page tokens, stream resume tokens and running streams are bound to the
incarnation they started in, told apart by the session's creation time.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.clock import to_micros
from server.domain.errors import FieldViolation, InvalidArgument, NotFound
from server.domain.models import Session
from server.domain.pagination import decode_page_token, encode_page_token, malformed_page_token

__all__ = ["SESSION_DELETED", "SessionIncarnation"]

# ErrorInfo reason of a stream whose session was deleted while it ran.
SESSION_DELETED = "SESSION_DELETED"


@dataclass(frozen=True, slots=True)
class SessionIncarnation:
    session_id: str
    born: int  # created_at, in microseconds

    @classmethod
    def of(cls, session: Session) -> SessionIncarnation:
        return cls(session.session_id, to_micros(session.created_at))

    def token_at(self, after: int) -> str:
        """An opaque token for the position after sequence ``after`` in this incarnation."""
        return encode_page_token({"session": self.session_id, "born": self.born, "after": after})

    def position_of(self, token: str, *, field: str) -> int:
        """The sequence a token of ``token_at`` names; INVALID_ARGUMENT on ``field`` when
        it is malformed, of another session, or of an earlier incarnation."""
        position = decode_page_token(token, bound_to={"session": self.session_id}, field=field)
        born, after = position.get("born"), position.get("after")
        if not isinstance(born, int) or not isinstance(after, int) or after < 0:
            raise malformed_page_token(field)
        if born != self.born:
            raise InvalidArgument(
                [
                    FieldViolation(
                        field,
                        f"belongs to an earlier session {self.session_id!r}, deleted since;"
                        " the session of that id now is another history: start over",
                    )
                ]
            )
        return after

    def deleted(self) -> NotFound:
        """The error that ends a stream whose session was deleted while it ran."""
        error = NotFound("session", self.session_id)
        error.reason = SESSION_DELETED
        error.facts = {"session_id": self.session_id}
        error.add_note(
            "it was deleted while this stream ran; a session created again with this id"
            " is another history (stream it from the start)"
        )
        return error
