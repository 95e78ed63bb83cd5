// The demo's own failure: a step that did not complete (a sync or reconcile that failed, a demo
// still running in the folder, a stop request), named with its tenant where it has one.
import { TrueupError } from '../../staging/model/errors.js';

export class DemoError extends TrueupError {
  override name = 'DemoError';
}
