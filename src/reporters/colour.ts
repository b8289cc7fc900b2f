/** ANSI colours, used only when stdout is a terminal and NO_COLOR is unset (https://no-color.org). */
const wrap = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;

export const paint = {
  red: wrap(31, 39),
  yellow: wrap(33, 39),
  green: wrap(32, 39),
  cyan: wrap(36, 39),
  dim: wrap(2, 22),
  bold: wrap(1, 22),
};

export function severityPaint(severity: string): ((text: string) => string) | undefined {
  if (severity === 'critical') return paint.red;
  if (severity === 'warning') return paint.yellow;
  if (severity === 'ok') return paint.green;
  if (severity === 'skipped' || severity === 'info') return paint.cyan;
  if (severity === 'error') return paint.red;
  return undefined;
}
