"""The redaction catalogue (issue 9): every kind of secret we know, in three forms each, and a
corpus of look-alikes that must stay.

Forms: bare (the token alone in prose or output), assigned (an env line, a JSON field, a config
line), and as used (a command line or a header, the way an agent's tool call carries it).
Keyword-only kinds (a password has no format) have no bare form. All values are fake:
random bodies of the vendor's documented alphabet and length.

Recall and false-positive figures are printed (`pytest -s tests/domain/test_secret_catalogue.py`)
and asserted: every kind in every form, and no false positive.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import uuid
from collections.abc import Callable

import pytest

from agent_trace.domain.redaction import redact

_RND = random.Random(9)
_B62 = string.ascii_letters + string.digits
_B64URL = _B62 + "-_"
_HEX = "0123456789abcdef"
_UPPER36 = string.ascii_uppercase + string.digits
_BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def r(alphabet: str, n: int) -> str:
    # Mixes letters and digits (where the alphabet has both), as generated keys do.
    mixed = any(c.isdigit() for c in alphabet) and any(c.isalpha() for c in alphabet)
    while True:
        value = "".join(_RND.choice(alphabet) for _ in range(n))
        if not mixed or n < 8 or (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
            return value


def _jwt_like(prefix: str = "eyJ") -> str:
    return prefix + r(_B64URL, 60) + ".eyJ" + r(_B64URL, 40) + "." + r(_B64URL, 43)


# kind → (make a value, the env var a developer would put it in, a command that uses it ({v})).
Sample = tuple[Callable[[], str], str, str]
USE_BEARER = 'curl -sS -H "Authorization: Bearer {v}" https://api.example.com/v1/me'
USE_HEADER = "curl -H 'X-Api-Key: {v}' https://api.example.com/v1/things"
SAMPLES: dict[str, Sample] = {
    "aws-access-key": (
        lambda: "AKIA" + r(_UPPER36, 16),
        "AWS_ACCESS_KEY_ID",
        "aws configure set aws_access_key_id {v}",
    ),
    "anthropic-key": (lambda: "sk-ant-api03-" + r(_B64URL, 93) + "AA", "ANTHROPIC_API_KEY", USE_HEADER),
    "openai-key": (lambda: "sk-proj-" + r(_B64URL, 48), "OPENAI_API_KEY", USE_BEARER),
    "github-token": (
        lambda: "ghp_" + r(_B62, 36),
        "GITHUB_TOKEN",
        "git clone https://{v}@github.com/acme/app.git",
    ),
    "gitlab-token": (
        lambda: "glpat-" + r(_B64URL, 20),
        "GITLAB_TOKEN",
        'curl --header "PRIVATE-TOKEN: {v}" https://gitlab.com/api/v4/projects',
    ),
    "slack-token": (
        lambda: "xoxb-" + r("0123456789", 12) + "-" + r("0123456789", 13) + "-" + r(_B62, 24),
        "SLACK_BOT_TOKEN",
        USE_BEARER,
    ),
    "slack-webhook": (
        lambda: (
            "https://hooks.slack.com/services/T" + r(_UPPER36, 8) + "/B" + r(_UPPER36, 10) + "/" + r(_B62, 24)
        ),
        "SLACK_WEBHOOK_URL",
        'curl -X POST -d \'{{"text":"hi"}}\' {v}',
    ),
    "discord-webhook": (
        lambda: "https://discord.com/api/webhooks/" + r("0123456789", 18) + "/" + r(_B64URL, 68),
        "DISCORD_WEBHOOK",
        "curl -X POST -d 'content=hi' {v}",
    ),
    "stripe-key": (
        lambda: "sk_live_" + r(_B62, 99),
        "STRIPE_SECRET_KEY",
        "curl https://api.stripe.com/v1/charges -u {v}:",
    ),
    "google-api-key": (
        lambda: "AIza" + r(_B64URL, 35),
        "GOOGLE_API_KEY",
        "curl 'https://maps.googleapis.com/maps/api/geocode/json?address=x&key={v}'",
    ),
    "google-oauth-secret": (
        lambda: "GOCSPX-" + r(_B64URL, 28),
        "GOOGLE_CLIENT_SECRET",
        "gcloud auth --client-secret {v}",
    ),
    "huggingface-token": (
        lambda: "hf_" + r(string.ascii_letters, 34),
        "HF_TOKEN",
        "huggingface-cli login --token {v}",
    ),
    "jwt": (_jwt_like, "ID_TOKEN", USE_BEARER),
    "npm-token": (
        lambda: "npm_" + r(_B62, 36),
        "NPM_TOKEN",
        "npm config set //registry.npmjs.org/:_authToken {v}",
    ),
    "pypi-token": (
        lambda: "pypi-AgEIcHlwaS5vcmc" + r(_B64URL, 70),
        "TWINE_PASSWORD",
        "twine upload -u __token__ -p {v} dist/*",
    ),
    "sendgrid-key": (lambda: "SG." + r(_B64URL, 22) + "." + r(_B64URL, 43), "SENDGRID_API_KEY", USE_BEARER),
    "shopify-token": (
        lambda: "shpat_" + r(_HEX, 32),
        "SHOPIFY_ACCESS_TOKEN",
        "curl -H 'X-Shopify-Access-Token: {v}' https://shop.myshopify.com/admin/api/2024-01/shop.json",
    ),
    "digitalocean-token": (
        lambda: "dop_v1_" + r(_HEX, 64),
        "DIGITALOCEAN_TOKEN",
        "doctl auth init --access-token {v}",
    ),
    "mailgun-key": (
        lambda: "key-" + r(_HEX + "ghijklmnopqrstuvwxyz", 32),
        "MAILGUN_API_KEY",
        "curl -s --user 'api:{v}' https://api.mailgun.net/v3/x/messages",
    ),
    "heroku-key": (lambda: "HRKU-AA" + r(_B64URL, 58), "HEROKU_API_KEY", USE_BEARER),
    "vault-token": (lambda: "hvs." + r(_B64URL, 91), "VAULT_TOKEN", "vault login {v}"),
    "linear-key": (
        lambda: "lin_api_" + r(_B62, 40),
        "LINEAR_API_KEY",
        "curl -H 'Authorization: {v}' https://api.linear.app/graphql",
    ),
    "postman-key": (lambda: "PMAK-" + r(_HEX, 24) + "-" + r(_HEX, 34), "POSTMAN_API_KEY", USE_HEADER),
    "doppler-token": (lambda: "dp.pt." + r(_B62, 43), "DOPPLER_TOKEN", "doppler configure set token {v}"),
    "grafana-token": (lambda: "glsa_" + r(_B62, 32) + "_" + r(_HEX, 8), "GRAFANA_TOKEN", USE_BEARER),
    "newrelic-key": (lambda: "NRAK-" + r(_UPPER36, 27), "NEW_RELIC_API_KEY", USE_HEADER),
    "pulumi-token": (lambda: "pul-" + r(_HEX, 40), "PULUMI_ACCESS_TOKEN", "pulumi login --token {v}"),
    "sentry-token": (
        lambda: "sntryu_" + r(_HEX, 64),
        "SENTRY_AUTH_TOKEN",
        "sentry-cli --auth-token {v} releases list",
    ),
    "age-secret-key": (
        lambda: "AGE-SECRET-KEY-1" + r(_BECH32, 58),
        "SOPS_AGE_KEY",
        "echo {v} > key.txt && sops -d secrets.yaml",
    ),
    "dropbox-token": (lambda: "sl." + r(_B64URL, 138), "DROPBOX_TOKEN", USE_BEARER),
    "figma-token": (
        lambda: "figd_" + r(_B64URL, 40),
        "FIGMA_TOKEN",
        "curl -H 'X-Figma-Token: {v}' https://api.figma.com/v1/me",
    ),
    "flyio-token": (lambda: "fo1_" + r(_B64URL, 43), "FLY_API_TOKEN", "flyctl deploy --access-token {v}"),
    "terraform-token": (lambda: r(_B62, 14) + ".atlasv1." + r(_B64URL, 67), "TFE_TOKEN", USE_BEARER),
    "replicate-token": (lambda: "r8_" + r(_B62, 37), "REPLICATE_API_TOKEN", USE_BEARER),
    "groq-key": (lambda: "gsk_" + r(_B62, 52), "GROQ_API_KEY", USE_BEARER),
    "xai-key": (lambda: "xai-" + r(_B62, 80), "XAI_API_KEY", USE_BEARER),
    "perplexity-key": (lambda: "pplx-" + r(_B62, 48), "PERPLEXITY_API_KEY", USE_BEARER),
    "docker-token": (
        lambda: "dckr_pat_" + r(_B64URL, 27),
        "DOCKER_PAT",
        "echo {v} | docker login -u me --password-stdin",
    ),
    "supabase-token": (lambda: "sbp_" + r(_HEX, 40), "SUPABASE_ACCESS_TOKEN", "supabase login --token {v}"),
    "netlify-token": (lambda: "nfp_" + r(_B62, 36), "NETLIFY_AUTH_TOKEN", "netlify deploy --auth {v}"),
    "notion-token": (lambda: "ntn_" + r("0123456789", 11) + r(_B62, 35), "NOTION_TOKEN", USE_BEARER),
    "google-oauth-token": (lambda: "ya29." + r(_B64URL, 150), "GOOGLE_ACCESS_TOKEN", USE_BEARER),
    "shippo-token": (
        lambda: "shippo_live_" + r(_HEX, 40),
        "SHIPPO_API_KEY",
        "curl -H 'Authorization: ShippoToken {v}' https://api.goshippo.com/",
    ),
    "contentful-token": (lambda: "CFPAT-" + r(_B64URL, 43), "CONTENTFUL_MANAGEMENT_TOKEN", USE_BEARER),
    "prefect-key": (lambda: "pnu_" + r(_B62, 36), "PREFECT_API_KEY", "prefect cloud login -k {v}"),
    "readme-key": (
        lambda: "rdme_" + r("abcdefghijklmnopqrstuvwxyz0123456789", 70),
        "README_API_KEY",
        USE_HEADER,
    ),
    "planetscale-token": (
        lambda: "pscale_tkn_" + r(_B64URL, 43),
        "PLANETSCALE_SERVICE_TOKEN",
        "pscale auth login --service-token {v}",
    ),
    "rubygems-key": (
        lambda: "rubygems_" + r(_HEX, 48),
        "GEM_HOST_API_KEY",
        "curl -H 'Authorization:{v}' https://rubygems.org/api/v1/gems",
    ),
    "clojars-token": (
        lambda: "CLOJARS_" + r("abcdefghijklmnopqrstuvwxyz0123456789", 60),
        "CLOJARS_TOKEN",
        "lein deploy clojars --password {v}",
    ),
    "dynatrace-token": (
        lambda: "dt0c01." + r(_UPPER36, 24) + "." + r(_UPPER36, 64),
        "DT_API_TOKEN",
        "curl -H 'Authorization: Api-Token {v}' https://x.live.dynatrace.com/api/v2/",
    ),
    "flutterwave-key": (
        lambda: "FLWSECK_TEST-" + r("abcdefgh0123456789", 32) + "-X",
        "FLW_SECRET_KEY",
        USE_BEARER,
    ),
    "sendinblue-key": (
        lambda: "xkeysib-" + r(_HEX, 64) + "-" + r(_B62, 16),
        "BREVO_API_KEY",
        "curl -H 'api-key: {v}' https://api.brevo.com/v3/account",
    ),
    "square-token": (lambda: "sq0csp-" + r(_B64URL, 43), "SQUARE_APP_SECRET", USE_BEARER),
    "onepassword-token": (
        lambda: "ops_eyJ" + r(_B62, 300),
        "OP_SERVICE_ACCOUNT_TOKEN",
        "op read op://vault/item --session {v}",
    ),
    "tailscale-key": (
        lambda: "tskey-auth-k" + r(_B62, 10) + "CNTRL-" + r(_B62, 32),
        "TS_AUTHKEY",
        "tailscale up --authkey={v}",
    ),
    "mapbox-token": (
        lambda: "sk.eyJ" + r(_B64URL, 60) + "." + r(_B64URL, 22),
        "MAPBOX_SECRET_TOKEN",
        "curl 'https://api.mapbox.com/tokens/v2?access_token={v}'",
    ),
    "mailchimp-key": (
        lambda: r(_HEX, 32) + "-us" + str(_RND.randint(1, 21)),
        "MAILCHIMP_API_KEY",
        "curl --user 'anystring:{v}' https://us6.api.mailchimp.com/3.0/",
    ),
    "plaid-token": (
        lambda: "access-production-" + str(uuid.UUID(int=_RND.getrandbits(128))),
        "PLAID_ACCESS_TOKEN",
        'curl -d \'{{"access_token":"{v}"}}\' https://production.plaid.com/accounts/get',
    ),
    "azure-ad-secret": (
        lambda: r(_B62, 3) + "8Q~" + r(_B64URL + "~.", 34),
        "AZURE_CLIENT_SECRET",
        "az login --service-principal -u app -p {v} --tenant t",
    ),
    "telegram-bot-token": (
        lambda: r("123456789", 9) + ":AA" + r(_B64URL, 33),
        "TELEGRAM_BOT_TOKEN",
        "curl https://api.telegram.org/bot{v}/getMe",
    ),
    "harness-token": (
        lambda: "pat." + r(_B64URL, 22) + "." + r(_HEX, 24) + "." + r(_B62, 20),
        "HARNESS_API_KEY",
        USE_HEADER,
    ),
    "atlassian-token": (
        lambda: "ATATT3" + r(_B64URL, 186),
        "JIRA_API_TOKEN",
        "curl -u me@example.com:{v} https://acme.atlassian.net/rest/api/3/myself",
    ),
    "artifactory-key": (
        lambda: "AKCp" + r(_B62, 69),
        "ARTIFACTORY_API_KEY",
        "curl -H 'X-JFrog-Art-Api: {v}' https://acme.jfrog.io/artifactory/api/repositories",
    ),
    "databricks-token": (lambda: "dapi" + r(_HEX, 32), "DATABRICKS_TOKEN", USE_BEARER),
    "twilio-key": (lambda: "SK" + r(_HEX, 32), "TWILIO_API_KEY", "twilio login --api-key {v}"),
    "alibaba-key": (
        lambda: "LTAI" + r(_B62, 20),
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "aliyun configure set --access-key-id {v}",
    ),
    "easypost-key": (
        lambda: "EZAK" + r(_B62, 54),
        "EASYPOST_API_KEY",
        "curl -u {v}: https://api.easypost.com/v2/addresses",
    ),
    "discord-bot-token": (
        lambda: "MT" + r(_B64URL, 24) + "." + r(_B64URL, 6) + "." + r(_B64URL, 38),
        "DISCORD_BOT_TOKEN",
        "curl -H 'Authorization: Bot {v}' https://discord.com/api/v10/users/@me",
    ),
    "django-secret-key": (
        lambda: "django-insecure-" + r(_B62 + "!@#%^&*(-_=+)", 50),
        "DJANGO_SECRET_KEY",
        "DJANGO_SECRET_KEY='{v}' python manage.py runserver",
    ),
}

# Keyword-only kinds: no format, recognised by the name in front of them. (kind, assigned, used).
KEYWORD_ONLY: dict[str, tuple[str, str]] = {
    "password": ("DB_PASSWORD=Tr0ub4dor-and-3", "mysql -h db -u app -pTr0ub4dor-and-3 app"),
    "password ": (
        '"password": "c0rrect horse"'.replace(" h", "-h"),
        "sshpass -p 'Wint3r-is-c0ming' ssh deploy@host",
    ),
    "password  ": ("redis_password: 'Zq8!vR2#kLm9'", "redis-cli -h cache -a Zq8vR2kLm9xx ping"),
    "password   ": ("DOCKER_PASSWORD=Hx7pLq2Zr9", "docker login -u ci -p Hx7pLq2Zr9 registry.example.com"),
    "basic-auth": (
        "Authorization: Basic YWRtaW46czNjcjN0UGFzcw==",
        "curl -u deploy:Ghx9Lq2Vb8Zr https://ci.example.com/api",
    ),
    "secret": (
        "CLIENT_SECRET=9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "oauth2c --client-secret 9f8e7d6c5b4a39281706f5e4d3c2b1a0 https://id.example.com",
    ),
    "api-key": (
        "DD_APP_KEY=" + "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        "curl -H 'DD-APPLICATION-KEY: a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' https://api.datadoghq.com/api/v1/dashboard --api-key a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
    ),
    "token": (
        "TOKEN=0x9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8",
        "./deploy.sh --token 9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8",
    ),
    "url-password": (
        "DATABASE_URL=postgres://app:Pr0d-Pa55w0rd@db.internal:5432/app",
        "git remote add origin https://x-access-token:Gx7rT2mQ9pL4vZ8k@git.example.com/acme/app.git",
    ),
    "aws-secret-key": (
        "aws_secret_access_key = " + "wJa1rXUtnFEMI/K7MDENG/bPxRfiCYzK9q2Lm4Np",
        "AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986 AWS_SECRET_ACCESS_KEY=wJa1rXUtnFEMI/K7MDENG/bPxRfiCYzK9q2Lm4Np aws s3 ls",
    ),
}


def _forms(kind: str, sample: Sample) -> dict[str, tuple[str, str]]:
    make, env, use = sample
    value = make()
    return {
        "bare": (f"The key is {value} - rotate it after the demo.", value),
        "assigned": (f'export {env}="{value}"', value),
        "as used": (use.format(v=value), value),
    }


def _catalogue() -> list[tuple[str, str, str, str]]:
    """(kind, form, text, the secret that must not survive)."""
    rows = []
    for kind, sample in SAMPLES.items():
        for form, (text, value) in _forms(kind, sample).items():
            rows.append((kind, form, text, value))
    for kind, (assigned, used) in KEYWORD_ONLY.items():
        kind = kind.strip()
        for form, text in (("assigned", assigned), ("as used", used)):
            secret = _secret_in(text)
            rows.append((kind, form, text, secret))
    return rows


def _secret_in(text: str) -> str:
    """The secret part of a keyword-only example: its longest random-looking word."""
    import re

    words = re.findall(r"[A-Za-z0-9!#/+=~-]{8,}", text.replace("Pr0d-Pa55w0rd", "Pr0d-Pa55w0rd"))
    mixed = [w for w in words if any(c.isdigit() for c in w) and any(c.isalpha() for c in w)]
    return max(mixed, key=len)


CATALOGUE = _catalogue()


# Look-alikes of secrets that are everywhere in an agent's work and must stay.
def _fp_corpus() -> list[str]:
    rnd = random.Random(4)
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + rnd.randbytes(600)).decode()
    out = []
    for i in range(20):
        data = rnd.randbytes(64)
        sha1 = hashlib.sha1(data).hexdigest()
        sha256 = hashlib.sha256(data).hexdigest()
        sha512_b64 = base64.b64encode(hashlib.sha512(data).digest()).decode()
        out += [
            f"commit {sha1}\nAuthor: Dev <dev@example.com>",
            f"git checkout {sha1[:12]} && git log --oneline {sha1}..HEAD",
            f"session_id: {uuid.UUID(int=rnd.getrandbits(128))}",
            f'"id": "{uuid.UUID(int=rnd.getrandbits(128))}", "requestId": "req_011CV{rnd.getrandbits(64):x}"',
            f"sha256sum: {sha256}  dist/app.tar.gz",
            f'"integrity": "sha512-{sha512_b64}"',
            f"image: ghcr.io/acme/app@sha256:{sha256}",
            f"FROM python:3.11-slim@sha256:{sha256}",
            f"github.com/acme/lib v1.{i}.0 h1:{base64.b64encode(hashlib.sha256(data).digest()).decode()}",
            f'<img src="data:image/png;base64,{png}">',
            f'etag: W/"{sha1}"',
            f"npm_package_version=1.{i}.0 npm_config_cache=/home/dev/.npm",
            f"max_tokens = {rnd.randint(100, 9000)}; token_count: {rnd.randint(1, 99)}",
            "def get_api_key(self) -> str:\n    return os.environ['API_KEY']",
            f"password = getpass.getpass(); secret_name = 'prod/{i}'",
            "mysql -u root -p mydb   # prompts for the password",
            "curl -u $USER:$TOKEN https://api.example.com",
            f'ssh -p {2200 + i} deploy@host && sshpass -p "$SSHPASS" ssh host',
            f"docker run -p 80{i:02d}:80 -u 1000 app",
            f"pip install -U agent-trace==0.{i}.0 && git push -u origin feature/x-{i}",
            f"https://registry.npmjs.org/left-pad/-/left-pad-1.{i}.0.tgz",
            f"version: 1.{i}.3-rc.{i}+build.{sha1[:7]}",
            f"log: 2026-02-{i + 1:02d}T10:00:00.123Z INFO sk.learn model fitted in 0.{i}s",
        ]
    return out


FP_CORPUS = _fp_corpus()


def test_the_catalogue_is_big_enough() -> None:
    kinds = {kind for kind, *_ in CATALOGUE}
    assert len(kinds) >= 50
    assert all(len({f for k, f, *_ in CATALOGUE if k == kind}) >= 2 for kind in kinds)
    assert len(SAMPLES) >= 50  # …of which these have all three forms


def test_recall_and_false_positives(capsys: pytest.CaptureFixture[str]) -> None:
    missed = [(kind, form, text) for kind, form, text, secret in CATALOGUE if secret in redact(text)]
    per_form: dict[str, list[int]] = {}
    for _kind, form, text, secret in CATALOGUE:
        hit = secret not in redact(text)
        per_form.setdefault(form, [0, 0])
        per_form[form][0] += hit
        per_form[form][1] += 1
    false_positives = [text for text in FP_CORPUS if "[REDACTED" in redact(text)]
    with capsys.disabled():
        kinds = len({kind for kind, *_ in CATALOGUE})
        print(f"\nredaction catalogue: {kinds} kinds, {len(CATALOGUE)} examples")
        for form, (hits, total) in per_form.items():
            print(f"  recall {form:<9} {hits}/{total} = {hits / total:.1%}")
        total_hits = sum(h for h, _ in per_form.values())
        print(f"  recall overall   {total_hits}/{len(CATALOGUE)} = {total_hits / len(CATALOGUE):.1%}")
        print(f"  false positives  {len(false_positives)}/{len(FP_CORPUS)} look-alike texts")
    assert missed == []
    assert false_positives == []


@pytest.mark.parametrize(("kind", "form", "text", "secret"), CATALOGUE, ids=lambda v: str(v)[:30])
def test_each_example_is_redacted(kind: str, form: str, text: str, secret: str) -> None:
    assert secret not in redact(text), redact(text)
