"""The SQL check of JSON event text: which rows are valid, and their typed values, as sqlglot trees.

The check mirrors the pydantic models (``rules.py`` reads them) but is deliberately stricter: it
accepts only canonical JSON (a JSON number for a number, ISO-8601 text in one of the common shapes
for a timestamp, no NaN, no duplicate keys ...). Whatever it refuses goes back to the Python
validator, which decides and words the reason. The SQL must never accept what Python refuses.

Timestamps without an offset are local time in the dataset's zone. Near a change of UTC offset
(daylight saving, a zone's history) wall-clock time can be ambiguous or missing, so naive times
are accepted only inside :func:`safe_spans`, where every wall-clock time maps to one instant.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlglot import exp

from fourin_rules.backends.sql.rules import FieldSpec, ModelSpec
from fourin_rules.backends.sql.schema import column_type, table_columns

__all__ = [
    "GUARD_PATTERN",
    "MAX_BRACKETS",
    "TypeCheck",
    "fn",
    "lit",
    "precheck",
    "safe_spans",
    "type_check",
]

#: Text the JSON parsers disagree on, or that Python refuses after parsing: NaN/Infinity (DuckDB
#: reads them, orjson does not), trailing commas (same), numbers that overflow a double, long
#: digit runs (huge integers), escaped NULs. A match only sends the row to Python.
GUARD_PATTERN = (
    r"[:\[,][ \t\r]*[-+]?(?i:nan|inf)|,[ \t\r]*[\]}]|[0-9][eE]\+?[0-9]{3}|[0-9]{20}|\\u0000"
)
#: The guard's cheap part: the parser differences that parsing does not show (a trailing comma
#: is gone once parsed; an escaped NUL is a NUL). Each pattern begins with one byte, so the
#: regexp engine skips from one such byte to the next instead of reading every byte.
TRAILING_COMMA = r",[ \t\r]*[\]}]"
ESCAPED_NUL = "\\u0000"
#: At most this many ``[``/``{`` in a row, so no value can nest deeper than the validator's 32.
MAX_BRACKETS = 33

_YEAR = "(19[0-9][0-9]|2[01][0-9][0-9])"
_DATE = _YEAR + "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = "[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?"
_OFFSET = "(Z|[+-]([01][0-9]|2[0-3])(:[0-5][0-9])?)"
DATE_RE = _DATE
NAIVE_RE = f"{_DATE}({_TIME})?"
AWARE_RE = f"{_DATE}{_TIME}{_OFFSET}"
_NUMBER_TYPES = ("BIGINT", "UBIGINT", "DOUBLE")
#: Kinds whose check requires a JSON string, integer or boolean: NaN, Infinity and huge numbers
#: (all DOUBLE to DuckDB) never pass them.
_STRICT_KINDS = ("str", "int", "bool", "date", "time", "deadline")
#: A float beyond this magnitude goes to Python (integers of 20 digits and more, as the guard).
_FLOAT_LIMIT = 1e19
_INT_TYPES = ("BIGINT", "UBIGINT")
_NUMBER_CASTS = {"float": "DOUBLE", "int": "BIGINT"}  # kind -> the type its string is read as
_FIRST, _LAST = datetime(1900, 1, 1), datetime(2200, 1, 1)
_MARGIN = timedelta(days=2)


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    """A DuckDB function call, rendered as written."""
    return exp.Anonymous(this=name, expressions=list(args))


def lit(value: object) -> exp.Expression:
    """A SQL literal of a Python value (str, bool, int, float or None)."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int | float):
        return exp.Literal.number(repr(value))
    return exp.Literal.string(str(value))


def _col(name: str) -> exp.Column:
    return exp.Column(this=exp.Identifier(this=name, quoted=True))


def _alias(e: exp.Expression, name: str) -> exp.Alias:
    """``e AS "name"`` (built in place: the builders' deep copies are what make the SQL slow)."""
    return exp.Alias(this=e, alias=exp.Identifier(this=name, quoted=True))


def _and(*terms: exp.Expression) -> exp.Expression:
    """``a AND b AND ...`` without copying the terms."""
    return exp.and_(*terms, copy=False)


