// The shared iteration table (automl_widgets/widget/table.js) expects an anywidget model;
// this is one held in the page, fed from the REST API instead of a kernel.
type Handler = (...args: unknown[]) => void;

export class LocalModel {
  private handlers = new Map<string, Set<Handler>>();
  private rows: unknown[] = [];

  constructor(private values: Record<string, unknown>) {}

  get(key: string): unknown {
    return this.values[key];
  }

  set(key: string, value: unknown): void {
    if (this.values[key] !== value) {
      this.values[key] = value;
      this.emit(`change:${key}`, value);
    }
  }

  save_changes(): void {
    /* nothing to sync: the page holds the only copy */
  }

  on(name: string, handler: Handler): void {
    if (!this.handlers.has(name)) {
      this.handlers.set(name, new Set());
    }
    this.handlers.get(name)!.add(handler);
  }

  off(name: string, handler: Handler): void {
    this.handlers.get(name)?.delete(handler);
  }

  /** What the table sends: it asks for a snapshot once it listens. */
  send(msg: { type?: string }): void {
    if (msg.type === 'snapshot') {
      this.emit('msg:custom', { type: 'rows', rows: this.rows, reset: true });
    }
  }

  setRows(rows: unknown[]): void {
    this.rows = rows;
    this.emit('msg:custom', { type: 'rows', rows, reset: true });
  }

  private emit(name: string, ...args: unknown[]): void {
    this.handlers.get(name)?.forEach(h => h(...args));
  }
}
