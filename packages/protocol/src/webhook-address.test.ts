import assert from 'node:assert/strict';
import { test } from 'node:test';

import { blockedRangeOf, literalHostAddress, parseWebhookNetwork } from './webhook-address.js';

test('loopback, private, link-local, metadata and other special addresses are blocked', () => {
  const blocked: Record<string, string> = {
    '127.0.0.1': 'loopback',
    '127.5.6.7': 'loopback',
    '10.1.2.3': 'private',
    '172.16.0.1': 'private',
    '192.168.1.1': 'private',
    '169.254.169.254': 'linkLocal',
    '100.64.0.1': 'carrierGradeNat',
    '0.0.0.0': 'unspecified',
    '255.255.255.255': 'broadcast',
    '224.0.0.1': 'multicast',
    '::1': 'loopback',
    '::': 'unspecified',
    'fe80::1': 'linkLocal',
    'fd00::1': 'uniqueLocal',
    '::ffff:127.0.0.1': 'loopback',
    '::ffff:169.254.169.254': 'linkLocal',
    '64:ff9b::a9fe:a9fe': 'rfc6052',
    'not-an-ip': 'not an IP address',
  };
  for (const [address, range] of Object.entries(blocked)) {
    assert.equal(blockedRangeOf(address, []), range, address);
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    assert.equal(blockedRangeOf(address, []), undefined, address);
  }
});

test('allowed networks open exactly their addresses', () => {
  const allowed = ['127.0.0.1', '10.0.0.0/8', '::1/128'].map(parseWebhookNetwork);
  assert.equal(blockedRangeOf('127.0.0.1', allowed), undefined);
  assert.equal(blockedRangeOf('::ffff:127.0.0.1', allowed), undefined);
  assert.equal(blockedRangeOf('127.0.0.2', allowed), 'loopback');
  assert.equal(blockedRangeOf('10.200.0.1', allowed), undefined);
  assert.equal(blockedRangeOf('192.168.0.1', allowed), 'private');
  assert.equal(blockedRangeOf('::1', allowed), undefined);
  assert.equal(blockedRangeOf('fe80::1', allowed), 'linkLocal');
  const all = ['0.0.0.0/0', '::/0'].map(parseWebhookNetwork);
  assert.equal(blockedRangeOf('169.254.169.254', all), undefined);
  assert.equal(blockedRangeOf('fd00::1', all), undefined);
  assert.throws(() => parseWebhookNetwork('10.0.0.0/33'), /not an IP address or CIDR network/);
  assert.throws(() => parseWebhookNetwork('example.com'), /not an IP address or CIDR network/);
});

test("a URL's literal host: IP literals in any form the URL parser accepts, localhost names", () => {
  const literal = (url: string) => literalHostAddress(new URL(url));
  assert.equal(literal('http://127.0.0.1:8080/x'), '127.0.0.1');
  assert.equal(literal('http://2130706433/'), '127.0.0.1');
  assert.equal(literal('http://0x7f.1/'), '127.0.0.1');
  assert.equal(literal('http://[::1]:9000/'), '::1');
  assert.equal(literal('http://[::ffff:169.254.169.254]/'), '::ffff:a9fe:a9fe');
  assert.equal(literal('http://localhost/'), '127.0.0.1');
  assert.equal(literal('http://LOCALHOST./'), '127.0.0.1');
  assert.equal(literal('http://api.localhost/'), '127.0.0.1');
  assert.equal(literal('https://hooks.example.com/x'), undefined);
  assert.equal(blockedRangeOf(literal('http://[::ffff:169.254.169.254]/') ?? '', []), 'linkLocal');
});
