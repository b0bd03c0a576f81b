/**
 * The console in a real browser: Debian's headless Chromium driven by playwright-core against an
 * engine with API keys on (embedded NATS, the simulated feed). The page asks for a key once and keeps
 * it for the tab; an alert published to NATS appears in the live feed; a customer lookup with an
 * analyst's key shows the profile masked; every screen loads without a console error, in both
 * languages, and fits a phone's width. Screenshots of each screen go to test-artifacts/console/
 * (BW_CONSOLE_SHOTS=<dir> writes them there instead, e.g. docs/console for the README).
 * .ci/run installs Chromium when missing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { freePort } from '../../lib/ports.js';
import {
  connectEmbedded,
  type EngineProcess,
  startEngineProcess,
  waitFor,
} from '../support/engine-process.js';
import { publishCore } from '../support/publish.js';

/** Debian's chromium package: /usr/bin/chromium is a shell wrapper around this binary. */
const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p));
const SHOTS = path.resolve(PACKAGE_ROOT, process.env['BW_CONSOLE_SHOTS'] ?? 'test-artifacts/console');
const key = (): string => `bw_${randomBytes(32).toString('base64url')}`;
const KEYS = { analyst: key(), viewer: key() };
const CUSTOMER = 'c-console-1';
const EMAIL = 'mei.lin@example.com';

let engine: EngineProcess;
let nc: NatsConnection;
let browser: Browser;
let base: string;
const problems: string[] = [];

