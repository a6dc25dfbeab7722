//! The core's top-level modules form layers: a module names (`crate::...`) only modules
//! of lower layers, so the module graph has no cycle and each layer can be read, tested
//! and fuzzed without the ones above it. docs/ARCHITECTURE.md ("Module layers") states
//! the same table; this test keeps the code and the table true together.
//!
//! The graph is read from the sources: every `crate::name` path (grouped imports
//! `crate::{a, b::c}` included) in a module's files, outside comments and outside test
//! code (`#[cfg(test)] mod ...` to the end of a file, and `tests.rs` files), which may
//! reach upwards for fixtures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first. A module may depend only on modules of lower layers.
const LAYERS: &[&[&str]] = &[
    &["time", "sort", "redact", "tagged"],
    &["alert", "json"],
    &["error", "urgent"],
    &["identity"],
    &["sim", "journal", "inspection"],
    &["policy", "store", "upload"],
    &["compliance", "instruction", "telemetry"],
    &["ios", "platform"],
    &["agent"],
    &["android", "console", "trace"],
];

/// Cycles still to be broken, each with its reason; the test fails when one of them
/// disappears (so the entry is removed) and on any cycle not listed here.
const KNOWN_CYCLES: &[(&[&str], &str)] = &[];

/// Module → (dependency → a file that names it).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// The top-level modules `lib.rs` declares.
fn declared_modules(lib_rs: &str) -> Vec<String> {
    lib_rs
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .filter_map(|rest| rest.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

/// `text` without `//` comments and without the test code at its end.
fn production_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        let code = line.find("//").map_or(line, |i| &line[..i]);
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level module names every `crate::` path in `code` starts with.
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue; // `portcullis_crate::` and the like
        }
        let rest = &code[at + "crate::".len()..];
        if rest.starts_with('{') {
            // The first segment of each path at depth one of the group.
            let (mut depth, mut expecting, mut name) = (0, false, String::new());
            for c in rest.chars() {
                if depth == 1 && expecting && is_ident(c) {
                    name.push(c);
                    continue;
                }
                if c.is_whitespace() && name.is_empty() {
                    continue;
                }
                if !name.is_empty() {
                    found.insert(std::mem::take(&mut name));
                }
                expecting = false;
                match c {
                    '{' => {
                        depth += 1;
                        expecting = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' => expecting = depth == 1,
                    _ => {}
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The dependency graph of `modules` given each source file as (path relative to
/// `src/`, text).
fn build_graph(modules: &[String], files: &[(String, String)]) -> Graph {
    let known: BTreeSet<&str> = modules.iter().map(String::as_str).collect();
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for (path, text) in files {
        let first = path.split('/').next().unwrap_or(path);
        let module = first.strip_suffix(".rs").unwrap_or(first);
        if !known.contains(module) || path.ends_with("/tests.rs") || path.contains("/tests/") {
            continue;
        }
        for dep in crate_references(&production_code(text)) {
            if dep != module && known.contains(dep.as_str()) {
                graph
                    .get_mut(module)
                    .expect("known module")
                    .entry(dep)
                    .or_insert_with(|| path.clone());
            }
        }
    }
    graph
}

/// The graph's cycles: its strongly connected components of more than one module
/// (Tarjan), each sorted, in sorted order.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        let n = w.index.len();
        w.index.insert(v, n);
        w.low.insert(v, n);
        w.stack.push(v);
        w.on_stack.insert(v);
        for dep in w.graph[v].keys() {
            let dep = dep.as_str();
            if !w.index.contains_key(dep) {
                visit(w, dep);
                let low = w.low[v].min(w.low[dep]);
                w.low.insert(v, low);
            } else if w.on_stack.contains(dep) {
                let low = w.low[v].min(w.index[dep]);
                w.low.insert(v, low);
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            while let Some(u) = w.stack.pop() {
                w.on_stack.remove(u);
                component.push(u.to_owned());
                if u == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                w.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            visit(&mut walk, v);
        }
    }
    walk.found.sort();
    walk.found
}

/// Edges that do not go to a lower layer, as "from → to (file)"; edges inside an
/// allowed cycle are left to the cycle check.
fn layer_violations(graph: &Graph, layers: &[&[&str]], allowed: &[Vec<String>]) -> Vec<String> {
    let layer_of: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (*m, i)))
        .collect();
    let in_allowed_cycle = |a: &str, b: &str| {
        allowed
            .iter()
            .any(|c| c.iter().any(|m| m == a) && c.iter().any(|m| m == b))
    };
    let mut out = Vec::new();
    for (from, deps) in graph {
        let Some(&from_layer) = layer_of.get(from.as_str()) else {
            out.push(format!("{from} is in no layer"));
            continue;
        };
        for (to, file) in deps {
            let to_layer = layer_of.get(to.as_str()).copied();
            if to_layer.is_none_or(|l| l >= from_layer) && !in_allowed_cycle(from, to) {
                out.push(format!("{from} → {to} ({file})"));
            }
        }
    }
    out
}

fn source_files(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            source_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

fn core_graph() -> (Vec<String>, Graph) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = declared_modules(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut files = Vec::new();
    source_files(&src, &src, &mut files);
    let graph = build_graph(&modules, &files);
    (modules, graph)
}

#[test]
fn the_core_module_graph_has_no_cycle_but_the_known_ones() {
    let (_, graph) = core_graph();
    let known: Vec<Vec<String>> = KNOWN_CYCLES
        .iter()
        .map(|(c, _)| c.iter().map(|m| (*m).to_owned()).collect())
        .collect();
    let found = cycles(&graph);
    let edges = |c: &Vec<String>| -> Vec<String> {
        c.iter()
            .flat_map(|m| {
                graph[m]
                    .iter()
                    .filter(|(d, _)| c.contains(d))
                    .map(move |(d, f)| format!("{m} → {d} ({f})"))
            })
            .collect()
    };
    for c in &found {
        assert!(known.contains(c), "module cycle {c:?}: {:#?}", edges(c));
    }
    for c in &known {
        assert!(
            found.contains(c),
            "the cycle {c:?} is gone: remove it from KNOWN_CYCLES"
        );
    }
}

#[test]
fn every_core_module_depends_only_on_lower_layers() {
    let (modules, graph) = core_graph();
    let layered: BTreeSet<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    let declared: BTreeSet<&str> = modules.iter().map(String::as_str).collect();
    assert_eq!(layered, declared, "LAYERS must name every module once");
    let allowed: Vec<Vec<String>> = KNOWN_CYCLES
        .iter()
        .map(|(c, _)| c.iter().map(|m| (*m).to_owned()).collect())
        .collect();
    let violations = layer_violations(&graph, LAYERS, &allowed);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_architecture_document_states_the_layers() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ARCHITECTURE.md"),
    )
    .unwrap();
    for (i, layer) in LAYERS.iter().enumerate() {
        let names: Vec<String> = layer.iter().map(|m| format!("`{m}`")).collect();
        let row = format!("| {i} | {} |", names.join(", "));
        assert!(
            doc.contains(&row),
            "docs/ARCHITECTURE.md lacks the row {row}"
        );
    }
}

// The checker itself, on sources made up to break it.

fn modules(names: &[&str]) -> Vec<String> {
    names.iter().map(|m| (*m).to_owned()).collect()
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn the_checker_finds_a_cycle_through_grouped_imports_and_inline_paths() {
    let m = modules(&["low", "mid", "high", "other"]);
    let f = files(&[
        ("low.rs", "use crate::{other, mid::Thing};\n"),
        ("mid/mod.rs", "fn f() { crate::high::g() }\n"),
        ("high/deep.rs", "use crate::{\n    low::{A, B},\n};\n"),
        ("other.rs", "// crate::high is only a comment\nfn x() {}\n"),
    ]);
    let graph = build_graph(&m, &f);
    assert_eq!(
        cycles(&graph),
        vec![modules(&["high", "low", "mid"])],
        "{graph:#?}"
    );
    assert!(graph["other"].is_empty(), "comments are not dependencies");
    let layers: &[&[&str]] = &[&["other"], &["low"], &["mid"], &["high"]];
    assert_eq!(
        layer_violations(&graph, layers, &[]),
        vec![
            "low → mid (low.rs)".to_owned(),
            "mid → high (mid/mod.rs)".to_owned()
        ]
    );
    // A dependency inside one layer breaks the layering too.
    let same = layer_violations(&graph, &[&["low", "other"], &["mid"], &["high"]], &[]);
    assert!(
        same.contains(&"low → other (low.rs)".to_owned()),
        "{same:?}"
    );
}

#[test]
fn the_checker_leaves_test_code_out_and_accepts_a_clean_graph() {
    let m = modules(&["low", "high"]);
    let f = files(&[
        ("high.rs", "use crate::low::A;\n"),
        (
            "low.rs",
            "pub struct A;\n#[cfg(test)]\nmod tests {\n    use crate::high::B;\n}\n",
        ),
        ("low/tests.rs", "use crate::high::C;\n"),
    ]);
    let graph = build_graph(&m, &f);
    assert!(cycles(&graph).is_empty(), "{graph:#?}");
    assert!(layer_violations(&graph, &[&["low"], &["high"]], &[]).is_empty());
    assert_eq!(
        layer_violations(&graph, &[&["high"], &["low"]], &[]),
        vec!["high → low (high.rs)".to_owned()]
    );
}

#[test]
fn lib_rs_declarations_are_read() {
    assert_eq!(
        declared_modules("//! doc\npub mod a;\nmod b;\npub use a::X;\n#[cfg(test)]\nmod c {\n"),
        modules(&["a", "b"])
    );
}
