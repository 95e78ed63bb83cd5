// `trueup xref link|unlink|list`: manual cross-system links between a CRM and an ERP record of a
// tenant and entity. Reconciliation treats them like direct keys (explicit links). Linking checks
// that staging has seen both records (a typo would otherwise link nothing to something) unless
// --allow-missing, and takes over a link a key match recorded (origin manual).
import type { Command } from 'commander';
import { linkManually, listLinks, unlinkRecords } from '../../../staging/control/xref.js';
import { ENTITIES, type Entity, isEntity } from '../../../staging/model/entities.js';
import { systemsByRole } from '../../../staging/model/tenant-config.js';
import type { Runtime } from '../../runtime.js';
import { type CliContext, configuredTenant, UsageError } from '../cli-context.js';
import { formatTable } from '../format-table.js';

interface LinkOptions {
  tenant: string;
  entity: string;
  crm: string;
  erp: string;
  by?: string;
  allowMissing?: boolean;
}

function systemsOf(rt: Runtime, tenant: string): { crm: string; erp: string } {
  const t = configuredTenant(rt.config, tenant);
  const { crm, erp } = systemsByRole(t);
  if (!crm || !erp)
    throw new UsageError(`tenant "${tenant}" needs one system with role crm and one with role erp`);
  return { crm, erp };
}

function checkEntity(entity: string): void {
  if (!isEntity(entity)) throw new UsageError(`unknown entity "${entity}" (known: ${ENTITIES.join(', ')})`);
}

export function registerXrefCommands(program: Command, ctx: CliContext): void {
  const xref = program.command('xref').description('manual links between CRM and ERP records');
  const common = (c: Command) =>
    c
      .requiredOption('--tenant <id>', 'tenant')
      .requiredOption('--entity <name>', `entity (${ENTITIES.join(', ')})`)
      .requiredOption('--crm <id>', 'source id of the CRM record')
      .requiredOption('--erp <id>', 'source id of the ERP record');
  common(xref.command('link').description('link a CRM record to an ERP record'))
    .option('--by <name>', 'who links them (audit; default $USER)')
    .option('--allow-missing', 'link even if staging has no row of a record yet (not extracted yet)')
    .addHelpText(
      'after',
      `
Example:
  $ trueup xref link --tenant acme --entity customer --crm 0015g00000ABC --erp 10042

Both records must be in staging (live or deleted) unless --allow-missing; otherwise exit 1 naming
the missing ones. Linking a pair that a key match linked makes the link manual.`,
    )
    .action(async (opts: LinkOptions, cmd: Command) => {
      checkEntity(opts.entity);
      await ctx.withRuntime(cmd, async (rt) => {
        const s = systemsOf(rt, opts.tenant);
        const done = await linkManually(
          rt.staging.db,
          {
            tenant: opts.tenant,
            entity: opts.entity as Entity,
            crmSystem: s.crm,
            crmId: opts.crm,
            erpSystem: s.erp,
            erpId: opts.erp,
            createdBy: opts.by ?? ctx.env.USER ?? 'cli',
          },
          { allowMissing: opts.allowMissing ?? false },
        );
        const how = done.inserted
          ? ''
          : done.madeManual
            ? ' (was key_match, now manual)'
            : ' (already linked)';
        ctx.out(`linked ${s.crm} ${opts.crm} ↔ ${s.erp} ${opts.erp} (${opts.entity})${how}\n`);
      });
    });
  common(xref.command('unlink').description('remove a link between a CRM record and an ERP record'))
    .addHelpText(
      'after',
      '\nExample:\n  $ trueup xref unlink --tenant acme --entity customer --crm 0015g00000ABC --erp 10042',
    )
    .action(async (opts: LinkOptions, cmd: Command) => {
      checkEntity(opts.entity);
      await ctx.withRuntime(cmd, async (rt) => {
        const s = systemsOf(rt, opts.tenant);
        const n = await unlinkRecords(rt.staging.db, {
          tenant: opts.tenant,
          entity: opts.entity,
          crmSystem: s.crm,
          crmId: opts.crm,
          erpSystem: s.erp,
          erpId: opts.erp,
        });
        if (!n) {
          ctx.out('no such link\n');
          process.exitCode = 1;
        } else ctx.out(`unlinked ${s.crm} ${opts.crm} ↔ ${s.erp} ${opts.erp} (${opts.entity})\n`);
      });
    });
  xref
    .command('list')
    .description('list the links of a tenant and entity')
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--entity <name>', 'entity')
    .addHelpText('after', '\nExample:\n  $ trueup xref list --tenant acme --entity customer')
    .action(async (opts: { tenant: string; entity: string }, cmd: Command) => {
      checkEntity(opts.entity);
      await ctx.withRuntime(cmd, async (rt) => {
        configuredTenant(rt.config, opts.tenant);
        const links = await listLinks(rt.staging.db, opts.tenant, opts.entity);
        ctx.out(
          `${formatTable(
            ['crm system', 'crm id', 'erp system', 'erp id', 'origin', 'by'],
            links.map((l) => [l.crmSystem, l.crmId, l.erpSystem, l.erpId, l.origin, l.createdBy ?? '']),
          )}\n`,
        );
      });
    });
}
