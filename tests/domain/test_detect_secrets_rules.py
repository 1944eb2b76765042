"""Our redaction covers every plugin of detect-secrets, a maintained secret scanner (issue 9:
"use a maintained detector's rules where they help").

The hook side must stay standard-library only, so detect-secrets is not imported by agent-trace
itself: it is a dev dependency, and this test reads its plugin registry as data. For each plugin
there are examples in the formats its rules describe; the plugin itself must flag each example
(so the example really is what the maintained rule set looks for), and our redaction must
remove the secret from it. A detect-secrets release adding a plugin fails
`test_every_plugin_is_covered` until it has examples here (and, if needed, a row in
domain/secret_formats.py). docs/capture.md explains the choice.
"""

from __future__ import annotations

import pytest
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

from agent_trace.domain.redaction import redact

# Plugins whose findings are not credentials of a known shape, left out on purpose: redacting
# every high-entropy string would redact git SHAs, hashes, UUIDs and lock-file integrity strings
# (our false-positive corpus), and a public IP address is not a secret.
NOT_COVERED = {
    "Base64HighEntropyString": "entropy alone: would redact hashes, digests, base64 images",
    "HexHighEntropyString": "entropy alone: would redact git SHAs and checksums",
    "IPPublicDetector": "an IP address is not a credential",
}

