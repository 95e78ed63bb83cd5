// The style sheet of the HTML reports: system fonts only (nothing is fetched), tables that read
// on screen and on paper, and a print layout without the controls.
export const REPORT_CSS = `
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --bad: #b42318; --warn: #b54708; --ok: #067647; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); margin: 0 auto; padding: 24px; max-width: 1400px; font-size: 14px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.meta { color: var(--muted); margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 12px; margin-top: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; break-inside: avoid; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: 12px; }
.card.bad .value { color: var(--bad); }
.card.ok .value { color: var(--ok); }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 8px; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 4px; }
figure svg { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; max-width: 320px; overflow-wrap: break-word; white-space: pre-wrap; }
th { background: #f6f8fa; position: sticky; top: 0; cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " ▲"; }
th[aria-sort="descending"]::after { content: " ▼"; }
td.long { overflow-wrap: anywhere; min-width: 10ch; }
.scroll { overflow-x: auto; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.row { cursor: pointer; }
tr.row:hover, tr.row:focus { background: #f6f8fa; outline: none; }
tr.flagged td:first-child { border-left: 3px solid var(--bad); }
tr.detail td { background: #fbfbfc; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 4px 0; }
dt { color: var(--muted); }
dd { margin: 0; white-space: pre-wrap; overflow-wrap: break-word; }
.controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0; }
.controls input[type=search] { min-width: 260px; padding: 4px 8px; }
.pager { display: flex; gap: 6px; align-items: center; margin: 8px 0; }
.notice { border: 1px solid var(--line); border-left: 4px solid var(--warn); padding: 8px 12px; border-radius: 4px; margin: 8px 0; }
.notice.ok { border-left-color: var(--ok); }
.notice.bad { border-left-color: var(--bad); }
ul.compact { margin: 4px 0; padding-left: 20px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  .controls, .pager, noscript { display: none; }
  th { position: static; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
`;
