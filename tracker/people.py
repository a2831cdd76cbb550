"""The people table: researcher handles and the chat users linked to them.

A person is a researcher handle (the name experiments record as their
researcher) with an optional Slack user id and email. The functions take
a Tracker and run one transaction each, like the Tracker's own methods.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker import emails, models, validation
from tracker.errors import InvalidInput, PermissionDenied, StorageError

if TYPE_CHECKING:
    from tracker.api import Tracker

# Characters a handle may not contain become "-" when one is derived from
# an email address or a display name.
_NOT_HANDLE = re.compile(r"[^\w.+-]+")
MAX_HANDLE_SUFFIX = 99
MAX_DISPLAY_NAME_CHARS = 200


@dataclass(frozen=True)
class PersonRecord:
    handle: str
    slack_user_id: str | None
    email: str | None
    display_name: str
    team: str

    @classmethod
    def from_model(cls, row: models.Person) -> PersonRecord:
        return cls(row.handle, row.slack_user_id, row.email, row.display_name, row.team)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "handle": self.handle,
            "display_name": self.display_name,
            "team": self.team,
            "email": self.email,
            "slack_user_id": self.slack_user_id,
        }


@dataclass(frozen=True)
class Claim:
    """The outcome of `claim_handle`: the handle's person, and whether it is yours."""

    person: PersonRecord
    linked: bool


def by_handle(tracker: Tracker, handle: str) -> PersonRecord | None:
    with tracker.db.read() as session:
        row = session.get(models.Person, handle)
        return PersonRecord.from_model(row) if row else None


def by_slack_id(tracker: Tracker, slack_user_id: str) -> PersonRecord | None:
    return _find_one(tracker, models.Person.slack_user_id == slack_user_id)


def by_email(tracker: Tracker, email: str) -> PersonRecord | None:
    return _find_one(tracker, models.Person.email == email.strip().lower())


def list_people(tracker: Tracker) -> list[PersonRecord]:
    """Return every person, ordered by handle."""
    with tracker.db.read() as session:
        rows = session.scalars(select(models.Person).order_by(models.Person.handle))
        return [PersonRecord.from_model(row) for row in rows]


def handles_for(tracker: Tracker, slack_user_ids: Iterable[str]) -> dict[str, str]:
    """Map the linked ones of `slack_user_ids` to their handles."""
    ids = list(dict.fromkeys(slack_user_ids))
    if not ids:
        return {}
    with tracker.db.read() as session:
        rows = session.execute(
            select(models.Person.slack_user_id, models.Person.handle).where(
                models.Person.slack_user_id.in_(ids)
            )
        ).all()
    return {slack_id: handle for slack_id, handle in rows if slack_id}


def slack_ids_for(tracker: Tracker, handles: Iterable[str]) -> dict[str, str]:
    """Map the linked ones of `handles` to their Slack user ids."""
    requested = list(dict.fromkeys(handles))
    if not requested:
        return {}
    with tracker.db.read() as session:
        rows = session.execute(
            select(models.Person.handle, models.Person.slack_user_id).where(
                models.Person.handle.in_(requested),
                models.Person.slack_user_id.is_not(None),
            )
        ).all()
    return {handle: slack_id for handle, slack_id in rows if slack_id}


def email_domains(tracker: Tracker, limit: int = 3) -> list[str]:
    """Return the email domains of people, the most common first."""
    with tracker.db.read() as session:
        emails = session.scalars(
            select(models.Person.email).where(models.Person.email.is_not(None))
        ).all()
    # The people table is one row per team member, so counting here is cheap.
    counts = Counter(
        email.rpartition("@")[2] for email in emails if email and "@" in email
    )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [domain for domain, _ in ranked[:limit]]


def handle_from(text: str) -> str:
    """Derive a valid handle from an email local part or a display name."""
    base = text.split("@", 1)[0] if "@" in text[1:] else text
    candidate = _NOT_HANDLE.sub("-", base.strip().lower()).strip("-.")
    return candidate[: validation.MAX_HANDLE_CHARS - 3] or "user"


def is_admin(tracker: Tracker, handle: str, admin_slack_ids: Iterable[str]) -> bool:
    """Return whether `handle` is linked to one of the admins' Slack user ids."""
    person = by_handle(tracker, handle)
    return person is not None and person.slack_user_id in set(admin_slack_ids)


