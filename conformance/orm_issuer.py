"""What GC Notify's and VA Notify's database lookup makes of an `iss` claim.

Both forks hand the claim, whatever its JSON type, to SQLAlchemy as the service's id:

- GC Notify (cds-snc/notification-api @ 72e3ae1), app/dao/services_dao.py:
  `db.on_reader().query(Service).filter_by(id=service_id).options(joinedload("api_keys")).one()`
- VA Notify (department-of-veterans-affairs/notification-api @ 742080a), the same service
  through `session.scalars(select(Service).where(Service.id == service_id)...).unique().one()`

with `Service.id = db.Column(UUID(as_uuid=True), primary_key=True)`, on SQLAlchemy 1.4.54 and
psycopg2 2.9.11 (both forks pin them). Their auth modules answer a `DataError` with "service id
is not the right data type", `NoResultFound` with "service not found", and anything else
crashes (a 500).

SQLAlchemy 1.4.54 hands a `UUID(as_uuid=True)` value to psycopg2 unchanged
(lib/sqlalchemy/dialects/postgresql/psycopg2.py, `_PGUUID.bind_processor`: it converts only
when `as_uuid` is false), and psycopg2 writes the value into the SQL by its Python type; a
comparison with `None` is `IS NULL`. PostgreSQL then decides
(src/backend/utils/adt/uuid.c, `string_to_uuid`):

| `iss` | SQL | outcome |
|---|---|---|
| a str PostgreSQL reads as a uuid: an optional `{`, 32 hex digits in either case with at most one `-` after each group of four (not after the last), the matching `}`, nothing else | `id = '...'` | that id |
| any other str | `id = '...'`: invalid input syntax for type uuid | `DataError` |
| a str with a NUL | psycopg2 refuses it (`ValueError`) | crash |
| a str with a lone surrogate | it cannot be encoded (`UnicodeEncodeError`) | crash |
| `None` | `id IS NULL` | `NoResultFound` |
| `[]` | `id = '{}'` | `DataError` |
| an int, a float, `True`, `False`, a non-empty list | `id = 1`, `id = true`, `id = ARRAY[...]`: no such operator | crash (`ProgrammingError`) |
| a dict | psycopg2 cannot adapt it | crash (`ProgrammingError`) |

    python orm_issuer.py --check DATABASE_URL

runs the forks' two queries for every value of `BATTERY` against a live PostgreSQL through
the real SQLAlchemy and psycopg2 (tables of its own in a schema it drops afterwards), and exits
non-zero, printing each, if any outcome differs from `orm_service_lookup`.
"""

from __future__ import annotations

import re
import sys
import uuid

# PostgreSQL's uuid input, as a regular expression.
_PG_UUID = re.compile(r"\{?(?:[0-9a-fA-F]{4}-?){7}[0-9a-fA-F]{4}\}?\Z")

# The id of the service the check stores: all decimal digits, so that an integer with the
# same digits is tried against a row that exists.
STORED = uuid.UUID("12345678-9012-3456-7890-123456789012")
_HEX = STORED.hex


def orm_service_lookup(iss):
    """("uuid", UUID) | ("data_error",) | ("no_result",) | ("crash", exception class name)."""
    if iss is None:
        return ("no_result",)
    if isinstance(iss, str):
        if "\x00" in iss:
            return ("crash", "ValueError")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in iss):
            return ("crash", "UnicodeEncodeError")
        braced = iss.startswith("{")
        if _PG_UUID.match(iss) and braced == iss.endswith("}"):
            return ("uuid", uuid.UUID(iss.strip("{}").replace("-", "")))
        return ("data_error",)
    if isinstance(iss, list) and not iss:
        return ("data_error",)
    return ("crash", "ProgrammingError")


BATTERY = [
    None, True, False, 0, 1, -1, int(_HEX), -int(_HEX), 2**128, 1.5, 1e31, float("inf"),
    [], [str(STORED)], [[]], {}, {"a": 1},
    str(STORED), str(STORED).upper(), _HEX, "{" + str(STORED) + "}", "{" + _HEX + "}",
    "urn:uuid:" + str(STORED), "-".join(_HEX[i:i + 4] for i in range(0, 32, 4)),
    _HEX[:2] + "-" + _HEX[2:], _HEX[:4] + "--" + _HEX[4:], "-" + _HEX, _HEX + "-",
    _HEX[:28] + "-" + _HEX[28:] + "-", " " + str(STORED), str(STORED) + " ",
    "\t" + _HEX, _HEX + "\n", str(STORED) + "\x00", "\ud800" + _HEX[1:],
    "\u0661" + _HEX[1:], "\uff11" + _HEX[1:], _HEX[:31], _HEX + "0", "", "x" * 10_000,
    "{" + str(STORED), str(STORED) + "}", "{{" + _HEX + "}}", "{" + _HEX[:31] + "-}",
    str(uuid.UUID(int=7)), "not-a-valid-id",
]


def _check(url: str) -> int:
    from sqlalchemy import Boolean, Column, ForeignKey, create_engine, select, text
    from sqlalchemy.dialects.postgresql import UUID
    from sqlalchemy.exc import DataError
    from sqlalchemy.orm import Session, declarative_base, joinedload, relationship
    from sqlalchemy.orm.exc import NoResultFound

    schema = "orm_issuer_check"
    base = declarative_base()

    class Service(base):
        __tablename__ = "services"
        __table_args__ = {"schema": schema}
        id = Column(UUID(as_uuid=True), primary_key=True)
        active = Column(Boolean, nullable=False, default=True)

    class ApiKey(base):
        __tablename__ = "api_keys"
        __table_args__ = {"schema": schema}
        id = Column(UUID(as_uuid=True), primary_key=True)
        service_id = Column(UUID(as_uuid=True), ForeignKey(f"{schema}.services.id"))
        service = relationship("Service", backref="api_keys")

    engine = create_engine(url.replace("postgres://", "postgresql://", 1))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Service(id=STORED, active=True))
        session.add(ApiKey(id=uuid.uuid4(), service_id=STORED))
        session.commit()

    def gc(session, value):
        return session.query(Service).filter_by(id=value).options(
            joinedload(Service.api_keys)).one()

    def va(session, value):
        stmt = select(Service).where(Service.id == value).options(joinedload(Service.api_keys))
        return session.scalars(stmt).unique().one()

    def outcome(query, value):
        with Session(engine) as session:
            try:
                return ("found", query(session, value).id)
            except DataError:
                return ("data_error",)
            except NoResultFound:
                return ("no_result",)
            except Exception as e:  # noqa: BLE001 - the forks' uncaught exceptions
                return ("crash", type(e).__name__)

    failures = 0
    try:
        for value in BATTERY:
            said = orm_service_lookup(value)
            if said[0] == "uuid":
                want = ("found", STORED) if said[1] == STORED else ("no_result",)
            elif said[0] == "crash":
                want = ("crash",)
            else:
                want = said
            for fork, query in (("GC", gc), ("VA", va)):
                got = outcome(query, value)
                if (got[:1] if want == ("crash",) else got) != want:
                    failures += 1
                    print(f"{fork}: iss={value!r:.80}: restated {want}, real {got}")
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    print(f"orm_issuer: {len(BATTERY)} values, {failures} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        raise SystemExit(_check(sys.argv[2]))
    raise SystemExit("usage: python orm_issuer.py --check DATABASE_URL")
