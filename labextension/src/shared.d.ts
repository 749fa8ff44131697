declare module '*/shared/table.js' {
  const table: {
    initialize(args: { model: unknown }): unknown;
    render(args: { model: unknown; el: HTMLElement }): unknown;
  };
  export default table;
}
