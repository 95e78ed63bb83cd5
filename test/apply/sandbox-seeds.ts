// Generated customers as each vendor sandbox holds them: the demo's seeds
// (pipeline/demo/sandbox-seeds.ts), which the write-back loop tests use as they are.
export {
  HUBSPOT_OVERRIDES,
  hubspotCompanies,
  netsuiteCustomers,
  SALESFORCE_OVERRIDES,
  salesforceAccounts,
} from '../../pipeline/demo/sandbox-seeds.js';
