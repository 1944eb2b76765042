"""`agent-trace users …` and `agent-trace teams …`: who may send data and sign in (docs/access.md).

A personal token is printed once and stored only as a digest. Every change is appended to the
audit log with the person who ran the command (`cli:<os user>`) as its actor.
Exit codes: 0 done · 2 a rule broken (unknown user, duplicate name, bad role) · 1 store problem.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

import orjson

from agent_trace.config import Settings
from agent_trace.domain.access import ROLES, TEAM_ACCESS_LEVELS, new_token, token_digest
from agent_trace.store.identity import IdentityError, IdentityStore, identity_of


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("users", help="people: add, list, disable, rotate tokens (auth)")
    us = p.add_subparsers(dest="users_command", metavar="ACTION")
    a = us.add_parser("add", help="add a person; prints their personal token once")
    a.add_argument("name", help="the user id their sessions will carry")
    a.add_argument("--email", help="their e-mail (matched to OIDC sign-in and git identity)")
    a.add_argument("--role", choices=ROLES, default="member", help="what they may see (default member)")
    a.add_argument("--team", action="append", default=[], help="a team to join (repeatable)")
    a.add_argument("--json", action="store_true", help="an object with name, role and token")
    ls = us.add_parser("list", help="everyone with an account")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    for name, text in (("disable", "refuse their token and sessions at once"), ("enable", "allow again")):
        d = us.add_parser(name, help=text)
        d.add_argument("name")
    r = us.add_parser("role", help="change a person's role")
    r.add_argument("name")
    r.add_argument("role", choices=ROLES)
    pw = us.add_parser("password", help="set a local sign-in password (read from stdin or prompted)")
    pw.add_argument("name")
    t = us.add_parser("token", help="personal tokens")
    ts = t.add_subparsers(dest="token_command", metavar="ACTION")
    rot = ts.add_parser("rotate", help="a new token; the old one is refused at once")
    rot.add_argument("name")
    rot.add_argument("--json", action="store_true", help="an object with the new token")

    p = sub.add_parser("teams", help="teams: add, list, add members")
    tsub = p.add_subparsers(dest="teams_command", metavar="ACTION")
    a = tsub.add_parser("add", help="add a team")
    a.add_argument("name")
    a.add_argument(
        "--member-access",
        choices=TEAM_ACCESS_LEVELS,
        default="metadata",
        help="what members see of each other's sessions (default metadata: numbers, no prompts)",
    )
    a.add_argument("--json", action="store_true", help="machine-readable output")
    ls = tsub.add_parser("list", help="every team and its members")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    sa = tsub.add_parser("set-access", help="change what members see of each other's sessions")
    sa.add_argument("team")
    sa.add_argument("member_access", choices=TEAM_ACCESS_LEVELS)
    m = tsub.add_parser("add-member", help="put a person in a team")
    m.add_argument("team")
    m.add_argument("user")


def _actor(settings: Settings) -> str:
    # Who ran the command on this machine: the OS account (not the configured capture identity).
    import os

    from agent_trace.identity import os_user

    return f"cli:{os_user(os.environ) or 'unknown'}"


def _open(settings: Settings) -> tuple[Any, IdentityStore]:
    from agent_trace.store.factory import open_store

    store = open_store(settings.database_url, settings.events_url)
    return store, identity_of(store)


def _print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    if not args.users_command or (args.users_command == "token" and not args.token_command):
        print(
            "agent-trace users: say what to do: add | list | disable | enable | role | password | token rotate",
            file=sys.stderr,
        )
        return 2
    store, ids = _open(settings)
    try:
        return _users(args, settings, ids)
    except IdentityError as exc:
        print(f"agent-trace users: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


def _users(args: argparse.Namespace, settings: Settings, ids: IdentityStore) -> int:
    actor = _actor(settings)
    action = args.users_command
    if action == "add":
        return _add_user(args, ids, actor)
    if action == "list":
        return _list_users(args, ids)
    if action in ("disable", "enable"):
        ids.set_disabled(args.name, action == "disable")
        ids.append_audit(actor, f"user_{action}", args.name, {})
        print(f"{args.name}: {action}d")
        return 0
    if action == "role":
        ids.set_role(args.name, args.role)
        ids.append_audit(actor, "user_role", args.name, {"role": args.role})
        print(f"{args.name}: now {args.role}")
        return 0
    if action == "password":
        from agent_trace.server.passwords import hash_password, password_problem

        if ids.account(args.name) is None:
            raise IdentityError(f"no user {args.name!r} (see `agent-trace users list`)")
        password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        problem = password_problem(password)
        if problem:
            raise IdentityError(f"password: {problem}")
        ids.set_password_hash(args.name, hash_password(password))
        ids.append_audit(actor, "password_set", args.name, {})
        print(f"{args.name}: password set")
        return 0
    # token rotate
    token = new_token()
    ids.replace_token(args.name, token_digest(token))
    ids.append_audit(actor, "token_rotate", args.name, {})
    if args.json:
        _print_json({"name": args.name, "token": token})
    else:
        print(f"New token for {args.name} (the old one is refused from now on):")
        print(token)
    return 0


def _add_user(args: argparse.Namespace, ids: IdentityStore, actor: str) -> int:
    name = args.name.strip()
    if not name or len(name) > 200:
        raise IdentityError("NAME: 1 to 200 characters")
    if args.team:
        known = {t.team_id for t in ids.teams()}
        missing = [t for t in args.team if t not in known]
        if missing:
            raise IdentityError(
                f"no team {missing[0]!r}: create it first with `agent-trace teams add {missing[0]}`"
            )
    token = new_token()
    account = ids.add_account(name, args.role, email=args.email, token_hash=token_digest(token))
    if args.team:
        ids.set_team_members(name, args.team)
    ids.append_audit(actor, "user_add", name, {"role": args.role, "email": args.email, "teams": args.team})
    if args.json:
        _print_json(
            {
                "name": account.user_id,
                "role": account.role,
                "email": account.email,
                "teams": args.team,
                "token": token,
            }
        )
    else:
        print(f"Added {account.user_id} ({account.role}). Personal token (shown once, keep it secret):")
        print(token)
        print(f"On their machine: agent-trace init --collector-url <URL> --token {token[:6]}…")
    return 0


def _list_users(args: argparse.Namespace, ids: IdentityStore) -> int:
    accounts = ids.accounts()
    if args.json:
        _print_json([a.as_json() for a in accounts])
        return 0
    from rich.table import Table

    from agent_trace.cli.render import make_console

    table = Table(title="Users", title_justify="left", header_style="bold")
    for col in ("Name", "Role", "Email", "Teams", "Status", "Sign-in"):
        table.add_column(col)
    for a in accounts:
        table.add_row(
            a.user_id,
            a.role,
            a.email or "–",
            ", ".join(a.teams) or "–",
            "disabled" if a.disabled else "active",
            "password" if a.has_password else a.source,
        )
    make_console().print(table)
    return 0


def cmd_teams(args: argparse.Namespace, settings: Settings) -> int:
    if not args.teams_command:
        print("agent-trace teams: say what to do: add | list | add-member | set-access", file=sys.stderr)
        return 2
    store, ids = _open(settings)
    try:
        actor = _actor(settings)
        if args.teams_command == "add":
            name = args.name.strip()
            if not name or len(name) > 200:
                raise IdentityError("NAME: 1 to 200 characters")
            team = ids.add_team(name, args.member_access)
            ids.append_audit(actor, "team_add", name, {"member_access": args.member_access})
            if args.json:
                _print_json(team.as_json())
            else:
                print(f"Added team {name} (members see each other's {args.member_access})")
            return 0
        if args.teams_command == "set-access":
            before = {t.team_id: t.member_access for t in ids.teams()}.get(args.team)
            ids.set_team_access(args.team, args.member_access)
            ids.append_audit(
                actor,
                "settings_change",
                args.team,
                {"setting": "team member_access", "from": before, "to": args.member_access},
            )
            print(f"{args.team}: members now see each other's {args.member_access}")
            return 0
        if args.teams_command == "add-member":
            if ids.account(args.user) is None:
                raise IdentityError(f"no user {args.user!r} (see `agent-trace users list`)")
            ids.set_team_members(args.user, [args.team])
            ids.append_audit(actor, "team_member_add", args.team, {"user": args.user})
            print(f"{args.user} is in {args.team}")
            return 0
        teams = ids.teams()
        if args.json:
            _print_json([t.as_json() for t in teams])
            return 0
        for t in teams:
            print(f"{t.team_id}\t{t.member_access}\t{', '.join(t.members) or '–'}")
        return 0
    except IdentityError as exc:
        print(f"agent-trace teams: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
