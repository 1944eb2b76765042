// A real OpenID Connect provider for the single sign-on tests: npm `oidc-provider` (the version
// pinned in support.py), with its development sign-in pages (any name, any password).
// Usage: node provider.mjs <port> <client_id> <client_secret> <redirect_uri>
// OIDC_PROVIDER_MODULE: the absolute path of the installed package's lib/index.js.
import { pathToFileURL } from 'node:url';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const { default: Provider } = await import(pathToFileURL(process.env.OIDC_PROVIDER_MODULE).href);

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { methods: ['S256'], required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
  },
  // Every signed-in name is a person at example.com in the team "platform".
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, email_verified: true, name: id, preferred_username: id, groups: ['platform'] };
      },
    };
  },
  cookies: { keys: ['agent-trace-test-provider'] },
  features: { devInteractions: { enabled: true } },
});
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