def _from(columns: list[exp.Expression], source: exp.Expression) -> exp.Select:
    return exp.Select(expressions=columns, from_=exp.From(this=source))


def _sub(query: exp.Select, name: str) -> exp.Subquery:
    return exp.Subquery(this=query, alias=exp.TableAlias(this=exp.Identifier(this=name)))


def _strings(values: Iterable[str]) -> exp.Array:
    return exp.Array(expressions=[lit(v) for v in values])


@functools.lru_cache(maxsize=64)
def _type(name: str) -> exp.DataType:
    return exp.DataType.build(name, dialect="duckdb")


def _cast(e: exp.Expression, to: str | exp.DataType, *, safe: bool = False) -> exp.Expression:
    kind = to if isinstance(to, exp.DataType) else _type(to).copy()
    return (exp.TryCast if safe else exp.Cast)(this=e, to=kind)


def _full_match(e: exp.Expression, pattern: str) -> exp.Expression:
    return fn("regexp_full_match", e, lit(pattern))


def _true(e: exp.Expression) -> exp.Expression:
    return exp.Coalesce(this=e, expressions=[exp.false()])


def precheck(text: exp.Expression) -> exp.Expression:
    """True when the row is JSON both parsers read alike and shallow enough (never raises).

    Whether it is an object is left to the caller: only objects have a ``type``."""
    return _and(fn("json_valid", text.copy()), _guard_ok(text), _shallow(text.copy()))


def _guard_ok(text: exp.Expression) -> exp.Expression:
    """No text the parsers disagree on (the guard)."""
    return exp.not_(fn("regexp_matches", text, lit(GUARD_PATTERN)), copy=False)


def _cheap_guard_ok(text: exp.Expression) -> exp.Expression:
    """The guard's patterns that parsing hides (trailing commas, escaped NULs), for rows whose
    values are all checked by JSON type (see :func:`_typed`)."""
    return _and(
        exp.not_(fn("regexp_matches", text, lit(TRAILING_COMMA)), copy=False),
        exp.not_(fn("contains", text.copy(), lit(ESCAPED_NUL)), copy=False),
    )


def _typed(spec: FieldSpec | None) -> bool:
    """Whether a field's check refuses every value holding what the guard's costly patterns
    look for: NaN, Infinity, numbers that overflow a double, integers of 20 digits and more.

    DuckDB reads all of them as DOUBLE (NaN and Infinity in any case, an overflow as infinity,
    a huge integer as its nearest double). String, integer, boolean and time kinds want another
    JSON type, lists of strings want strings throughout, and a float must be finite and below
    :data:`_FLOAT_LIMIT` in magnitude (``abs`` of NaN or infinity is not below it)."""
    if spec is None or not spec.supported:
        return False
    if spec.kind in _STRICT_KINDS or spec.kind == "float":
        return True
    element = spec.element
    return spec.kind == "list" and element is not None and element.kind == "str"


def _shallow(text: exp.Expression) -> exp.Expression:
    """At most :data:`MAX_BRACKETS` ``[``/``{``, so no deeper nesting than the validator's.

    Bytes, not characters: the brackets are ASCII either way, and strlen need not decode."""
    brackets = exp.Sub(
        this=fn("strlen", text),
        expression=fn(
            "strlen",
            fn("replace", fn("replace", text.copy(), lit("["), lit("")), lit("{"), lit("")),
        ),
    )
    return exp.LTE(this=brackets, expression=lit(MAX_BRACKETS))


@functools.lru_cache(maxsize=16)
def safe_spans(tz: ZoneInfo) -> tuple[tuple[datetime, datetime], ...]:
    """Spans of local wall-clock time (naive, [start, end)) with one UTC offset throughout and
    two days clear of any change of offset, between 1900 and 2200; the nearest to now first."""
    spans: list[tuple[datetime, datetime]] = []
    day = timedelta(days=1)
    t = _FIRST.replace(tzinfo=UTC) - _MARGIN
    end = _LAST.replace(tzinfo=UTC) + _MARGIN
    start, offset = t, t.astimezone(tz).utcoffset()
    while t < end:
        nxt = t + day
        off = nxt.astimezone(tz).utcoffset()
        if off != offset:
            spans.append(_span(start + _MARGIN, t - _MARGIN, offset))
            start, offset = nxt, off
        t = nxt
    spans.append(_span(start + _MARGIN, end, offset))
    clipped = [
        (max(a, _FIRST), min(b, _LAST)) for a, b in spans if a < b and b > _FIRST and a < _LAST
    ]
    now = datetime.now()
    return tuple(sorted(clipped, key=lambda ab: max(ab[0] - now, now - ab[1], timedelta(0))))


