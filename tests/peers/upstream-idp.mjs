// oidc-provider (OpenID-certified) as a tenant's upstream identity provider for Cairn's SSO
// tests. One client, PKCE required, redirecting to Cairn's SSO callback. Logins complete
// without a browser form: the interaction signs in as the account chosen with
// GET /_login_as/<sub> (default: the first account). Prints its issuer URL, then serves.
//   PORT, REDIRECT_URI, CLIENT_ID, CLIENT_SECRET, ACCOUNTS (JSON: sub -> {email, email_verified})
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.ACCOUNTS);
let current = Object.keys(accounts)[0];

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  findAccount: async (ctx, sub) => accounts[sub] && ({ accountId: sub, claims: async () => ({ sub, ...accounts[sub] }) }),
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/_login_as/')) {
    current = decodeURIComponent(ctx.path.slice('/_login_as/'.length));
    ctx.body = 'ok';
    return;
  }
  if (ctx.path.startsWith('/interaction/')) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    ctx.respond = false;
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: current } }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope('openid email');
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  await next();
});

provider.listen(port, '127.0.0.1', () => console.log(issuer));
