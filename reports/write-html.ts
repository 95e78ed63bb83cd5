// report.html: one self-contained page that opens offline, prints, and can be sent as one file.
// Summary cards, charts rendered to SVG when the report is built, the top material discrepancies,
// and tables of every discrepancy and action that the page's one script searches, filters, sorts
// and pages over a JSON data block. Every value from the data is escaped (record names are user
// data); the Content-Security-Policy allows only that script (by hash) and loads nothing.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { agingCharts, type Chart, entityClassChart, moneyByEntityCharts, trendChart } from './charts.js';
import { ACTION_COLUMNS, DISCREPANCY_COLUMNS } from './columns.js';
import { CLIENT_SCRIPT } from './html-client.js';
import { contentSecurityPolicy, escapeHtml as h, jsonForScript, scriptHashSource } from './html-escape.js';
import { REPORT_CSS } from './html-style.js';
import { writePrivateFile } from './report-files.js';
import { type ReportData, valueText } from './report-model.js';
import { type ReportSummary, topMaterial } from './report-summary.js';

const fmtTime = (d: Date | null) => (d ? `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC` : '—');

function card(label: string, value: string, sub = '', tone = ''): string {
  return `<div class="card${tone ? ` ${tone}` : ''}"><div class="label">${h(label)}</div><div class="value">${h(value)}</div>${
    sub ? `<div class="sub">${h(sub)}</div>` : ''
  }</div>`;
}

function cards(data: ReportData, s: ReportSummary): string {
  const out = [
    s.recordsCompared !== null
      ? card('Records compared', s.recordsCompared.toLocaleString('en'), 'CRM + ERP, by the run')
      : '',
    data.close
      ? card(
          'Records in period',
          data.close.recordsInPeriod.toLocaleString('en'),
          'CRM + ERP, by business date',
        )
      : '',
    card('Discrepancies', s.discrepancies.toLocaleString('en'), `${s.open} open, ${s.accepted} accepted`),
    card(
      'Material',
      String(s.material),
      `${s.openMaterial} open, ${s.acceptedMaterial} accepted`,
      s.openMaterial ? 'bad' : 'ok',
    ),
    ...Object.entries(s.byClass).map(([c, n]) => card(c.replaceAll('_', ' '), n.toLocaleString('en'))),
    ...Object.entries(s.moneyAtStake).map(([cur, v]) =>
      card(`At stake, ${cur}`, v, `material: ${s.materialMoneyAtStake[cur] ?? '0'}`),
    ),
    ...Object.entries(s.actionsByStatus).map(([st, n]) =>
      card(`Actions ${st.replaceAll('_', ' ')}`, String(n)),
    ),
  ];
  return `<section id="summary" class="cards">${out.join('')}</section>`;
}

/** The sides whose open dead letters exceed sync.maxDeadLetterShare (run summary `incomplete`, issue 12). */
function incompleteNotice(data: ReportData): string {
  const sides = (data.run.summary?.incomplete ?? []) as {
    entity: string;
    side: string;
    system: string;
    deadLetters: number;
    completeness: number;
  }[];
  if (!Array.isArray(sides) || !sides.length) return '';
  const one = (i: (typeof sides)[number]) =>
    `${i.entity}: the ${i.side.toUpperCase()} side (${i.system}) is ${(i.completeness * 100).toFixed(1)} % complete, ${i.deadLetters} records could not be staged`;
  return `<div class="notice bad">Incomplete input — records whose counterpart could not be staged are unverifiable, not missing. ${h(sides.map(one).join('; '))} (trueup dlq list).</div>`;
}

function figure(c: Chart): string {
  return `<figure id="${h(c.id)}"><figcaption>${h(c.title)}</figcaption>${c.svg}</figure>`;
}

function charts(data: ReportData, s: ReportSummary): string {
  const all = [entityClassChart(s), ...moneyByEntityCharts(s), ...agingCharts(s), trendChart(data.trend)];
  return `<h2>Charts</h2><section id="charts" class="charts">${all.map(figure).join('')}</section>`;
}

