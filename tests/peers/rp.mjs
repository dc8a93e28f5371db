// openid-client (OpenID-certified relying party) against a running Cairn: discovery,
// authorization code + PKCE + nonce + state, userinfo, refresh rotation, reuse detection,
// introspection, revocation and RP-initiated logout. Driven by environment variables;
// prints one JSON line of what it checked and exits non-zero at the first failure.
import * as client from 'openid-client';
import assert from 'node:assert/strict';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const issuer = env('CAIRN_ISSUER');
const clientId = env('CLIENT_ID');
const secret = process.env.CLIENT_SECRET || undefined;
const redirectUri = env('REDIRECT_URI');
const postLogoutUri = env('POST_LOGOUT_URI');
const email = env('EMAIL');
const password = env('PASSWORD');

const config = await client.discovery(
  new URL(issuer),
  clientId,
  secret,
  secret ? client.ClientSecretBasic(secret) : client.None(),
  { execute: [client.allowInsecureRequests] },
);
const checked = ['discovery'];

/** Plays the person at the hosted sign-in page: returns the URL Cairn redirects back to. */
async function signIn(authorizationUrl) {
  const form = await fetch(authorizationUrl, { redirect: 'manual' });
  assert.equal(form.status, 200, `sign-in page: ${form.status}`);
  const cookies = form.headers.getSetCookie().map((c) => c.split(';')[0]);
  const html = await form.text();
  const field = (name) => {
    const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
    assert.ok(m, `the form has ${name}`);
    return m[1];
  };
  const action = new URL('/oauth2/signin', issuer);
  const body = new URLSearchParams({ request: field('request'), csrf: field('csrf'), email, password });
  const done = await fetch(action, { method: 'POST', body, redirect: 'manual', headers: { cookie: cookies.join('; ') } });
  assert.equal(done.status, 303, `sign-in answer: ${done.status} ${await done.text()}`);
  return new URL(done.headers.get('location'));
}

async function login() {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const code_challenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier);
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge,
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
  });
  const callback = await signIn(url);
  assert.equal(callback.searchParams.get('iss'), issuer, 'RFC 9207 iss in the response');
  return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true });
}

async function expectInvalidGrant(promise, what) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.error, 'invalid_grant', `${what}: ${e}`);
    return;
  }
  assert.fail(`${what} must fail with invalid_grant`);
}

const tokens = await login();
const claims = tokens.claims();
assert.equal(claims.email, email);
assert.equal(claims.aud, clientId);
assert.ok(claims['cairn/tenant'], 'tenant claim');
checked.push('code+pkce+state+nonce', 'id_token');

const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
assert.equal(info.email, email);
checked.push('userinfo');

const rotated = await client.refreshTokenGrant(config, tokens.refresh_token);
assert.notEqual(rotated.refresh_token, tokens.refresh_token, 'the refresh token rotates');
assert.equal(rotated.claims().sub, claims.sub);
checked.push('refresh rotation');

await expectInvalidGrant(client.refreshTokenGrant(config, tokens.refresh_token), 'replaying a used refresh token');
await expectInvalidGrant(client.refreshTokenGrant(config, rotated.refresh_token), 'the family after a replay');
checked.push('refresh reuse kills the family');

const again = await login();
if (secret) {
  const active = await client.tokenIntrospection(config, again.access_token);
  assert.equal(active.active, true);
  assert.equal(active.client_id, clientId);
  const rt = await client.tokenIntrospection(config, again.refresh_token);
  assert.equal(rt.active, true);
  checked.push('introspection');
}
await client.tokenRevocation(config, again.refresh_token);
await expectInvalidGrant(client.refreshTokenGrant(config, again.refresh_token), 'a revoked refresh token');
if (secret) {
  assert.equal((await client.tokenIntrospection(config, again.refresh_token)).active, false);
}
checked.push('revocation');

const logout = client.buildEndSessionUrl(config, {
  id_token_hint: again.id_token,
  post_logout_redirect_uri: postLogoutUri,
  state: 'bye',
});
const out = await fetch(logout, { redirect: 'manual' });
assert.equal(out.status, 303);
assert.equal(out.headers.get('location'), `${postLogoutUri}?state=bye`);
checked.push('logout');

console.log(JSON.stringify({ ok: true, checked }));
