"""Outcomes as derived data: commit links (prompt, tool call, agent lines, pull request) and each
session's outcome, rebuilt by the refresh of derived data for exactly the sessions a write
touched (a new tool call, commit, pull request or push marks its sessions dirty).

The rules are in domain.provenance and domain.outcomes; this mixin only gathers the rows they
read and stores what they answer. The record rows come from `_outcome_inputs`, which a store
keeping records elsewhere (the hybrid store: ClickHouse) overrides; commits and pull requests
are in SQL on every backend, so the same rows give the same answer everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_trace.domain.outcomes import BASH_RULE_WORDS, assess
from agent_trace.domain.provenance import agent_lines, commit_files, link_commit
from agent_trace.store.sql.external import ExternalRecords
from agent_trace.store.sql.rows import TABLE_COLUMNS
from agent_trace.store.sql.runner import SqlRunner
from agent_trace.store.sql.sqltext import in_params

Rows = list[dict[str, Any]]
PROMPT_FIELDS = ("session_id", "prompt_id", "ts_ms", "kind", "interrupted")
LLM_FIELDS = ("session_id", "call_id", "agent_id", "ts_ms", "stop_reason", "tool_use_ids")
TOOL_FIELDS = (
    "session_id",
    "tool_use_id",
    "agent_id",
    "prompt_id",
    "tool_name",
    "started_ms",
    "ended_ms",
    "status",
    "error",
    "input_json",
    "output_text",  # Bash calls only (`git commit` reports the sha it made); see _outcome_inputs
)
# Only the outputs of Bash calls that may run `git commit` are read, and only their start: a
# session's other outputs can be megabytes.
BASH_OUTPUT = (
    "CASE WHEN tool_name = 'Bash' AND input_json LIKE '%commit%' THEN SUBSTR(output_text, 1, 4000) END"
)
_TOOL_COLUMNS = {"output_text": BASH_OUTPUT, "input_json": "{write_input}"}
SESSIONS_PER_PASS = 16
# The tools a rule reads beyond failures: provenance and oscillation (writes); and Bash calls
# whose input mentions a test/build runner or `commit` (domain.outcomes.BASH_RULE_WORDS).
RULE_TOOLS = ("Write", "Edit", "MultiEdit")
PR_PRIORITY = {"merged": 0, "open": 1, "closed": 2}


class SqlOutcomes:
    """Mixin of SqlStore: the outcome part of `_refresh_session_summaries`."""

    runner: SqlRunner
    external: ExternalRecords | None

    def _outcome_inputs(
        self, session_ids: Sequence[str], with_commits: Sequence[str]
    ) -> dict[str, tuple[Rows, Rows, Rows]]:
        """(prompts, llm calls, tool calls) of each session, only what the rules read: every
        prompt; the main thread's last LLM call (the final answer or not); the tool calls that a
        rule can name (RULE_TOOLS, and every call that did not succeed). The tool error rate's
        denominator is the session's `n_tool_calls` summary column. A successful Write's content
        matters only to provenance: it is read for the sessions `with_commits` only."""
        if self.external is not None:
            return self.external.outcome_inputs(session_ids, with_commits)
        placeholders, params = in_params("s", session_ids)
        committed, commit_params = in_params("c", list(with_commits) or [""])
        params = {**params, **commit_params}
        write_input = (
            f"CASE WHEN tool_name = 'Write' AND status = 'success' AND session_id NOT IN ({committed}) "
            "THEN NULL ELSE input_json END"
        )
        out: dict[str, tuple[Rows, Rows, Rows]] = {sid: ([], [], []) for sid in session_ids}
        rule_tools = ", ".join(f"'{t}'" for t in RULE_TOOLS)
        bash_words = " OR ".join(f"input_json LIKE '%{w}%'" for w in BASH_RULE_WORDS)
        queries = (
            (
                PROMPT_FIELDS,
                f"SELECT {', '.join(PROMPT_FIELDS)} FROM prompts WHERE session_id IN ({placeholders})",
            ),
            (
                LLM_FIELDS,
                f"SELECT {', '.join(LLM_FIELDS)} FROM (SELECT {', '.join(LLM_FIELDS)}, ROW_NUMBER() OVER "
                "(PARTITION BY session_id ORDER BY ts_ms DESC, call_id DESC) AS n FROM llm_calls "
                f"WHERE session_id IN ({placeholders}) AND agent_id IS NULL AND ts_ms IS NOT NULL) last WHERE n = 1",
            ),
            (
                TOOL_FIELDS,
                f"SELECT {', '.join(_TOOL_COLUMNS.get(f, f) for f in TOOL_FIELDS).format(write_input=write_input)} "
                "FROM tool_calls "
                f"WHERE session_id IN ({placeholders}) AND (tool_name IN ({rule_tools}) "
                f"OR (tool_name = 'Bash' AND ({bash_words})) OR COALESCE(status, 'success') <> 'success')",
            ),
        )
        for i, (fields, sql) in enumerate(queries):
            for r in self.runner.query(sql, params):
                out[r[0]][i].append(dict(zip(fields, r, strict=True)))
        return out

    def _refresh_outcomes(self, session_ids: Sequence[str]) -> None:
        # A few sessions at a time: their tool inputs (file contents) are what the rules read,
        # and an import refreshes hundreds of sessions at once.
        for start in range(0, len(session_ids), SESSIONS_PER_PASS):
            self._refresh_outcomes_of(session_ids[start : start + SESSIONS_PER_PASS])

    def _refresh_outcomes_of(self, session_ids: Sequence[str]) -> None:
        run = self.runner
        placeholders, params = in_params("s", session_ids)
        names = TABLE_COLUMNS["commits"]
        tool_counts = {
            str(r[0]): int(r[1] or 0)
            for r in run.query(
                f"SELECT session_id, n_tool_calls FROM sessions WHERE session_id IN ({placeholders})", params
            )
        }
        commits: dict[str, Rows] = {sid: [] for sid in session_ids}
        for r in run.query(
            f"SELECT {', '.join(names)} FROM commits WHERE session_id IN ({placeholders})", params
        ):
            row = dict(zip(names, r, strict=True))
            commits[str(row["session_id"])].append(row)
        prs = self._pull_requests_of([str(c["sha"]) for rows in commits.values() for c in rows])
        inputs = self._outcome_inputs(session_ids, [sid for sid, rows in commits.items() if rows])
        session_rows: list[dict[str, Any]] = []
        commit_rows: list[dict[str, Any]] = []
        for sid in session_ids:
            prompts, llm_calls, tool_calls = inputs.get(sid, ([], [], []))
            merged: set[str] = set()
            for c in commits[sid]:
                ts = c["ts_ms"] if isinstance(c["ts_ms"], int) else None
                c["prompt_id"], c["tool_use_id"] = link_commit(ts, prompts, tool_calls, str(c["sha"]))
                files = commit_files(c.get("files_json"))
                c["agent_lines"] = agent_lines(files, ts, tool_calls) if files is not None else None
                pr = prs.get(str(c["sha"])) or (
                    prs.get(str(c["rewritten_as"])) if c.get("rewritten_as") else None
                )
                c["pr_id"] = pr["pr_id"] if pr else None
                if pr and pr["state"] == "merged":
                    merged.add(str(c["sha"]))
                commit_rows.append(
                    {k: c[k] for k in ("sha", "prompt_id", "tool_use_id", "agent_lines", "pr_id")}
                )
            outcome = assess(prompts, llm_calls, tool_calls, commits[sid], merged, tool_counts.get(sid))
            session_rows.append(
                {
                    "sid": sid,
                    "label": outcome.label,
                    "score": outcome.score,
                    "signals": outcome.signals_json(),
                    "n_commits": len(commits[sid]),
                    "commit_lines": sum(int(c["insertions"] or 0) for c in commits[sid]),
                    # Agent-authored lines kept: in commits not reverted since.
                    "agent_lines": sum(
                        int(c["agent_lines"] or 0) for c in commits[sid] if not c.get("reverted_by")
                    ),
                    "merged_prs": len({c["pr_id"] for c in commits[sid] if str(c["sha"]) in merged}),
                }
            )
        run.execute_many(
            "UPDATE commits SET prompt_id = :prompt_id, tool_use_id = :tool_use_id, agent_lines = :agent_lines, "
            "pr_id = :pr_id WHERE sha = :sha",
            commit_rows,
        )
        run.execute_many(
            "UPDATE sessions SET outcome_label = :label, outcome_score = :score, outcome_signals = :signals, "
            "n_commits = :n_commits, commit_lines = :commit_lines, agent_lines = :agent_lines, "
            "merged_prs = :merged_prs WHERE session_id = :sid",
            session_rows,
        )

    def _pull_requests_of(self, shas: Sequence[str]) -> dict[str, dict[str, Any]]:
        """sha → the pull/merge request holding it: its head commit, its merge commit, or a
        commit pushed to its head branch (a merged one first, then the newest number)."""
        if not shas:
            return {}
        names = TABLE_COLUMNS["pull_requests"]
        cols = ", ".join("pr." + n for n in names)
        found: dict[str, list[dict[str, Any]]] = {}
        unique = list(dict.fromkeys(shas))
        for start in range(0, len(unique), 400):
            placeholders, params = in_params("h", unique[start : start + 400])
            rows = self.runner.query(
                f"SELECT pr.head_sha, {cols} FROM pull_requests pr WHERE pr.head_sha IN ({placeholders}) "
                f"UNION SELECT pr.merge_sha, {cols} FROM pull_requests pr WHERE pr.merge_sha IN ({placeholders}) "
                f"UNION SELECT p.sha, {cols} FROM pushed_commits p JOIN pull_requests pr "
                f"ON pr.repo = p.repo AND pr.head_ref = p.ref WHERE p.sha IN ({placeholders})",
                params,
            )
            for r in rows:
                found.setdefault(str(r[0]), []).append(dict(zip(names, r[1:], strict=True)))
        return {
            sha: min(
                options, key=lambda p: (PR_PRIORITY.get(str(p["state"]), 3), -int(p["number"]), p["pr_id"])
            )
            for sha, options in found.items()
        }
