"""OpenID Connect single sign-on (authorization code + PKCE) through Authlib.

`/auth/oidc/login` sends the browser to the provider with a fresh state, nonce and PKCE
verifier, kept in a short-lived HttpOnly cookie signed with the instance's cookie secret (so any
dashboard process can finish the sign-in). `/auth/oidc/callback` checks the state, exchanges the
code (Authlib's OAuth2 client), and validates the ID token (joserfc, which Authlib builds on):
signature against the provider's published keys, issuer, audience, expiry and nonce.

A person is known by issuer + subject. At their first sign-in they get an account in the
configured default role (`oidc_default_role`, viewer unless set), named by their email (else
preferred_username, else the subject); teams come from the `oidc_teams_claim` claim on every
sign-in (teams it names are created, metadata level, and joined; none are left). A name taken by
an account that did not come from this provider is refused, never merged: an identity provider
must not be able to take over a local account by choosing an email.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

from agent_trace.config import Settings
from agent_trace.store.identity import Account, IdentityError, IdentityStore

PENDING_COOKIE = "agent_trace_oidc"
PENDING_MAX_AGE_S = 600
DISCOVERY_TTL_S = 3600.0


class OidcError(Exception):
    """The sign-in did not complete; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None


def configured(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


class OidcClient:
    def __init__(self, settings: Settings, secret: bytes) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.secret = secret
        self._provider: tuple[float, Provider] | None = None
        self._jwks: dict[str, Any] | None = None

    async def provider(self) -> Provider:
        import httpx

        if self._provider and time.monotonic() - self._provider[0] < DISCOVERY_TTL_S:
            return self._provider[1]
        url = self.issuer + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.get(url)
                answer.raise_for_status()
                doc = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError(f"the sign-in provider did not answer ({url}): {exc}") from None
        if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
            raise OidcError(f"the provider says its issuer is {doc.get('issuer')!r}, not {self.issuer!r}")
        provider = Provider(
            issuer=str(doc["issuer"]),
            authorization_endpoint=str(doc["authorization_endpoint"]),
            token_endpoint=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
            userinfo_endpoint=doc.get("userinfo_endpoint"),
        )
        self._provider = (time.monotonic(), provider)
        self._jwks = None
        return provider

    def _client(self, redirect_uri: str) -> Any:
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        return AsyncOAuth2Client(
            client_id=self.settings.oidc_client_id,
            client_secret=self.settings.oidc_client_secret,
            scope="openid email profile",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.settings.oidc_client_secret else "none",
            timeout=10,
        )

    async def start(self, redirect_uri: str, next_path: str) -> tuple[str, str]:
        """(the provider's URL to send the browser to, the pending-state cookie value)."""
        provider = await self.provider()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # RFC 7636: 43 to 128 characters
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                provider.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
            )
        pending = {"s": state, "n": nonce, "v": verifier, "x": next_path, "t": int(time.time())}
        return str(url), self._sign(pending)

    async def finish(
        self, redirect_uri: str, pending_cookie: str | None, params: dict[str, str]
    ) -> tuple[dict[str, Any], str]:
        """(validated claims, the page to go to next) for the provider's redirect back."""
        if "error" in params:
            raise OidcError(f"the provider refused: {params.get('error_description') or params['error']}")
        pending = self._unsign(pending_cookie)
        if pending is None:
            raise OidcError("this sign-in was not started here or took longer than 10 minutes: start again")
        if not hmac.compare_digest(str(params.get("state", "")), str(pending["s"])):
            raise OidcError("the sign-in's state does not match: start again")
        code = params.get("code")
        if not code:
            raise OidcError("the provider sent no authorization code")
        provider = await self.provider()
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    provider.token_endpoint,
                    code=code,
                    code_verifier=pending["v"],
                    grant_type="authorization_code",
                )
            except Exception as exc:  # Authlib raises OAuthError and httpx errors
                raise OidcError(f"exchanging the code failed: {exc}") from None
            id_token = token.get("id_token")
            if not id_token:
                raise OidcError("the provider sent no ID token")
            claims = await self._validate(client, provider, str(id_token), str(pending["n"]))
            if provider.userinfo_endpoint and token.get("access_token"):
                try:
                    answer = await client.get(provider.userinfo_endpoint)
                    if answer.status_code == 200:
                        info = answer.json()
                        if info.get("sub") == claims["sub"]:
                            claims = {**info, **claims}
                except Exception:  # userinfo only adds optional claims
                    pass
        return claims, str(pending["x"])

    async def _validate(self, client: Any, provider: Provider, id_token: str, nonce: str) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        if self._jwks is None:
            answer = await client.get(provider.jwks_uri)
            self._jwks = answer.json()
        try:
            keys = KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]
            decoded = jwt.decode(id_token, keys, algorithms=["RS256", "PS256", "ES256", "EdDSA"])
            registry = jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": provider.issuer},
                aud={"essential": True, "value": str(self.settings.oidc_client_id)},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise OidcError(f"the ID token is not valid: {exc}") from None
        return dict(decoded.claims)

    # -- the pending-state cookie ------------------------------------------------------------

    def _sign(self, data: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")
        mac = hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def _unsign(self, value: str | None) -> dict[str, Any] | None:
        if not value or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        expected = hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            data: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if int(time.time()) - int(data.get("t", 0)) > PENDING_MAX_AGE_S:
            return None
        return data


def provision(identity: IdentityStore, settings: Settings, claims: dict[str, Any]) -> Account:
    """The account of the person these validated claims name (created at their first sign-in)."""
    subject = f"{claims['iss']} {claims['sub']}"
    account = identity.account_by_subject(subject)
    if account is None:
        name = str(claims.get("email") or claims.get("preferred_username") or claims["sub"]).strip()[:200]
        if identity.account(name) is not None:
            raise OidcError(
                f"an account named {name!r} already exists and did not come from this sign-in provider: "
                "an admin must rename or remove it"
            )
        display = claims.get("name")
        account = identity.add_account(
            name,
            settings.oidc_default_role,
            email=str(claims["email"]) if claims.get("email") else None,
            display_name=str(display) if display else None,
            source="oidc",
            oidc_subject=subject,
        )
        identity.append_audit(name, "user_add", name, {"source": "oidc", "role": account.role})
    if settings.oidc_teams_claim:
        named = claims.get(settings.oidc_teams_claim)
        teams = [str(t).strip()[:200] for t in (named if isinstance(named, list) else [named]) if t]
        if teams:
            existing = {t.team_id for t in identity.teams()}
            for team in teams:
                if team not in existing:
                    try:
                        identity.add_team(team)
                        identity.append_audit(account.user_id, "team_add", team, {"source": "oidc"})
                    except IdentityError:  # created meanwhile by another sign-in
                        pass
            missing = [t for t in teams if t not in account.teams]
            if missing:
                identity.set_team_members(account.user_id, missing)
                for team in missing:
                    identity.append_audit(
                        account.user_id, "team_member_add", team, {"user": account.user_id, "source": "oidc"}
                    )
    found = identity.account(account.user_id)
    assert found is not None
    return found


def cookie_secret(store: Any) -> bytes:
    """The instance's secret for signing short-lived cookies (made once, kept in the store)."""
    settings = store.instance_settings()
    secret = settings.get("cookie_secret")
    if not secret:
        secret = secrets.token_hex(32)
        store.set_instance_setting("cookie_secret", secret)
        secret = store.instance_settings().get("cookie_secret", secret)  # another process may have won
    return bytes.fromhex(str(secret))
