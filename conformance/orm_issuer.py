"""What GC Notify's and VA Notify's database lookup makes of an `iss` claim of any JSON type.

GC (cds-snc/notification-api @ 72e3ae1, app/dao/services_dao.py) runs `db.on_reader().query(
Service).filter_by(id=iss).options(joinedload("api_keys")).one()`; VA (department-of-veterans-
affairs/notification-api @ 742080a) `session.scalars(select(Service).where(Service.id == iss)
...).unique().one()`, in a function under cachetools' `@cached(TTLCache(...))`, which hashes
`iss` first. `Service.id` is `UUID(as_uuid=True)`; both pin SQLAlchemy 1.4.54 and psycopg2
2.9.11. Their auth modules answer DataError "service id is not the right data type",
NoResultFound "service not found", and any other exception with a 500.

SQLAlchemy writes `== None` as `IS NULL` and `== True` as the constant `true` (sql/
default_comparator.py, `_boolean_compare`); any other value is bound, and `_PGUUID.
bind_processor` (dialects/postgresql/psycopg2.py) leaves it alone when `as_uuid` is true.
psycopg2 writes it by Python type: a str quoted, a number as a numeric literal (inf, nan as
`'Infinity'::float`), a list by `list_quote` (psycopg/adapter_list.c): `'{}'` if empty,
`'{NULL,...}'` if it holds only None and lists of that kind, else `ARRAY[...]` (an empty inner
list `ARRAY[]`). PostgreSQL reads a quoted literal against a uuid with `string_to_uuid`
(src/backend/utils/adt/uuid.c): an optional `{`, 32 hex digits with at most one `-` after
each group of four but the last, `}` if `{`, and nothing else, no blanks.

| `iss` | SQL | outcome |
|---|---|---|
| a str of that grammar | `id = '...'` | ("uuid", its id) |
| another str; `[]`; `[null]`, `[[null], null]`... | `id = '...'`, `id = '{NULL}'` | DataError |
| a str with a NUL / with a lone surrogate | none | crash: ValueError / UnicodeEncodeError |
| None | `id IS NULL` | NoResultFound |
| True, False, an int, a float | `id = true`, `id = 1`, `id = 1.5` | crash: ProgrammingError |
| a dict | none: psycopg2 cannot adapt it | crash: ProgrammingError |
| another list | `id = ARRAY[...]` | mostly ProgrammingError: below |
| VA: any list or dict | none: the cache key is unhashable | crash: TypeError |

A list's items are adapted in order (a NUL, a surrogate or a dict crashes as above), then
PostgreSQL types each ARRAY (parse_expr.c transformArrayExpr, parse_coerce.c
select_common_type). An empty one (`[[]]`), items of two categories (`[true, 1]`), arrays it
cannot convert (`[[1], ["a"]]`) and the array itself (no operator `uuid = integer[]`) are a
ProgrammingError; but a quoted item the other items' type rejects is a DataError (`[1, "a"]`,
`[true, "x"]`, `[[1], "x"]`), or an OperationalError for an array literal over 6 levels deep or
with too large a lower bound. Item input is PostgreSQL 15's (numutils.c, numeric.c, float.c on
glibc strtod, bool.c, arrayfuncs.c array_in with its 15 quirks); 16 also takes `0x1F`, `1_000`
as integers, 17 rewrote array_in.

`python orm_issuer.py --check DATABASE_URL` runs both forks' queries for every value of
`BATTERY` through SQLAlchemy and psycopg2 against a live PostgreSQL (in a schema it creates and
drops), and exits non-zero, printing each, if an outcome differs from `orm_service_lookup`.
"""

from __future__ import annotations

import math
import re
import sys
import uuid

_WS = " \t\n\v\f\r"  # C isspace, array_isspace
_UUID = re.compile(r"(\{)?(?:[0-9a-fA-F]{4}-?){7}[0-9a-fA-F]{4}(?(1)\})\Z")
_INT = re.compile(r"\s*([+-]?)0*([0-9]+)\s*\Z", re.A)
_NUMERIC = re.compile(r"\s*(?:(nan|[+-]?inf(?:inity)?)|[+-]?([0-9]*)(?:\.([0-9]*))?"
                      r"(?:e\s*([+-]?[0-9]+))?)\s*\Z", re.I | re.A)
