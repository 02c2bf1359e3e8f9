// Module hooks registered by vitest_report.cjs in a Vitest CLI process, and only there.
//
// The one module of Vitest's own dist that declares `class Vitest` gets a line appended that hands the class to
// the preloaded hook (vitest_report.cjs), which wraps how it reads its configuration. Chunk names and exports
// change between Vitest versions; the class name has not. Nothing else is touched.
const INSTALL = "globalThis[Symbol.for('factory.vitest.install')]?.(Vitest);";
const DECLARES_VITEST = /^class Vitest \{/m;

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (!url.startsWith('file:') || !/\/node_modules\/vitest\/dist\//.test(url) || loaded.format !== 'module'
      || loaded.source == null) {
    return loaded;
  }
  const source = typeof loaded.source === 'string' ? loaded.source : new TextDecoder().decode(loaded.source);
  if (!DECLARES_VITEST.test(source)) {
    return loaded;
  }
  return {...loaded, source: `${source}\n${INSTALL}\n`};
}
