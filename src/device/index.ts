import { CommandTree } from '../xapi/schema.js';
import * as alarms from './alarms.js';
import * as brand from './brand.js';
import * as licensing from './licensing.js';
import * as optionKeys from './optionkeys.js';
import * as reservation from './reservation.js';
import * as reset from './reset.js';
import * as simulator from './simulator.js';
import * as systemUnit from './systemunit.js';

/**
 * The device's whole command tree. Each subsystem registers its configuration
 * leaves, commands and status nodes here, in the order help lists them.
 */
let tree: CommandTree | undefined;

export function commandTree(): CommandTree {
  if (tree) return tree;
  tree = new CommandTree();
  systemUnit.register(tree);
  // Reservation first: its ReservationEnable leads the License Smart settings, as in
  // the device's own listing (§3.1).
  reservation.register(tree);
  licensing.register(tree);
  brand.register(tree);
  optionKeys.register(tree);
  alarms.register(tree);
  reset.register(tree);
  simulator.register(tree);
  return tree;
}
