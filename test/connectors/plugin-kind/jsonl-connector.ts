// A connector kind that lives outside trueup's source tree, as a plugin's would: JSON-lines files,
// one record a line ({"id", "version", "fields"}), read on from the line the checkpoint holds.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Connector } from '../../../pipeline/connectors/contract.js';
import { addChange, newPendingUnit } from '../../../pipeline/connectors/pending-unit.js';
import { ENTITIES } from '../../../staging/model/entities.js';

const jsonlSystemConfig = z.looseObject({
  kind: z.literal('jsonl'),
  role: z.enum(['crm', 'erp']),
  file: z.string().min(1),
  entity: z.enum(ENTITIES).default('customer'),
});
type JsonlSystemConfig = z.infer<typeof jsonlSystemConfig>;

/** Lines staged so far. */
interface JsonlPosition {
  line: number;
}

export const jsonlConnector: Connector<JsonlSystemConfig> = {
  kind: 'jsonl',
  title: 'JSON-lines files (a plugin kind defined by a test)',
  configSchema: jsonlSystemConfig,
  parseConfig: (loaded) => jsonlSystemConfig.parse(loaded),
  capture: {
    mode: 'passes',
    open: ({ config }) => ({
      streams: [
        {
          name: 'lines',
          entity: config.entity,
          start: (saved: JsonlPosition | undefined) => ({
            mode: saved ? 'incremental' : 'full',
            read: async (out) => {
              const lines = (await readFile(config.file, 'utf8')).split('\n').filter(Boolean);
              const unit = newPendingUnit();
              for (const text of lines.slice(saved?.line ?? 0)) {
                const r = JSON.parse(text) as {
                  id: string;
                  version: number;
                  fields: Record<string, unknown>;
                };
                addChange(unit, config.entity, {
                  sourceId: r.id,
                  version: BigInt(r.version),
                  op: 'upsert',
                  fields: r.fields,
                });
                out.received();
              }
              await out.commit({ line: lines.length }, unit, config.file);
            },
          }),
        },
      ],
    }),
  },
};
