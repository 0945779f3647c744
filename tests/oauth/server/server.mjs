// tests/oauth/server/server.mjs: a real OAuth authorization server and an MCP-like protected resource,
// both on 127.0.0.1, for the tokenvault OAuth tests.
//
//   node server.mjs STATE_DIR     writes STATE_DIR/ports.json ({"as": port, "rs": port}) once listening
//
// Authorization server: oidc-provider (a certified OpenID provider) with dynamic registration, PKCE,
// RFC 8707 resource indicators, RFC 9207 `iss`, revocation and refresh-token rotation (a rotated refresh
// token presented again revokes the whole grant), its built-in login and consent pages, and two
// pre-registered confidential clients (client_secret_basic, client_secret_post).
// Protected resource: `/mcp` answers 401 with `WWW-Authenticate: Bearer resource_metadata=...` unless it
// gets a valid access token for itself; `/plain/mcp` answers 401 without the parameter (discovery then uses
// the well-known URL). Control (on the resource's port): POST /control/mode sets faults, GET /control/counts
// tells what the server saw, POST /control/browse drives the login pages the way a browser would.
// Everything listens on 127.0.0.1 only; the process exits when its parent closes stdin.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import Provider from 'oidc-provider';

const stateDir = process.argv[2];
if (!stateDir) {
  console.error('usage: node server.mjs STATE_DIR');
  process.exit(2);
}

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));

const asServer = http.createServer();
const rsServer = http.createServer();
const asPort = await listen(asServer);
const rsPort = await listen(rsServer);
const issuer = `http://127.0.0.1:${asPort}`;
const rsOrigin = `http://127.0.0.1:${rsPort}`;

const state = {
  modes: { token: 'normal', metadata: 'normal', prm: 'normal', revocation: 'normal' },
  counts: {},
  hangs: [],
  browses: [],
};
const count = (name) => { state.counts[name] = (state.counts[name] || 0) + 1; };
const releaseHangs = () => { for (const release of state.hangs.splice(0)) release(); };

