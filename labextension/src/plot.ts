// A small SVG plot of one metric per iteration (points) and its best-so-far steps: the
// notebook widget draws the same with plotly; the panel stays light.
const NS = 'http://www.w3.org/2000/svg';

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export function drawPlot(
  host: HTMLElement,
  metric: string,
  points: [number, number][],
  steps: [number, number][],
  onPick: (iteration: number) => void
): void {
  const W = 520, H = 260, L = 60, R = 15, T = 15, B = 40;
  const svg = el('svg', { width: W, height: H, class: 'aw-plot' });
  const xs = points.map(p => p[0]);
  const ys = points.map(p => p[1]);
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (y0 === y1) {
    y0 -= 0.5 * (Math.abs(y0) || 1);
    y1 += 0.5 * (Math.abs(y1) || 1);
  }
  const sx = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  svg.appendChild(el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'aw-axis' }));
  svg.appendChild(el('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'aw-axis' }));
  for (const y of [y0, (y0 + y1) / 2, y1]) {
    svg.appendChild(el('text', { x: L - 6, y: sy(y) + 4, 'text-anchor': 'end', class: 'aw-tick' },
      y.toPrecision(4)));
  }
  for (const x of Array.from(new Set([x0, Math.round((x0 + x1) / 2), x1]))) {
    svg.appendChild(el('text', { x: sx(x), y: H - B + 15, 'text-anchor': 'middle', class: 'aw-tick' },
      String(x)));
  }
  svg.appendChild(el('text', { x: (L + W - R) / 2, y: H - 5, 'text-anchor': 'middle', class: 'aw-label' },
    'iteration'));
  svg.appendChild(el('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', class: 'aw-label aw-ytitle',
    transform: `rotate(-90 14 ${(T + H - B) / 2})` }, metric));
  if (steps.length) {
    let d = `M ${sx(steps[0][0])} ${sy(steps[0][1])}`;
    for (let i = 1; i < steps.length; i++) {
      d += ` H ${sx(steps[i][0])} V ${sy(steps[i][1])}`;   // stepped: across, then down/up
    }
    svg.appendChild(el('path', { d, class: 'aw-best' }));
  }
  for (const [x, y] of points) {
    const dot = el('circle', { cx: sx(x), cy: sy(y), r: 4.5, class: 'aw-point' });
    dot.dataset.iteration = String(x);
    dot.appendChild(el('title', {}, `iteration ${x}: ${y.toFixed(4)}`));
    dot.addEventListener('click', () => onPick(x));
    svg.appendChild(dot);
  }
  host.replaceChildren(svg);
}
