// The small pieces of the reports: escaping for HTML and for the JSON data block, the CSP, close
// periods, exact money sums and the XLSX number format of each currency.
import { describe, expect, it } from 'vitest';
import { addDecimal } from '../../reports/decimal-sum.js';
import {
  contentSecurityPolicy,
  escapeHtml,
  jsonForScript,
  scriptHashSource,
} from '../../reports/html-escape.js';
import { parsePeriod } from '../../reports/report-period.js';
import { moneyFormat } from '../../reports/write-xlsx.js';
import { HOSTILE } from './report-world.js';

describe('HTML escaping', () => {
  it('escapes text and attribute values', () => {
    expect(escapeHtml(`"><img src=x onerror='a'>&`)).toBe(
      '&quot;&gt;&lt;img src=x onerror=&#39;a&#39;&gt;&amp;',
    );
  });

  it('embeds JSON that cannot end its script block and parses back exactly', () => {
    const value = { rows: [...HOSTILE, '</SCRIPT >', '<!--<script>'] };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('allows exactly the hashed script, loads nothing', () => {
    const hash = scriptHashSource('alert(1)');
    // sha256("alert(1)") in base64, as browsers compute it.
    expect(hash).toBe("'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='");
    expect(contentSecurityPolicy([hash])).toBe(
      `default-src 'none'; style-src 'unsafe-inline'; script-src ${hash}; img-src data:`,
    );
    expect(contentSecurityPolicy([])).toContain("script-src 'none'");
  });
});

describe('close periods', () => {
  it.each([
    ['2026-11', '2026-11-01', '2026-12-01'],
    ['2026-12', '2026-12-01', '2027-01-01'],
    ['2024-02', '2024-02-01', '2024-03-01'],
  ])('%s is [%s, %s)', (p, start, end) => {
    expect(parsePeriod(p)).toEqual({ period: p, start, end });
  });

  it.each(['2026-13', '2026-1', 'November', '2026-11-01', ''])('refuses %j', (p) => {
    expect(() => parsePeriod(p)).toThrow(/is not a month such as 2026-11/);
  });
});

describe('money', () => {
  it('adds decimal strings exactly', () => {
    expect(addDecimal('0.1', '0.2')).toBe('0.3');
    expect(addDecimal('100.005', '-0.005')).toBe('100.000');
    expect(addDecimal('-5', '2.5')).toBe('-2.5');
    expect(addDecimal('99999999999999999999.99', '0.01')).toBe('100000000000000000000.00');
  });

  it('formats amounts with the currency’s minor units', () => {
    expect(moneyFormat('USD')).toBe('#,##0.00 "USD"');
    expect(moneyFormat('JPY')).toBe('#,##0 "JPY"');
    expect(moneyFormat('BHD')).toBe('#,##0.000 "BHD"');
    expect(moneyFormat('"X"')).toBe('#,##0.00');
    expect(moneyFormat(null)).toBe('#,##0.00');
  });
});
