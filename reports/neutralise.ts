// Spreadsheet formula neutralisation for CSV and XLSX cells (OWASP "CSV Injection"): a text cell
// whose first character is `=`, `+`, `-`, `@`, tab or carriage return would be run as a formula
// by a spreadsheet, so it gets a leading apostrophe — the value stays readable for a human, and
// the spreadsheet shows it as text. Numbers stay numbers: a plain decimal such as `-12.50` is a
// number, not a formula, and is left alone (XLSX writes numbers as number cells anyway).
//
// Reversible: a text that already starts with an apostrophe followed by one of those characters
// gets one more apostrophe, so `restoreCell` (strip one apostrophe before such a character)
// gives back exactly the stored value.

const FORMULA_START = /^[=+\-@\t\r]/;
const QUOTED_FORMULA_START = /^'+[=+\-@\t\r]/;
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

/** The text as a spreadsheet cell may hold it safely. */
export function neutraliseCell(text: string): string {
  if (PLAIN_NUMBER.test(text)) return text;
  if (FORMULA_START.test(text) || QUOTED_FORMULA_START.test(text)) return `'${text}`;
  return text;
}

/** The stored value of a neutralised cell (the inverse of neutraliseCell). */
export function restoreCell(text: string): string {
  if (QUOTED_FORMULA_START.test(text)) return text.slice(1);
  return text;
}
