declare module '*/shared/runview.js' {
  const view: {
    initialize(args: { model: unknown }): unknown;
    render(args: { model: unknown; el: HTMLElement }): unknown;
  };
  export default view;
  export function plotRange(values: number[]): [number, number] | null;
}