def _span(a: datetime, b: datetime, offset: timedelta | None) -> tuple[datetime, datetime]:
    off = offset or timedelta(0)
    return ((a + off).replace(tzinfo=None), (b + off).replace(tzinfo=None))


def _naive_safe(wall: exp.Expression, tz: ZoneInfo) -> exp.Expression:
    """True when naive local time ``wall`` (a TIMESTAMP) names exactly one instant.

    A CASE rather than an OR: DuckDB then tests the later spans only on the rows left over."""
    ifs = [
        exp.If(
            this=_and(
                exp.GTE(this=wall.copy(), expression=_cast(lit(a.isoformat(sep=" ")), "TIMESTAMP")),
                exp.LT(this=wall.copy(), expression=_cast(lit(b.isoformat(sep=" ")), "TIMESTAMP")),
            ),
            true=exp.true(),
        )
        for a, b in safe_spans(tz)
    ]
    return exp.Case(ifs=ifs, default=exp.false()) if ifs else exp.false()


class TypeCheck:
    """The check and typed values of one event type's rows.

    Columns the input relation must have: ``_text`` (the line's text) plus any passed through.
    :meth:`select` adds ``_ok`` and one column per declared field. The check is complete: the
    row passes :func:`precheck` (or, when :attr:`typed`, what the parsed types cannot show of
    it), is an object whose ``type`` is the string ``event_type`` (when given), and every field
    is right; so the input may hold rows of any type or none.

    Each row that passes the guard is parsed three times: the JSON types of the declared
    fields, their values as text (strings decoded, other values as JSON text), and the number
    of keys. The other rows get NULLs there, and ``_ok`` false.
    """

    def __init__(
        self,
        spec: ModelSpec,
        fields: Mapping[str, str],
        tz: ZoneInfo,
        *,
        event_type: str | None = None,
    ) -> None:
        self.spec = spec
        self.fields = {n: t for n, t in fields.items() if n != "type"}
        self.targets = dict(table_columns(fields, event_type))
        self.tz = tz
        self.event_type = event_type
        # Every field the model declares is checked; the table's fields get a value.
        self.names = list(dict.fromkeys([*spec.fields, *self.fields]))
        # When every declared value must be a string, integer, boolean or finite float (or a
        # list of strings), the parsed types show what the costly part of the guard looks for,
        # so it only reads the rows with other keys (the models allow extra keys).
        self.typed = all(_typed(self.spec.fields.get(n)) for n in self.names)

    def select(self, source: exp.Expression, passthrough: Iterable[str]) -> exp.Select:
        """``SELECT <passthrough>, _ok, <fields> FROM (steps over source)``.

        Each step is a subquery of its own, so every JSON function runs once per row (DuckDB
        keeps the projections of nested subqueries apart)."""
        passthrough = list(passthrough)
        keep = list(dict.fromkeys([*passthrough, "_text"]))
        text = _col("_text")
        paths = _strings(f"$.{n}" for n in ["type", *self.names])
        # The guard, then the parse: json_type parses with the flags of json_valid and raises
        # where it is false, so TRY gives NULL exactly there (and spares a parse). The nesting
        # is bounded later (see :meth:`_row_rules`): the parser itself takes any depth.
        guard = _cheap_guard_ok(text) if self.typed else _guard_ok(text)
        types = exp.Case(
            ifs=[exp.If(this=guard, true=fn("try", fn("json_type", text.copy(), paths)))]
        )
        step1 = _from([*map(_col, keep), _alias(types, "_t")], source)
        parsed = exp.Not(this=exp.Is(this=_col("_t"), expression=exp.null()))
        strings = fn("json_extract_string", text.copy(), paths.copy())
        nkeys = fn("len", fn("json_keys", text.copy()))
        step2 = _from(
            [
                *map(_col, keep),
                _col("_t"),
                _alias(exp.Case(ifs=[exp.If(this=parsed, true=strings)]), "_s"),
                _alias(exp.Case(ifs=[exp.If(this=parsed.copy(), true=nkeys)]), "_nkeys"),
            ],
            _sub(step1, "l1"),
        )
        parts = []
        for i, n in enumerate(["type", *self.names]):
            t = fn("list_extract", _col("_t"), lit(i + 1))
            string = fn("list_extract", _col("_s"), lit(i + 1))
            parts.append(_alias(t, f"_t_{n}"))
            parts.append(_alias(string, f"_s_{n}"))
            spec = self.spec.fields.get(n)
            # Casts the check and the value share, made once (a CASE branch is not shared).
            if spec is not None and spec.kind in _NUMBER_CASTS:
                number = _cast(string.copy(), _NUMBER_CASTS[spec.kind], safe=True)
                parts.append(_alias(number, f"_n_{n}"))
            if spec is not None and spec.kind in ("time", "deadline"):
                parts.append(_alias(_wall(string.copy()), f"_w_{n}"))
                parts.append(_alias(_cast(string.copy(), "TIMESTAMPTZ", safe=True), f"_i_{n}"))
            if spec is not None and spec.kind == "deadline":
                parts.append(_alias(_midnight_after(string.copy()), f"_d_{n}"))
        step3 = _from(
            [*map(_col, dict.fromkeys([*passthrough, "_text", "_nkeys"])), *parts],
            _sub(step2, "l2"),
        )
        oks, values = [], []
        for n in self.names:
            ok, value = self._field(n)
            oks.append(_alias(ok, f"_ok_{n}"))
            if n in self.fields:
                values.append(_alias(value, n))
        step4 = _from([exp.Star(), *oks, *values], _sub(step3, "l3"))
        row_ok = _and(
            *self._type_rules(), *[_col(f"_ok_{n}") for n in self.names], self._row_rules()
        )
        return _from(
            [*map(_col, passthrough), _alias(_true(row_ok), "_ok"), *map(_col, self.fields)],
            _sub(step4, "l4"),
        )

    def _type_rules(self) -> list[exp.Expression]:
        """The row was parsed, and ``type`` is the string that names this check's type."""
        rules: list[exp.Expression] = [exp.EQ(this=_col("_t_type"), expression=lit("VARCHAR"))]
        if self.event_type is not None:
            rules.append(exp.EQ(this=_col("_s_type"), expression=lit(self.event_type)))
        return rules

    def _row_rules(self) -> exp.Expression:
        """The row's shape: no duplicate keys (Python keeps the last, DuckDB reads the first),
        no deeper nesting than the validator's; ``end >= time``.

        When the keys are as many as the declared ones present, there are no duplicates (nor
        other keys); if then no value that may pass is an array or object, the row is flat.
        A row with other keys must pass the whole guard (see :attr:`typed`)."""
        count: exp.Expression = lit(1)  # ``type``
        for n in self.names:
            present = exp.Case(
                ifs=[exp.If(this=exp.Is(this=_col(f"_t_{n}"), expression=exp.null()), true=lit(0))],
                default=lit(1),
            )
            count = exp.Add(this=count, expression=present)
        declared = exp.EQ(this=_col("_nkeys"), expression=count)
        containers = [
            exp.In(this=_col(f"_t_{n}"), expressions=[lit("ARRAY"), lit("OBJECT")])
            for n in self.names
            if (spec := self.spec.fields.get(n)) is None or spec.kind in ("list", "any")
        ]
        flat = _and(declared, *[exp.not_(_true(c), copy=False) for c in containers])
        # A CASE, not an OR: each test runs only on the rows left over (and none on rows that
        # were not parsed: they are not JSON the functions may see).
        shape = exp.Case(
            ifs=[
                exp.If(this=exp.Is(this=_col("_nkeys"), expression=exp.null()), true=exp.false()),
                exp.If(this=flat, true=exp.true()),
                exp.If(this=exp.not_(_shallow(_col("_text")), copy=False), true=exp.false()),
                exp.If(this=declared.copy(), true=exp.true()),
            ],
            default=exp.EQ(
                this=fn("list_unique", fn("json_keys", _col("_text"))),
                expression=_col("_nkeys"),
            ),
        )
        if self.typed:  # other keys: their values were not checked (see ``__init__``)
            shape.set("default", _and(_guard_ok(_col("_text")), shape.args["default"]))
        rules = [shape]
        if "end" in self.fields and "time" in self.fields:
            rules.append(
                exp.or_(
                    exp.Is(this=_col("end"), expression=exp.null()),
                    exp.GTE(this=_col("end"), expression=_col("time")),
                    copy=False,
                )
            )
        return _and(*rules)

    def _field(self, name: str) -> tuple[exp.Expression, exp.Expression]:
        """(ok, value) of one field. Values need only be right where ``ok`` holds."""
        spec = self.spec.fields.get(name)
        t = _col(f"_t_{name}")
        target = self.targets.get(name) or column_type("any")  # copied at each use: no sharing
        if spec is None:  # declared by the plan but not by the model: nothing to read
            return exp.true(), exp.Cast(this=exp.null(), to=target.copy())
        kind_ok, kind_value = self._kind(spec, name)
        absent = exp.Is(this=t, expression=exp.null())
        is_null = exp.EQ(this=t.copy(), expression=lit("NULL"))
        ok = exp.Case(
            ifs=[
                exp.If(this=absent, true=lit(not spec.required)),
                exp.If(this=is_null, true=lit(spec.nullable)),
            ],
            default=_true(kind_ok),
        )
        # The string of an absent or null value is NULL, and so is every kind's value of it.
        value: exp.Expression = exp.Cast(this=kind_value, to=target.copy())
        if spec.default is not None:
            value = exp.Case(
                ifs=[
                    exp.If(
                        this=absent.copy(),
                        true=exp.Cast(this=_default(spec.default), to=target.copy()),
                    )
                ],
                default=value,
            )
        return ok, value

    def _kind(self, spec: FieldSpec, name: str) -> tuple[exp.Expression, exp.Expression]:
        """(ok, value) of a present, non-null value; the value must never raise an error."""
        t, s = _col(f"_t_{name}"), _col(f"_s_{name}")
        if not spec.supported:
            return exp.false(), exp.null()
        kind = spec.kind
        if kind == "str":
            return _str_ok(t, s, spec), s
        if kind == "float":
            number = _col(f"_n_{name}")
            terms = [exp.In(this=t, expressions=[lit(x) for x in _NUMBER_TYPES])]
            if self.typed:  # what the guard's number patterns refused (see ``_typed``)
                terms.append(exp.LT(this=fn("abs", number.copy()), expression=lit(_FLOAT_LIMIT)))
            return _and(*terms, *_bounds(number, spec)), number
        if kind == "int":  # within BIGINT, the column type of counts
            number = _col(f"_n_{name}")
            ok = _and(
                exp.In(this=t, expressions=[lit(x) for x in _INT_TYPES]),
                exp.Not(this=exp.Is(this=number.copy(), expression=exp.null())),
                *_bounds(number, spec),
            )
            return ok, number
        if kind == "bool":
            return exp.EQ(this=t, expression=lit("BOOLEAN")), _cast(s, "BOOLEAN", safe=True)
        if kind == "date":
            day = _cast(s, "DATE", safe=True)
            ok = _and(
                exp.EQ(this=t, expression=lit("VARCHAR")),
                _full_match(s.copy(), DATE_RE),
                exp.Not(this=exp.Is(this=day, expression=exp.null())),
            )
            return ok, day.copy()
        if kind in ("time", "deadline"):
            return self._time(name, t, s, deadline=kind == "deadline")
        if kind == "any":
            return exp.true(), _cast(s, "JSON")
        if kind == "list" and spec.element is not None:
            ok, value = _list(s, t, spec)
            # from_json must only see arrays.
            guarded = exp.Case(
                ifs=[exp.If(this=exp.EQ(this=t.copy(), expression=lit("ARRAY")), true=value)]
            )
            return ok, guarded
        return exp.false(), exp.null()

    def _time(
        self, name: str, t: exp.Expression, s: exp.Expression, *, deadline: bool
    ) -> tuple[exp.Expression, exp.Expression]:
        w, d, i = _col(f"_w_{name}"), _col(f"_d_{name}"), _col(f"_i_{name}")
        if deadline:
            ok = fn("_ld_deadline_ok", t, s, w, d, i)
            return ok, fn("_ld_deadline", s.copy(), d.copy(), i.copy())
        return fn("_ld_time_ok", t, s, w, i), i.copy()