const nested = (depth) => '['.repeat(depth) + ']'.repeat(depth);
const huge = (bytes) => `{"issuer":"${'x'.repeat(bytes)}"}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'pre-basic',
      client_secret: 'pre-basic-secret-CANARYb7',
      token_endpoint_auth_method: 'client_secret_basic',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: 'pre-post',
      client_secret: 'pre-post-secret-CANARYp9',
      token_endpoint_auth_method: 'client_secret_post',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
  cookies: { keys: ['tokenvault-test-cookie-key'] },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  scopes: ['openid', 'offline_access', 'mcp'],
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        if (!indicator.startsWith(`${rsOrigin}/`)) throw new Error(`unknown resource ${indicator}`);
        return { scope: 'mcp', audience: indicator, accessTokenFormat: 'opaque', accessTokenTTL: 3600 };
      },
    },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: { AccessToken: 3600, AuthorizationCode: 60, RefreshToken: 86400, Grant: 86400, Interaction: 600, Session: 86400 },
});

provider.on('grant.success', (ctx) => count(`grant_${ctx.oidc.params.grant_type}`));
provider.on('grant.error', (ctx) => count(`grant_error_${ctx.oidc.params?.grant_type ?? 'unknown'}`));
provider.on('grant.revoked', () => count('grant_revoked'));
provider.on('registration_create.success', () => count('registration'));

// Faults, in front of the real endpoints.
provider.use(async (ctx, next) => {
  if (ctx.path === '/token' && ctx.method === 'POST') {
    count('token_requests');
    switch (state.modes.token) {
      case 'error500':
        ctx.status = 500;
        ctx.type = 'text/html';
        ctx.body = '<html>internal error</html>';
        return;
      case 'hang':
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 120000);
          state.hangs.push(() => { clearTimeout(timer); resolve(); });
        });
        ctx.status = 503;
        return;
      case 'down':
        ctx.req.socket.destroy();
        return;
      case 'huge':
        ctx.type = 'application/json';
        ctx.body = `{"access_token":"${'A'.repeat(2 * 1024 * 1024)}","token_type":"Bearer"}`;
        return;
      case 'deep':
        ctx.type = 'application/json';
        ctx.body = nested(100000);
        return;
      default:
        break;
    }
  }
  if (ctx.path === '/token/revocation') {
    count('revocations');
    if (state.modes.revocation === 'hang') {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 120000);
        state.hangs.push(() => { clearTimeout(timer); resolve(); });
      });
      ctx.status = 503;
      return;
    }
  }
  await next();
  if ((ctx.path === '/.well-known/openid-configuration' || ctx.path === '/.well-known/oauth-authorization-server') && ctx.status === 200) {
    const mode = state.modes.metadata;
    if (mode === 'wrong_issuer') ctx.body = { ...ctx.body, issuer: 'http://127.0.0.1:1/someone-else' };
    if (mode === 'no_pkce') {
      const { code_challenge_methods_supported: ignored, ...rest } = ctx.body;
      ctx.body = rest;
    }
    if (mode === 'huge') { ctx.type = 'application/json'; ctx.body = huge(2 * 1024 * 1024); }
    if (mode === 'deep') { ctx.type = 'application/json'; ctx.body = nested(100000); }
  }
});
asServer.on('request', provider.callback());

// The browser: follows redirects with a cookie jar, fills the login form, confirms (or aborts) the consent,
// and delivers the final redirect to the client's loopback listener (optionally tampered with).
async function browse(startUrl, options) {
  const cookies = new Map();
  let url = startUrl;
  let method = 'GET';
  let body;
  for (let step = 0; step < 25; step += 1) {
    const target = new URL(url);
    if (target.origin !== issuer) {
      if (options.tamper === 'state') target.searchParams.set('state', 'forged-state');
      if (options.tamper === 'iss') target.searchParams.set('iss', 'http://127.0.0.1:1/someone-else');
      if (options.tamper === 'drop_iss') target.searchParams.delete('iss');
      const delivered = await fetch(target.href);
      await delivered.text();
      return `delivered ${delivered.status}`;
    }
    const headers = {};
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method, body, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const pair = cookie.split(';')[0];
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
    if (response.status >= 300 && response.status < 400) {
      await response.arrayBuffer();
      url = new URL(response.headers.get('location'), url).href;
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await response.text();
    if (options.deny && !html.includes('name="login"')) {
      const abort = html.match(/href="([^"]*\/abort)"/);
      if (!abort) throw new Error(`no abort link at ${url}`);
      url = new URL(abort[1].replaceAll('&amp;', '&'), url).href;
      method = 'GET';
      body = undefined;
      continue;
    }
    const form = html.match(/<form[^>]*action="([^"]+)"[^>]*method="post"/);
    if (!form) throw new Error(`no form at ${url} (HTTP ${response.status}): ${html.slice(0, 300)}`);
    const fields = new URLSearchParams();
    for (const input of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields.set(input[1], input[2]);
    if (html.includes('name="login"')) {
      fields.set('login', options.user || 'alice');
      fields.set('password', 'any password');
    }
    url = new URL(form[1].replaceAll('&amp;', '&'), url).href;
    method = 'POST';
    body = fields.toString();
  }
  throw new Error('too many steps');
}

const readBody = (req) => new Promise((resolve, reject) => {
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { text += chunk; if (text.length > 1 << 20) req.destroy(); });
  req.on('end', () => resolve(text));
  req.on('error', reject);
});

const json = (res, status, value, headers = {}) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
};

rsServer.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, rsOrigin);
    const p = url.pathname;
    if (p === '/control/mode' && req.method === 'POST') {
      const modes = JSON.parse(await readBody(req));
      Object.assign(state.modes, modes);
      if (state.modes.token !== 'hang' && state.modes.revocation !== 'hang') releaseHangs();
      return json(res, 200, state.modes);
    }
    if (p === '/control/counts') return json(res, 200, state.counts);
    if (p === '/control/reset' && req.method === 'POST') {
      state.counts = {};
      state.modes = { token: 'normal', metadata: 'normal', prm: 'normal', revocation: 'normal' };
      releaseHangs();
      return json(res, 200, {});
    }
    if (p === '/control/browse' && req.method === 'POST') {
      const request = JSON.parse(await readBody(req));
      browse(request.url, request).then(
        (outcome) => state.browses.push(outcome),
        (error) => { state.browses.push(`error: ${error.message}`); console.error(`browse: ${error.stack}`); },
      );
      return json(res, 202, {});
    }
    if (p === '/control/browses') return json(res, 200, state.browses);
    if (p.startsWith('/.well-known/oauth-protected-resource/')) {
      const resourcePath = p.slice('/.well-known/oauth-protected-resource'.length);
      if (resourcePath !== '/mcp' && resourcePath !== '/plain/mcp') return json(res, 404, { error: 'not_found' });
      count('resource_metadata');
      switch (state.modes.prm) {
        case 'huge': return json(res, 200, huge(2 * 1024 * 1024));
        case 'deep': return json(res, 200, nested(100000));
        case 'wrong_resource':
          return json(res, 200, { resource: 'http://127.0.0.1:1/elsewhere', authorization_servers: [issuer] });
        default:
          return json(res, 200, {
            resource: `${rsOrigin}${resourcePath}`,
            authorization_servers: [issuer],
            scopes_supported: ['mcp'],
            bearer_methods_supported: ['header'],
          });
      }
    }
    if (p === '/mcp' || p === '/plain/mcp') {
      const header = req.headers.authorization || '';
      if (header.startsWith('Bearer ')) {
        const token = await provider.AccessToken.find(header.slice(7));
        if (token && !token.isExpired && token.aud === `${rsOrigin}${p}`) {
          count('resource_ok');
          return json(res, 200, { ok: true, sub: token.accountId });
        }
        count('resource_refused');
      }
      const challenge = p === '/mcp'
        ? `Bearer resource_metadata="${rsOrigin}/.well-known/oauth-protected-resource/mcp", scope="mcp"`
        : 'Bearer realm="mcp"';
      return json(res, 401, { error: 'unauthorized' }, { 'www-authenticate': challenge });
    }
    return json(res, 404, { error: 'not_found' });
  } catch (error) {
    console.error(error);
    return json(res, 500, { error: 'server_error' });
  }
});

fs.writeFileSync(path.join(stateDir, 'ports.json.tmp'), JSON.stringify({ as: asPort, rs: rsPort }));
fs.renameSync(path.join(stateDir, 'ports.json.tmp'), path.join(stateDir, 'ports.json'));
console.log(`oauth test server: authorization server ${issuer}, resource ${rsOrigin}/mcp`);

// Ends with its parent: stdin closes when the test runner exits, however it exits.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
