import { ExshError } from '../errors.js';
import { enumSpace, stringSpace } from '../xapi/schema.js';
import type { Subsystem } from './model.js';
import { holdsRegistration } from './registration-state.js';
import { readReservation, reservationSection, reservationStatus } from './reservation-state.js';
import { reservationStatusPart } from './reservation-status.js';

/**
 * License reservation, PLR and SLR (§6): the ReservationEnable leaf, the five
 * `xCommand License Smart Reservation` commands and the reservation's part of
 * `xStatus License Smart`. The state machine itself is in reservation-engine.ts, loaded
 * when a reservation command runs (it brings the codecs and node:crypto).
 */

/** The longest code accepted: an SLR XML with every catalogue line fits many times over. */
export const MAX_CODE_CHARS = 65536;

// The device's own sentences: these lines are the contract. As the Expressway X14.2
// documentation prints them, Request and Return (and ReturnAuthorization) leave a blank
// line between the command and their sentence; Install prints its sentence at once.
export const REQUEST_PROMPT = 'Enter the following reservation request code into the CSSM:';
export const INSTALLED = 'Authorization code installed.';
export const CONFIRMATION_PROMPT = 'Please enter the confirmation code to CSSM account:';
export const RETURN_PROMPT = 'Enter the following return code into the CSSM:';

const engine = () => import('./reservation-engine.js');

const codeParam = {
  name: 'AuthorizationCode',
  space: stringSpace(1, MAX_CODE_CHARS),
  required: true,
  positional: true,
  body: true,
  help: 'The authorization code from the CSSM: the PLR code, or the SLR XML in double quotes (or as a multi-line body ending with a line holding only ".").',
} as const;

export const reservation: Subsystem = {
  name: 'reservation',
  sections: [reservationSection],
  statusParts: [{ node: 'License', build: reservationStatusPart }],
  config: [
    {
      path: ['License', 'Smart', 'ReservationEnable'],
      space: enumSpace('On', 'Off'),
      default: 'Off',
      help: 'License reservation (PLR / SLR) for systems that cannot reach the CSSM. Off by default; the product must not be registered to the CSSM.',
      onSet: (ctx, value, previous) => {
        if (value === previous) return;
        if (value === 'On') {
          if (holdsRegistration(ctx.state)) {
            throw new ExshError(
              'reservation.registered',
              'License reservation cannot be enabled while this product is registered to the CSSM; deregister it first (xCommand License Smart Deregister).',
            );
          }
          return;
        }
        const section = readReservation(ctx.state);
        const status = reservationStatus(section);
        if (status === 'Not Reserved') return;
        throw new ExshError(
          'reservation.cannotDisable',
          section.installed
            ? `License reservation cannot be turned off while a reservation is installed (${status}); return it first with xCommand License Smart Reservation Return.`
            : 'License reservation cannot be turned off while a reservation request is in progress; cancel it first with xCommand License Smart Reservation Cancel.',
        );
      },
    },
  ],
  commands: [
    {
      path: ['License', 'Smart', 'Reservation', 'Request'],
      help: 'Prints the reservation request code to enter into the CSSM. While a request is in progress it prints the same code again.',
      params: [],
      mutates: true,
      handler: async (ctx) => {
        const { requestCode } = (await engine()).requestReservation(ctx);
        return { text: ['', REQUEST_PROMPT, requestCode], fields: { RequestCode: requestCode } };
      },
    },
    {
      path: ['License', 'Smart', 'Reservation', 'Install'],
      help: 'Installs the reservation authorization code from the CSSM, completing the reservation (or updating an SLR).',
      params: [codeParam],
      mutates: true,
      handler: async (ctx, p) => {
        const r = (await engine()).installReservation(ctx, String(p.AuthorizationCode));
        if (r.confirmationCode === undefined) return { text: [INSTALLED] };
        return { text: [INSTALLED, `${CONFIRMATION_PROMPT} ${r.confirmationCode}`], fields: { ConfirmationCode: r.confirmationCode } };
      },
    },
    {
      path: ['License', 'Smart', 'Reservation', 'Return'],
      help: 'Removes the installed authorization code and prints the return code to enter into the CSSM.',
      params: [],
      mutates: true,
      handler: async (ctx) => {
        const code = (await engine()).returnReservation(ctx);
        return { text: ['', RETURN_PROMPT, code], fields: { ReturnCode: code } };
      },
    },
    {
      path: ['License', 'Smart', 'Reservation', 'ReturnAuthorization'],
      help: 'Prints the return code for an authorization code that was never installed, so the CSSM can release its licences.',
      params: [codeParam],
      mutates: true,
      handler: async (ctx, p) => {
        const code = (await engine()).returnAuthorization(ctx, String(p.AuthorizationCode));
        return { text: ['', RETURN_PROMPT, code], fields: { ReturnCode: code } };
      },
    },
    {
      path: ['License', 'Smart', 'Reservation', 'Cancel'],
      help: 'Cancels the reservation request in progress; the next Request makes a new code.',
      params: [],
      mutates: true,
      handler: async (ctx) => {
        (await engine()).cancelReservation(ctx);
        return {};
      },
    },
  ],
};
