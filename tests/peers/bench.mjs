// The peers Cairn's identity benchmark compares against, on this machine:
//   node bench.mjs verify   aws-jwt-verify: RS256 access-token verifications per second
//   node bench.mjs refresh  oidc-provider: refresh-token grants per second over HTTP
//                           (rotation on; its default in-memory adapter)
// Prints one JSON line.
import { JwtVerifier } from 'aws-jwt-verify';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const mode = process.argv[2];
const now = () => Math.floor(Date.now() / 1000);

async function verify() {
  const { publicKey, privateKey } = await jose.generateKeyPair('RS256', { modulusLength: 2048 });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const issuer = 'http://127.0.0.1:1';
  const token = await new jose.SignJWT({ token_use: 'access', client_id: 'c1', scope: 'openid email profile',
    email: 'ann@acme.test', 'cairn/tenant': { id: 'x', slug: 'acme' }, 'cairn/roles': ['member'] })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(issuer).setSubject('u1').setAudience('cairn-api').setIssuedAt(now()).setNotBefore(now())
    .setExpirationTime(now() + 3600).setJti('j1')
    .sign(privateKey);
  const verifier = JwtVerifier.create({ issuer, audience: 'cairn-api', jwksUri: `${issuer}/jwks.json` });
  verifier.cacheJwks({ keys: [jwk] });
  for (let i = 0; i < 2000; i++) verifier.verifySync(token);
  const n = 20000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) verifier.verifySync(token);
  const secs = (performance.now() - t0) / 1000;
  return { mode, peer: 'aws-jwt-verify', per_second: n / secs };
}

async function refresh() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'c1', client_secret: 's1-secret-long-enough', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'client_secret_post' }],
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    rotateRefreshToken: true,
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  });
  const server = provider.listen(port);
  await new Promise((r) => server.once('listening', r));
  const client = await provider.Client.find('c1');

  async function chain() {
    const grant = new provider.Grant({ accountId: 'u1', clientId: 'c1' });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    const rt = new provider.RefreshToken({ accountId: 'u1', client, grantId, scope: 'openid offline_access',
      gty: 'authorization_code', authTime: now() });
    return rt.save();
  }
  async function grantOnce(token) {
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, client_id: 'c1',
      client_secret: 's1-secret-long-enough' });
    const r = await fetch(`${issuer}/token`, { method: 'POST', body });
    const json = await r.json();
    if (!json.refresh_token) throw new Error(JSON.stringify(json));
    return json.refresh_token;
  }
  async function run(chains, total) {
    const tokens = await Promise.all(Array.from({ length: chains }, chain));
    const t0 = performance.now();
    await Promise.all(tokens.map(async (t) => {
      for (let i = 0; i < total / chains; i++) t = await grantOnce(t);
    }));
    return total / ((performance.now() - t0) / 1000);
  }
  await run(1, 200);
  const sequential = await run(1, 2000);
  const concurrent = await run(8, 2000);
  server.close();
  return { mode, peer: 'oidc-provider', sequential_per_second: sequential, concurrent8_per_second: concurrent };
}

const result = mode === 'verify' ? await verify() : mode === 'refresh' ? await refresh() : null;
if (!result) {
  console.error('usage: node bench.mjs verify|refresh');
  process.exit(2);
}
console.log(JSON.stringify(result));
process.exit(0);
