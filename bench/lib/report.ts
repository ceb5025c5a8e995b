// The shape every suite returns, and how it is judged and printed; shared by all suites.

/**
 * A goal for a figure: relative to the baseline (`ratio`), an absolute bound (`floor`), or a bound on the
 * difference from the baseline (`delta`). `min` is the bound: a minimum when higher is better, else a maximum.
 */
export type Target =
  | { readonly kind: 'ratio'; readonly min: number }
  | { readonly kind: 'floor'; readonly min: number }
  | { readonly kind: 'delta'; readonly min: number };

/** One measured figure of the system under test, with its baseline when there is one. */
export interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly baseline?: number;
  /** Which way is better; ratios are always value / baseline. */
  readonly better: 'higher' | 'lower';
  readonly target?: Target;
  /** Every round's value (the figure itself sums them up, as the suite's notes say). */
  readonly rounds?: readonly number[];
  readonly baselineRounds?: readonly number[];
  /** The same figure for other systems measured alongside, by name (see `SuiteResult.others`). */
  readonly others?: Readonly<Record<string, number>>;
}

export interface SuiteResult {
  readonly suite: string;
  /** What "baseline" means in this suite. */
  readonly baselineName: string;
  /** Other systems measured alongside: a column each, with its ratio to the baseline. */
  readonly others?: readonly string[];
  readonly figures: readonly Figure[];
  readonly notes: readonly string[];
  readonly seconds: number;
}

/** What a suite is given: where its progress lines go. */
export interface SuiteOptions {
  log?: (line: string) => void;
}

export type Verdict = 'ok' | 'below' | null;

/** value / baseline, or NaN without a baseline. */
export function ratioOf(figure: Figure): number {
  return figure.baseline === undefined || figure.baseline === 0 ? NaN : figure.value / figure.baseline;
}

/** Whether a figure meets its target (null when it has none). */
export function verdict(figure: Figure): Verdict {
  const target = figure.target;
  if (target === undefined) return null;
  const measured = target.kind === 'ratio' ? ratioOf(figure) : target.kind === 'delta' ? figure.value - (figure.baseline ?? NaN) : figure.value;
  if (Number.isNaN(measured)) return 'below';
  return (figure.better === 'higher' ? measured >= target.min : measured <= target.min) ? 'ok' : 'below';
}

/** A number with thousands separators and a sensible number of decimals. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return '-';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function formatTarget(figure: Figure): string {
  const target = figure.target;
  if (target === undefined) return '';
  const sign = figure.better === 'higher' ? '≥' : '≤';
  if (target.kind === 'ratio') return `${sign} ${target.min}×`;
  return target.kind === 'delta' ? `${sign} +${formatNumber(target.min)}` : `${sign} ${formatNumber(target.min)}`;
}

/** Lays out rows as aligned columns (first column left, the others right). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

function formatRatio(value: number, baseline: number | undefined): string {
  return baseline === undefined || baseline === 0 || Number.isNaN(baseline) || Number.isNaN(value) ? '' : `${(value / baseline).toFixed(2)}×`;
}

/** A suite's figures as a table: figure, value, baseline, ratio, each other system and its ratio, target, verdict. */
export function formatSuite(result: SuiteResult): string {
  const others = result.others ?? [];
  const rows: string[][] = [['figure', 'dae', result.baselineName, 'ratio', ...others.flatMap((name) => [name, 'ratio']), 'target', '']];
  for (const figure of result.figures) {
    const other = others.flatMap((name) => {
      const value = figure.others?.[name];
      return value === undefined ? ['', ''] : [formatNumber(value), formatRatio(value, figure.baseline)];
    });
    rows.push([
      `${figure.name} (${figure.unit})`,
      formatNumber(figure.value),
      figure.baseline === undefined ? '' : formatNumber(figure.baseline),
      formatRatio(figure.value, figure.baseline),
      ...other,
      formatTarget(figure),
      verdict(figure) ?? '',
    ]);
  }
  const head = `== ${result.suite} (${result.seconds.toFixed(1)} s; ratio = dae / ${result.baselineName}) ==`;
  return [head, table(rows), ...result.notes.map((note) => `  ${note}`)].join('\n');
}