def macros(tz: ZoneInfo) -> dict[str, tuple[list[str], exp.Expression]]:
    """The SQL macros the checks call (name -> (parameters, body)): the timestamp rules are
    long (the safe spans of the zone), so each is written once. A macro repeats its argument
    wherever the body names it, so the callers pass columns, not expressions: ``t`` the JSON
    type, ``s`` the string, ``w`` its wall-clock time, ``d`` the midnight after its day, ``i``
    the instant DuckDB reads in it (NULL where it reads none)."""
    t, s, w, d = exp.column("t"), exp.column("s"), exp.column("w"), exp.column("d")
    instant = exp.column("i")
    time_ok = exp.Case(
        ifs=[
            exp.If(this=exp.NEQ(this=t, expression=lit("VARCHAR")), true=exp.false()),
            exp.If(
                this=_full_match(s.copy(), AWARE_RE),
                true=exp.Not(this=exp.Is(this=instant, expression=exp.null())),
            ),
            exp.If(
                this=_full_match(s.copy(), NAIVE_RE),
                true=_and(
                    exp.Not(this=exp.Is(this=instant.copy(), expression=exp.null())),
                    fn("_ld_naive_ok", w.copy()),
                ),
            ),
        ],
        default=exp.false(),
    )
    # A bare date D is the end of day D: local midnight of D + 1 (``d`` is that midnight).
    is_date = _true(_full_match(s.copy(), DATE_RE))
    date_ok = _and(
        exp.EQ(this=t.copy(), expression=lit("VARCHAR")),
        exp.Not(this=exp.Is(this=d.copy(), expression=exp.null())),
        fn("_ld_naive_ok", d.copy()),
    )
    deadline_ok = exp.Case(
        ifs=[exp.If(this=is_date, true=date_ok)],
        default=fn("_ld_time_ok", t.copy(), s.copy(), w.copy(), instant.copy()),
    )
    deadline = exp.Case(
        ifs=[exp.If(this=is_date.copy(), true=_cast(d.copy(), "TIMESTAMPTZ"))],
        default=instant.copy(),
    )
    return {
        "_ld_naive_ok": (["w"], _naive_safe(w, tz)),
        "_ld_time_ok": (["t", "s", "w", "i"], time_ok),
        "_ld_deadline_ok": (["t", "s", "w", "d", "i"], deadline_ok),
        "_ld_deadline": (["s", "d", "i"], deadline),
    }


