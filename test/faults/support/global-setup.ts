import { printDrillReport, resetDrillReport } from './drill-report';

/** Vitest global setup of the fault drills: a fresh table before, printed after. */
export default function setup(): () => void {
  resetDrillReport();
  return () => printDrillReport();
}
