import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import Stripe from 'stripe';
import { describe, it, expect } from 'vitest';
import { parseWebhookSecrets, verifyStripeSignature, type SignatureCheck } from '../src/router/signature.js';

// The official Stripe SDK is the oracle: it signs the test payloads and cross-checks our verdicts.
const stripe = new Stripe('sk_test_x');

const SECRET = 'whsec_test_current_0123456789abcdef';
const OLD_SECRET = 'whsec_test_previous_fedcba9876543210';
const WRONG_SECRET = 'whsec_test_someone_else_000000000000';

const NOW = 1_750_000_000;

const invoice: unknown = JSON.parse(
  readFileSync(new URL('./fixtures/stripe/openapi/invoice.json', import.meta.url), 'utf8')
);

function envelope(object: unknown, type = 'invoice.created'): Record<string, unknown> {
  return {
    id: 'evt_1RgZcXLkdIwHu7ixQ3bS9f2K',
    object: 'event',
    api_version: '2025-03-31.basil',
    created: NOW - 5,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/** The body exactly as Stripe sends it: pretty-printed with two spaces. */
const RAW_BODY = JSON.stringify(envelope(invoice), null, 2);

function sign(payload: string, secret = SECRET, timestamp = NOW): string {
  return stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
}

/** Extracts the v1 signature value from a header produced by the oracle. */
function v1Of(header: string): string {
  const match = /v1=([0-9a-f]+)/.exec(header);
  if (!match?.[1]) throw new Error(`no v1 in ${header}`);
  return match[1];
}

function expectOk(check: SignatureCheck, mode: SignatureCheck['mode'], timestamp = NOW): void {
  expect(check).toEqual({ ok: true, mode, timestamp });
}

function reasonOf(check: SignatureCheck): string {
  if (check.ok) throw new Error(`expected a failure, got ${JSON.stringify(check)}`);
  return check.reason;
}

/** True iff the Stripe SDK accepts this raw body/header with this secret at `now` (seconds). */
function stripeAccepts(body: string, header: string | undefined, secret: string, now = NOW): boolean {
  try {
    stripe.webhooks.constructEvent(body, header ?? '', secret, 300, undefined, now * 1000);
    return true;
  } catch {
    return false;
  }
}

describe('parseWebhookSecrets', () => {
  it('splits on commas, trims and drops empty entries', () => {
    expect(parseWebhookSecrets(' whsec_new , ,whsec_old,, \twhsec_x\n')).toEqual(['whsec_new', 'whsec_old', 'whsec_x']);
  });

  it('returns [] for undefined, empty or blank values', () => {
    expect(parseWebhookSecrets(undefined)).toEqual([]);
    expect(parseWebhookSecrets('')).toEqual([]);
    expect(parseWebhookSecrets(' , ,')).toEqual([]);
  });

  it('keeps a single secret as is', () => {
    expect(parseWebhookSecrets(SECRET)).toEqual([SECRET]);
  });
});

describe('verifyStripeSignature', () => {
  const header = sign(RAW_BODY);

  it('accepts a valid raw string body (raw-body mode)', () => {
    expectOk(verifyStripeSignature({ payload: RAW_BODY, header, secrets: [SECRET], nowSeconds: NOW }), 'raw-body');
  });

  it('accepts a valid parsed body by re-serialising it (reserialized-json mode)', () => {
    const parsed: unknown = JSON.parse(RAW_BODY);
    expectOk(
      verifyStripeSignature({ payload: parsed, header, secrets: [SECRET], nowSeconds: NOW }),
      'reserialized-json'
    );
  });

  it('verifies a parsed body against the serialisation the caller passes, in reserialized-json mode', () => {
    const parsed: unknown = JSON.parse(RAW_BODY);
    const args = { payload: parsed, header, secrets: [SECRET], nowSeconds: NOW };
    expectOk(verifyStripeSignature({ ...args, serialized: RAW_BODY }), 'reserialized-json');
    const wrong = verifyStripeSignature({
      ...args,
      serialized: RAW_BODY.replace('"livemode": false', '"livemode": true'),
    });
    expect(wrong.ok).toBe(false);
  });

  it('defaults nowSeconds to the current clock', () => {
    const now = Math.floor(Date.now() / 1000);
    const check = verifyStripeSignature({ payload: RAW_BODY, header: sign(RAW_BODY, SECRET, now), secrets: [SECRET] });
    expectOk(check, 'raw-body', now);
  });

  it('rejects a header signed with another secret, without leaking secret or signatures', () => {
    const check = verifyStripeSignature({ payload: RAW_BODY, header, secrets: [WRONG_SECRET], nowSeconds: NOW });
    const reason = reasonOf(check);
    expect(check.mode).toBe('raw-body');
    expect(reason).toMatch(/no .*signature matches/i);
    expect(reason).toMatch(/STRIPE_WEBHOOK_SECRET/);
    expect(reason).not.toContain(WRONG_SECRET);
    expect(reason).not.toContain(SECRET);
    expect(reason).not.toContain(v1Of(header));
  });

  describe('secret rotation', () => {
    it('accepts a header signed with the old secret when the config lists new,old', () => {
      const oldHeader = sign(RAW_BODY, OLD_SECRET);
      const secrets = parseWebhookSecrets(`${SECRET},${OLD_SECRET}`);
      expectOk(verifyStripeSignature({ payload: RAW_BODY, header: oldHeader, secrets, nowSeconds: NOW }), 'raw-body');
      // …and the old secret alone is no longer enough once it is removed from the config.
      expect(
        verifyStripeSignature({ payload: RAW_BODY, header: oldHeader, secrets: [SECRET], nowSeconds: NOW }).ok
      ).toBe(false);
    });

    it('accepts a header carrying two v1 signatures (Stripe signs with both secrets while rolling)', () => {
      const twoSigs = `t=${NOW},v1=${v1Of(sign(RAW_BODY, OLD_SECRET))},v1=${v1Of(sign(RAW_BODY, SECRET))}`;
      expectOk(
        verifyStripeSignature({ payload: RAW_BODY, header: twoSigs, secrets: [SECRET], nowSeconds: NOW }),
        'raw-body'
      );
      expectOk(
        verifyStripeSignature({ payload: RAW_BODY, header: twoSigs, secrets: [OLD_SECRET], nowSeconds: NOW }),
        'raw-body'
      );
      expect(
        verifyStripeSignature({ payload: RAW_BODY, header: twoSigs, secrets: [WRONG_SECRET], nowSeconds: NOW }).ok
      ).toBe(false);
    });

    it('ignores unknown and legacy schemes next to v1', () => {
      const withV0 = `${sign(RAW_BODY)},v0=${'0'.repeat(64)},v9=whatever`;
      expectOk(
        verifyStripeSignature({ payload: RAW_BODY, header: withV0, secrets: [SECRET], nowSeconds: NOW }),
        'raw-body'
      );
    });
  });

  describe('tampered body', () => {
    it('rejects a modified raw string', () => {
      const tampered = RAW_BODY.replace('"amount_due": 1000', '"amount_due": 1');
      expect(tampered).not.toBe(RAW_BODY);
      const check = verifyStripeSignature({ payload: tampered, header, secrets: [SECRET], nowSeconds: NOW });
      expect(check.ok).toBe(false);
      expect(check.mode).toBe('raw-body');
      expect(reasonOf(check)).toMatch(/altered/);
    });

    it('rejects a modified parsed body', () => {
      const parsed = JSON.parse(RAW_BODY) as { data: { object: { amount_due: number } } };
      parsed.data.object.amount_due = 1;
      const check = verifyStripeSignature({ payload: parsed, header, secrets: [SECRET], nowSeconds: NOW });
      expect(check.ok).toBe(false);
      expect(check.mode).toBe('reserialized-json');
    });
  });

  describe('timestamp tolerance', () => {
    it('rejects a stale timestamp and says by how much', () => {
      const t = NOW - 301;
      const check = verifyStripeSignature({
        payload: RAW_BODY,
        header: sign(RAW_BODY, SECRET, t),
        secrets: [SECRET],
        nowSeconds: NOW,
      });
      const reason = reasonOf(check);
      expect(reason).toMatch(/stale/);
      expect(reason).toContain('301 seconds');
      expect(reason).toContain('300 seconds');
    });

    it('rejects a timestamp too far in the future and says by how much', () => {
      const t = NOW + 400;
      const check = verifyStripeSignature({
        payload: RAW_BODY,
        header: sign(RAW_BODY, SECRET, t),
        secrets: [SECRET],
        nowSeconds: NOW,
      });
      const reason = reasonOf(check);
      expect(reason).toMatch(/too far in the future/);
      expect(reason).toContain('400 seconds');
    });

    it('accepts timestamps within tolerance in both directions, boundary included', () => {
      for (const t of [NOW - 300, NOW - 299, NOW - 1, NOW + 1, NOW + 300]) {
        const check = verifyStripeSignature({
          payload: RAW_BODY,
          header: sign(RAW_BODY, SECRET, t),
          secrets: [SECRET],
          nowSeconds: NOW,
        });
        expectOk(check, 'raw-body', t);
      }
    });

    it('honours a custom toleranceSeconds', () => {
      const h = sign(RAW_BODY, SECRET, NOW - 60);
      const base = { payload: RAW_BODY, header: h, secrets: [SECRET], nowSeconds: NOW };
      expect(verifyStripeSignature({ ...base, toleranceSeconds: 59 }).ok).toBe(false);
      expectOk(verifyStripeSignature({ ...base, toleranceSeconds: 60 }), 'raw-body', NOW - 60);
    });

    it('reports a bad signature rather than staleness when both are wrong', () => {
      const h = sign(RAW_BODY, WRONG_SECRET, NOW - 10_000);
      const reason = reasonOf(
        verifyStripeSignature({ payload: RAW_BODY, header: h, secrets: [SECRET], nowSeconds: NOW })
      );
      expect(reason).toMatch(/no .*signature matches/i);
    });
  });

  describe('header and configuration problems', () => {
    it('rejects a missing header', () => {
      for (const h of [undefined, '', '   ']) {
        const reason = reasonOf(
          verifyStripeSignature({ payload: RAW_BODY, header: h, secrets: [SECRET], nowSeconds: NOW })
        );
        expect(reason).toMatch(/Missing Stripe-Signature header/);
      }
    });

    it('rejects malformed headers (no usable timestamp)', () => {
      const sig = v1Of(header);
      for (const h of [
        'garbage',
        `v1=${sig}`,
        `t=,v1=${sig}`,
        `t=abc,v1=${sig}`,
        `t=${NOW}x,v1=${sig}`,
        `t=-5,v1=${sig}`,
      ]) {
        const reason = reasonOf(
          verifyStripeSignature({ payload: RAW_BODY, header: h, secrets: [SECRET], nowSeconds: NOW })
        );
        expect(reason, h).toMatch(/Malformed Stripe-Signature header/);
        expect(reason).not.toContain(sig);
      }
    });

    it('rejects a header without any v1 signature', () => {
      for (const h of [`t=${NOW}`, `t=${NOW},v0=${v1Of(header)}`, `t=${NOW},v1=`]) {
        const reason = reasonOf(
          verifyStripeSignature({ payload: RAW_BODY, header: h, secrets: [SECRET], nowSeconds: NOW })
        );
        expect(reason, h).toMatch(/no v1 signature/);
      }
    });

    it('rejects when no secrets are configured', () => {
      for (const secrets of [[], [''], ['  ']]) {
        const check = verifyStripeSignature({ payload: RAW_BODY, header, secrets, nowSeconds: NOW });
        expect(reasonOf(check)).toMatch(/STRIPE_WEBHOOK_SECRET is not set/);
      }
      expect(
        reasonOf(verifyStripeSignature({ payload: RAW_BODY, header, secrets: parseWebhookSecrets(undefined) }))
      ).toMatch(/STRIPE_WEBHOOK_SECRET is not set/);
    });

    it('rejects an empty body', () => {
      const check = verifyStripeSignature({ payload: '', header: sign(''), secrets: [SECRET], nowSeconds: NOW });
      expect(reasonOf(check)).toMatch(/Empty/);
      expect(verifyStripeSignature({ payload: undefined, header, secrets: [SECRET], nowSeconds: NOW }).ok).toBe(false);
    });
  });

  describe('parsed bodies that cannot be re-serialised identically', () => {
    const awkward: Record<string, string> = {
      'an integer-valued float (50.0)': RAW_BODY.replace('"amount_due": 1000', '"amount_due": 50.0'),
      'a \\u00e9 escape': RAW_BODY.replace(
        '"currency": "usd"',
        '"description": "caf\\u00e9",\n      "currency": "usd"'
      ),
    };

    for (const [label, raw] of Object.entries(awkward)) {
      it(`fails with a rawBody/backfill hint for ${label}, while the raw string passes`, () => {
        expect(raw).not.toBe(RAW_BODY);
        const parsed: unknown = JSON.parse(raw);
        expect(JSON.stringify(parsed, null, 2)).not.toBe(raw);
        const h = sign(raw);
        expect(stripeAccepts(raw, h, SECRET)).toBe(true);

        expectOk(verifyStripeSignature({ payload: raw, header: h, secrets: [SECRET], nowSeconds: NOW }), 'raw-body');

        const check = verifyStripeSignature({ payload: parsed, header: h, secrets: [SECRET], nowSeconds: NOW });
        expect(check.ok).toBe(false);
        expect(check.mode).toBe('reserialized-json');
        const reason = reasonOf(check);
        expect(reason).toMatch(/parsed/);
        expect(reason).toMatch(/re-serialis/);
        expect(reason).toContain('Bot.rawBody');
        expect(reason).toContain('5.2');
        expect(reason).toContain('npm run backfill');
        expect(reason).not.toContain(SECRET);
        expect(reason).not.toContain(v1Of(h));
      });
    }

    it('the raw-body failure reason does not talk about re-serialisation', () => {
      const reason = reasonOf(
        verifyStripeSignature({ payload: RAW_BODY, header, secrets: [WRONG_SECRET], nowSeconds: NOW })
      );
      expect(reason).not.toMatch(/re-serialis/);
    });
  });

  describe('agreement with stripe.webhooks.constructEvent on raw bodies', () => {
    const sig = v1Of(header);
    const oldSig = v1Of(sign(RAW_BODY, OLD_SECRET));
    const cases: { label: string; body: string; header: string | undefined; secret: string; now?: number }[] = [
      { label: 'valid', body: RAW_BODY, header, secret: SECRET },
      { label: 'wrong secret', body: RAW_BODY, header, secret: WRONG_SECRET },
      { label: 'tampered body', body: RAW_BODY.replace('1000', '1001'), header, secret: SECRET },
      { label: 'trailing newline added', body: `${RAW_BODY}\n`, header, secret: SECRET },
      { label: 'two v1, second matches', body: RAW_BODY, header: `t=${NOW},v1=${oldSig},v1=${sig}`, secret: SECRET },
      { label: 'two v1, first matches', body: RAW_BODY, header: `t=${NOW},v1=${oldSig},v1=${sig}`, secret: OLD_SECRET },
      { label: 'v0 alongside v1', body: RAW_BODY, header: `t=${NOW},v0=${oldSig},v1=${sig}`, secret: SECRET },
      { label: 'stale by 301s', body: RAW_BODY, header: sign(RAW_BODY, SECRET, NOW - 301), secret: SECRET },
      { label: 'aged exactly 300s', body: RAW_BODY, header: sign(RAW_BODY, SECRET, NOW - 300), secret: SECRET },
      { label: 'aged 10s', body: RAW_BODY, header: sign(RAW_BODY, SECRET, NOW - 10), secret: SECRET },
      { label: 'missing header', body: RAW_BODY, header: undefined, secret: SECRET },
      { label: 'malformed header', body: RAW_BODY, header: 'garbage', secret: SECRET },
      { label: 'no timestamp', body: RAW_BODY, header: `v1=${sig}`, secret: SECRET },
      { label: 'no v1', body: RAW_BODY, header: `t=${NOW},v0=${sig}`, secret: SECRET },
      { label: 'uppercase signature', body: RAW_BODY, header: `t=${NOW},v1=${sig.toUpperCase()}`, secret: SECRET },
      { label: 'truncated signature', body: RAW_BODY, header: `t=${NOW},v1=${sig.slice(0, 63)}`, secret: SECRET },
      { label: 'empty body', body: '', header: sign(''), secret: SECRET },
    ];

    for (const c of cases) {
      it(`agrees on: ${c.label}`, () => {
        const ours = verifyStripeSignature({
          payload: c.body,
          header: c.header,
          secrets: [c.secret],
          nowSeconds: c.now ?? NOW,
        });
        expect(ours.ok).toBe(stripeAccepts(c.body, c.header, c.secret, c.now ?? NOW));
      });
    }

    it('expected verdicts of the cross-check table (guards against both sides being wrong)', () => {
      const accepted = cases
        .filter(
          (c) => verifyStripeSignature({ payload: c.body, header: c.header, secrets: [c.secret], nowSeconds: NOW }).ok
        )
        .map((c) => c.label);
      expect(accepted).toEqual([
        'valid',
        'two v1, second matches',
        'two v1, first matches',
        'v0 alongside v1',
        'aged exactly 300s',
        'aged 10s',
      ]);
    });

    it('deliberately diverges on future timestamps: Stripe only rejects stale ones, we reject both', () => {
      const future = sign(RAW_BODY, SECRET, NOW + 3600);
      expect(stripeAccepts(RAW_BODY, future, SECRET)).toBe(true);
      expect(verifyStripeSignature({ payload: RAW_BODY, header: future, secrets: [SECRET], nowSeconds: NOW }).ok).toBe(
        false
      );
    });
  });

  describe('properties', () => {
    const eventBody = fc
      .record({
        object: fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 }),
        type: fc.constantFrom('invoice.created', 'invoice.paid', 'charge.refunded', 'customer.updated'),
        created: fc.integer({ min: 1_500_000_000, max: 2_000_000_000 }),
      })
      .map(({ object, type, created }) => JSON.stringify({ ...envelope(object, type), created }, null, 2));
    const timestamp = fc.integer({ min: NOW - 300, max: NOW + 300 });

    it('raw bodies signed by Stripe verify, and flipping any single character breaks them', () => {
      fc.assert(
        fc.property(
          eventBody,
          timestamp,
          fc.nat(),
          fc.integer({ min: 0x20, max: 0x7e }),
          (body, t, pos, replacementCode) => {
            const h = sign(body, SECRET, t);
            const ok = verifyStripeSignature({ payload: body, header: h, secrets: [SECRET], nowSeconds: NOW });
            expect(ok).toEqual({ ok: true, mode: 'raw-body', timestamp: t });
            expect(stripeAccepts(body, h, SECRET)).toBe(true);

            const i = pos % body.length;
            let replacement = String.fromCharCode(replacementCode);
            if (replacement === body[i]) replacement = replacement === 'x' ? 'y' : 'x';
            const flipped = body.slice(0, i) + replacement + body.slice(i + 1);
            expect(flipped).not.toBe(body);
            const bad = verifyStripeSignature({ payload: flipped, header: h, secrets: [SECRET], nowSeconds: NOW });
            expect(bad.ok).toBe(false);
            expect(stripeAccepts(flipped, h, SECRET)).toBe(false);
          }
        ),
        { numRuns: 200 }
      );
    });

    it('bodies produced by JSON.stringify(…, null, 2) also verify once parsed', () => {
      fc.assert(
        fc.property(eventBody, timestamp, (body, t) => {
          const h = sign(body, SECRET, t);
          const check = verifyStripeSignature({
            payload: JSON.parse(body),
            header: h,
            secrets: [SECRET],
            nowSeconds: NOW,
          });
          expect(check).toEqual({ ok: true, mode: 'reserialized-json', timestamp: t });
        }),
        { numRuns: 100 }
      );
    });
  });
});
