"""Secret redaction: every detector on planted fake secrets, ordinary code left alone, JSON walking.

All values are fake but real-shaped (AWS's documented example keys, random bodies of the right
alphabet and length, a PEM block built from random bytes, an HS256 JWT signed with a test key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
import subprocess
import sys
import textwrap

import pytest

from agent_trace.domain.redaction import (
    KINDS,
    Finding,
    contains_secret,
    redact,
    redact_json_value,
    redact_with_report,
)
from agent_trace.domain.secret_formats import KINDS as FORMAT_KINDS

_RND = random.Random(20260212)
_B62 = string.ascii_letters + string.digits
_B64URL = _B62 + "-_"


def rand(alphabet: str, n: int) -> str:
    return "".join(_RND.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt() -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": "1234567890", "name": "Jane Doe", "iat": 1516239022, "exp": 1893456000}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(b"test-signing-key", f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def make_pem(label: str = "RSA PRIVATE KEY", body_bytes: int = 1190) -> str:
    """A PEM block shaped like `openssl genrsa 2048` output (a DER prefix, then random bytes)."""
    der = bytes.fromhex("308204a40201000282010100") + _RND.randbytes(body_bytes)
    body = base64.b64encode(der).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----"


AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example
ANTHROPIC = "sk-ant-api03-" + rand(_B64URL, 93) + "AA"
ANTHROPIC_OAUTH = "sk-ant-oat01-" + rand(_B64URL, 95)
OPENAI_PROJECT = "sk-proj-" + rand(_B64URL, 156)
OPENAI_LEGACY = "sk-" + rand(_B62, 20) + "T3BlbkFJ" + rand(_B62, 20)
GITHUB_PAT = "ghp_" + rand(_B62, 36)
GITHUB_FINE = "github_pat_11" + rand(_B62, 20) + "_" + rand(_B62, 59)
SLACK_BOT = "xoxb-123456789012-1234567890123-" + rand(_B62, 24)
SLACK_HOOK_PATH = "services/T024BE7LD/B01ABCDEF12/" + rand(_B62, 24)
STRIPE_LIVE = "sk_live_" + rand(_B62, 99)
GOOGLE_KEY = "AIza" + rand(_B64URL, 35)
GOOGLE_OAUTH = "GOCSPX-" + rand(_B64URL, 28)
HF_TOKEN = "hf_" + rand(string.ascii_letters, 34)
JWT = make_jwt()
PEM = make_pem()
OPAQUE = rand(_B62, 32)  # a token of no known vendor format

# (kind, text before, secret, text after): the secret must go, the rest must stay.
PLANTED = [
    ("aws-access-key", "aws configure set aws_access_key_id ", AWS_KEY_ID, " --profile dev"),
    ("aws-access-key", "Credential=", "ASIAY34FZKBOKMUTVV7A", "/20260212/us-east-1/s3/aws4_request"),
    ("aws-secret-key", "[default]\naws_secret_access_key = ", AWS_SECRET, "\nregion = eu-west-1"),
    ("aws-secret-key", 'export AWS_SECRET_ACCESS_KEY="', AWS_SECRET, '"'),
    ("aws-secret-key", '{"Credentials": {"SecretAccessKey": "', AWS_SECRET, '", "Expiration": 1}}'),
    ("anthropic-key", "ANTHROPIC_API_KEY=", ANTHROPIC, "\nNEXT=1"),
    ("anthropic-key", "Using token ", ANTHROPIC_OAUTH, " for this session"),
    ("openai-key", "client = OpenAI(api_key='", OPENAI_PROJECT, "')"),
    ("openai-key", "the old key ", OPENAI_LEGACY, " was rotated"),
    ("github-token", "git clone https://x-access-token:", GITHUB_PAT, "@github.com/o/r.git"),
    ("github-token", "GH_TOKEN=", GITHUB_FINE, " gh pr list"),
    ("github-token", "token: ", "gho_" + rand(_B62, 36), "\n"),
    ("github-token", "(", "ghs_" + rand(_B62, 36), ")"),
    ("github-token", "refresh ", "ghr_" + rand(_B62, 36), "."),
    ("github-token", "user token ", "ghu_" + rand(_B62, 36), " ok"),
    ("slack-token", "SLACK_BOT_TOKEN=", SLACK_BOT, "\n"),
    ("slack-token", "app token ", "xapp-1-A0123456789-1234567890123-" + rand("0123456789abcdef", 64), " ok"),
    (
        "slack-token",
        "user token: ",
        "xoxp-1234567890-1234567890-1234567890123-" + rand("0123456789abcdef", 32),
        "",
    ),
    ("slack-webhook", "curl -X POST https://hooks.slack.com/", SLACK_HOOK_PATH, " -d @msg.json"),
    ("stripe-key", "stripe.api_key = '", STRIPE_LIVE, "'"),
    ("stripe-key", "STRIPE_SECRET=", "sk_test_" + rand(_B62, 24), ""),
    ("stripe-key", "restricted ", "rk_live_" + rand(_B62, 24), " here"),
    ("stripe-key", "publishable ", "pk_live_" + rand(_B62, 24), " here"),
    ("google-api-key", "https://maps.googleapis.com/maps/api/js?key=", GOOGLE_KEY, "&callback=init"),
    ("google-oauth-secret", '"client_secret": "', GOOGLE_OAUTH, '",'),
    ("google-oauth-secret", "secret is ", GOOGLE_OAUTH, " (web client)"),
    ("huggingface-token", "huggingface-cli login --token ", HF_TOKEN, ""),
    ("private-key", "cat ~/.ssh/id_rsa\n", PEM, "\n$ "),
    ("private-key", "key:\n", make_pem("OPENSSH PRIVATE KEY", 400), "\ndone"),
    ("private-key", "", make_pem("ENCRYPTED PRIVATE KEY", 300), ""),
    ("jwt", "session cookie: ", JWT, "; Path=/"),
    ("url-password", "DATABASE_URL=postgres://app:", "Pr0d-Pa55w0rd!", "@db.internal:5432/app"),
    ("url-password", "redis://:", "s3cr3tRedisPass", "@cache:6379/0"),
    ("url-password", "clickhouse://default:", "n0t-the-default", "@ch:8123/db"),
    ("password", "DB_PASSWORD=", "hunter2hunter2", "\nDB_HOST=localhost"),
    ("password", "export PGPASSWORD='", "Tr0ub4dor&3", "'"),
    ("password", 'password: "', "correct-horse-battery", '"\nuser: admin'),
    ("password", "  password: ", "s3cretValue!", "\n  host: db"),
    ("password", 'conn = connect(user="app", password="', "p@ssW0rd-2026", '")'),
    ("password", 'settings = {"db_passwd": "', "zq8#Lm2!", '"}'),
    ("password", "mysql -u root --password ", "Sup3rS3cret", " -e 'select 1'"),
    ("password", "<password>", "xml-Passw0rd", "</password>"),
    ("password", "Server=db;Database=app;User Id=sa;Password=", "Azure#Pw42x", ";"),
    ("password", 'def login(password: str = "', "default-Pa55", '"):'),
    ("password", "MYSQL_PWD=", "mysqlpw1234", " mysql"),
    ("api-key", 'headers = {"X-Api-Key": "', OPAQUE, '"}'),
    ("sendgrid-key", "SENDGRID_API_KEY=", "SG." + rand(_B64URL, 22) + "." + rand(_B64URL, 43), ""),
    ("api-key", 'apiKey: "', OPAQUE, '",'),
    ("token", "DISCORD_BOT_TOKEN=", rand(_B62, 24) + "." + rand(_B62, 6) + "." + rand(_B64URL, 27), ""),
    ("token", '{"access_token": "', OPAQUE, '", "token_type": "bearer", "expires_in": 3600}'),
    ("npm-token", "//registry.npmjs.org/:_authToken=", "npm_" + rand(_B62, 36), "\n"),
    ("django-secret-key", "SECRET_KEY = '", "django-insecure-" + rand(_B62 + "!@#%^&*(-_=+)", 50), "'"),
    ("secret", "WEBHOOK_SECRET=", "whsec_" + rand(_B62, 32), ""),
    ("secret", '"client_credentials": "', OPAQUE, '"'),
    ("bearer-token", 'curl -H "Authorization: Bearer ', OPAQUE, '" https://api.example.com'),
    ("bearer-token", "authorization: bearer ", OPAQUE, "\r\n"),
    ("basic-auth", "Authorization: Basic ", base64.b64encode(b"admin:Pa55w0rd!").decode(), "\n"),
    ("discord-webhook", "https://discord.com/api/webhooks/123456789012345678/", rand(_B64URL, 68), ""),
]


@pytest.mark.parametrize(("kind", "before", "secret", "after"), PLANTED, ids=[p[0] for p in PLANTED])
def test_planted_secret_is_replaced_and_context_kept(kind: str, before: str, secret: str, after: str) -> None:
    text = f"{before}{secret}{after}"
    redacted, findings = redact_with_report(text)
    assert secret not in redacted
    assert redacted == f"{before}[REDACTED:{kind}]{after}"
    assert findings == [Finding(kind, len(before), len(before) + len(secret))]
    assert contains_secret(text)


def test_every_kind_has_a_planted_example() -> None:
    assert {p[0] for p in PLANTED} <= set(KINDS)
    # The vendor formats of secret_formats.py are planted by test_secret_catalogue.py.
    missing = set(KINDS) - set(FORMAT_KINDS) - {p[0] for p in PLANTED}
    assert missing == set(), missing


def test_case_variants_of_keywords() -> None:
    for name in ("PASSWORD", "Password", "password", "dbPassword", "DB_PASSWORD", "db-password"):
        assert redact(f'{name}="Xy7-secret-value"') == f'{name}="[REDACTED:password]"', name
    for name in ("API_KEY", "apiKey", "ApiKey", "api-key", "x-api-key", "OPENAI_API_KEY"):
        assert redact(f"{name}: {OPAQUE}") == f"{name}: [REDACTED:api-key]", name
    for name in ("GITHUB_TOKEN", "accessToken", "Token", "refresh_token", "X-Auth-Token"):
        assert redact(f"{name}={OPAQUE}") == f"{name}=[REDACTED:token]", name


def test_several_secrets_in_one_text_and_offsets() -> None:
    text = f"a={AWS_KEY_ID} b={GITHUB_PAT}\nc: {JWT}\npostgres://u:{OPAQUE}@h/db"
    redacted, findings = redact_with_report(text)
    assert [f.kind for f in findings] == ["aws-access-key", "github-token", "jwt", "url-password"]
    assert [text[f.start : f.end] for f in findings] == [AWS_KEY_ID, GITHUB_PAT, JWT, OPAQUE]
    assert redacted == (
        "a=[REDACTED:aws-access-key] b=[REDACTED:github-token]\nc: [REDACTED:jwt]\n"
        "postgres://u:[REDACTED:url-password]@h/db"
    )


def test_most_specific_kind_wins_when_findings_overlap() -> None:
    assert redact(f"ANTHROPIC_API_KEY={ANTHROPIC}") == "ANTHROPIC_API_KEY=[REDACTED:anthropic-key]"
    assert redact(f"Authorization: Bearer {JWT}") == "Authorization: Bearer [REDACTED:jwt]"
    assert (
        redact(f"https://user:{GITHUB_PAT}@github.com") == "https://user:[REDACTED:github-token]@github.com"
    )
    assert redact(f"AWS_ACCESS_KEY_ID={AWS_KEY_ID}") == "AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]"


def test_offsets_are_in_the_original_text_around_non_ascii() -> None:
    text = f"café → ünïcode ✓ 🔑 token={OPAQUE} 終わり"
    redacted, findings = redact_with_report(text)
    assert [text[f.start : f.end] for f in findings] == [OPAQUE]
    assert redacted == "café → ünïcode ✓ 🔑 token=[REDACTED:token] 終わり"


def test_private_key_block_escaped_inside_json_stays_valid_json() -> None:
    payload = json.dumps({"tool": "Read", "output": f"before\n{PEM}\nafter", "n": 1})
    redacted = redact(payload)
    assert json.loads(redacted) == {"tool": "Read", "output": "before\n[REDACTED:private-key]\nafter", "n": 1}


def test_encrypted_pem_with_headers_goes_whole() -> None:
    body = "\n".join(make_pem().splitlines()[1:-1])
    pem = (
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n"
        f"{body}\n-----END RSA PRIVATE KEY-----"
    )
    assert redact(f"$ cat key.pem\n{pem}\n$ ls") == "$ cat key.pem\n[REDACTED:private-key]\n$ ls"


def test_private_key_flattened_onto_one_line() -> None:
    flat = PEM.replace("\n", "")
    assert redact(f'PRIVATE_KEY="{flat}"') == 'PRIVATE_KEY="[REDACTED:private-key]"'
    spaced = PEM.replace("\n", " ")
    assert redact(f"key: {spaced} end") == "key: [REDACTED:private-key] end"


def test_crlf_and_double_escaped_json() -> None:
    crlf = PEM.replace("\n", "\r\n")
    assert redact(f"x\r\n{crlf}\r\ny") == "x\r\n[REDACTED:private-key]\r\ny"
    # JSON inside a JSON string: newlines arrive as \\n and quotes as \\\"
    twice = json.dumps(json.dumps({"key": PEM, "password": "pa55-w0rd!"}))
    redacted = redact(twice)
    assert json.loads(json.loads(redacted)) == {
        "key": "[REDACTED:private-key]",
        "password": "[REDACTED:password]",
    }


def test_namespaced_names_and_arns_are_not_assignments() -> None:
    for text in (
        '"AWS::ApiGateway::ApiKey": "48205d4ffd7feba3",',
        '"Resource": "arn:aws:secretsmanager:*:*:secret:AmazonSageMaker-*"',
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    ):
        assert redact(text) is text


def test_truncated_private_key_loses_its_body() -> None:
    lines = PEM.splitlines()
    text = "\n".join(lines[:6]) + "\n... (output truncated)"
    redacted = redact(text)
    assert redacted == "[REDACTED:private-key]\n... (output truncated)"
    assert not any(line in redacted for line in lines[1:6])


def test_secrets_inside_json_text_keep_it_valid() -> None:
    inner = json.dumps({"password": "hunter2-Secret", "api_key": OPAQUE, "url": f"https://u:{OPAQUE}@h"})
    outer = json.dumps({"command": f"echo '{inner}'", "env": {"GITHUB_TOKEN": GITHUB_PAT}})
    redacted = redact(outer)
    assert OPAQUE not in redacted and GITHUB_PAT not in redacted and "hunter2-Secret" not in redacted
    decoded = json.loads(redacted)
    assert decoded["env"]["GITHUB_TOKEN"] == "[REDACTED:github-token]"
    assert json.loads(decoded["command"][6:-1]) == {
        "password": "[REDACTED:password]",
        "api_key": "[REDACTED:api-key]",
        "url": "https://u:[REDACTED:url-password]@h",
    }


# Ordinary code, config, logs and prose that must come back untouched (the same object).
KEPT = [
    "max_tokens = 100",
    "input_tokens: 5",
    '"usage": {"input_tokens": 12, "output_tokens": 3456, "cache_read_input_tokens": 0}',
    "token_count = len(tokens)",
    "for token in tokenize(source):",
    "tokenizer = AutoTokenizer.from_pretrained(name)",
    "password = getpass()",
    "password = getpass.getpass('Password: ')",
    'token = request.headers["Authorization"]',
    'api_key = os.environ["API_KEY"]',
    'api_key = os.environ.get("OPENAI_API_KEY", "")',
    "api_key = os.getenv('API_KEY')",
    'api_key = "<your-token>"',
    'API_KEY="<YOUR_API_KEY>"',
    "GITHUB_TOKEN=${GITHUB_TOKEN}",
    "TOKEN=$(gh auth token)",
    'export OPENAI_API_KEY="$OPENAI_API_KEY"',
    "token: ${{ secrets.GITHUB_TOKEN }}",
    "password: !vault |",
    "secret_key = settings.SECRET_KEY",
    "self.token = token",
    "password=password",
    "api_key=api_key,",
    "token = None",
    "password: str",
    "def connect(host: str, password: str | None = None) -> Connection:",
    "password: Optional[str] = None",
    "    token: string;",
    "apiKey: process.env.API_KEY,",
    "secret = true",
    'auth = ("user", pw)',
    "author = 'Jane Doe'",
    "authenticate(user, password)",
    "authority: str = 'login.microsoftonline.com'",
    'token_type = "bearer"',
    'token_url = "https://oauth2.googleapis.com/token"',
    "TOKEN_FILE=/run/secrets/token",
    "password_file: ./secrets/db_password.txt",
    "GOOGLE_APPLICATION_CREDENTIALS=~/.config/gcloud/application_default_credentials.json",
    'secret_name = "prod/db/password"',
    "password_min_length = 12",
    "PASSWORD_HASHERS = [",
    'cache_key = f"user:{user_id}"',
    "primary_key=True",
    "sort_key = lambda item: item.name",
    'password = "password"',
    'password = ""',
    'api_key = "xxxxxxxxxxxxxxxxxxxxxxxx"',
    'token = "***"',
    'password = "changeme"',
    'api_key = "your-api-key-here"',
    "The token is stored in the keychain; run `gh auth token` to print it.",
    "Use a password manager and never share your secret key.",
    "Authorization: Bearer $TOKEN",
    'curl -H "Authorization: Bearer ${API_TOKEN}" https://api.example.com',
    'headers = {"Authorization": f"Bearer {token}"}',
    "Authorization: Bearer <token>",
    "postgres://user:password@localhost:5432/db",
    "postgresql://postgres:${POSTGRES_PASSWORD}@db:5432/app",
    "https://user@example.com/path",
    "ssh://git@github.com:22/org/repo.git",
    "docker://ghcr.io/org/app:1.2.3@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "mailto:alice@example.com",
    "git@github.com:anthropics/claude-code.git",
    "Risk-based task-management-system overview",
    "sk-learn and task-scheduling are unrelated",
    "AKIA is the prefix of AWS access key ids",
    "eyJ is base64 for a JSON object start",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUX\n-----END CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "2026-02-12T16:02:25.227Z INFO worker-3 processed batch id=9f3a rows=120 in 13.4ms",
    'uuid = "f509a2e7-6a58-4e2f-a2f7-ee26c449b557"',
    "commit 4d5611e5241a462a8d155122611a9569deadbeef",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "key = 'user_42'",
    "primary_key: id",
    "const secret = generateSecret();",
    "secretary: Alice",
    "passwordless: true",
    "--password-stdin",
    "read -s PASSWORD",
    "if token == expected_token:",
    "x" * 300,
    "",
    "short",
]


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_kept_as_the_same_object(text: str) -> None:
    assert redact(text) is text
    assert redact_with_report(text) == (text, [])
    assert not contains_secret(text)


# Standard-library modules dense in the words the keyword rules look for (passwords, tokens,
# secrets, auth, keys) and free of literal credentials.
KEYWORD_DENSE_MODULES = (
    "smtplib",
    "imaplib",
    "ftplib",
    "poplib",
    "netrc",
    "getpass",
    "tokenize",
    "secrets",
    "hmac",
    "ssl",
    "http.client",
    "http.cookiejar",
    "urllib.parse",
    "email.utils",
    "json",
    "inspect",
    "argparse",
    "logging.handlers",
)


@pytest.mark.parametrize("module_name", KEYWORD_DENSE_MODULES)
def test_real_python_source_has_no_false_positives(module_name: str) -> None:
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(module_name))
    _, findings = redact_with_report(source)
    assert findings == [], [source[f.start - 60 : f.end + 10] for f in findings]


@pytest.mark.parametrize(("kind", "before", "secret", "after"), PLANTED, ids=[p[0] for p in PLANTED])
def test_redaction_is_idempotent(kind: str, before: str, secret: str, after: str) -> None:
    once = redact(f"{before}{secret}{after}")
    assert redact(once) is once


def test_redaction_of_a_mixed_document_is_idempotent() -> None:
    document = "\n".join(f"{before}{secret}{after}" for _, before, secret, after in PLANTED)
    once = redact(document)
    assert redact(once) == once
    for _, _, secret, _ in PLANTED:
        assert secret not in once


def test_short_clean_strings_are_remembered_without_changing_answers() -> None:
    for _ in range(3):
        assert redact("assistant") == "assistant"
        assert redact(f"token={OPAQUE}") == "token=[REDACTED:token]"
        assert redact(f"pwd={OPAQUE}") == "pwd=[REDACTED:password]"


def test_json_walk_redacts_strings_and_keeps_keys() -> None:
    value = {
        "type": "tool_use",
        "input": {"command": f"export GITHUB_TOKEN={GITHUB_PAT}", "timeout": 120},
        "env": {"API_KEY": OPAQUE, "PASSWORD": "hunter2-Secret", "HOME": "/home/user"},
        "usage": {"input_tokens": 5, "output_tokens": 7},
        "list": ["plain", f"jwt {JWT}", 3, None, True, {"nested": [f"AKIA? {AWS_KEY_ID}"]}],
        f"key with {AWS_KEY_ID}": "keys are not redacted",
    }
    redacted = redact_json_value(value)
    assert redacted == {
        "type": "tool_use",
        "input": {"command": "export GITHUB_TOKEN=[REDACTED:github-token]", "timeout": 120},
        "env": {"API_KEY": "[REDACTED:api-key]", "PASSWORD": "[REDACTED:password]", "HOME": "/home/user"},
        "usage": {"input_tokens": 5, "output_tokens": 7},
        "list": [
            "plain",
            "jwt [REDACTED:jwt]",
            3,
            None,
            True,
            {"nested": ["AKIA? [REDACTED:aws-access-key]"]},
        ],
        f"key with {AWS_KEY_ID}": "keys are not redacted",
    }
    # The input is not modified, and unchanged containers are the very same objects.
    assert value["env"]["API_KEY"] == OPAQUE  # type: ignore[index]
    assert isinstance(redacted, dict)
    assert redacted["usage"] is value["usage"]


def test_json_walk_returns_the_same_object_when_nothing_changes() -> None:
    value = {"a": ["x", {"b": "y", "token_count": 5, "password": "", "secret": "${SECRET}"}], "n": 1.5}
    assert redact_json_value(value) is value
    assert redact_json_value([]) == []
    for scalar in (None, 1, 2.5, True, "plain text"):
        assert redact_json_value(scalar) is scalar


def test_json_walk_uses_the_key_as_context_only_for_literal_secrets() -> None:
    value = {
        "password": "s3cret!",
        "token": "a1B2c3D4e5F6g7H8",
        "api_key": "short",
        "secret": "not a secret, a sentence",
        "max_tokens": "4096",
        "authorization": f"Bearer {OPAQUE}",
    }
    assert redact_json_value(value) == {
        "password": "[REDACTED:password]",
        "token": "[REDACTED:token]",
        "api_key": "short",
        "secret": "not a secret, a sentence",
        "max_tokens": "4096",
        "authorization": "Bearer [REDACTED:bearer-token]",
    }


def test_ten_megabytes_without_secrets_come_back_unchanged() -> None:
    block = textwrap.dedent(
        """\
        def handler(event, context):
            token_count = count_tokens(event["prompt"])  # max_tokens = 4096
            log.info("processed %s in %.1fms", event["id"], elapsed)
            return {"statusCode": 200, "body": json.dumps({"tokens": token_count})}
        2026-02-12T16:02:25Z INFO GET /api/v1/sessions 200 1532 "Mozilla/5.0" key=user_42
        """
    )
    text = block * (10_000_000 // len(block) + 1)
    assert len(text) >= 10_000_000
    assert redact(text) is text


def test_ten_megabytes_with_a_secret_at_the_very_end() -> None:
    filler = "x = compute(y) + 1  # nothing to see here\n" * (10_000_000 // 42 + 1)
    text = filler + f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}"
    redacted, findings = redact_with_report(text)
    assert redacted == filler + "AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret-key]"
    assert findings == [Finding("aws-secret-key", len(text) - len(AWS_SECRET), len(text))]


def test_dense_base64_is_not_mistaken_for_secrets() -> None:
    blob = base64.b64encode(random.Random(1).randbytes(300_000)).decode()
    assert redact(blob) is blob
    text = f"data:image/png;base64,{blob} then {JWT} and {AWS_KEY_ID}"
    redacted = redact(text)
    assert redacted == f"data:image/png;base64,{blob} then [REDACTED:jwt] and [REDACTED:aws-access-key]"


def test_finding_is_a_small_value_type() -> None:
    f = Finding("jwt", 1, 5)
    assert f == Finding("jwt", 1, 5) and f != Finding("jwt", 1, 6)
    assert hash(f) == hash(Finding("jwt", 1, 5))
    assert repr(f) == "Finding(kind='jwt', start=1, end=5)"
    assert (f.kind, f.start, f.end) == ("jwt", 1, 5)


def test_module_imports_only_the_standard_library() -> None:
    # The hook handler imports this on every tool call and may import nothing else.
    code = (
        "import sys; before = set(sys.modules); import agent_trace.domain.redaction; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(new - set(sys.stdlib_module_names) - {'agent_trace'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
