// A real OpenID provider for the tests (panva's oidc-provider, certified by the OpenID
// Foundation): `node server.mjs <port> <access token seconds> [console redirect URI]` on
// 127.0.0.1. Public clients: `jit-cli`, with the device authorization grant and refresh
// tokens, and (with a redirect URI) `jit-console`, the web console's authorization code flow
// with PKCE; access tokens are JWTs for the audience `jit` (what jit-api checks). Its
// development sign-in page takes any user name (the token's `sub`) and any password.
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const accessTokenTTL = Number(process.argv[3] ?? 300);
const issuer = `http://127.0.0.1:${port}`;
const consoleRedirect = process.argv[4];

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'jit-cli',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'none',
  }, ...(consoleRedirect ? [{
    client_id: 'jit-console',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [consoleRedirect],
    token_endpoint_auth_method: 'none',
  }] : [])],
  // The console's page calls discovery and the token endpoint from its own origin.
  clientBasedCORS: (ctx, origin, client) => !consoleRedirect || origin === new URL(consoleRedirect).origin,
  scopes: ['openid', 'offline_access'],
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:jit:api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid offline_access',
        audience: 'jit',
        accessTokenTTL,
        accessTokenFormat: 'jwt',
      }),
    },
  },
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  issueRefreshToken: () => true,
  ttl: { DeviceCode: 600, RefreshToken: 3600 },
});

provider.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