def link_slack_user(
    tracker: Tracker,
    handle: str,
    slack_user_id: str,
    *,
    email: str | None = None,
    display_name: str | None = None,
    team: str | None = None,
) -> PersonRecord:
    """Link a Slack user to `handle`, creating the person if needed.

    A Slack user has one handle: linking moves the Slack id (and the email,
    which belongs to the same account) off any other person. Policy, such
    as who may take a handle, is the caller's. `claim_handle` links only a
    handle that no other Slack user has.
    """
    handle, email, team = _checked_link(handle, email, team)
    with tracker.db.write() as session:
        now = tracker.clock()
        row = session.get(models.Person, handle)
        if row is None:
            row = models.Person(handle=handle, display_name="", team="", updated_at=now)
            session.add(row)
        _attach(session, row, slack_user_id, email, display_name, team)
        row.updated_at = now
        return PersonRecord.from_model(row)


def claim_handle(
    tracker: Tracker,
    handle: str,
    slack_user_id: str,
    *,
    email: str | None = None,
    display_name: str | None = None,
    team: str | None = None,
) -> Claim:
    """Link a Slack user to `handle` unless someone else has it.

    The claim wins when the person is new, is already this user's, or is
    linked to no Slack user and has `email`. A lost claim changes nothing
    and returns the person who has the handle, with `linked=False`.

    Of concurrent claims of one handle exactly one wins: a new person is
    created with INSERT ... ON CONFLICT DO NOTHING on the handle, which is
    the primary key, and an existing one is read with SELECT ... FOR UPDATE
    on PostgreSQL. SQLite runs one write transaction at a time.
    """
    handle, email, team = _checked_link(handle, email, team)
    with tracker.db.write() as session:
        now = tracker.clock()
        created = _insert_if_missing(session, tracker.db.dialect, handle, now)
        row = session.get(models.Person, handle, with_for_update=True)
        if row is None:
            raise StorageError(
                f"Person `{handle}` disappeared while it was being linked; try again."
            )
        if not created and not _may_claim(row, slack_user_id, email):
            return Claim(PersonRecord.from_model(row), linked=False)
        _attach(session, row, slack_user_id, email, display_name, team)
        row.updated_at = now
        return Claim(PersonRecord.from_model(row), linked=True)


def _checked_link(
    handle: str, email: str | None, team: str | None
) -> tuple[str, str | None, str | None]:
    """Validate a link's handle and team, and normalize its email."""
    handle = validation.handle(handle)
    email = email.strip().lower() if email else None
    if team is not None:
        team = validation.label(team, "team")
    return handle, email, team


def add_person(
    tracker: Tracker,
    handle: str,
    *,
    email: str | None = None,
    display_name: str = "",
    team: str = "",
    actor: str | None = None,
    as_admin: bool = False,
) -> PersonRecord:
    """Create a person not yet linked to any Slack user.

    A Slack user whose email matches, or who takes the handle, is linked
    to this person on first sight. When `actor` is given, it must be
    `handle` itself unless `as_admin` is set.
    """
    handle = validation.handle(handle, "handle")
    address = emails.address(email) if email is not None else None
    display_name = _display_name(display_name)
    team = validation.label(team, "team")
    _check_may_change(handle, actor, as_admin)
    with tracker.db.write() as session:
        if session.get(models.Person, handle) is not None:
            raise InvalidInput(
                f"Person `{handle}` already exists: change its email with "
                f"`expbot people set-email {handle} ADDRESS`, or pick another "
                "handle."
            )
        if address is not None:
            _check_email_free(session, handle, address)
        row = models.Person(
            handle=handle,
            email=address,
            display_name=display_name,
            team=team,
            updated_at=tracker.clock(),
        )
        session.add(row)
        _flush_new_values(session, handle, address)
        return PersonRecord.from_model(row)


def set_email(
    tracker: Tracker,
    handle: str,
    email: str | None,
    *,
    actor: str | None = None,
    as_admin: bool = False,
) -> PersonRecord:
    """Set the email of an existing person, or clear it when `email` is None.

    The email decides which Slack user may take an unlinked person, so when
    `actor` is given it must be `handle` itself unless `as_admin` is set.
    """
    handle = validation.handle(handle, "handle")
    address = emails.address(email) if email is not None else None
    _check_may_change(handle, actor, as_admin)
    with tracker.db.write() as session:
        row = session.get(models.Person, handle)
        if row is None:
            raise InvalidInput(
                f"No person `{handle}`: add one with "
                f"`expbot people add {handle} --email ADDRESS`."
            )
        if address is not None:
            _check_email_free(session, handle, address)
        row.email = address
        row.updated_at = tracker.clock()
        _flush_new_values(session, handle, address)
        return PersonRecord.from_model(row)


