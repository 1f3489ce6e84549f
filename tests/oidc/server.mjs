// A real OpenID provider for the tests (panva's oidc-provider, certified by the OpenID
// Foundation): `node server.mjs <port> <access token seconds>` on 127.0.0.1. One public
// client, `jit-cli`, with the device authorization grant and refresh tokens; access tokens
// are JWTs for the audience `jit` (what jit-api checks). Its development sign-in page takes
// any user name (the token's `sub`) and any password.
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const accessTokenTTL = Number(process.argv[3] ?? 300);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'jit-cli',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'none',
  }],
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
