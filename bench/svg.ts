/** A small, dependency-free SVG line chart: latency against load, log axes where asked. */

export interface Series {
  name: string;
  points: [x: number, y: number][];
  /** Stroke colour; a palette colour by position otherwise. */
  color?: string;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  logY?: boolean;
  /** Horizontal reference lines (targets), drawn dotted with their label. */
  hlines?: { y: number; label: string }[];
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** Compact tick label: 1500 → 1.5k, 0.25 → 0.25. */
export function formatTick(value: number): string {
  const abs = Math.abs(value);
  const trim = (x: number) => String(Number(x.toPrecision(3)));
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e3) return `${trim(value / 1e3)}k`;
  return trim(value);
}

/** Ticks for a log axis: 1, 2, 5 per decade within [min, max]. */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  for (let e = lo; e <= hi; e += 1) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(Number(v.toPrecision(3)));
    }
  }
  return ticks;
}

/** About `count` round ticks for a linear axis covering [min, max]. */
export function linearTicks(min: number, max: number, count = 5): number[] {
  if (max <= min) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(6)));
  }
  return ticks;
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
}

function axis(values: number[], log: boolean): Axis {
  const usable = log ? values.filter((v) => v > 0) : values;
  if (usable.length === 0) return { min: log ? 1 : 0, max: log ? 10 : 1, log };
  let min = Math.min(...usable);
  let max = Math.max(...usable);
  if (log) {
    min = 10 ** Math.floor(Math.log10(min));
    max = 10 ** Math.ceil(Math.log10(max));
    if (max === min) max = min * 10;
  } else {
    min = Math.min(0, min);
    if (max === min) max = min + 1;
    max *= 1.05;
  }
  return { min, max, log };
}

function scale(a: Axis, from: number, to: number): (v: number) => number {
  if (a.log) {
    const l0 = Math.log10(a.min);
    const l1 = Math.log10(a.max);
    return (v) => from + ((Math.log10(Math.max(v, a.min)) - l0) / (l1 - l0)) * (to - from);
  }
  return (v) => from + ((v - a.min) / (a.max - a.min)) * (to - from);
}

export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const margin = { left: 70, right: 190, top: 40, bottom: 55 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const series = options.series.filter((s) => s.points.length > 0);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [
    ...series.flatMap((s) => s.points.map((p) => p[1])),
    ...(options.hlines ?? []).map((h) => h.y),
  ];
  const xa = axis(xs, options.logX ?? false);
  const ya = axis(ys, options.logY ?? false);
  const sx = scale(xa, margin.left, margin.left + plotW);
  const sy = scale(ya, margin.top + plotH, margin.top);
  const xTicks = xa.log ? logTicks(xa.min, xa.max) : linearTicks(xa.min, xa.max);
  const yTicks = ya.log ? logTicks(ya.min, ya.max) : linearTicks(ya.min, ya.max);
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  );
  for (const t of yTicks) {
    const y = f(sy(t));
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    const x = f(sx(t));
    out.push(
      `<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${margin.top + plotH + 16}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  for (const h of options.hlines ?? []) {
    const y = f(sy(h.y));
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="2 3"/>`,
      `<text x="${margin.left + 4}" y="${Number(y) - 4}" fill="#555">${escapeXml(h.label)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const points = [...s.points].sort((a, b) => a[0] - b[0]);
    const d = points.map((p, k) => `${k === 0 ? 'M' : 'L'}${f(sx(p[0]))} ${f(sy(p[1]))}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const p of points) {
      out.push(`<circle cx="${f(sx(p[0]))}" cy="${f(sy(p[1]))}" r="3" fill="${color}"/>`);
    }
    const ly = margin.top + 10 + i * 18;
    const lx = margin.left + plotW + 14;
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