def _wall(s: exp.Expression) -> exp.Expression:
    """The naive local time a timestamp string names (NULL when it is not one)."""
    return _cast(s, "TIMESTAMP", safe=True)


def _midnight_after(s: exp.Expression) -> exp.Expression:
    """Local midnight after the day a date string names (NULL when it is not one)."""
    day = _cast(s, "DATE", safe=True)
    return _cast(exp.Add(this=day, expression=lit(1)), "TIMESTAMP")


def _default(value: object) -> exp.Expression:
    if isinstance(value, list):
        return exp.Array(expressions=[])
    return lit(value)


def _str_ok(t: exp.Expression, s: exp.Expression, spec: FieldSpec) -> exp.Expression:
    terms = [exp.EQ(this=t, expression=lit("VARCHAR"))]
    if spec.min_len:
        terms.append(exp.GTE(this=fn("length", s.copy()), expression=lit(spec.min_len)))
    if spec.choices is not None:
        terms.append(exp.In(this=s.copy(), expressions=[lit(c) for c in spec.choices]))
    return _and(*terms)


def _bounds(number: exp.Expression, spec: FieldSpec) -> list[exp.Expression]:
    out: list[exp.Expression] = []
    for bound, node in (
        (spec.ge, exp.GTE),
        (spec.le, exp.LTE),
        (spec.gt, exp.GT),
        (spec.lt, exp.LT),
    ):
        if bound is not None:
            out.append(node(this=number.copy(), expression=lit(float(bound))))
    return out


