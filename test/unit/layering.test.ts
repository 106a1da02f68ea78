import fs from 'node:fs';
import path from 'node:path';

/**
 * The folder layering (README "Architecture"), read from the sources' import statements:
 *
 *   protocol  ←  common  ←  mediaserver  ←  origin, edge, discovery  ←  local, chaos  ←  bin
 *
 * A folder imports its own files and folders of lower layers only. Services (origin, edge,
 * discovery) do not import each other, except the allowed exceptions below. `protocol/` is pure:
 * Node built-ins only. And the edge's module graph reaches no node-media-server module (the edge
 * runs its own media plane; test/integration/edge-no-nms.test.ts checks the built process too).
 */

const ROOT = path.resolve(__dirname, '..', '..');

const LAYERS: Record<string, number> = {
  protocol: 0,
  common: 1,
  mediaserver: 2,
  origin: 3,
  edge: 3,
  discovery: 3,
  local: 4,
  chaos: 4,
  bin: 5,
};

/** Imports across the layering that are allowed, each with its reason. Keys: "<from folder> -> <target file or folder>". */
const ALLOWED: Record<string, string> = {
  'origin -> discovery/client': 'origins use discovery only through its HTTP client',
  'origin -> discovery/types': 'the wire contract types of that client',
  'edge -> discovery/client': 'edges use discovery only through its HTTP client',
  'edge -> discovery/types': 'the wire contract types of that client',
  'chaos -> test/helpers': 'the chaos runner drives real processes with the integration tests\' helpers (spawn, encoders, viewers)',
};

interface ImportRef {
  file: string;
  spec: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(p));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[^;']*?\s+from\s+)?'([^']+)'/gm;
const REQUIRE = /\brequire\(\s*'([^']+)'\s*\)|\bimport\(\s*'([^']+)'\s*\)/g;

function importsOf(file: string): ImportRef[] {
  const text = fs.readFileSync(file, 'utf8');
  const refs: ImportRef[] = [];
  for (const m of text.matchAll(IMPORT)) {
    // `import { type A, type B } from` is type-only too (elided by TypeScript).
    const named = /^\s*(?:import|export)\s+\{([^}]*)\}/.exec(m[0]);
    const allTypes = named !== null && named[1].split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '));
    refs.push({ file, spec: m[2], typeOnly: m[1] !== undefined || allTypes });
  }
  for (const m of text.matchAll(REQUIRE)) refs.push({ file, spec: m[1] ?? m[2], typeOnly: false });
  return refs;
}

/** Repository-relative path without extension of a relative import; null for packages. */
function resolveLocal(ref: ImportRef): string | null {
  if (!ref.spec.startsWith('.')) return null;
  return path.relative(ROOT, path.resolve(path.dirname(ref.file), ref.spec)).split(path.sep).join('/');
}

function folderOf(rel: string): string {
  return rel.split('/')[0];
}

const allImports = Object.keys(LAYERS).flatMap((folder) => sourceFiles(path.join(ROOT, folder)).flatMap(importsOf));

describe('layering', () => {
  it('every folder imports only itself, lower layers, or an allowed exception', () => {
    const violations: string[] = [];
    for (const ref of allImports) {
      const target = resolveLocal(ref);
      if (target === null) continue;
      const from = folderOf(path.relative(ROOT, ref.file));
      const to = folderOf(target);
      if (from === to) continue;
      const allowed = Object.keys(ALLOWED).some((k) => {
        const [f, t] = k.split(' -> ');
        return f === from && (target === t || target.startsWith(`${t}/`));
      });
      if (allowed) continue;
      const lower = LAYERS[to] !== undefined && LAYERS[to] < LAYERS[from];
      if (!lower) violations.push(`${path.relative(ROOT, ref.file)} imports ${target}`);
    }
    expect(violations).toEqual([]);
  });

  it('protocol/ is pure: Node built-ins and its own files only', () => {
    const outside = allImports
      .filter((r) => path.relative(ROOT, r.file).startsWith('protocol/'))
      .filter((r) => (r.spec.startsWith('.') ? folderOf(resolveLocal(r) ?? '') !== 'protocol' : !r.spec.startsWith('node:')))
      .map((r) => `${path.relative(ROOT, r.file)} imports ${r.spec}`);
    expect(outside).toEqual([]);
  });

  it('every allowed exception is still needed', () => {
    const used = new Set<string>();
    for (const ref of allImports) {
      const target = resolveLocal(ref);
      if (target === null) continue;
      const from = folderOf(path.relative(ROOT, ref.file));
      for (const k of Object.keys(ALLOWED)) {
        const [f, t] = k.split(' -> ');
        if (f === from && (target === t || target.startsWith(`${t}/`))) used.add(k);
      }
    }
    expect(Object.keys(ALLOWED).filter((k) => !used.has(k))).toEqual([]);
  });

  it('the edge module graph (runtime imports from edge/main.ts) reaches no node-media-server module', () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const ref of importsOf(file)) {
        if (ref.typeOnly) continue;
        const target = resolveLocal(ref);
        if (target === null) {
          packages.add(ref.spec);
          continue;
        }
        const ts = path.join(ROOT, `${target}.ts`);
        visit(fs.existsSync(ts) ? ts : path.join(ROOT, target, 'index.ts'));
      }
    };
    visit(path.join(ROOT, 'edge', 'main.ts'));
    const modules = [...seen].map((f) => path.relative(ROOT, f));
    expect(modules).toContain('edge/service.ts');
    expect(modules.filter((m) => m === 'mediaserver/nms-host.ts' || m.startsWith('origin/'))).toEqual([]);
    expect([...packages].filter((p) => p.startsWith('node-media-server'))).toEqual([]);
  });

  const importsFrom = (file: string): string[] => importsOf(path.join(ROOT, file)).map(resolveLocal).filter((t): t is string => t !== null);
  const under = (...dirs: string[]) => (target: string): boolean => dirs.some((d) => target === d || target.startsWith(`${d}/`));

  it('protocol/mpegts does not import protocol/hls (the shared media message lives below both)', () => {
    const offenders = allImports
      .filter((r) => path.relative(ROOT, r.file).startsWith('protocol/mpegts/'))
      .filter((r) => under('protocol/hls')(resolveLocal(r) ?? ''))
      .map((r) => `${path.relative(ROOT, r.file)} imports ${r.spec}`);
    expect(offenders).toEqual([]);
  });

  it('the discovery client does not import the server side of discovery', () => {
    const server = under('discovery/sse', 'discovery/app', 'discovery/route-context', 'discovery/service', 'discovery/store');
    expect(importsFrom('discovery/client.ts').filter(server)).toEqual([]);
    expect(importsFrom('discovery/client.ts')).toContain('protocol/sse');
  });

  it('test/unit stays in-process: no ffmpeg, no spawned media server, no Redis (those tests live in test/integration)', () => {
    const outside = /\/usr\/bin\/ff(mpeg|probe)|\bFFMPEG\b|\bFFPROBE\b|helpers\/redis-shared|from 'ioredis'|require\.resolve\('node-media-server'\)|helpers\/(cluster|encoders|players)'|\bstartService\(|\bstartCommand\(/;
    const offenders = sourceFiles(path.join(ROOT, 'test', 'unit'))
      .filter((file) => file !== __filename && outside.test(fs.readFileSync(file, 'utf8')))
      .map((file) => path.relative(ROOT, file));
    expect(offenders).toEqual([]);
  });
});
