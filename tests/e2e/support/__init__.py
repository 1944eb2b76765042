"""Harness that runs the real Claude Code CLI offline against a scripted fake Messages API.

- ``fake_anthropic``: the fake API server, its declarative script format and its request/response log.
- ``claude_cli``: installs the pinned CLI once per machine and runs it in a throwaway HOME and git repo.
- ``scenarios``: ready scripts for the end-to-end tests, each with the exact usage it returns.

Only the standard library is used here so the harness never depends on the product under test.
"""
