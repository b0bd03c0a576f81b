/**
 * The layers of Bellwether and the directions imports may take between them (README "Layout",
 * /work/shared/STYLE.md). `npm run deps` checks them; `npm test` runs it. Type-only imports count:
 * a layer that names another layer's types depends on it.
 *
 *   contract/   → nothing
 *   lib/        → contract
 *   operators/  → contract, lib
 *   models/     → operators, contract, lib
 *   security/   → contract, lib
 *   engine/     → operators, models, security, contract, lib
 *   api/        → engine/view.ts (types only), security, contract, operators, lib
 *   feeds/      → contract, lib, models/datasets
 *   cli/        → everything above (it wires the engine, the API and the feeds)
 *   bench/, test/ → anything
 *
 * Node built-ins and npm dependencies are allowed everywhere; devDependencies only in bench/ and test/.
 */

/** The folders that hold the shipped code (bench/ and test/ are not shipped). */
const SOURCE = '^(contract|lib|operators|models|security|engine|api|feeds|cli)/';
/** Every top-level folder with TypeScript in it. */
const ANY_LAYER = '^(contract|lib|operators|models|security|engine|api|feeds|cli|bench|test)/';

/** A rule: files under `layer/` import from no top-level folder but `allowed` (and their own). */
function layer(name, allowed, comment) {
  const mayImport = [name, ...allowed];
  return {
    name: `${name}-imports-only-${allowed.length ? allowed.join('-') : 'itself'}`,
    comment,
    severity: 'error',
    from: { path: `^${name}/` },
    to: { path: ANY_LAYER, pathNot: `^(${mayImport.join('|')})/` },
  };
}

module.exports = {
  forbidden: [
    layer('contract', [], 'contract/ is the bottom layer: event types, schema, subjects, coded errors.'),
    layer('lib', ['contract'], 'lib/ holds small helpers over contract/ only.'),
    layer(
      'operators',
      ['contract', 'lib'],
      'Operators are pure: they know events and helpers, nothing else.',
    ),
    layer('models', ['operators', 'contract', 'lib'], 'Models score operator features.'),
    layer('security', ['contract', 'lib'], 'security/ is a plain library: no engine, no HTTP.'),
    layer(
      'engine',
      ['operators', 'models', 'security', 'contract', 'lib'],
      'The engine never imports the API, the feeds or the CLI: cli/run.ts wires them together.',
    ),
    {
      name: 'api-imports-only-engine-view-security-contract-operators-lib',
      comment:
        'api/ serves an EngineView: of engine/ it sees engine/view.ts alone (the engine implements the view, tests fake it).',
      severity: 'error',
      from: { path: '^api/' },
      to: {
        path: ANY_LAYER,
        pathNot: ['^(api|security|contract|operators|lib)/', '^engine/view\\.ts$'],
      },
    },
    {
      name: 'api-imports-engine-view-as-types',
      comment: 'engine/view.ts is types only for api/: `import type`, no code of the engine in the API.',
      severity: 'error',
      from: { path: '^api/' },
      to: { path: '^engine/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'feeds-imports-only-contract-lib-models-datasets',
      comment: 'Feeds make and replay events: they read datasets, nothing of the engine or the API.',
      severity: 'error',
      from: { path: '^feeds/' },
      to: { path: ANY_LAYER, pathNot: ['^(feeds|contract|lib)/', '^models/datasets/'] },
    },
    {
      name: 'source-imports-no-bench-or-test',
      comment: 'Shipped code never imports benchmarks or tests.',
      severity: 'error',
      from: { path: SOURCE },
      to: { path: '^(bench|test)/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycle between files.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      comment: 'No import cycle between folders (engine/ and engine/pool/ count as two).',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'A source file nothing imports and that imports nothing is dead.',
      severity: 'error',
      from: { orphan: true, path: SOURCE, pathNot: '\\.d\\.ts$' },
      to: {},
    },
    {
      name: 'not-to-dev-dependency',
      comment: 'Shipped code runs without devDependencies (npm ci --omit=dev in the Dockerfile).',
      severity: 'error',
      from: { path: SOURCE },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves to a file or an installed package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      comment: 'Every npm package imported is declared in package.json.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-duplicate-dep-types',
      comment: 'A package is a dependency or a devDependency, not both.',
      severity: 'error',
      from: {},
      to: { moreThanOneDependencyType: true, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-deprecated-core',
      comment: 'No deprecated Node built-ins.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['core'], path: '^(punycode|domain|constants|sys|_linklist|_stream_wrap)$' },
    },
    {
      name: 'not-to-deprecated',
      comment: 'No deprecated npm packages.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['deprecated'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies between layers too.
    tsPreCompilationDeps: true,
    // NodeNext: `./x.js` in a .ts file is ./x.ts.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