_HEX64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
_B62 = "Zx9Qw3Er7Ty1Ui5Op2As6Df4Gh8Jk0LzMn"
_AZURE = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7pQ9rS1tU3vW5xY7zA9bC1dE3fG5hJ7kL9m=="
_PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----"
_PUTTY = (
    "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: deploy\nPublic-Lines: 1\n"
    "AAAAB3NzaC1yc2EAAAABJQAAAIEAhF8bnVz3Kq1mX7tL2pR9sW4yZ6aC8eG0iK\nPrivate-Lines: 1\n"
    "AAAAgQDhF8bnVz3Kq1mX7tL2pR9sW4yZ6aC8eG0iKq3Wv5Ux7Ty9Rs\nPrivate-MAC: 5a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

# plugin → (the text our redaction sees, the line the plugin scans, the secret that must go).
EXAMPLES: dict[str, list[tuple[str, str, str]]] = {
    "AWSKeyDetector": [
        ("export AWS_ACCESS_KEY_ID=AKIAZ7VRSQ5TEXAMPL3Q", "", "AKIAZ7VRSQ5TEXAMPL3Q"),
        (
            'aws_secret_access_key = "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"',
            "",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYz9Qw3Er7Ty",
        ),
    ],
    "ArtifactoryDetector": [
        (
            "artifactory_token: AKCp8jQ7ZxV3mN2kL9pR4sT6wY1bH5cF8gD0eA3iJ7uK9oP2qS4tV6xZ8aC1eG3hJ5kM7nQ9rT",
            "",
            "AKCp8jQ7ZxV3mN2kL9pR4sT6wY1bH5cF8gD0eA3iJ7uK9oP2qS4tV6xZ8aC1eG3hJ5kM7nQ9rT",
        ),
        ("ARTIFACTORY_PASSWORD=AP6xZ9qW3eR7tY1uI5oP2aS", "", "AP6xZ9qW3eR7tY1uI5oP2aS"),
    ],
    "AzureStorageKeyDetector": [
        (
            f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={_AZURE};EndpointSuffix=core.windows.net",
            "",
            _AZURE,
        ),
    ],
    "BasicAuthDetector": [
        ("git clone https://deploy:Hx7kQ9mZ2pLw@git.example.com/o/r.git", "", "Hx7kQ9mZ2pLw"),
    ],
    "CloudantDetector": [
        (f"https://myacct:{_HEX64}@myacct.cloudant.com", "", _HEX64),
        (f'cloudant_password = "{_HEX64}"', "", _HEX64),
    ],
    "DiscordBotTokenDetector": [
        ("MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs", "", "ZnCjm1XVW7vRze4b7Cq4se7kKWs"),
    ],
    "GitHubTokenDetector": [
        (
            "GITHUB_TOKEN=ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEfGh12",
            "",
            "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEfGh12",
        ),
    ],
    "GitLabTokenDetector": [
        (f"token: {prefix}Xy7Zq2Wv9Ur4Ts1Pq8Nm{extra}", "", f"Xy7Zq2Wv9Ur4Ts1Pq8Nm{extra}")
        for prefix, extra in (
            ("glpat-", ""),
            ("gldt-", ""),
            ("glsoat-", ""),
            ("glrt-", ""),
            ("glcbt-", ""),
            ("GR1348941", ""),
            ("glimt-", "K3j5L"),
            ("glptt-", "K3j5L7h6G4f2D1s0A9Bc"),
            ("glagent-", _B62),
            ("gloas-", _HEX64[:44]),
        )
    ],
    "IbmCloudIamDetector": [
        (f'ibm_cloud_iam_api_key = "{_B62}aB3dE5fG7h"', "", f"{_B62}aB3dE5fG7h"),
    ],
    "IbmCosHmacDetector": [
        (f'ibm_cos_hmac_secret_access_key = "{_HEX64[:48]}"', "", _HEX64[:48]),
    ],
    "JwtTokenDetector": [
        (
            "Authorization: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "",
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ),
    ],
    "KeywordDetector": [('db_password = "Hx7kQ9mZ2pLw"', "", "Hx7kQ9mZ2pLw")],
    "MailchimpDetector": [
        ("MAILCHIMP_KEY=9f86d081884c7d659a2feaa0c55ad015-us12", "", "9f86d081884c7d659a2feaa0c55ad015")
    ],
    "NpmDetector": [
        (
            "//registry.npmjs.org/:_authToken=npm_R4nd0mT0k3nV4lu3F0rT3st1ngAbCd12",
            "",
            "npm_R4nd0mT0k3nV4lu3F0rT3st1ngAbCd12",
        ),
        (
            "//registry.npmjs.org/:_authToken=3f9a2b1c-7d4e-4a8b-9c6d-1e2f3a4b5c6d",
            "",
            "3f9a2b1c-7d4e-4a8b-9c6d-1e2f3a4b5c6d",
        ),
    ],
    "OpenAIDetector": [
        (
            "OPENAI_API_KEY=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",
            "",
            "Ab3De5Fg7Hj9Kl1Mn3PqT3BlbkFJRs5Tu7Vw9Xy1Za3Bc5De",
        ),
    ],
    "PrivateKeyDetector": [
        (_PEM, _PEM.splitlines()[0], "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
        (_PUTTY, _PUTTY.splitlines()[0], "AAAAgQDhF8bnVz3Kq1mX7tL2pR9sW4yZ6aC8eG0iKq3Wv5Ux7Ty9Rs"),
    ],
    "PypiTokenDetector": [
        (f"password = pypi-AgEIcHlwaS5vcmc{_B62}{_B62}Ab1Cd2", "", f"{_B62}{_B62}Ab1Cd2"),
        (f"twine upload -p pypi-AgENdGVzdC5weXBpLm9yZw{_B62}{_B62}Ab1Cd2 dist/*", "", f"{_B62}{_B62}Ab1Cd2"),
    ],
    "SendGridDetector": [
        (
            "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",
            "",
            "sT7uV9wX1yZ3aB5cD7eF9gH1jK3lM5nP7qR9sT1uV3w",
        ),
    ],
    "SlackDetector": [
        ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "", "AbCdEfGhIjKlMnOpQrStUvWx"),
        (
            "https://hooks.slack.com/services/T024BE7LD/B01ABCDEFGH/h7Ks9QmZp2Lx4Vb8Nc3Rt6Wy",
            "",
            "h7Ks9QmZp2Lx4Vb8Nc3Rt6Wy",
        ),
    ],
    "SoftlayerDetector": [
        (f'softlayer_api_key = "{_HEX64}"', "", _HEX64),
        (f"curl https://api.softlayer.com/soap/v3/{_HEX64}", "", _HEX64),
    ],
    "SquareOAuthDetector": [
        (
            "sq0csp-aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9f",
            "",
            "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9f",
        ),
    ],
    "StripeDetector": [
        ("stripe.api_key = 'sk_live_51H8xYzAbCdEfGhIjKlMnOpQr'", "", "51H8xYzAbCdEfGhIjKlMnOpQr"),
        ("STRIPE_RESTRICTED=rk_live_51H8xYzAbCdEfGhIjKlMnOpQr", "", "51H8xYzAbCdEfGhIjKlMnOpQr"),
    ],
    "TelegramBotTokenDetector": [
        (
            "bot = Bot('123456789:AAHx7kQ9mZ2pLwR4nD0mT0k3nV4lu3F0rT3')",
            "",
            "AAHx7kQ9mZ2pLwR4nD0mT0k3nV4lu3F0rT3",
        ),
    ],
    "TwilioKeyDetector": [
        (f"TWILIO_API_KEY=SK{_HEX64[:32]}", "", f"SK{_HEX64[:32]}"),
        (f"client = Client('AC{_HEX64[32:]}', auth)", "", f"AC{_HEX64[32:]}"),
    ],
}

CASES = [
    (plugin, text, line or text, secret) for plugin, rows in EXAMPLES.items() for text, line, secret in rows
]


def _plugins() -> dict[str, type]:
    return {cls.__name__: cls for cls in get_mapping_from_secret_type_to_class().values()}


def test_every_plugin_is_covered() -> None:
    plugins = set(_plugins())
    assert plugins == set(EXAMPLES) | set(NOT_COVERED), (
        f"detect-secrets plugins without examples here: {sorted(plugins - set(EXAMPLES) - set(NOT_COVERED))}"
    )
    assert not set(EXAMPLES) & set(NOT_COVERED)


@pytest.mark.parametrize(("plugin", "text", "line", "secret"), CASES, ids=lambda v: str(v)[:24])
def test_each_plugin_example_is_flagged_by_it_and_redacted_by_us(
    plugin: str, text: str, line: str, secret: str
) -> None:
    flagged = list(_plugins()[plugin]().analyze_line(filename="settings.env", line=line, line_number=1))
    assert flagged, f"{plugin} does not flag {line!r}: the example is not in its format"
    redacted = redact(text)
    assert secret not in redacted and "[REDACTED:" in redacted, redacted
