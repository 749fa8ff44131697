// The run view is one module for both front ends: RunDetails (anywidget, which loads the
// bundle build:view makes of it) and this panel use automl_widgets/widget/runview.js,
// copied here before each build.
import { copyFileSync, mkdirSync } from "node:fs";
mkdirSync("src/shared", { recursive: true });
for (const name of ["runview.js", "runview.css"]) {
  copyFileSync(`../automl_widgets/widget/${name}`, `src/shared/${name}`);
}