async function open(width = 1280, height = 860): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  page.on('console', (m) => {
    // The browser logs every 404 it fetches; a model's monitor answering 404 is shown as "monitoring
    // not available" (console-screens.test.ts).
    if (m.text().startsWith('Failed to load resource') && m.location().url.endsWith('/monitor')) return;
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return page;
}

/** Types the key into the prompt the page shows on its first 401. */
async function signIn(page: Page, apiKey: string): Promise<void> {
  await page.goto(`${base}/ui/`);
  await page.locator('form.key input[name=key]').fill(apiKey);
  await page.locator('form.key button').click();
  await page.locator('[data-tile=lag] .value').filter({ hasNotText: '—' }).waitFor();
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('Chromium is needed (Debian package chromium; .ci/run installs it)');
  await mkdir(SHOTS, { recursive: true });
  const natsPort = await freePort();
  engine = await startEngineProcess(
    {
      BW_NATS_PORT: String(natsPort),
      BW_API_KEYS: Object.entries(KEYS)
        .map(([role, k]) => `${k}:${role}:${role}-console`)
        .join(','),
      BW_PARTITIONS: '4',
      BW_WORKERS: '2',
    },
    ['--embedded', '--simulate', '500', '--clock', 'event', '--rescore-seconds', '5'],
  );
  base = engine.httpUrl;
  nc = await connectEmbedded(engine.dataDir, natsPort);
  const now = Date.now();
  await publishCore(nc, [
    { event_id: 'console-1', customer_id: CUSTOMER, type: 'signup', ts: now - 3_600_000 },
    {
      event_id: 'console-2',
      customer_id: CUSTOMER,
      type: 'profile',
      ts: now - 3_500_000,
      props: { email: EMAIL, tier: 'gold' },
    },
    { event_id: 'console-3', customer_id: CUSTOMER, type: 'purchase', ts: now - 3_400_000, amount: 42.5 },
  ]);
  await waitFor(
    async () =>
      (await engine.get(`/v1/customers/${CUSTOMER}`, { authorization: `Bearer ${KEYS.analyst}` })).status ===
        200 || undefined,
    60_000,
    'the console customer',
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await nc?.close();
  if (engine && engine.child.exitCode === null) await engine.stop('SIGKILL');
});

describe('the console in a browser', () => {
  it('asks for a key once, then shows live numbers and an alert published to NATS', async () => {
    const page = await open();
    await signIn(page, KEYS.analyst);
    // Kept for the tab: a reload does not ask again.
    await page.reload();
    await page.locator('[data-tile=lag] .value').filter({ hasNotText: '—' }).waitFor();
    expect(await page.locator('form.key').count()).toBe(0);
    await page
      .locator('.feed-item')
      .first()
      .waitFor({ timeout: 60_000 })
      .catch(() => undefined);
    const alert = {
      alert_id: 'console-alert-1',
      kind: 'churn',
      customer_id: 'c-console-alert',
      risk: 97,
      emitted_at: new Date().toISOString(),
    };
    // After the page has opened its stream (it shows what came before from GET /v1/alerts).
    await page.waitForTimeout(500);
    nc.publish('bw.alerts.churn', JSON.stringify(alert));
    await expect
      .poll(
        async () =>
          (await page.locator('.feed-item').allTextContents()).find((t) => t.includes('c-console-alert')),
        { timeout: 15_000 },
      )
      .toContain('97');
    await page.locator('[data-tile=events] .value').filter({ hasNotText: '—' }).waitFor({ timeout: 20_000 });
    await page.locator('table.riskiest tbody tr').first().waitFor();
    await shot(page, 'live');
    await page.close();
  }, 120_000);

  it('shows a customer 360 with the profile masked for an analyst', async () => {
    const page = await open();
    await signIn(page, KEYS.analyst);
    await page.goto(`${base}/ui/#/customer/${CUSTOMER}`);
    const email = page.locator('[data-pii=email]');
    await email.waitFor();
    const shown = (await email.textContent()) ?? '';
    expect(shown).not.toBe(EMAIL);
    expect(shown).toMatch(/^m\*+@example\.com$/);
    expect(await page.content()).not.toContain(EMAIL);
    await page.locator('.score-card').first().waitFor();
    expect(await page.locator('article.customer h2').textContent()).toBe(CUSTOMER);
    await shot(page, 'customer');
    // A viewer's answer carries no personal fields at all.
    const viewer = await open();
    await signIn(viewer, KEYS.viewer);
    await viewer.goto(`${base}/ui/#/customer/${CUSTOMER}`);
    await viewer.locator('article.customer').waitFor();
    expect(await viewer.locator('[data-pii]').count()).toBe(0);
    await viewer.close();
    await page.close();
  }, 60_000);

  it('shows segments and journeys, and models with their cards', async () => {
    const page = await open();
    await signIn(page, KEYS.analyst);
    await page.goto(`${base}/ui/#/journeys`);
    await page.locator('table.segments tbody tr').first().waitFor();
    await page.locator('table.funnel tbody tr').first().waitFor();
    await page.locator('table.attribution').waitFor();
    expect(await page.locator('table.funnel tbody tr').count()).toBe(4);
    await shot(page, 'journeys');
    await page.goto(`${base}/ui/#/models`);
    await page.locator('[data-model=churn] table.metrics').first().waitFor();
    expect(await page.locator('[data-model]').count()).toBeGreaterThanOrEqual(2);
    await shot(page, 'models');
    await page.close();
  }, 60_000);

  it('switches to Chinese and fits a phone', async () => {
    const page = await open(390, 844);
    await signIn(page, KEYS.analyst);
    await page.locator('button.lang').click();
    expect(await page.locator('nav').textContent()).toContain('实时');
    for (const screen of ['live', `customer/${CUSTOMER}`, 'journeys', 'rules', 'models']) {
      await page.goto(`${base}/ui/#/${screen}`);
      await page.waitForTimeout(1000);
      // Evaluated in the page: the tests compile without the DOM's types.
      const width = await page.evaluate('document.scrollingElement.scrollWidth');
      expect(width, screen).toBeLessThanOrEqual(390);
    }
    await page.goto(`${base}/ui/#/live`);
    await page.locator('[data-tile=lag] .value').filter({ hasNotText: '—' }).waitFor();
    await shot(page, 'live-phone-zh');
    await page.close();
  }, 60_000);

  it('logged no console error on any screen', () => {
    expect(problems).toEqual([]);
  });
});