function topMaterialSection(data: ReportData): string {
  const top = topMaterial(data);
  if (!top.length) return '<h2>Top material discrepancies</h2><p>No material discrepancy.</p>';
  const rows = top
    .map(
      (d) =>
        `<tr><td class="num">${h(d.id)}</td><td>${h(d.entity)}</td><td>${h(d.class)}</td><td>${h(d.field)}</td><td>${h(
          d.matchKey,
        )}</td><td>${h(valueText(d.crmValue))}</td><td>${h(valueText(d.erpValue))}</td><td class="num">${h(
          d.moneyImpact ?? '',
        )} ${h(d.currency ?? '')}</td><td>${h(d.status)}${d.acceptedBy ? ` (${h(d.acceptedBy)})` : ''}</td><td class="num">${
          d.runsOpen
        }</td></tr>`,
    )
    .join('');
  return `<h2>Top material discrepancies</h2><div class="scroll"><table id="top-material"><thead><tr><th>id</th><th>entity</th><th>class</th><th>field</th><th>match key</th><th>CRM value</th><th>ERP value</th><th class="num">impact</th><th>status</th><th class="num">runs open</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function closeSection(data: ReportData): string {
  const c = data.close;
  if (!c) return '';
  const latest = c.signoffs[0];
  const signed = c.signoffs.length
    ? `<div class="notice ok" id="signoffs"><strong>Signed off</strong><ul class="compact">${c.signoffs
        .map(
          (s) =>
            `<li>by ${h(s.signedBy)} at ${h(fmtTime(s.signedAt))} (run ${h(s.runId)}; ${s.discrepancyIds.length} discrepancies live then)${
              s.note ? `: ${h(s.note)}` : ''
            }</li>`,
        )
        .join('')}</ul></div>`
    : '<div class="notice" id="signoffs">Not signed off yet (<code>trueup close</code>).</div>';
  const after =
    latest && c.afterSignoff.length
      ? `<div class="notice bad" id="after-signoff"><strong>${c.afterSignoff.length} discrepanc${
          c.afterSignoff.length === 1 ? 'y' : 'ies'
        } appeared after the sign-off by ${h(latest.signedBy)}</strong>: ${c.afterSignoff.map(h).join(', ')}</div>`
      : latest
        ? '<div class="notice ok" id="after-signoff">Nothing appeared after the latest sign-off.</div>'
        : '';
  const ch = c.changes;
  const changes = !ch.since
    ? '<p id="changes">First report of this period.</p>'
    : `<div id="changes"><p>Since the report of run ${h(ch.since.runId)} (${h(fmtTime(ch.since.madeAt))}): ${
        ch.appeared.length
      } appeared, ${ch.gone.length} gone, ${ch.changed.length} changed.</p>${
        ch.appeared.length ? `<p>Appeared: ${ch.appeared.map(h).join(', ')}</p>` : ''
      }${
        ch.gone.length
          ? `<p>Gone:</p><ul class="compact">${ch.gone
              .map(
                (g) =>
                  `<li>${h(g.id)} ${h(g.entity)} ${h(g.class)} ${h(g.matchKey)} ${h(g.field)} — now ${h(g.status)}</li>`,
              )
              .join('')}</ul>`
          : ''
      }${
        ch.changed.length
          ? `<p>Changed:</p><ul class="compact">${ch.changed.map((x) => `<li>${h(x.id)}: ${h(x.what.join('; '))}</li>`).join('')}</ul>`
          : ''
      }</div>`;
  return `<h2>Close ${h(c.period.period)}</h2><p class="meta">Records whose business date is in ${h(c.period.start)} – ${h(
    c.period.end,
  )} (exclusive; customers, products and records without one: all), discrepancies live at the run.</p>${signed}${after}<h3>Changed since the last report of this period</h3>${changes}`;
}

function tableSection(prefix: string, title: string, total: number, note: string): string {
  return `<h2>${h(title)} (${total.toLocaleString('en')})</h2>${note}<div class="controls"><input type="search" id="${prefix}-search" placeholder="Search" aria-label="Search ${h(
    title,
  )}"><span id="${prefix}-filters"></span><label>Rows per page <select id="${prefix}-size"><option>25</option><option selected>50</option><option>100</option><option>500</option></select></label></div><div class="pager"><button type="button" id="${prefix}-first">First</button><button type="button" id="${prefix}-prev">Previous</button><button type="button" id="${prefix}-next">Next</button><button type="button" id="${prefix}-last">Last</button><span id="${prefix}-info"></span></div><div class="scroll"><table id="${prefix}-table"></table></div><noscript><p>This table needs JavaScript; the CSV and XLSX files hold the same rows.</p></noscript>`;
}

