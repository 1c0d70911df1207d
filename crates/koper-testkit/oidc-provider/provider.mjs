// A real OpenID Provider (panva's certified `oidc-provider`) for koper's
// tests, on 127.0.0.1. It knows one client (koper) and the accounts the
// test gives it, and shows the package's own sign-in and consent forms
// (any password is accepted: the accounts are the test's, not people's).
//
// Environment:
//   KOPER_TEST_OIDC_PORT           port to listen on
//   KOPER_TEST_OIDC_REDIRECT_URI   koper's callback URL
//   KOPER_TEST_OIDC_CLIENT_ID, KOPER_TEST_OIDC_CLIENT_SECRET
//   KOPER_TEST_OIDC_ACCOUNTS       {"login": {"sub": "...", "preferred_username": "..."}}
//
// For the hostile cases, POST /__test/tamper with a mode in the body makes
// the token endpoint answer with an id_token changed after the provider
// issued it, re-signed with the provider's own key unless the mode is
// about the signature: `audience` (issued to another client), `issuer`
// (another issuer), `expired`, `nonce` (another login's), `signature`
// (signed by a key the provider does not publish), `none` (as issued).

import { generateKeyPair, exportJWK, decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
};

const port = Number(env('KOPER_TEST_OIDC_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(env('KOPER_TEST_OIDC_ACCOUNTS'));

const signingKey = await generateKeyPair('RS256', { extractable: true });
const publicJwk = { ...(await exportJWK(signingKey.privateKey)), kid: 'koper-test', alg: 'RS256', use: 'sig' };
const strangerKey = await generateKeyPair('RS256', { extractable: true });

const provider = new Provider(issuer, {
  clients: [{
    client_id: env('KOPER_TEST_OIDC_CLIENT_ID'),
    client_secret: env('KOPER_TEST_OIDC_CLIENT_SECRET'),
    redirect_uris: [env('KOPER_TEST_OIDC_REDIRECT_URI')],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [publicJwk] },
  cookies: { keys: ['koper test provider cookie key'] },
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'] },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) {
      return undefined;
    }
    return {
      accountId: id,
      async claims() {
        return { ...account };
      },
    };
  },
});

let tamper = 'none';

async function tampered(idToken) {
  const claims = decodeJwt(idToken);
  const header = decodeProtectedHeader(idToken);
  const now = Math.floor(Date.now() / 1000);
  switch (tamper) {
    case 'audience': claims.aud = 'another-application'; break;
    case 'issuer': claims.iss = `${issuer}/elsewhere`; break;
    case 'expired': claims.iat = now - 7200; claims.exp = now - 3600; break;
    case 'nonce': claims.nonce = 'the nonce of another sign-in'; break;
    case 'signature': break;
    default: return idToken;
  }
  const key = tamper === 'signature' ? strangerKey.privateKey : signingKey.privateKey;
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/tamper' && ctx.method === 'POST') {
    let body = '';
    for await (const chunk of ctx.req) {
      body += chunk;
    }
    tamper = body.trim();
    ctx.body = `tamper: ${tamper}\n`;
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: await tampered(ctx.body.id_token) };
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
