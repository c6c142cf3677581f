/** The in-process benchmarks `npm run bench` runs (bundled as dist/bench.cjs). */
export { benchReservations } from './cssm/bench.js';
export { benchInstalls } from './device/reservation-bench.js';