/**
 * The page's data block, in pieces of a few thousand rows (the page is written as it is made, so a
 * report of 100,000 discrepancies is never one string): the rows as the CSV columns' text,
 * unneutralised (the page shows them as text). Escaping is per character, so pieces escape alone.
 */
function* dataBlock(data: ReportData): Generator<string> {
  const CHUNK = 2000;
  function* rows<T>(list: readonly T[], text: (row: T) => string[]): Generator<string> {
    for (let i = 0; i < list.length; i += CHUNK) {
      const part = jsonForScript(list.slice(i, i + CHUNK).map(text));
      yield `${i ? ',' : ''}${part.slice(1, -1)}`;
    }
  }
  const columns = (names: string[]) => jsonForScript(names);
  yield `{"tenant":${jsonForScript(data.tenant)},"discrepancies":{"columns":${columns(DISCREPANCY_COLUMNS.map((c) => c.name))},"rows":[`;
  yield* rows(data.discrepancies, (d) => DISCREPANCY_COLUMNS.map((c) => c.text(d, data.tenant)));
  yield `]},"actions":{"columns":${columns(ACTION_COLUMNS.map((c) => c.name))},"rows":[`;
  yield* rows(data.actions, (a) => ACTION_COLUMNS.map((c) => c.text(a, data.tenant)));
  yield ']}}';
}

/** The page, in pieces to write one after the other. */
export function* reportHtml(data: ReportData, s: ReportSummary, files: readonly string[]): Generator<string> {
  const run = data.run;
  const title = `trueup report: ${data.tenant}${data.close ? `, close ${data.close.period.period}` : ''}, run ${run.runId}`;
  yield `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${h(contentSecurityPolicy([scriptHashSource(CLIENT_SCRIPT)]))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${h(title)}</title><style>${REPORT_CSS}</style></head>
<body>
<header><h1>${h(data.close ? `Close pack ${data.close.period.period}: ${data.tenant}` : `Reconciliation report: ${data.tenant}`)}</h1>
<p class="meta">Run ${h(run.runId)} (${h(run.mode ?? '')}, ${h(run.status)}), started ${h(fmtTime(run.startedAt))}, finished ${h(
    fmtTime(run.finishedAt),
  )}; entities ${h(s.entities.join(', ') || 'none')}. Report made ${h(fmtTime(data.generatedAt))}.</p>
${run.error ? `<div class="notice bad">The run failed: ${h(run.error)}</div>` : ''}${incompleteNotice(data)}</header>
${closeSection(data)}
${cards(data, s)}
${charts(data, s)}
${topMaterialSection(data)}
${tableSection('disc', 'Discrepancies', data.discrepancies.length, '<p class="meta">Click a row for its explanation: survivorship rule, winning side, golden value, candidate matches, review and correction.</p>')}
${tableSection('act', 'Corrections', data.actions.length, '<p class="meta">The actions behind these discrepancies (approve or reject with <code>trueup actions</code>).</p>')}
<footer>Files of this report: ${files.map((f) => `<a href="${h(encodeURIComponent(f))}">${h(f)}</a>`).join(' · ')}. Amounts are in their own currency and never converted.</footer>
<script type="application/json" id="report-data">`;
  yield* dataBlock(data);
  yield `</script>
<script>${CLIENT_SCRIPT}</script>
</body></html>
`;
}

export async function writeHtml(
  file: string,
  data: ReportData,
  s: ReportSummary,
  files: readonly string[],
): Promise<void> {
  await writePrivateFile(file, async (temp) => {
    const out = createWriteStream(temp);
    const failed = new Promise<never>((_, reject) => out.once('error', reject));
    for (const part of reportHtml(data, s, files))
      if (!out.write(part)) await Promise.race([once(out, 'drain'), failed]);
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  });
}
