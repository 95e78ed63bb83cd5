// `trueup xref link|unlink|list`: manual cross-system links between a CRM and an ERP record of a
// tenant and entity. Reconciliation treats them like direct keys (explicit links). Linking checks
// that staging has seen both records (a typo would otherwise link nothing to something) unless
// --allow-missing, and takes over a link a key match recorded (origin manual).
import type { Command } from 'commander';
import { listDiscrepancies } from '../../../staging/control/discrepancies.js';
import { linkManually, listLinks, unlinkRecords } from '../../../staging/control/xref.js';
import { ENTITIES, type Entity, isEntity } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import { systemsByRole } from '../../../staging/model/tenant-config.js';
import { tenantStaging } from '../../../staging/scoped-staging.js';
import type { Runtime } from '../../runtime.js';
import { type CliContext, checkIds, configuredTenant, UsageError } from '../cli-context.js';
import { formatTable } from '../format-table.js';

interface LinkOptions {
  tenant: string;
  entity?: string;
  crm?: string;
  erp?: string;
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

/** A discrepancy that cannot give a link (not found, not a missing record, no candidates): exit 1. */
class LinkCandidateError extends TrueupError {
  override name = 'LinkCandidateError';
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
  xref
    .command('link')
    .description('link a CRM record to an ERP record (or a discrepancy to one of its candidates)')
    .requiredOption('--tenant <id>', 'tenant')
    .option('--entity <name>', `entity (${ENTITIES.join(', ')}); implied by --from-candidate`)
    .option('--crm <id>', 'source id of the CRM record')
    .option('--erp <id>', 'source id of the ERP record')
    .option('--from-candidate <discrepancy>', 'a missing_in_* discrepancy: link its record to a candidate')
    .option('--candidate <id>', 'with --from-candidate: which candidate (needed when it has several)')
    .option('--by <name>', 'who links them (audit; default $USER)')
    .option('--allow-missing', 'link even if staging has no row of a record yet (not extracted yet)')
    .addHelpText(
      'after',
      `
Example:
  $ trueup xref link --tenant acme --entity customer --crm 0015g00000ABC --erp 10042
  $ trueup xref link --tenant acme --from-candidate 412 --candidate 10042

Both records must be in staging (live or deleted) unless --allow-missing; otherwise exit 1 naming
the missing ones. Linking a pair that a key match linked makes the link manual. --from-candidate
takes the record and the entity from a missing_in_crm / missing_in_erp discrepancy and links it to
one of the candidate matches \`trueup discrepancies show\` lists; the next reconcile matches them.`,
    )
    .action(async (opts: LinkOptions & { fromCandidate?: string; candidate?: string }, cmd: Command) => {
      if (opts.fromCandidate === undefined) {
        if (!opts.entity || !opts.crm || !opts.erp)
          throw new UsageError(
            'xref link needs --entity, --crm and --erp (or --from-candidate <discrepancy>)',
          );
        checkEntity(opts.entity);
      } else {
        checkIds([opts.fromCandidate], 'discrepancy');
        if (opts.crm || opts.erp)
          throw new UsageError(
            '--from-candidate takes the records from the discrepancy: leave out --crm and --erp',
          );
      }
      await ctx.withRuntime(cmd, async (rt) => {
        const s = systemsOf(rt, opts.tenant);
        let { entity, crm, erp } = opts;
        if (opts.fromCandidate !== undefined) {
          const [d] = await listDiscrepancies(tenantStaging(rt.staging, opts.tenant).db, {
            tenant: opts.tenant,
            ids: [opts.fromCandidate],
          });
          if (!d)
            throw new LinkCandidateError(`tenant ${opts.tenant} has no discrepancy ${opts.fromCandidate}`);
          if (d.class !== 'missing_in_crm' && d.class !== 'missing_in_erp')
            throw new LinkCandidateError(
              `discrepancy ${d.id} is ${d.class}: only a missing_in_crm or missing_in_erp discrepancy has candidates`,
            );
          if (!d.candidates.length)
            throw new LinkCandidateError(
              `discrepancy ${d.id} has no candidate matches; link with --crm and --erp`,
            );
          const pick = opts.candidate ?? (d.candidates.length === 1 ? d.candidates[0] : undefined);
          if (pick === undefined)
            throw new UsageError(
              `discrepancy ${d.id} has ${d.candidates.length} candidates (${d.candidates.join(', ')}): name one with --candidate`,
            );
          if (!d.candidates.includes(pick))
            throw new UsageError(
              `${pick} is not a candidate of discrepancy ${d.id} (candidates: ${d.candidates.join(', ')})`,
            );
          if (opts.entity && opts.entity !== d.entity)
            throw new UsageError(`discrepancy ${d.id} is about ${d.entity}, not ${opts.entity}`);
          entity = d.entity;
          crm = d.class === 'missing_in_erp' ? (d.crmId ?? undefined) : pick;
          erp = d.class === 'missing_in_erp' ? pick : (d.erpId ?? undefined);
          if (!crm || !erp) throw new LinkCandidateError(`discrepancy ${d.id} does not name its record`);
        }
        const done = await linkManually(
          tenantStaging(rt.staging, opts.tenant).db,
          {
            tenant: opts.tenant,
            entity: entity as Entity,
            crmSystem: s.crm,
            crmId: crm!,
            erpSystem: s.erp,
            erpId: erp!,
            createdBy: opts.by ?? ctx.env.USER ?? 'cli',
          },
          { allowMissing: opts.allowMissing ?? false },
        );
        const how = done.inserted
          ? ''
          : done.madeManual
            ? ' (was key_match, now manual)'
            : ' (already linked)';
        ctx.out(`linked ${s.crm} ${crm} ↔ ${s.erp} ${erp} (${entity})${how}\n`);
      });
    });
  common(xref.command('unlink').description('remove a link between a CRM record and an ERP record'))
    .addHelpText(
      'after',
      '\nExample:\n  $ trueup xref unlink --tenant acme --entity customer --crm 0015g00000ABC --erp 10042',
    )
    .action(async (opts: Required<Pick<LinkOptions, 'tenant' | 'entity' | 'crm' | 'erp'>>, cmd: Command) => {
      checkEntity(opts.entity);
      await ctx.withRuntime(cmd, async (rt) => {
        const s = systemsOf(rt, opts.tenant);
        const n = await unlinkRecords(tenantStaging(rt.staging, opts.tenant).db, {
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
        const links = await listLinks(tenantStaging(rt.staging, opts.tenant).db, opts.tenant, opts.entity);
        ctx.out(
          `${formatTable(
            ['crm system', 'crm id', 'erp system', 'erp id', 'origin', 'by'],
            links.map((l) => [l.crmSystem, l.crmId, l.erpSystem, l.erpId, l.origin, l.createdBy ?? '']),
          )}\n`,
        );
      });
    });
}