_FLOAT = re.compile(r"\s*([+-]?(?:(0x)(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?"
                    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?"
                    r"|(inf(?:inity)?|nan(?:\([0-9a-z_]*\))?)))\s*\Z", re.I | re.A)
_DIM = re.compile(r"\[([0-9+-]*)(?::([0-9+-]*))?(\]?)")
_RANK = {"int4": 0, "int8": 1, "numeric": 2, "float8": 3}  # implicit casts go up


class _Raised(Exception):
    """The exception the lookup raises, by class name."""


def _adapt(v):
    """psycopg2's SQL for `v`: (PostgreSQL type | "unknown" | "null" | "array", payload)."""
    if v is None or isinstance(v, bool):
        return ("null" if v is None else "bool", None)
    if isinstance(v, int):
        return ("int4" if -2**31 <= v < 2**31 else "int8" if -2**63 <= v < 2**63
                else "numeric", None)
    if isinstance(v, float):
        return ("numeric" if math.isfinite(v) else "float8", None)
    if isinstance(v, str):
        if "\x00" in v:
            raise _Raised("ValueError")
        if any("\ud800" <= c <= "\udfff" for c in v):
            raise _Raised("UnicodeEncodeError")
        return ("unknown", v)
    if not isinstance(v, list):
        raise _Raised("ProgrammingError")  # can't adapt type 'dict'
    if not v:
        return ("unknown", "{}")
    items = [_adapt(x) for x in v]
    if all(t == "null" or isinstance(x, list) and t == "unknown" and p != "{}"
           for x, (t, p) in zip(v, items)):
        return ("unknown", "{%s}" % ",".join(p or "NULL" for _, p in items))
    return ("array", [("array", []) if isinstance(x, list) and p == "{}" else (t, p)
                      for x, (t, p) in zip(v, items)])


def _category(t):
    return "A" if t.endswith("[]") else "N" if t in _RANK else t


def _implicit(source, target):
    if _category(source) == _category(target) == "A":
        source, target = source[:-2], target[:-2]
    return source == target or _RANK.get(source, 9) < _RANK.get(target, -1)


def _array_type(items):
    """The type of ARRAY[items], or _Raised."""
    if not items:
        raise _Raised("ProgrammingError")  # cannot determine type of empty array
    types = [_array_type(p) if t == "array" else t for t, p in items]
    common = None
    for t in types:
        if t in ("null", "unknown"):
            continue
        if common and _category(t) != _category(common):
            raise _Raised("ProgrammingError")  # ARRAY types ... cannot be matched
        if not common or _implicit(common, t):
            common = t
    common = common or "text"
    for (_, payload), t in zip(items, types):
        if t == "unknown" and not _reads(payload, common):
            raise _Raised("DataError")
        if t not in ("null", "unknown") and not _implicit(t, common):
            raise _Raised("ProgrammingError")  # ARRAY could not convert type ...
    return common if common.endswith("[]") else common + "[]"


def _reads(text, type_):
    """Whether PostgreSQL 15's input function for `type_` accepts `text`."""
    if type_.endswith("[]"):
        return _array_in(text, type_[:-2])
    if type_ == "bool":
        s = text.strip(_WS).lower()
        return s.isascii() and s != "" and (
            any(w.startswith(s) for w in ("true", "false", "yes", "no")) or s in ("1", "0")
            or len(s) > 1 and ("on".startswith(s) or "off".startswith(s)))
    if type_ in ("int4", "int8"):
        m, bits = _INT.match(text), 31 if type_ == "int4" else 63
        return bool(m) and len(m[2]) < 20 and -2**bits <= int(m[1] + m[2]) < 2**bits
    if type_ == "numeric":
        m = _NUMERIC.match(text)
        if not m or m[1]:
            return bool(m)
        whole, digits, exp = m[2] or "", (m[2] or "") + (m[3] or ""), m[4] or "0"
        if not digits or len(exp.lstrip("+-0")) > 10:
            return False
        exp, lead = int(exp), len(digits) - len(digits.lstrip("0"))
        return abs(exp) < 2**30 - 1 and len(digits) - len(whole) - exp <= 16383 and (
            lead == len(digits) or len(whole) - 1 + exp - lead < 131072)
    if type_ == "float8":  # glibc strtod, then PostgreSQL's range check
        m = _FLOAT.match(text)
        if not m or m[3]:
            return bool(m)
        try:
            value = float.fromhex(m[1]) if m[2] else float(m[1])
        except OverflowError:
            return False
        mantissa = re.split("p" if m[2] else "e", m[1].lower())[0].replace("0x", "")
        return math.isfinite(value) and (value != 0 or not mantissa.strip("+-0."))
    return True  # text


