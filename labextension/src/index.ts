import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';

import { RunSummary } from './model';
import { RunView } from './runview';
import { AutoMLSidebar } from './sidebar';

const ICON = new LabIcon({
  name: 'automl-widgets:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="13" width="4" height="8" rx="1"/><rect x="10" y="8" width="4" height="13" rx="1"/>' +
    '<rect x="17" y="3" width="4" height="18" rx="1"/></g></svg>'
});

const OPEN_RUN = 'automl-widgets:open-run';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'automl-widgets:plugin',
  description: 'An AutoML sidebar over the workspace: experiments, runs, live run views.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const tracker = new WidgetTracker<MainAreaWidget<RunView>>({ namespace: 'automl-widgets-run' });
    let sidebar: AutoMLSidebar;
    app.commands.addCommand(OPEN_RUN, {
      label: 'Open AutoML run',
      execute: args => {
        const id = String(args.id);
        const open = tracker.find(w => w.content.runId === id);
        if (open) {
          app.shell.activateById(open.id);
          return open;
        }
        const widget = new MainAreaWidget({ content: new RunView(id, () => sidebar.refreshSoon()) });
        widget.id = `automl-run-${id}`;
        widget.title.label = widget.content.title.label;
        widget.title.caption = id;
        widget.title.icon = ICON;
        void tracker.add(widget);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        return widget;
      }
    });
    sidebar = new AutoMLSidebar({
      openRun: (run: RunSummary) => void app.commands.execute(OPEN_RUN, { id: run.id }),
      openNotebook: (path: string) => void app.commands.execute('docmanager:open', { path })
    });
    sidebar.title.icon = ICON;
    app.shell.add(sidebar, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
      void restorer.restore(tracker, {
        command: OPEN_RUN,
        args: w => ({ id: w.content.runId }),
        name: w => w.content.runId
      });
    }
  }
};

export default plugin;