def _list(
    f: exp.Expression, t: exp.Expression, spec: FieldSpec
) -> tuple[exp.Expression, exp.Expression]:
    """A list (``f`` is its JSON text, ``t`` its JSON type)."""
    element = spec.element
    assert element is not None
    terms: list[exp.Expression] = []
    n = fn("json_array_length", f)
    if spec.min_len:
        terms.append(exp.GTE(this=n, expression=lit(spec.min_len)))
    types = fn("json_type", f.copy(), lit("$[*]"))
    if element.kind == "str" and element.supported and (element.min_len or 0) <= 1:
        values = fn("from_json", f.copy(), lit('["VARCHAR"]'))
        terms.append(fn("list_has_all", _strings(["VARCHAR"]), types))
        if element.min_len:
            terms.append(exp.Not(this=fn("list_contains", values.copy(), lit(""))))
        if element.choices is not None:
            terms.append(fn("list_has_all", _strings(element.choices), values.copy()))
        ok, value = _and(*terms), values
    elif element.kind == "record" and element.record:
        ok, value = _records(f, n, types, terms, element.record)
    else:
        return exp.false(), exp.null()
    # The JSON functions must only see arrays (other values are not even JSON text here).
    is_array = exp.EQ(this=t, expression=lit("ARRAY"))
    return exp.Case(ifs=[exp.If(this=is_array, true=ok)], default=exp.false()), value


