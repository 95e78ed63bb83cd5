// report.html in a real headless browser (Debian chromium via playwright-core), opened from its
// file as a reviewer would: no console errors, no request for anything but the file itself, charts
// present as non-empty SVG, the table pages through every discrepancy (never more rows in the DOM
// than a page), search and filters narrow it, hostile values stay text. A screenshot is kept in
// test-artifacts/reports/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, ensureChromium, inPage, launchBrowser } from './chromium.js';
import { HOSTILE, htmlData, reportWorld, SMALL_COUNTS } from './report-world.js';

const browser = ensureChromium();
if ('skip' in browser) console.warn(`browser test skipped: ${browser.skip}`);

const world = reportWorld('rep_browser');
const T = 'browse';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'reports');

describe.skipIf('skip' in browser)(`report.html in ${CHROMIUM}`, () => {
  let launched: Awaited<ReturnType<typeof launchBrowser>>;
  beforeAll(async () => {
    launched = await launchBrowser(CHROMIUM);
  });
  afterAll(async () => {
    await launched?.close();
  });

  it('works offline: charts, every discrepancy across pages, search, filters; values stay text', async () => {
    const made = await world.generated(T, { counts: SMALL_COUNTS });
    await world.stage(T, 'crm', 'customer', [
      ...HOSTILE.map((v, i) => ({ id: `hx-c${i}`, erp_ref: `hx-e${i}`, name: v, currency: 'USD' })),
      {
        id: 'hx-"><img src=x onerror=alert(5)>',
        erp_ref: 'hx-</script>',
        name: 'n',
        currency: 'USD',
        credit_limit: '-900',
      },
    ]);
    await world.stage(T, 'erp', 'customer', [
      ...HOSTILE.map((_, i) => ({ id: `hx-e${i}`, name: `plain ${i}`, currency: 'USD' })),
      { id: 'hx-</script>', name: 'n', currency: 'USD', credit_limit: '900' },
    ]);
    const run = await world.reconcile(T, made.config, 'incremental');
    const res = await world.report(T, run.runId);
    const live = await world.live(T);
    // More than a page (50 rows): paging is exercised.
    expect(live.length).toBeGreaterThan(50);
    const file = join(res.dir, 'report.html');
    const data = await htmlData(file);

    const page = await launched.context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    const dialogs: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (!/^(file|data):/.test(r.url())) requests.push(r.url());
    });
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    await page.waitForSelector('#disc-table tbody tr.row');

    // Charts: inline SVG with content.
    const charts = await page.$$eval('#charts figure svg', (svgs) =>
      svgs.map((s) => ({
        width: s.getBoundingClientRect().width,
        marks: s.querySelectorAll('path, rect, text').length,
      })),
    );
    expect(charts.length).toBeGreaterThanOrEqual(5);
    for (const c of charts) {
      expect(c.width).toBeGreaterThan(0);
      expect(c.marks).toBeGreaterThan(3);
    }

    // Every discrepancy, page by page; a page never holds more than its size.
    const seen: string[] = [];
    for (let guard = 0; guard < 100; guard++) {
      const ids = await page.$$eval('#disc-table tbody tr.row', (rows) =>
        rows.map((r) => r.getAttribute('data-id')!),
      );
      expect(ids.length).toBeLessThanOrEqual(50);
      seen.push(...ids);
      if (await page.isDisabled('#disc-next')) break;
      await page.click('#disc-next');
    }
    expect(seen.sort()).toEqual(live.map((d) => d.id).sort());
    expect(await page.textContent('#disc-info')).toContain(`of ${live.length}`);
    await page.click('#disc-first');

    // Search narrows to the rows holding the text (in any column).
    const contains = (q: string) =>
      data.discrepancies.rows.filter((r) => r.join('\u0001').toLowerCase().includes(q)).length;
    await page.fill('#disc-search', 'onerror');
    await page.waitForFunction(inPage.filtered, true);
    const found = await page.$$eval('#disc-table tbody tr.row', (rows) => rows.length);
    expect(found).toBe(contains('onerror'));
    expect(found).toBeGreaterThan(0);
    await page.fill('#disc-search', '');
    await page.waitForFunction(inPage.filtered, false);

    // A filter by class, then sorting by money impact, then a row's explanation.
    await page.selectOption('#disc-filter-class', 'missing_in_erp');
    const missing = live.filter((d) => d.class === 'missing_in_erp').length;
    expect(await page.textContent('#disc-info')).toContain(`of ${missing} (filtered from ${live.length})`);
    await page.selectOption('#disc-filter-class', '\u0000all');
    await page.click('#disc-table th[data-col="money_impact"]');
    await page.click('#disc-table th[data-col="money_impact"]');
    const top = await page.$eval('#disc-table tbody tr.row td:nth-child(10)', (td) => td.textContent);
    const impacts = live.map((d) => Number(d.money_impact ?? Number.NEGATIVE_INFINITY));
    expect(Number(top)).toBe(Math.max(...impacts));
    await page.click('#disc-table tbody tr.row');
    expect(
      await page.$$eval('#disc-table tbody tr.detail dt', (dts) => dts.map((d) => d.textContent)),
    ).toContain('match_key');

    // Hostile values stayed text: no element, no script ran.
    await page.fill('#disc-search', 'hx-');
    await page.waitForFunction(inPage.filtered, true);
    expect(await page.$$('img')).toHaveLength(0);
    expect(await page.$$eval('script', (s) => s.length)).toBe(2);
    const shown = await page.$$eval('#disc-table tbody td', (tds) => tds.map((td) => td.textContent));
    expect(shown).toContain('<script>alert("x")</script>');
    expect(dialogs).toEqual([]);

    await page.fill('#disc-search', '');
    await page.waitForFunction(inPage.filtered, false);
    await mkdir(ARTIFACTS, { recursive: true });
    // The folder holds only what tests make: git ignores all of it.
    await writeFile(join(process.cwd(), 'test-artifacts', '.gitignore'), '*\n');
    await page.evaluate(inPage.scrollToTop);
    await page.screenshot({ path: join(ARTIFACTS, 'report.png') });
    await page.locator('#disc-table').screenshot({ path: join(ARTIFACTS, 'report-table.png') });
    // The page fits its width: long values wrap instead of widening the tables.
    expect(await page.evaluate(inPage.scrollWidth)).toBeLessThanOrEqual(1400);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });
});
