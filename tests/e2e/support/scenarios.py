"""Ready scripts for the end-to-end tests, with the exact usage the fake returns for every request.

Every usage number below is distinct per request, so a test that counts a request twice (or misses
one) cannot land on the right total by accident, and several requests write 1h cache entries so a
store that folds the 5m/1h split is caught. ``print(SCENARIO.describe())`` shows the script as a table.

Run a scenario with::

    with FakeAnthropic(ALL_SCENARIOS.values()) as fake:
        session = ClaudeSession(fake.url, tmp_path)
        for prompt in TOOLS.prompts:
            session.run(prompt)

File paths use ``{cwd}``, which the fake replaces with the session's repo (the Write, Edit and Read
tools need absolute paths, and the repo is a fresh temporary directory per test).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from .fake_anthropic import OVERLOADED, Scenario, StreamError, Thinking, ToolUse, Usage, turn


def _u(input_tokens: int, output_tokens: int, w5m: int = 0, w1h: int = 0, read: int = 0) -> Usage:
    return Usage(input_tokens, output_tokens, cache_write_5m=w5m, cache_write_1h=w1h, cache_read=read)


def bash(command: str, description: str = "", *, expect_error: bool = False) -> ToolUse:
    return ToolUse("Bash", {"command": command, "description": description or command[:40]}, expect_error)


def write(file_path: str, content: str) -> ToolUse:
    return ToolUse("Write", {"file_path": file_path, "content": content})


def edit(file_path: str, old_string: str, new_string: str) -> ToolUse:
    return ToolUse("Edit", {"file_path": file_path, "old_string": old_string, "new_string": new_string})


def read(file_path: str) -> ToolUse:
    return ToolUse("Read", {"file_path": file_path})


def agent(prompt: str, description: str, *, subagent_type: str = "general-purpose") -> ToolUse:
    # run_in_background:false keeps the subagent in the foreground, so the CLI waits for it
    # (and its transcript is complete) before the run ends.
    tool_input: Mapping[str, Any] = {
        "description": description,
        "prompt": prompt,
        "subagent_type": subagent_type,
        "run_in_background": False,
    }
    return ToolUse("Agent", tool_input)


# --------------------------------------------------------------------------------------------
# (1) Bash, Write, Edit, Read
# --------------------------------------------------------------------------------------------

GREET_PY = 'def greet(name: str) -> str:\n    return "Hello, " + name\n\n\nprint(greet("world"))\n'
GREET_PY_EDITED = GREET_PY.replace('"Hello, "', '"Hi, "')

TOOLS = Scenario(
    name="tools",
    description="Bash, Write, Edit and Read in one prompt; the last turn has a thinking block",
    prompts=("SCENARIO:tools Write a greeting script, then change and check it.",),
    main=(
        # main[0]: first request of the session: large 1h cache write, nothing to read yet.
        turn(
            "I'll start with a quick shell check.",
            bash("echo hello > out.txt && cat out.txt", "Write and print out.txt"),
            usage=_u(12, 87, w5m=0, w1h=14210),
        ),
        turn(write("{cwd}/greet.py", GREET_PY), usage=_u(6, 143, w5m=312, read=14210)),
        turn(edit("{cwd}/greet.py", '"Hello, "', '"Hi, "'), usage=_u(7, 96, w5m=228, w1h=51, read=14522)),
        turn(read("{cwd}/greet.py"), usage=_u(5, 58, w5m=175, read=14801)),
        turn(
            Thinking("The file reads back with the edit applied."),
            "greet.py now prints `Hi, world`.",
            usage=_u(9, 131, w5m=0, w1h=402, read=14976),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# (2) Foreground subagent that runs Bash
# --------------------------------------------------------------------------------------------

SUBAGENT_MARKER = "SUBTASK:echo-from-subagent"

SUBAGENT = Scenario(
    name="subagent",
    description="a foreground Agent (general-purpose) whose own script runs one Bash command",
    prompts=("SCENARIO:subagent Use a subagent to run echo.",),
    main=(
        turn(
            "I'll delegate this to a subagent.",
            agent(
                f"{SUBAGENT_MARKER} Please run `echo from-subagent` with Bash and report the output.",
                "Run echo",
            ),
            usage=_u(8, 96, w1h=12828),
        ),
        turn("The subagent reported: from-subagent.", usage=_u(11, 74, w5m=390, read=12828)),
    ),
    subagents={
        SUBAGENT_MARKER: (
            turn(bash("echo from-subagent", "Echo from subagent"), usage=_u(4, 61, w5m=8601)),
            turn("The command printed: from-subagent", usage=_u(3, 39, w5m=241, read=8601)),
        )
    },
)

# --------------------------------------------------------------------------------------------
# (3) Failing tools
# --------------------------------------------------------------------------------------------

FAILING_TOOL = Scenario(
    name="failing-tool",
    description="two Bash calls that fail (missing file, exit 3), each giving an is_error tool_result",
    prompts=("SCENARIO:failing-tool Show a missing file, then fail on purpose.",),
    main=(
        turn(
            bash("cat /nonexistent/agent-trace-e2e.txt", "Read a missing file", expect_error=True),
            usage=_u(10, 52, w1h=13000),
        ),
        turn(
            bash("exit 3", "Fail with exit code 3", expect_error=True), usage=_u(4, 33, w5m=140, read=13000)
        ),
        turn("Both commands failed, as expected.", usage=_u(6, 27, w5m=97, read=13140)),
    ),
)

# --------------------------------------------------------------------------------------------
# (4) Several prompts in one session (run 2 and 3 use --resume)
# --------------------------------------------------------------------------------------------

MULTI_PROMPT = Scenario(
    name="multi-prompt",
    description="three prompts, one session: main[0-1] answer prompt 0, main[2-3] prompt 1, main[4] prompt 2",
    prompts=(
        "SCENARIO:multi-prompt First, say hello from the shell.",
        "Now write a notes file.",
        "Thanks, that's all.",
    ),
    main=(
        turn(bash("echo first-prompt", "Echo for prompt 1"), usage=_u(14, 45, w5m=11890)),
        turn("Said hello.", usage=_u(5, 21, w5m=88, read=11890)),
        turn(write("{cwd}/notes.txt", "second prompt was here\n"), usage=_u(7, 66, w1h=160, read=11978)),
        turn("Wrote notes.txt.", usage=_u(4, 19, w5m=93, read=12138)),
        turn("You're welcome.", usage=_u(8, 15, w1h=71, read=12231)),
    ),
)

# --------------------------------------------------------------------------------------------
# (5) Planted secrets
# --------------------------------------------------------------------------------------------

# The documented AWS example pair (many scanners allow-list "EXAMPLE", so a realistic pair follows).
AWS_EXAMPLE_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_EXAMPLE_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
# Built from parts so this source file never holds a literal that push-protection scanners would block;
# the values are random-looking but fake.
AWS_ACCESS_KEY_ID = "AKIA" + "Q7TR4CEW2N5X" + "KZ3M"
AWS_SECRET_ACCESS_KEY = "k9Tq2Vb7" + "Xm4Lr8Pz1Nc6Wd3Hs5Fj" + "0Gy+Ua/EiRoK"
# The real shape: "sk-ant-api03-" + 93 URL-safe base64 characters + "AA" (108 in all), derived from a
# fixed seed so it is the same on every run.
ANTHROPIC_API_KEY = (
    "sk-ant-"
    + "api03-"
    + base64.urlsafe_b64encode(hashlib.sha512(b"agent-trace e2e").digest() * 2).decode()[:93]
    + "AA"
)
PLANTED_SECRETS: tuple[str, ...] = (
    AWS_EXAMPLE_SECRET_KEY,
    AWS_EXAMPLE_ACCESS_KEY_ID,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    ANTHROPIC_API_KEY,
)

SECRETS = Scenario(
    name="secrets",
    description="secrets in a prompt, in Bash commands, in tool output and in the assistant's text",
    prompts=(f"SCENARIO:secrets Configure the deploy key; my Anthropic key is {ANTHROPIC_API_KEY}",),
    main=(
        turn(
            bash(
                f"export AWS_SECRET_ACCESS_KEY={AWS_EXAMPLE_SECRET_KEY}; echo {AWS_EXAMPLE_ACCESS_KEY_ID}",
                "Export the example AWS key",
            ),
            usage=_u(13, 71, w1h=13377),
        ),
        turn(
            bash(
                f"printf 'AWS_ACCESS_KEY_ID={AWS_ACCESS_KEY_ID}\\n"
                f"AWS_SECRET_ACCESS_KEY={AWS_SECRET_ACCESS_KEY}\\n"
                f"ANTHROPIC_API_KEY={ANTHROPIC_API_KEY}\\n' > .env.local && cat .env.local",
                "Write and show .env.local",
            ),
            usage=_u(6, 188, w5m=203, read=13377),
        ),
        turn(
            f"Done. Your key {ANTHROPIC_API_KEY} is stored in .env.local.",
            usage=_u(7, 64, w5m=355, read=13580),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# (6) A git commit made by the agent
# --------------------------------------------------------------------------------------------

COMMIT_MESSAGE = "Add feature module"

GIT_COMMIT = Scenario(
    name="git-commit",
    description="Write a file, commit it with Bash (git add -A && git commit), then show the log",
    prompts=("SCENARIO:git-commit Add a feature module and commit it.",),
    main=(
        turn(write("{cwd}/feature.py", "FEATURE_ENABLED = True\n"), usage=_u(11, 58, w1h=12650)),
        turn(
            bash(f'git add -A && git commit -m "{COMMIT_MESSAGE}"', "Commit the feature module"),
            usage=_u(5, 49, w5m=187, read=12650),
        ),
        turn(bash("git log --oneline -1", "Show the new commit"), usage=_u(4, 31, w5m=266, read=12837)),
        turn("Committed feature.py.", usage=_u(6, 22, w5m=74, read=13103)),
    ),
)

# Outcomes (issue 14): a commit made by the agent (with a person's commit between the two runs),
# and a session that runs the same failing test command five times.
CALC_PY = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"

OUTCOME_COMMIT = Scenario(
    name="outcome-commit",
    description="Write calc.py (6 lines), git commit it; a second prompt (resumed) gets a short answer",
    prompts=("SCENARIO:outcome-commit Write calc.py and commit it.", "Thanks, that's all."),
    main=(
        turn(write("{cwd}/calc.py", CALC_PY), usage=_u(12, 61, w1h=12700)),
        turn(
            bash('git add calc.py && git commit -m "Add calc"', "Commit calc.py"),
            usage=_u(5, 47, w5m=190, read=12700),
        ),
        turn("Committed calc.py.", usage=_u(6, 19, w5m=71, read=12890)),
        turn("You're welcome.", usage=_u(7, 9, w5m=35, read=12961)),
    ),
)

SPIN_COMMAND = "pytest -q tests/test_math.py"
OUTCOME_SPIN = Scenario(
    name="outcome-spin",
    description="the same failing test command five times, then giving up without a commit",
    prompts=("SCENARIO:outcome-spin Make the math tests pass.",),
    main=(
        *(
            turn(
                bash(SPIN_COMMAND, "Run the math tests", expect_error=True),
                usage=_u(8 + i, 30 + i, w5m=100 + i, read=12000 + i),
            )
            for i in range(5)
        ),
        turn("The tests still fail; I could not fix them.", usage=_u(6, 25, w5m=60, read=12100)),
    ),
)

# --------------------------------------------------------------------------------------------
# Failure paths
# --------------------------------------------------------------------------------------------

OVERLOADED_ONCE = Scenario(
    name="overloaded",
    description="main[1] is answered 529 once, then succeeds on the CLI's retry (~0.5 s backoff)",
    prompts=("SCENARIO:overloaded Echo something, even if the API is busy.",),
    main=(
        turn(bash("echo busy-api", "Echo"), usage=_u(9, 40, w5m=12004)),
        turn("Done despite the 529.", usage=_u(5, 18, w1h=77, read=12004), failures=(OVERLOADED,)),
    ),
)

STREAM_RETRY = Scenario(
    name="stream-retry",
    description=(
        "main[0]'s first stream ends after message_start with no blocks; the CLI retries it with "
        "stream:false. The aborted stream's input-side usage is counted in the CLI's result totals "
        "but written to no transcript line"
    ),
    prompts=("SCENARIO:stream-retry Say hi.",),
    main=(
        turn(
            "Hi there.",
            usage=_u(10, 25, w5m=600, w1h=11400),
            failures=(StreamError(after_blocks=0, error_event=False),),
        ),
    ),
)

COMPACT = Scenario(
    name="compact",
    description="one answer, then `/compact` (prompt 1): the compaction request is answered by `compact`",
    prompts=("SCENARIO:compact Say hello.", "/compact"),
    main=(turn("Hello!", usage=_u(10, 12, w5m=11950)),),
    compact=turn(
        "<summary>The user asked for a greeting; it was given.</summary>", usage=_u(3, 250, read=11950)
    ),
)

ALL_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        TOOLS,
        SUBAGENT,
        FAILING_TOOL,
        MULTI_PROMPT,
        SECRETS,
        GIT_COMMIT,
        OUTCOME_COMMIT,
        OUTCOME_SPIN,
        OVERLOADED_ONCE,
        STREAM_RETRY,
        COMPACT,
    )
}