def _records(
    f: exp.Expression,
    n: exp.Expression,
    types: exp.Expression,
    terms: list[exp.Expression],
    record: Mapping[str, FieldSpec],
) -> tuple[exp.Expression, exp.Expression]:
    """A list of records: objects with exactly the record's keys, each of the right type."""
    terms.append(fn("list_has_all", _strings(["OBJECT"]), types))
    keys = fn("flatten", fn("json_keys", f.copy(), lit("$[*]")))
    terms.append(
        exp.EQ(this=fn("len", keys), expression=exp.Mul(this=n.copy(), expression=lit(len(record))))
    )
    transform: list[str] = []
    for name, field_spec in record.items():
        path = lit(f"$[*].{name}")
        field_types = fn("json_type", f.copy(), path)
        terms.append(exp.EQ(this=fn("len", field_types), expression=n.copy()))
        if field_spec.kind == "str":
            strings = fn("json_extract_string", f.copy(), path.copy())
            terms.append(fn("list_has_all", _strings(["VARCHAR"]), field_types.copy()))
            if field_spec.min_len and field_spec.min_len > 1:
                return exp.false(), exp.null()
            if field_spec.min_len:
                terms.append(exp.Not(this=fn("list_contains", strings, lit(""))))
            if field_spec.choices is not None:
                terms.append(fn("list_has_all", _strings(field_spec.choices), strings.copy()))
            transform.append(f'"{name}":"VARCHAR"')
        else:
            allowed = _NUMBER_TYPES if field_spec.kind == "float" else _INT_TYPES
            if any(
                b is not None for b in (field_spec.ge, field_spec.le, field_spec.gt, field_spec.lt)
            ):
                return exp.false(), exp.null()
            terms.append(fn("list_has_all", _strings(allowed), field_types.copy()))
            transform.append(f'"{name}":"DOUBLE"')
    value = fn("from_json", f.copy(), lit("[{" + ",".join(transform) + "}]"))
    return _and(*terms), value


def type_check(
    spec: ModelSpec, fields: Mapping[str, str], tz: ZoneInfo, event_type: str
) -> TypeCheck:
    """The :class:`TypeCheck` of one event type."""
    return TypeCheck(spec, fields, tz, event_type=event_type)
