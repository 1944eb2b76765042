"""The merge rules of domain/merge_rules.py rendered as portable SQL (SQLite 3.24+, PostgreSQL).

Every statement is `INSERT … ON CONFLICT (key) DO UPDATE SET col = <rule>`, where a rule reads
the stored row (`table.col`) and the new copy (`excluded.col`), as the domain functions read
`old` and `new`. CASE stands in for the dialects' different MIN/MAX/GREATEST, and buckets use
integer arithmetic. Each function below is the SQL twin of the domain function it names;
tests/store/test_merge_rules.py proves they agree.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_trace.domain import merge_rules as mr
from agent_trace.domain.records import BUCKET_MS, SIDECHAIN_AGENT


def _first(t: str, c: str) -> str:
    return f"COALESCE({t}.{c}, excluded.{c})"


def _latest(t: str, c: str) -> str:
    return f"COALESCE(excluded.{c}, {t}.{c})"


def smaller(a: str, b: str) -> str:
    """merge_rules.smaller."""
    return f"(CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL THEN {a} WHEN {b} < {a} THEN {b} ELSE {a} END)"


def larger(a: str, b: str) -> str:
    """merge_rules.larger."""
    return f"(CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL THEN {a} WHEN {b} > {a} THEN {b} ELSE {a} END)"


def _longer(t: str, c: str) -> str:
    return (
        f"(CASE WHEN excluded.{c} IS NULL THEN {t}.{c} WHEN {t}.{c} IS NULL THEN excluded.{c} "
        f"WHEN LENGTH(excluded.{c}) > LENGTH({t}.{c}) THEN excluded.{c} "
        f"WHEN LENGTH(excluded.{c}) = LENGTH({t}.{c}) AND excluded.{c} < {t}.{c} THEN excluded.{c} "
        f"ELSE {t}.{c} END)"
    )


def _agent(t: str, c: str) -> str:
    return (
        f"(CASE WHEN excluded.{c} IS NULL THEN {t}.{c} WHEN {t}.{c} IS NULL THEN excluded.{c} "
        f"WHEN excluded.{c} LIKE '{SIDECHAIN_AGENT}%' AND {t}.{c} NOT LIKE '{SIDECHAIN_AGENT}%' "
        f"THEN {t}.{c} ELSE excluded.{c} END)"
    )


def bucket(expr: str) -> str:
    return f"(({expr}) - (({expr}) % {BUCKET_MS}))"


def upsert(table: str, columns: Sequence[str], key: Sequence[str], sets: dict[str, str]) -> str:
    cols = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    if not sets:
        return f"INSERT INTO {table} ({cols}) VALUES ({values}) ON CONFLICT ({', '.join(key)}) DO NOTHING"
    assignments = ", ".join(f"{c} = {expr}" for c, expr in sets.items())
    return f"INSERT INTO {table} ({cols}) VALUES ({values}) ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assignments}"


def rules(table: str, column_rules: dict[str, str]) -> dict[str, str]:
    """The SET expression of each column of a domain rule table."""
    out: dict[str, str] = {}
    for column, rule in column_rules.items():
        if rule == mr.FIRST:
            out[column] = _first(table, column)
        elif rule == mr.LATEST:
            out[column] = _latest(table, column)
        elif rule == mr.MIN:
            out[column] = smaller(f"{table}.{column}", f"excluded.{column}")
        elif rule == mr.MAX:
            out[column] = larger(f"{table}.{column}", f"excluded.{column}")
        elif rule == mr.LONGER:
            out[column] = _longer(table, column)
        elif rule == mr.AGENT:
            out[column] = _agent(table, column)
        else:
            raise ValueError(f"no SQL for merge rule {rule!r} of {table}.{column}")
    return out


def usage_wins(t: str) -> str:
    """merge_rules.usage_wins, clause for clause: `t` is the stored row, `excluded` the new copy."""
    ties = " OR ".join(
        f"excluded.{column} {'<' if prefer == 'lower' else '>'} {t}.{column}"
        for column, prefer in mr.USAGE_TIE_BREAKS
    )
    return (
        f"(excluded.has_usage = 1 AND ({t}.has_usage = 0 OR excluded.usage_total > {t}.usage_total "
        f"OR (excluded.usage_total = {t}.usage_total AND ({ties}))))"
    )


def merged_cost(t: str, wins: str) -> str:
    """merge_rules.merged_cost."""
    return (
        f"(CASE WHEN {wins} THEN excluded.cost_nusd "
        f"WHEN {t}.cost_nusd IS NULL AND excluded.usage_total = {t}.usage_total "
        f"THEN excluded.cost_nusd ELSE {t}.cost_nusd END)"
    )


def merged_unpriced_reason(t: str, cost: str) -> str:
    """merge_rules.merged_unpriced_reason."""
    return f"(CASE WHEN {cost} IS NOT NULL THEN NULL ELSE COALESCE(excluded.unpriced_reason, {t}.unpriced_reason) END)"


def status_rank(x: str) -> str:
    """merge_rules.STATUS_RANK of the status `x`, as a CASE."""
    whens = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in mr.STATUS_RANK.items())
    return f"(CASE {x} {whens} ELSE {mr.OTHER_STATUS_RANK} END)"


def merged_status(t: str) -> str:
    """merge_rules.merged_status."""
    return (
        f"(CASE WHEN excluded.status IS NULL THEN {t}.status WHEN {t}.status IS NULL "
        f"THEN excluded.status WHEN {status_rank('excluded.status')} > "
        f"{status_rank(f'{t}.status')} THEN excluded.status ELSE {t}.status END)"
    )


def sql_list(values: Sequence[str]) -> str:
    """A tuple of domain constants as an SQL IN-list: `'a', 'b'`."""
    return ", ".join(f"'{v}'" for v in values)