def _int32(v):
    """A long cut to a C int (glibc's atoi; PostgreSQL's -fwrapv arithmetic)."""
    return (max(-2**63, min(2**63 - 1, v)) + 2**31) % 2**32 - 2**31


def _atoi(s):
    m = re.match(r"[+-]?0*([0-9]{0,20})", s)
    return _int32(int(m[0]) if m[1] else 0)


# ArrayCount's states after which each character may come ("": any other non-blank).
_AFTER = {"\\": "level elem quoted delim", '"': "level quoted delim",
          "{": "none level level_delim", "}": "elem quoted_done level_done",
          ",": "elem quoted_done level_done", "": "level elem delim"}


def _array_count(s):
    """ArrayCount (arrayfuncs.c) on the braces at s[0]: (ndim, dims), or None if malformed."""
    nest, ndim, temp, nelems, last = 0, 1, [0] * 6, [1] * 6, [0] * 6
    quoted, empty, state, p = False, True, "none", 0
    while p < len(s):
        empty = empty and state not in ("elem", "quoted")
        c, p = s[p], p + 1
        kind = c if c in '\\"' or not quoted and c in "{}," else "" if not quoted else None
        if kind is None or kind == "" and c in _WS:
            continue
        if state not in _AFTER[kind].split() and (kind, nest, state) != ("}", 1, "level"):
            return None
        if kind == "\\":
            if p == len(s):
                return None
            state, p = "quoted" if quoted else "elem", p + 1
        elif kind == '"':
            quoted = not quoted
            state = "quoted" if quoted else "quoted_done"
        elif kind == "{":
            if nest >= 6:
                raise _Raised("OperationalError")  # exceeds the maximum allowed (6)
            state, temp[nest], nest, ndim = "level", 0, nest + 1, max(ndim, nest + 1)
        elif kind == "}":
            state, nest = "level_done", nest - 1
            if last[nest] and nelems[nest] != last[nest]:
                return None  # sub-arrays with matching dimensions
            last[nest], nelems[nest] = nelems[nest], 1
            if nest == 0:
                temp[ndim - 1] += 1
                return None if s[p:].strip(_WS) else (0, []) if empty else (ndim, temp[:ndim])
            temp[nest - 1] += 1
        elif kind == ",":
            state = "level_delim" if state == "level_done" else "delim"
            nelems[nest - 1] += 1
            temp[ndim - 1] += 1
        else:
            state = "elem"
    return None  # unexpected end of input


def _array_items(s, ndim, dims):
    """ReadArrayStr: the items' text (None: NULL), or None if one falls outside the dims."""
    prod = [math.prod(dims[k + 1:]) for k in range(ndim)]
    indx, nest, quoted, p, items, done = [0] * 6, 0, False, 0, [], False
    while not done:
        i, out, end, lead, hasq, item_done = -1, [], 0, True, False, False
        while not item_done:
            c, p = s[p], p + 1
            if c == "\\":
                out.append(s[p])
                p, lead, end, hasq = p + 1, False, len(out), True
            elif c == '"':
                quoted, hasq, lead = not quoted, True, lead and quoted
                end = end if quoted else len(out)
            elif quoted or c not in "{},":
                if quoted or c not in _WS or not lead:
                    out.append(c)
                if not quoted and c not in _WS:
                    lead, end = False, len(out)
            elif c == "{":
                indx[nest], nest = 0, nest + 1
            else:
                i = sum(a * b for a, b in zip(indx, prod)) if i == -1 else i
                if c == ",":
                    item_done, indx[ndim - 1] = True, indx[ndim - 1] + 1
                else:
                    indx[nest - 1], nest = 0, nest - 1
                    if nest:
                        indx[nest - 1] += 1
                    item_done = done = nest == 0
        if not 0 <= i < math.prod(dims):
            return None
        text = "".join(out[:end])
        items.append(None if not hasq and text.isascii() and text.upper() == "NULL" else text)
    return items