def set_team(tracker: Tracker, handle: str, team: str) -> PersonRecord:
    team = validation.label(team, "team")
    with tracker.db.write() as session:
        row = session.get(models.Person, handle)
        if row is None:
            raise InvalidInput(
                f"No person `{handle}`: link a Slack user first with `/exp link`."
            )
        row.team = team
        row.updated_at = tracker.clock()
        return PersonRecord.from_model(row)


def _find_one(tracker: Tracker, condition: ColumnElement[bool]) -> PersonRecord | None:
    with tracker.db.read() as session:
        row = session.scalars(select(models.Person).where(condition)).first()
        return PersonRecord.from_model(row) if row else None


def _attach(
    session: Session,
    row: models.Person,
    slack_user_id: str,
    email: str | None,
    display_name: str | None,
    team: str | None,
) -> None:
    """Link `row` to the Slack user, moving the Slack id and email off others."""
    _release(session, row.handle, "slack_user_id", slack_user_id)
    if email is not None:
        _release(session, row.handle, "email", email)
    # Flush the releases first: the unique columns are checked per
    # statement, and the update below may otherwise run before them.
    session.flush()
    row.slack_user_id = slack_user_id
    if email is not None and row.email in (None, email):
        row.email = email
    if display_name:
        row.display_name = display_name[:MAX_DISPLAY_NAME_CHARS]
    if team is not None:
        row.team = team


def _release(session: Session, handle: str, column: str, value: str) -> None:
    """Clear a unique column on every other person that has `value` in it."""
    session.execute(
        update(models.Person)
        .where(getattr(models.Person, column) == value, models.Person.handle != handle)
        .values({column: None})
    )


def _insert_if_missing(
    session: Session, dialect: str, handle: str, now: dt.datetime
) -> bool:
    """Insert an unlinked person for `handle`; return False if one existed."""
    values = {"handle": handle, "display_name": "", "team": "", "updated_at": now}
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(models.Person).values(**values)
    else:
        statement = sqlite.insert(models.Person).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=["handle"])
    # RETURNING yields no row when the conflict skipped the insert.
    inserted = session.scalar(statement.returning(models.Person.handle))
    return inserted is not None


def _may_claim(row: models.Person, slack_user_id: str, email: str | None) -> bool:
    if row.slack_user_id == slack_user_id:
        return True
    return row.slack_user_id is None and email is not None and row.email == email


def _check_may_change(handle: str, actor: str | None, as_admin: bool) -> None:
    if actor is None or as_admin or actor == handle:
        return
    raise PermissionDenied(
        f"You are `{actor}`, so you may add or change only the person "
        f"`{actor}`. Ask an expbot admin (a researcher linked to a Slack user "
        f"in EXPBOT_ADMINS) to change `{handle}`."
    )


def _check_email_free(session: Session, handle: str, email: str) -> None:
    holder = session.scalars(
        select(models.Person.handle).where(
            models.Person.email == email, models.Person.handle != handle
        )
    ).first()
    if holder is not None:
        raise InvalidInput(
            f"The email address {email} is already recorded for `{holder}`, and "
            f"an address belongs to one person. If it is not {holder}'s, "
            f"`{holder}` or an expbot admin can clear it first with "
            f"`expbot people set-email {holder} --clear`."
        )


def _flush_new_values(session: Session, handle: str, email: str | None) -> None:
    """Flush, reporting a duplicate that a concurrent writer committed first."""
    try:
        session.flush()
    except IntegrityError as exc:
        duplicate = f"person `{handle}`" if email is None else f"`{handle}` or {email}"
        raise InvalidInput(
            f"Someone recorded {duplicate} a moment ago; see `expbot people list`, "
            "then try again."
        ) from exc


def _display_name(value: str) -> str:
    text = validation.clean_text(value.strip(), "display name")
    if len(text) > MAX_DISPLAY_NAME_CHARS:
        raise InvalidInput(
            f"The display name {text[:60]!r} has {len(text)} characters; the "
            f"limit is {MAX_DISPLAY_NAME_CHARS}."
        )
    return text
