// The iteration table is one file for both front ends: RunDetails (anywidget) and this
// panel use automl_widgets/widget/table.js, copied here before each build.
import { copyFileSync, mkdirSync } from "node:fs";
mkdirSync("src/shared", { recursive: true });
for (const name of ["table.js", "table.css"]) {
  copyFileSync(`../automl_widgets/widget/${name}`, `src/shared/${name}`);
}