def _array_in(text, element):
    """array_in: whether `text` is an array of `element`; raises OperationalError."""
    p, dims, lbs = len(text) - len(text.lstrip(_WS)), [], []
    while text.startswith("[", p):
        if len(dims) >= 6:
            raise _Raised("OperationalError")
        m = _DIM.match(text, p)
        if not m[1] or m[2] == "" or not m[3]:
            return False
        lb, ub = (_atoi(m[1]), _atoi(m[2])) if m[2] else (1, _atoi(m[1]))
        if ub < lb:
            return False
        dims, lbs = dims + [_int32(ub - lb + 1)], lbs + [lb]
        p = len(text) - len(text[m.end():].lstrip(_WS))
    if dims:
        if not text.startswith("=", p):
            return False
        p = len(text) - len(text[p + 1:].lstrip(_WS))
    counted = _array_count(text[p:]) if text.startswith("{", p) else None
    if counted is None or dims and counted != (len(dims), dims):
        return False
    ndim, dims, lbs = counted[0], counted[1], lbs or [1] * counted[0]
    if any(lb + d >= 2**31 for lb, d in zip(lbs, dims)):
        raise _Raised("OperationalError")  # array lower bound is too large
    if ndim == 0 or math.prod(dims) == 0:
        return True
    items = _array_items(text[p:], ndim, dims)
    return items is not None and all(v is None or _reads(v, element) for v in items)


def orm_service_lookup(iss, fork="gc"):
    """("uuid", UUID) | ("data_error",) | ("no_result",) | ("crash", exception class name)."""
    if fork == "va" and isinstance(iss, (list, dict)):
        return ("crash", "TypeError")  # cachetools' key: unhashable type
    if iss is None:
        return ("no_result",)
    try:
        kind, payload = _adapt(iss)
        if kind == "unknown":
            return ("uuid", uuid.UUID(payload)) if _UUID.match(payload) else ("data_error",)
        if kind == "array":
            _array_type(payload)
        raise _Raised("ProgrammingError")  # operator does not exist: uuid = ...
    except _Raised as e:
        return ("data_error",) if e.args[0] == "DataError" else ("crash", e.args[0])


# The service the check stores: its id is all decimal digits, so an int with those digits is
# tried against a row that exists.
STORED = uuid.UUID("12345678-9012-3456-7890-123456789012")
_H, _S = STORED.hex, str(STORED)
_BY4 = "-".join(_H[i:i + 4] for i in range(0, 32, 4))
BATTERY = [
    None, True, False, 0, 1, -1, int(_H), -int(_H), 2**128, 1.5, -0.0, 1e31,
    float("inf"), float("-inf"), float("nan"), {}, {"a": 1}, {_S: _S},
    [], [_S], [None], [None, [None]], [[None], None], [[]], [[], None], [1], [1, "a"],
    [1, "2"], [1, "3000000000"], [2**40, "3000000000"], [True, "yes"], [True, "x"],
    [True, 1], [1.5, "1e 5"], [1.5, "x"], [float("nan"), "0x10"], [float("inf"), "1e-400"],
    [[1], "x"], [[1], "{1}"], [[1], [None]], [[1], [[None], [None, None]]], [[1], ["a"]],
    [[1], [1.5]], [[1], [2, 3]], ["{}", [1]], [[1], "{{1},{{2}}}"], [[1], "[1:2]={1}"],
    [[1], "{{{{{{{1}}}}}}}"], [[1], "[2147483647:2147483647]={1}"], [_S, {}],
    ["\x00", {}], [{}, "\x00"], ["\ud800"],
    _S, _S.upper(), _H, "{" + _S + "}", "{" + _H + "}", "{" + _BY4.upper() + "}", _BY4,
    "urn:uuid:" + _S, _H[:2] + "-" + _H[2:], _H[:4] + "--" + _H[4:], "-" + _H, _H + "-",
    _H[:28] + "-" + _H[28:], _H[:29] + "-" + _H[29:], _S[:23] + _S[24:28] + "-" + _S[28:],
    " " + _S, _S + " ", "\t" + _H, _H + "\n", _S + "\x00", "\ud800" + _H[1:],
    "\u0661" + _H[1:], "\uff11" + _H[1:], _H[:31], _H + "0", "", "x" * 10_000,
    "{" + _S, _S + "}", "{{" + _H + "}}", "{" + _H + "-}", "{-" + _H + "}",
    str(uuid.UUID(int=7)), "not-a-valid-id", "'" + _S + "'", "\\" + _H, "%s", "[]", "{}",
]


