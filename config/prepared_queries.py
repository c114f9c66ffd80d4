"""Querysets compiled to SQL once and run again with new values: for the few queries that
every participant request makes.

Django compiles a queryset to SQL on every evaluation. For the participant pages' queries
(a trial with its block, clips and renderings, selected by `select_related`) compiling took
1.5 ms and running 0.09 ms (profiled under load and in-process: query compilation was the
largest single cost of an answer). A `PreparedQuery` builds its queryset once per thread
(again if the thread's database connection object is replaced) with stand-in values, keeps
the SQL, the positions of the stand-ins among the parameters and what Django needs to turn
rows into model instances, then swaps in the real values on every call. The rows become
model instances by Django's own code (the same compiler, `from_db` and related populators
that `ModelIterable` uses), so a prepared query returns what the queryset would have.

Hand-written because no maintained library does this for Django's ORM (caching libraries
such as django-cachalot cache results, which the participant pages must not: every answer
changes them).

Only exact matches and comparisons whose values Django passes through unchanged (a
string, an integer) can be stand-ins; compiling checks that each stand-in appears exactly
once among the compiled parameters and fails loudly otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators


class Text(str):
    """A text parameter's stand-in."""


class Number(int):
    """An integer parameter's stand-in."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slots: dict[str, int]  # parameter name -> its position among params
    compiler: object
    converters: dict  # column position -> the functions that turn its value into Python
    model: type[Model]
    model_columns: slice
    init_list: list[str]
    related_populators: list
    annotation_col_map: dict[str, int]


class PreparedQuery:
    """`build(**stand_ins)` returns the queryset; calling the prepared query with the real
    values returns its rows as model instances (a list)."""

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *,
        using: str = DEFAULT_DB_ALIAS,
        **kinds: type[Text] | type[Number],
    ):
        self._build = build
        self._using = using
        self._kinds = kinds
        self._per_thread = threading.local()  # a compiler belongs to one thread's connection

    def __call__(self, **values) -> list:
        if values.keys() != self._kinds.keys():
            raise TypeError(f"expected values for {sorted(self._kinds)}, got {sorted(values)}")
        compiled = self._compiled()
        params = list(compiled.params)
        for name, position in compiled.slots.items():
            params[position] = values[name]
        with compiled.compiler.connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return [self._instance(compiled, row) for row in rows]

    def first(self, **values) -> Model | None:
        """The first row as a model instance, or None when there is none."""
        found = self(**values)
        return found[0] if found else None

    def _compiled(self) -> _Compiled:
        compiled = getattr(self._per_thread, "compiled", None)
        # Compiled again when this thread's connection object was replaced (tests do that).
        if compiled is None or compiled.compiler.connection is not connections[self._using]:
            compiled = self._per_thread.compiled = self._compile()
        return compiled

    def _stand_ins(self) -> dict:
        # Values no real row has, each different, so that each one's position is certain.
        # Positive and inside a 32-bit column's range: Django drops a comparison that no
        # value of the column could fail (a negative bound on a positive integer field).
        return {
            name: Text(f"\x00prepared:{name}\x00") if kind is Text else Number(2_013_265_921 + i)
            for i, (name, kind) in enumerate(sorted(self._kinds.items()))
        }

    def _compile(self) -> _Compiled:
        stand_ins = self._stand_ins()
        queryset = self._build(**stand_ins).using(self._using)
        compiler = queryset.query.get_compiler(using=self._using)
        sql, params = compiler.as_sql()
        slots = {}
        for name, stand_in in stand_ins.items():
            found = [i for i, value in enumerate(params) if value == stand_in]
            if len(found) != 1:
                raise ValueError(
                    f"prepared query: parameter {name!r} appears {len(found)} times among the "
                    "compiled parameters (only plain exact or comparison lookups can be prepared)"
                )
            slots[name] = found[0]
        klass_info = compiler.klass_info
        select_fields = klass_info["select_fields"]
        model_columns = slice(select_fields[0], select_fields[-1] + 1)
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=slots,
            compiler=compiler,
            converters=compiler.get_converters([column[0] for column in compiler.select]),
            model=klass_info["model"],
            model_columns=model_columns,
            init_list=[column[0].target.attname for column in compiler.select[model_columns]],
            related_populators=get_related_populators(klass_info, compiler.select, self._using),
            annotation_col_map=dict(compiler.annotation_col_map or {}),
        )

    @staticmethod
    def _instance(compiled: _Compiled, row) -> Model:
        instance = compiled.model.from_db(
            compiled.compiler.using, compiled.init_list, row[compiled.model_columns]
        )
        for populator in compiled.related_populators:
            populator.populate(row, instance)
        for name, position in compiled.annotation_col_map.items():
            setattr(instance, name, row[position])
        return instance
