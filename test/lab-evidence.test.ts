/**
 * Did an attack reach the victim inside the recording window? The web victim's nginx logs
 * every request with its time and User-Agent; the normal client sends its own agent, so the
 * rest, in the window, is the attack's traffic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WEB_CLIENT_AGENT, countAttackerRequests } from '../src/lab/victims.js';

describe('attack requests in the recording window', () => {
  const log = [
    `1700000000.100 200 "GET / HTTP/1.1" "${WEB_CLIENT_AGENT}"`,
    '1700000001.500 200 "GET /search?q=tea%27 HTTP/1.1" "sqlmap/1.7.2#stable (https://sqlmap.org)"',
    '1700000002.000 200 "POST /login HTTP/1.1" "Mozilla/5.0 (Hydra)"',
    `1700000002.500 200 "GET /api/products HTTP/1.1" "${WEB_CLIENT_AGENT}"`,
    '1700000003.250 200 "GET /diag/ping?host=127.0.0.1%3B%20id HTTP/1.1" "-"',
    '1700000009.000 200 "GET / HTTP/1.1" "curl/7.88.1"',
    'a line in another format',
    '',
  ].join('\n');

  it('counts the requests not from the normal client, between the two times', () => {
    assert.equal(countAttackerRequests(log, 1700000001, 1700000004), 3);
    assert.equal(countAttackerRequests(log, 1700000000, 1700000010), 4);
  });

  it('an attack still starting when the window closed counts 0', () => {
    assert.equal(countAttackerRequests(log, 1700000004, 1700000008), 0);
    assert.equal(countAttackerRequests('', 0, 1e10), 0);
  });
});