def _check(url):
    """Both forks' queries for BATTERY against `url`: the number of disagreements."""
    import warnings

    from sqlalchemy import Boolean, Column, ForeignKey, Text, create_engine, select, text
    from sqlalchemy.dialects.postgresql import UUID
    from sqlalchemy.exc import DataError
    from sqlalchemy.orm import Session, declarative_base, joinedload, relationship
    from sqlalchemy.orm.exc import MultipleResultsFound, NoResultFound
    try:
        from cachetools import TTLCache
        from cachetools.keys import hashkey
    except ImportError:  # what cachetools does with the key: hash a tuple of the arguments
        TTLCache, hashkey = (lambda **_: {}), (lambda *args: args)

    warnings.simplefilter("ignore")  # SQLAlchemy 2.0 deprecations, as in the forks
    schema, base = "orm_issuer_check", declarative_base()

    class Service(base):
        __tablename__, __table_args__ = "services", {"schema": schema}
        id = Column(UUID(as_uuid=True), primary_key=True)
        active = Column(Boolean, nullable=False, default=True)
        name = Column(Text)

    class ApiKey(base):
        __tablename__, __table_args__ = "api_keys", {"schema": schema}
        id = Column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
        service_id = Column(UUID(as_uuid=True), ForeignKey(f"{schema}.services.id"))
        secret = Column(Text)
        service = relationship("Service", backref="api_keys")

    def gc(session, iss):
        return session.query(Service).filter_by(id=iss).options(joinedload("api_keys")).one()

    def va(session, iss):
        TTLCache(maxsize=1024, ttl=600).get(hashkey(iss))
        stmt = select(Service).where(Service.id == iss).options(joinedload("api_keys"))
        try:
            return session.scalars(stmt).unique().one()
        except (NoResultFound, MultipleResultsFound) as err:
            raise NoResultFound from err

    def outcome(query, iss):
        with Session(engine) as session:
            try:
                return ("uuid", query(session, iss).id)
            except DataError:
                return ("data_error",)
            except NoResultFound:
                return ("no_result",)
            except Exception as e:  # noqa: BLE001 - the forks' uncaught exceptions
                return ("crash", type(e).__name__)

    # UTF-8 as the forks' databases; a SQL_ASCII one would make psycopg2 encode to ASCII.
    engine = create_engine(url.replace("postgres://", "postgresql://", 1), client_encoding="utf8")
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
    failures = 0
    try:
        base.metadata.create_all(engine)
        with Session(engine) as session:
            session.add_all([Service(id=STORED, name="stored"), ApiKey(service_id=STORED)])
            session.commit()
        for iss in BATTERY:
            for fork, query in (("gc", gc), ("va", va)):
                want, got = orm_service_lookup(iss, fork), outcome(query, iss)
                if want[0] == "uuid" and want[1] != STORED:
                    want = ("no_result",)
                if got != want:
                    failures += 1
                    print(f"{fork}: iss={iss!r:.80}: restated {want}, real {got}")
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
    print(f"orm_issuer: {len(BATTERY)} values, {failures} differences")
    return failures


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        raise SystemExit(1 if _check(sys.argv[2]) else 0)
    raise SystemExit("usage: python orm_issuer.py --check DATABASE_URL")
