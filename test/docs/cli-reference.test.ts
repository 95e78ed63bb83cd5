// docs/cli.md cannot drift from the program: every command of `buildProgram` (the one `trueup`
// runs) that does something — the leaves, `trueup dlq list` but not `trueup dlq` — has a section
// "### `trueup <command>`" naming each of its options and showing an example (a fenced line that
// runs it); every such section names a command the program still has; the global options appear.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createCliContext } from '../../pipeline/cli/cli-context.js';
import { buildProgram } from '../../pipeline/cli/main.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The program's leaf commands as "trueup a b", each with its long option flags. */
function leafCommands(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (c: Command, path: string) => {
    const subs = c.commands.filter((s) => s.name() !== 'help');
    if (!subs.length)
      out.set(
        path,
        c.options.map((o) => o.long).filter((l): l is string => !!l),
      );
    for (const s of subs) walk(s, `${path} ${s.name()}`);
  };
  const program = buildProgram(createCliContext({}, () => {}));
  for (const c of program.commands) walk(c, `trueup ${c.name()}`);
  return out;
}

/** docs/cli.md's "### `trueup …`" sections: command → section text. */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split(/^(?=#{2,3} )/m);
  for (const part of parts) {
    const m = /^### `(trueup[^`]*)`/.exec(part);
    if (m) out.set(m[1]!.trim(), part);
  }
  return out;
}

describe('docs/cli.md', () => {
  it('documents every command of the program, each option and an example, and no other command', async () => {
    const text = await readFile(join(ROOT, 'docs', 'cli.md'), 'utf8');
    const documented = sections(text);
    const program = leafCommands();
    const problems: string[] = [];
    for (const [cmd, flags] of program) {
      const section = documented.get(cmd);
      if (!section) {
        problems.push(`${cmd}: no "### \`${cmd}\`" section`);
        continue;
      }
      for (const flag of flags)
        if (!new RegExp(`\`${flag}[\\s\`]`).test(section)) problems.push(`${cmd}: option ${flag} not shown`);
      const example = new RegExp(`^(npx )?${cmd.replace(/ /g, '\\s+')}(\\s|$)`, 'm');
      if (!example.test(section)) problems.push(`${cmd}: no example line starting with "${cmd}"`);
    }
    for (const cmd of documented.keys())
      if (!program.has(cmd)) problems.push(`${cmd}: documented, but the program has no such command`);
    expect(problems, 'docs/cli.md is out of date with pipeline/cli/main.ts').toEqual([]);
    // The global options.
    const program0 = buildProgram(createCliContext({}, () => {}));
    for (const o of program0.options) expect(text).toContain(`\`${o.flags}\``);
  });
});
